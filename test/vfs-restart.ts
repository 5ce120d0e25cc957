// vfs keeps its own client processes and mounts (ctx.keep) and a new incarnation makes them
// again: under microkernel and multiprocess, after `inject vfs crash`, every process is back
// with its credentials (supplementary groups too), every mount is back in order (a user's mount included, an unmounted one
// not), and a file on a mount made after boot is there.

import t from 'tap';
import { boot } from '../kernel/index.js';
import { errnoOf } from './lib/errno.js';

const FAST = { heartbeat: { periodMs: 200, timeoutMs: 2500 }, calls: { timeoutMs: 5000, tries: 4, reconnectMs: 8000 } };

for (const policy of ['microkernel', 'multiprocess'] as const) {
  t.test(`${policy}: vfs makes its processes and mounts again after its restart`, async (t) => {
    const k = await boot({ policy, ...FAST });
    t.teardown(() => k.halt());
    const root = k.init;
    await root.mkdir('/mnt/a', { recursive: true });
    await root.mkdir('/mnt/b', { recursive: true });
    await root.mount('/mnt/a', 'tmpfs');
    await root.mount('/mnt/b', 'tmpfs');
    await root.mkdir('/mnt/a/inner');
    await root.mount('/mnt/a/inner', 'tmpfs'); // covers a directory of a later mount: made again after it
    await root.writeFile('/mnt/a/inner/f', 'inner');
    await root.unmount('/mnt/b');
    await root.chmod('/tmp', 0o755);
    await root.writeFile('/tmp/group-file', 'g');
    await root.chown('/tmp/group-file', 0, 2000);
    await root.chmod('/tmp/group-file', 0o640);
    const user = await k.spawn({ uid: 1000, gid: 1000, groups: [2000] });
    const gone = await k.spawn({ uid: 1001, gid: 1001 });
    await gone.exit();
    const vfsRestarts = () => k.domains().find((d) => d.components.includes('vfs'))!.restarts;

    await k.inject({ component: 'vfs', type: 'crash', op: 'getpid' });
    t.equal(await user.getpid(), user.pid, 'the call in flight was retried on the new vfs');
    await k.settled();
    t.equal(vfsRestarts(), 1, 'vfs restarted once');

    t.same((await root.mounts()).map((m) => m.target), ['/', '/tmp', '/dev', '/mnt/a', '/mnt/a/inner'], 'the mounts are back, in order; the unmounted one is not');
    t.equal(new TextDecoder().decode(await root.readFile('/mnt/a/inner/f')), 'inner', 'a file on a mount made after boot');
    t.equal(await errnoOf(user.mkdir('/tmp/x')), 'EACCES', 'the user is still uid 1000: /tmp is 0755 root');
    t.equal(await errnoOf(user.readFile('/tmp/group-file')), 'ok', 'and still in its supplementary group 2000');
    t.equal(await errnoOf(root.mkdir('/tmp/x')), 'ok', 'and root is still root');
    t.notOk(k.events.some((e) => e.kind === 'kept-lost'), 'nothing kept was dropped');
  });
}

t.test('microkernel: a process keeps its umask and current directory across a restart of vfs', async (t) => {
  const k = await boot({ policy: 'microkernel', ...FAST });
  t.teardown(() => k.halt());
  const root = k.init;
  await root.chmod('/tmp', 0o777);
  const u = await k.spawn({ uid: 1000, gid: 1000 });
  await u.umask(0o077);
  await u.mkdir('/tmp/home');
  await u.chdir('/tmp/home');

  await k.inject({ component: 'vfs', type: 'crash', op: 'getpid' });
  await u.getpid();
  await k.settled();

  await u.writeFile('/tmp/home/after', 'secret');
  t.equal((await root.stat('/tmp/home/after')).mode & 0o777, 0o600, 'umask 077 still applies');
  t.equal(await u.getcwd(), '/tmp/home', 'cwd is still /tmp/home');
  t.equal(await errnoOf(u.writeFile('rel', 'x')), 'ok', 'a relative create lands in the cwd');
});
