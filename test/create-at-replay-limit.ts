// open(O_CREAT) of a new name on ext2 whose create takes vfs's replay log over REPLAY_LIMIT:
// vfs syncs the mount before it answers the create, so a sync that fails or crashes comes
// between the file system making the file and the fd being installed. Whatever the file
// system counted for that open must agree with the fd: a failed open holds nothing (the file
// it made is freed at its unlink), and after ext2 restarted in that sync the file opened is
// still held open by its fd (readable after its unlink, freed at its close). Both held before
// a change that folded the open into the create, and both broke with it (found by attack, the
// change reverted): this keeps them.

import t, { type Test } from 'tap';
import { O_CREAT, O_RDWR, type Kernel, type Proc } from '../kernel/index.js';
import { ENTRY_COST, REPLAY_LIMIT } from '../servers/vfs/replay.js';
import { tempDir } from './lib/e2fs.js';
import { errnoOf } from './lib/errno.js';
import { onExt2Mounts } from './lib/mounted.js';

const dir = tempDir('rumpus-create-limit-');

/**
 * Fills /mnt/e's replay log to just under the limit with writes to a file of its own, so that
 * the next change of any size crosses it; the file stays.
 */
async function fillLog(p: Proc): Promise<void> {
  const fd = await p.open('/mnt/e/filler', O_CREAT | O_RDWR, 0o644);
  let logged = ENTRY_COST + 'filler'.length; // the create
  let offset = 0;
  const target = REPLAY_LIMIT - 100;
  while (logged < target) {
    const n = Math.min(1 << 20, target - logged - ENTRY_COST);
    await p.pwrite(fd, new Uint8Array(n).fill(1), offset);
    offset += n;
    logged += ENTRY_COST + n;
  }
  await p.close(fd);
}

/** `body` on a kernel under `policy` with a fresh ext2 at /mnt/e whose replay log fillLog filled. */
function onImage(t: Test, policy: string, body: (p: Proc, k: Kernel) => Promise<void>): Promise<void> {
  return onExt2Mounts(t, { policy, at: ['/mnt/e'], image: { size: 64 * 1024 * 1024, blockSize: 4096 }, dir }, async (p, k) => {
    await fillLog(p);
    await body(p, k);
  });
}

for (const policy of ['monolithic', 'microkernel']) {
  t.test(`${policy}: the limit sync fails: the open fails and holds nothing`, async (t) => {
    await onImage(t, policy, async (p, k) => {
      const before = await p.statfs('/mnt/e');
      await k.inject({ component: 'ext2', type: 'error', op: 'sync', errno: 'EIO' });
      t.equal(await errnoOf(p.open('/mnt/e/new', O_CREAT | O_RDWR, 0o644)), 'EIO', 'the create crossed the limit and its sync failed');
      t.equal((await p.stat('/mnt/e/new')).nlink, 1, 'the file was made');
      await p.unlink('/mnt/e/new');
      t.equal((await p.statfs('/mnt/e')).ffree, before.ffree, 'its unlink freed its inode: no open was left counted');
    });
  });
}

for (const policy of ['microkernel', 'multiprocess']) {
  t.test(`${policy}: ext2 crashes in the limit sync: the new fd still holds its file open`, async (t) => {
    await onImage(t, policy, async (p, k) => {
      const before = await p.statfs('/mnt/e');
      await k.inject({ component: 'ext2', type: 'crash', op: 'sync' });
      const fd = await p.open('/mnt/e/new', O_CREAT | O_RDWR, 0o644);
      await k.settled();
      t.equal(k.domains().find((d) => d.name === 'ext2')?.restarts, 1, 'the create crossed the limit and ext2 restarted in its sync');
      t.equal(await p.write(fd, new TextEncoder().encode('wxyz')), 4);
      await p.unlink('/mnt/e/new');
      t.same(new TextDecoder().decode(await p.pread(fd, 10, 0)), 'wxyz', 'readable after its unlink');
      t.equal((await p.fstat(fd)).nlink, 0);
      await p.close(fd);
      const after = await p.statfs('/mnt/e');
      t.same([after.ffree, after.bfree], [before.ffree, before.bfree], 'freed at its close');
    });
  });
}
