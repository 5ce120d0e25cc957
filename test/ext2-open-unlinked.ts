// A directory removed while a client holds it open (rmdir, or rename over it) must reach the
// disk unlinked and be freed at its last close: otherwise it stays allocated with its old link
// count, unconnected (e2fsck: "Unconnected directory inode", wrong ref counts). Found by the
// cross-policy race; deterministic here.

import t from 'tap';
import { join } from 'node:path';
import { boot } from '../kernel/index.js';
import { fsckClean, mkImage, tempDir } from './lib/e2fs.js';

const dir = tempDir('rumpus-open-unlinked-');

for (const policy of ['monolithic', 'microkernel']) {
  t.test(`${policy}: directories removed while open are freed at their last close`, async (t) => {
    const img = join(dir, `${policy}.img`);
    mkImage(img, { size: 4 * 1024 * 1024, blockSize: 1024 });
    const k = await boot({ policy });
    try {
      const p = await k.spawn();
      await p.mkdir('/mnt/e', { recursive: true });
      await p.mount('/mnt/e', 'ext2', { source: img });
      const before = await p.statfs('/mnt/e');

      await p.mkdir('/mnt/e/gone');
      const fd1 = await p.open('/mnt/e/gone');
      await p.rmdir('/mnt/e/gone');
      t.equal((await p.fstat(fd1)).nlink, 0, 'rmdir of an open directory leaves it with no links');

      await p.mkdir('/mnt/e/victim');
      await p.mkdir('/mnt/e/mover');
      const fd2 = await p.open('/mnt/e/victim');
      await p.rename('/mnt/e/mover', '/mnt/e/victim');
      t.equal((await p.fstat(fd2)).nlink, 0, 'a directory renamed over while open has no links');

      await p.sync();
      await p.close(fd1);
      await p.close(fd2);
      await p.rmdir('/mnt/e/victim');
      const after = await p.statfs('/mnt/e');
      t.equal(after.ffree, before.ffree, 'every inode is free again after the last close');
      t.equal(after.bfree, before.bfree, 'and every block');
      await p.unmount('/mnt/e');
    } finally {
      await k.halt();
    }
    const fsck = fsckClean(img);
    t.ok(fsck.clean, 'e2fsck finds the image clean', { report: fsck.report });
  });
}
