// A hung pool worker under cgd is a transparent retry (issue 16, review defect 3): the pool's
// heartbeat notices a worker whose event loop stopped within the heartbeat timeout (1 s ticks,
// 5 s), terminates it and runs its call again on another, well within the callers' deadlines —
// cgd's own call to the cipher, ext2's, vfs's and the user's, which started earlier than the
// pool's try. Before the fix the pool cut the task off only at the call deadline, the same as
// its callers', so the user's read failed with ETIMEDOUT while the pool retried for nobody.
//
// By hand: rumpus sh --image IMG --key-file K --policy microkernel \
//   -c 'inject cipher hang --after 2 --count 1; cat /mnt/h.txt'   → the file, after ~5 s

import { join } from 'node:path';
import t from 'tap';
import { O_CREAT, O_WRONLY, boot } from '../kernel/index.js';
import { FAST_KDF, KEY, cipherIn, cryptsetupMissing } from './lib/cgd.js';
import { tempDir } from './lib/e2fs.js';

const MiB = 1024 * 1024;
const key = new TextEncoder().encode(KEY);

t.test('one hang of a pool worker under cgd is retried on another worker, not failed to the user', { skip: cryptsetupMissing() ?? undefined }, async (t) => {
  const dir = tempDir('rumpus-cgd-pool-hang-');
  const img = join(dir, 'c.img');
  const maker = await boot({ policy: 'monolithic' });
  try {
    await maker.call('cgd', 'format', { path: img, size: 18 * MiB, key, kdf: FAST_KDF });
    await maker.call('ext2', 'mkfs', { source: img, key, blockSize: 1024 });
  } finally {
    await maker.halt();
  }
  // A short call deadline, so that the test waits seconds rather than a minute for the hang (a cold pool and a mount fit in it).
  const k = await boot({ policy: cipherIn('microkernel', 'pool').policy, calls: { timeoutMs: 15_000, tries: 3, reconnectMs: 20_000 } });
  try {
    const p = await k.spawn();
    await p.mkdir('/mnt');
    await p.mount('/mnt', 'ext2', { source: img, key });
    await p.writeFile('/mnt/f', 'acknowledged by sync\n');
    await p.sync();

    await t.test('a hung encrypt (fsync)', async (t) => {
      await k.inject({ component: 'cipher', type: 'hang', op: 'encrypt', count: 1 });
      const fd = await p.open('/mnt/g', O_WRONLY | O_CREAT, 0o644);
      await p.write(fd, 'acknowledged once fsync returns\n');
      const fsync = await p.fsync(fd).then(() => 'ok', (err: { errno?: string; message?: string }) => `${err.errno}: ${err.message}`);
      t.equal(fsync, 'ok', 'fsync succeeds: the hung encrypt was cut off and retried on another worker');
      await p.close(fd).catch(() => {});
    });

    await t.test('a hung decrypt (a read after a fresh mount)', async (t) => {
      await p.unmount('/mnt');
      await p.mount('/mnt', 'ext2', { source: img, key });
      await k.inject({ component: 'cipher', type: 'hang', op: 'decrypt', count: 1 });
      const read = await p.readFile('/mnt/f').then((b) => new TextDecoder().decode(b), (e: { errno?: string; message?: string }) => `${e.errno}: ${e.message}`);
      t.equal(read, 'acknowledged by sync\n', 'the read succeeds: the hung decrypt was cut off and retried on another worker');
    });
  } finally {
    await k.halt();
  }
});
