// A directory removed while a client holds it open (rmdir, or rename over it) must reach the
// disk unlinked and be freed at its last close: otherwise it stays allocated with its old link
// count, unconnected (e2fsck: "Unconnected directory inode", wrong ref counts). Found by the
// cross-policy race; deterministic here.

import t from 'tap';
import { join } from 'node:path';
import { boot } from '../kernel/index.js';
import { fsckClean, mkImage, tempDir } from './lib/e2fs.js';
import { errnoOf } from './lib/errno.js';

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

// The same across a restart of ext2: the unlinked inode reached the disk with no links (a sync
// committed it), its predecessor's count of opens died with it, and vfs opens the file again on
// the new incarnation. That open must take the inode up again, or the fd is lost and the inode
// stays allocated with no name and no deletion time (e2fsck: "Deleted inode has zero dtime").
// Found by the load run of `rumpus serve`.
t.test('microkernel: a file removed while open survives an ext2 restart and is freed at its last close', async (t) => {
  const img = join(dir, 'restart.img');
  mkImage(img, { size: 4 * 1024 * 1024, blockSize: 1024 });
  const k = await boot({ policy: 'microkernel' });
  try {
    const p = await k.spawn();
    await p.mkdir('/mnt/e', { recursive: true });
    await p.mount('/mnt/e', 'ext2', { source: img });
    const before = await p.statfs('/mnt/e');
    const data = new Uint8Array(20_000).fill(7);
    await p.writeFile('/mnt/e/orphan', data);
    const fd = await p.open('/mnt/e/orphan', 'r');
    await p.unlink('/mnt/e/orphan');
    await p.sync();

    await k.inject({ component: 'ext2', type: 'crash', op: 'walk' });
    t.equal(await errnoOf(p.stat('/mnt/e/orphan')), 'ENOENT', 'the walk that met the crash is made again: no such name');
    await k.settled();
    t.ok(k.domains().find((d) => d.name === 'ext2')!.restarts >= 1, 'ext2 was restarted');
    t.same(await p.pread(fd, data.length, 0), data, 'the fd still reads the unlinked file');
    t.equal((await p.fstat(fd)).nlink, 0, 'which has no links');
    await p.close(fd);
    const after = await p.statfs('/mnt/e');
    t.equal(after.ffree, before.ffree, 'its inode is free after the last close');
    t.equal(after.bfree, before.bfree, 'and its blocks');
    await p.unmount('/mnt/e');
  } finally {
    await k.halt();
  }
  const fsck = fsckClean(img);
  t.ok(fsck.clean, 'e2fsck finds the image clean', { report: fsck.report });
});
