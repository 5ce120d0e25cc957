// Review: `rumpus mkfs -N N` with fewer inodes than ext2's reserved ones (first_ino 11; 8 inodes
// for -N 1 to 12 on an 8 MiB image) exits 0 and leaves an image that neither e2fsck ("Corruption
// found in superblock. (first_ino = 11)", exit 8) nor rumpus itself ("the superblock's first
// inode is 11") will read. mke2fs refuses the same request (status 1). Either mkfs refuses it
// with a sentence and makes nothing, or what it makes is e2fsck-clean. Every -t is affected.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { runRumpus } from './lib/cli.js';
import { fsckClean, tempDir } from './lib/e2fs.js';

const dir = tempDir('rumpus-review-02-');
const rumpus = (...args: string[]) => runRumpus(dir, args);

for (const type of ['ext2', 'ext4']) {
  t.test(`mkfs -t ${type} -N 8 --size 8M: refused, or e2fsck-clean`, async (t) => {
    const img = `n8-${type}.img`;
    const r = await rumpus('mkfs', '-t', type, '-N', '8', '--size', '8M', img);
    if (r.code !== 0) {
      t.pass(`refused: ${r.stderr.trim()}`);
      return;
    }
    t.ok(existsSync(join(dir, img)));
    const fsck = fsckClean(join(dir, img));
    t.ok(fsck.clean, fsck.report);
    const ls = await rumpus('ls', `${img}:/`);
    t.equal(ls.code, 0, `rumpus reads what it made: ${ls.stderr}`);
  });
}
