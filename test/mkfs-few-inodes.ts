// mkfs with fewer inodes per group than ext2 reserves in group 0 (first_ino 11: -N 8 or -N 16
// give 8 per group, rounded as mke2fs rounds them): refused with a sentence and nothing made, for
// every -t, never an image that e2fsck and rumpus then reject. (mke2fs makes such images with
// lost+found in group 1; this mkfs keeps the reserved inodes and lost+found in group 0.)

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { runRumpus } from './lib/cli.js';
import { fsckClean, tempDir } from './lib/e2fs.js';

const dir = tempDir('rumpus-mkfs-few-inodes-');
const rumpus = (...args: string[]) => runRumpus(dir, args);

for (const type of ['ext2', 'ext3', 'ext4']) {
  t.test(`mkfs -t ${type} -N 8 --size 8M is refused, nothing made`, async (t) => {
    const img = `n8-${type}.img`;
    const r = await rumpus('mkfs', '-t', type, '-N', '8', '--size', '8M', img);
    t.equal(r.code, 1, 'status 1');
    t.match(r.stderr, /8 inodes per group are too few: inodes 1 to 10 are reserved and lost\+found is inode 11, all in group 0/, 'one sentence says why');
    t.notOk(existsSync(join(dir, img)), 'no image is made');
  });
}

t.test('mkfs -N 16 on two groups (8 per group) is refused too; -N 32 (16 per group) makes an e2fsck-clean image rumpus reads', async (t) => {
  const few = await rumpus('mkfs', '-N', '16', '--size', '16M', 'n16.img');
  t.equal(few.code, 1, 'status 1');
  t.notOk(existsSync(join(dir, 'n16.img')), 'no image is made');
  const r = await rumpus('mkfs', '-N', '32', '--size', '16M', 'n32.img');
  t.equal(r.code, 0, r.stderr);
  const fsck = fsckClean(join(dir, 'n32.img'));
  t.ok(fsck.clean, fsck.report);
  const ls = await rumpus('ls', 'n32.img:/');
  t.equal(ls.code, 0, ls.stderr);
});
