// A 64-bit group descriptor whose free block count is larger than its group (bg_free_blocks_count_hi
// 0xffff, its checksum made right) is EUCLEAN naming the group, never a negative "used" in df.

import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import t from 'tap';
import { groupDescChecksum, checksumSeed } from '../servers/ext2/csum.js';
import { runRumpus } from './lib/cli.js';
import { readAt, writeAt } from './lib/disks.js';
import { tempDir } from './lib/e2fs.js';

const dir = tempDir('rumpus-ext4-descriptor-counts-');
const img = join(dir, 'e4.img');
execFileSync('mke2fs', ['-q', '-F', '-t', 'ext4', '-b', '4096', img, '64M'], { stdio: 'pipe' });

const sb = readAt(img, 1024, 1024);
const descSize = sb[0xfe] | (sb[0xff] << 8);
const gdAt = 4096; // group 0's descriptor: block 1 of a 4 KiB file system
const desc = readAt(img, gdAt, descSize);
desc[0x2c] = 0xff; // bg_free_blocks_count_hi
desc[0x2d] = 0xff;
desc[0x1e] = 0;
desc[0x1f] = 0;
const sum = groupDescChecksum(checksumSeed(sb), 0, desc);
desc[0x1e] = sum & 0xff;
desc[0x1f] = (sum >> 8) & 0xff;
writeAt(img, gdAt, desc);

t.test('df on an ext4 image whose group 0 claims 2^32 more free blocks than it has', async (t) => {
  const r = await runRumpus(dir, ['df', 'e4.img:/']);
  t.equal(r.code, 1, 'status 1');
  t.equal(r.stdout, '', 'no table printed');
  t.match(r.stderr, /group 0 counts \d+ free blocks, but has \d+/, `EUCLEAN naming the group: ${r.stderr}`);
});
