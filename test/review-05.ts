// Review: a damaged extent tree (eh_magic 0xf30b in inode 413's i_block, the inode checksum made
// right by debugfs) reaches the user as the bare errno: `rumpus cat e4.img:/f` prints "cat:
// e4.img:/f: Structure needs cleaning" and nothing else, though the driver builds a sentence
// naming the inode and the node (extents.ts). The README: "a wrong one EUCLEAN naming the
// structure"; the brief: each damage "an errno and one sentence". `cp e4.img:/f ./out` is worse:
// "cp: ./out: Structure needs cleaning", naming the host destination, not the damaged source.

import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { runRumpus } from './lib/cli.js';
import { tempDir } from './lib/e2fs.js';

const dir = tempDir('rumpus-review-05-');
const img = join(dir, 'e4.img');
mkdirSync(join(dir, 'tree'));
writeFileSync(join(dir, 'tree', 'f'), 'x'.repeat(100_000));
execFileSync('mke2fs', ['-q', '-F', '-t', 'ext4', '-b', '4096', '-d', join(dir, 'tree'), img, '16M'], { stdio: 'pipe' });
execFileSync('debugfs', ['-w', '-R', 'sif /f block[0] 0x0001F30B', img], { stdio: 'pipe' });

t.test('cat of a file whose extent header is damaged: the errno and a sentence', async (t) => {
  const r = await runRumpus(dir, ['cat', 'e4.img:/f']);
  t.equal(r.code, 1);
  t.match(r.stderr, /extent|eh_magic|inode \d+/, `the sentence names the structure: ${JSON.stringify(r.stderr)}`);
});

t.test('cp of it out names the image operand', async (t) => {
  const r = await runRumpus(dir, ['cp', 'e4.img:/f', 'out']);
  t.equal(r.code, 1);
  t.match(r.stderr, /e4\.img:\/f/, `names the damaged source: ${JSON.stringify(r.stderr)}`);
});
