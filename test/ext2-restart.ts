// Crash-only ext2 under the microkernel policy: when ext2 dies in the middle of a read, it is
// restarted, the vfs mounts the image again, and open fds go on (handles are inode numbers and
// generations, kept on disk); when blk dies, ext2 attaches the image again and goes on.
// Everything fsync'd before a crash is there after it, and e2fsck finds nothing wrong.

import t from 'tap';
import { join } from 'node:path';
import { DEFAULT_MOUNTS, boot } from '../kernel/index.js';
import { FAKE_TIME, UUID, fsckClean, seededBytes, superblock, tempDir } from './lib/e2fs.js';

const dir = tempDir();
const img = join(dir, 'restart.img');

t.test('ext2 and blk restart under open files', async (t) => {
  const k0 = await boot({ policy: 'monolithic', mounts: [] });
  await k0.call('ext2', 'mkfs', { source: img, size: 16 * 1024 * 1024, uuid: UUID, time: FAKE_TIME });
  await k0.halt();

  const k = await boot({ policy: 'microkernel', mounts: [...DEFAULT_MOUNTS, { target: '/mnt', fstype: 'ext2', source: img }] });
  try {
    const p = await k.spawn();
    const data = seededBytes(300_000, 11);
    await p.writeFile('/mnt/kept', data);
    const fd = await p.open('/mnt/kept', 'r+');
    await p.fsync(fd);

    await k.inject({ component: 'ext2', type: 'crash', op: 'read' });
    t.same(await p.pread(fd, 1000, 5000), data.subarray(5000, 6000), 'a read in flight when ext2 died is answered by its next incarnation');
    await k.settled();
    t.ok(k.domains().find((d) => d.name === 'ext2')!.restarts >= 1, 'ext2 was restarted');
    await p.pwrite(fd, 'after the restart', 0);
    t.equal(new TextDecoder().decode(await p.pread(fd, 17, 0)), 'after the restart', 'the open fd still writes and reads');

    await k.inject({ component: 'blk', type: 'crash', op: 'read' });
    t.same(await p.readFile('/mnt/kept').then((b) => b.subarray(100_000, 101_000)), data.subarray(100_000, 101_000),
      'a read that reached blk as it died is answered once ext2 has attached the image again');
    await k.settled();
    t.ok(k.domains().find((d) => d.name === 'blk')!.restarts >= 1, 'blk was restarted');
    await p.writeFile('/mnt/later', 'written after both restarts');
    await p.close(fd);
  } finally {
    await k.halt();
  }
  // Commits are atomic and made between whole ops, so the crash left the image as consistent as
  // the first incarnation found it (clean): unmounting says so, and e2fsck agrees.
  const fsck = fsckClean(img);
  t.ok(fsck.clean, 'both e2fsck checks pass', { output: fsck.report });
  t.equal(superblock(img)['Filesystem state'], 'clean', 'the image is marked clean after the crashed incarnation\'s successor unmounts it');
});
