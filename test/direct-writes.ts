// Direct writes (issue 13, point 1; kernel/direct-files.ts): a pwrite of an fd whose grant
// allows it goes from the core to the file system alone — but only once the first pwrite after
// each sync point (the open, an fsync of its process, a sync, a chmod that sets a set-id bit)
// went through vfs, so that vfs's own promises hold: an fsync after a restart that lost the
// writes fails with EIO, a write takes set-id bits away. A file with a set-id bit at its open, or
// on a file system with a replay log, writes through vfs; a stat after direct writes sees them.
// Every policy gives the same outcomes.

import t, { type Test } from 'tap';
import { O_CREAT, O_RDONLY, O_RDWR, boot, type Kernel } from '../kernel/index.js';
import { makeFile, outcome, served } from './lib/direct.js';
import { ALL_POLICIES, sameUnderEveryPolicy } from './lib/policies.js';

const enc = new TextEncoder();

/** Runs `call` and says whether it reached vfs, or tmpfs alone. */
async function route(k: Kernel, call: () => Promise<unknown>): Promise<'vfs' | 'direct'> {
  const before = await served(k);
  await call();
  const after = await served(k);
  return after.vfs > before.vfs ? 'vfs' : after.tmpfs > before.tmpfs ? 'direct' : 'vfs';
}

/** What one kernel does in each case: the outcomes seen, by case. */
async function run(t: Test, k: Kernel): Promise<Record<string, unknown>> {
  const seen: Record<string, unknown> = {};
  const root = await k.spawn();
  const user = await k.spawn({ uid: 1000, gid: 1000 });
  await root.mkdir('/tmp/w', 0o777);
  await root.chmod('/tmp/w', 0o777); // past the umask

  await t.test('the first pwrite after open goes through vfs, the next ones directly', async (t) => {
    const fd = await user.open('/tmp/w/a', O_RDWR | O_CREAT, 0o644);
    const routes = [
      await route(k, () => user.pwrite(fd, enc.encode('aaaa'), 0)),
      await route(k, () => user.pwrite(fd, enc.encode('bb'), 4)),
      await route(k, () => user.pwrite(fd, enc.encode('cc'), 6)),
    ];
    t.same(routes, ['vfs', 'direct', 'direct'], 'vfs, then direct');
    seen.content = await outcome(user.pread(fd, 16, 0));
    t.equal(seen.content, "bytes 'aaaabbcc'", 'every byte landed');
    seen.size = (await user.stat('/tmp/w/a')).size;
    t.equal(seen.size, 8, 'a stat after direct writes sees their size');
    seen.written = await outcome(user.pwrite(fd, enc.encode('x'), 8));
    t.equal(seen.written, '1', 'a direct pwrite answers the bytes written');
    await user.close(fd);
  });

  await t.test('every sync point disarms: an fsync, a sync, a chmod that sets a set-id bit', async (t) => {
    const fd = await user.open('/tmp/w/b', O_RDWR | O_CREAT, 0o755);
    const write = () => route(k, () => user.pwrite(fd, enc.encode('z'), 0));
    const routes = [await write(), await write()];
    await user.fsync(fd);
    routes.push(await write(), await write());
    await root.sync();
    routes.push(await write(), await write());
    await root.chmod('/tmp/w/b', 0o4755);
    routes.push(await write());
    t.same(routes, ['vfs', 'direct', 'vfs', 'direct', 'vfs', 'direct', 'vfs'], 'through vfs after each');
    seen.setid = ((await root.stat('/tmp/w/b')).mode & 0o7777).toString(8);
    t.equal(seen.setid, '755', "the write after the chmod took S_ISUID away, as vfs's writes do");
    await user.close(fd);
  });

  await t.test('a file with a set-id bit at its open, or an fd not open for writing, writes through vfs', async (t) => {
    await makeFile(user, '/tmp/w/s', 'setid');
    await user.chmod('/tmp/w/s', 0o2755);
    const fd = await user.open('/tmp/w/s', O_RDWR);
    const routes = [await route(k, () => user.pwrite(fd, enc.encode('S'), 0)), await route(k, () => user.pwrite(fd, enc.encode('E'), 1))];
    t.same(routes, ['vfs', 'vfs'], 'no direct write for a file opened with a set-id bit');
    await user.close(fd);
    const ro = await user.open('/tmp/w/s', O_RDONLY);
    seen.readOnly = await outcome(user.pwrite(ro, enc.encode('n'), 0));
    t.match(seen.readOnly, /^EBADF/, 'an fd open for reading only: EBADF, from vfs');
    await user.close(ro);
  });

  await t.test('a fault injected into the file system strikes a direct write', async (t) => {
    const fd = await user.open('/tmp/w/f', O_RDWR | O_CREAT, 0o644);
    await user.pwrite(fd, enc.encode('1'), 0);
    await k.inject({ component: 'tmpfs', type: 'error', errno: 'ENOSPC', op: 'write' });
    seen.fault = [await outcome(user.pwrite(fd, enc.encode('2'), 1)), await outcome(user.pwrite(fd, enc.encode('3'), 2))];
    t.match(seen.fault, [/^ENOSPC: .*injected ENOSPC/, '1'], 'the write it hits fails with its errno; the next writes');
    await user.close(fd);
  });

  await user.exit();
  await root.exit();
  return seen;
}

sameUnderEveryPolicy(ALL_POLICIES, 6, run);

t.test('multiprocess: tmpfs restarts after direct writes: the next fsync says they were lost, as through vfs', async (t) => {
  // A process domain keeps only what tmpfs committed (a thread's kept records outlive it): the
  // writes since the last fsync die with it, the direct one among them.
  const k = await boot({ policy: 'multiprocess' });
  t.teardown(() => k.halt());
  const p = await k.spawn();
  const fd = await p.open('/tmp/lost', O_RDWR | O_CREAT, 0o644);
  await p.pwrite(fd, enc.encode('committed'), 0);
  await p.fsync(fd); // the file is kept from here on; what follows is not
  t.equal(await route(k, () => p.pwrite(fd, enc.encode('through vfs'), 0)), 'vfs');
  t.equal(await route(k, () => p.pwrite(fd, enc.encode('directly'), 11)), 'direct');
  await k.inject({ component: 'tmpfs', type: 'crash', op: 'fsync' });
  await t.rejects(p.fsync(fd), { errno: 'EIO', message: /restarted was lost/ }, 'EIO: the writes since the last fsync died with tmpfs');
  t.equal(await route(k, () => p.pwrite(fd, enc.encode('again'), 0)), 'vfs', 'the grant ended with the restart');
});
