// A metadata_csum image whose group 0 block or inode bitmap checksum (in the group descriptor,
// the descriptor's own checksum made right) does not match the bitmap: the first change that
// reads that bitmap is EUCLEAN naming the group and the bitmap, under monolithic and
// microkernel, and the mount keeps serving reads.

import t from 'tap';
import { join } from 'node:path';
import { DEFAULT_MOUNTS, boot } from '../kernel/index.js';
import { checksumSeed, groupDescChecksum } from '../servers/ext2/csum.js';
import { readAt, writeAt } from './lib/disks.js';
import { tempDir } from './lib/e2fs.js';
import { NO_E2FSPROGS, mkExt4Image } from './lib/ext4.js';

const dir = tempDir('rumpus-ext4-bitmap-csum-');
/** bg_block_bitmap_csum_lo and bg_inode_bitmap_csum_lo, and bg_checksum (Documentation/filesystems/ext4/group_descr.rst). */
const BITMAP_CSUM = { block: 0x18, inode: 0x1a };
const BG_CHECKSUM = 0x1e;

/** Flips a bit of group 0's block or inode bitmap checksum, then seals the descriptor again. */
function damage(img: string, blockSize: number, which: 'block' | 'inode'): void {
  const sb = readAt(img, 1024, 1024);
  const descSize = sb[0x60] & 0x80 ? sb[0xfe] | (sb[0xff] << 8) : 32;
  const at = (blockSize === 1024 ? 2 : 1) * blockSize;
  const desc = readAt(img, at, descSize);
  desc[BITMAP_CSUM[which]] ^= 0x01;
  desc[BG_CHECKSUM] = desc[BG_CHECKSUM + 1] = 0;
  const sum = groupDescChecksum(checksumSeed(sb), 0, desc);
  desc[BG_CHECKSUM] = sum & 0xff;
  desc[BG_CHECKSUM + 1] = sum >> 8;
  writeAt(img, at, desc);
}

for (const policy of ['monolithic', 'microkernel']) {
  t.test(`a damaged bitmap checksum under ${policy}`, { skip: NO_E2FSPROGS }, async (t) => {
    const cases = [
      { which: 'block' as const, blockSize: 4096, op: 'a write' },
      { which: 'inode' as const, blockSize: 1024, op: 'a create' },
    ].map((c, i) => ({ ...c, img: join(dir, `${policy}-${c.which}.img`), at: `/b${i}` }));
    for (const c of cases) {
      mkExt4Image(c.img, { size: 16 * 1024 * 1024, blockSize: c.blockSize });
      damage(c.img, c.blockSize, c.which);
    }
    const k = await boot({ policy, mounts: [...DEFAULT_MOUNTS, ...cases.map((c) => ({ target: c.at, fstype: 'ext2', source: c.img }))] });
    try {
      const p = await k.spawn();
      for (const c of cases) {
        // lost+found exists in group 0: a file put there takes its inode, and its blocks, from group 0.
        const err = await p.writeFile(`${c.at}/lost+found/f`, new Uint8Array(c.which === 'block' ? 8192 : 0)).then(() => null, (e: Error & { errno?: string }) => e);
        t.equal(err?.errno, 'EUCLEAN', `${c.which} bitmap: ${c.op} is EUCLEAN`);
        t.match(err?.message, new RegExp(`group 0's ${c.which} bitmap checksum is 0x[0-9a-f]+, but its bytes give 0x[0-9a-f]+`), `${c.which} bitmap: the error names the group and the bitmap`);
        t.ok((await p.readdir(c.at)).some((e) => e.name === 'lost+found'), `${c.which} bitmap: the mount still serves reads`);
      }
    } finally {
      await k.halt();
    }
  });
}
