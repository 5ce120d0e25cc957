// Supervision and fault injection: each fault type against a component in a thread and in a
// process domain — the right detection, the right restart, the right errno or the transparent
// retry — restart intensity escalating as configured, and the monolithic kernel panicking.

import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import t from 'tap';
import { alive, threads } from './lib/os.js';
import { SysError, boot, type BootOptions, type Kernel } from '../kernel/index.js';
import { BUILTIN } from '../kernel/registry.js';

const probe = pathToFileURL(join(import.meta.dirname, 'fixtures', 'probe.ts')).href;
const FAST: Partial<BootOptions> = {
  heartbeat: { periodMs: 200, timeoutMs: 2500 },
  // Four tries: a crash spends one, and on a loaded machine (CI runs two test files at once) a
  // reply can miss the short deadline more than once.
  calls: { timeoutMs: 1500, tries: 4, reconnectMs: 8000 },
};

/** One domain per component, of the given kind, with the probe component added. */
function bootWithProbe(kind: 'thread' | 'process', extra: Partial<BootOptions> = {}): Promise<Kernel> {
  const all = [...BUILTIN, 'probe'];
  return boot({
    policy: { name: kind, modules: { probe }, domains: Object.fromEntries(all.map((c) => [c, { kind, components: [c] }])) },
    ...FAST,
    ...extra,
  });
}


for (const kind of ['thread', 'process'] as const) {
  t.test(`faults in a ${kind} domain`, async (t) => {
    const k = await bootWithProbe(kind, { memoryLimitMb: 48, supervision: { probe: { intensity: { max: 100, withinMs: 60_000 } } } });
    t.teardown(() => k.halt());
    const restarts = () => k.domains().find((d) => d.name === 'probe')!.restarts;

    await t.test('crash: detected, restarted, the idempotent call in flight retried', async (t) => {
      await k.inject({ component: 'probe', type: 'crash', op: 'echo' });
      t.same(await k.call('probe', 'echo', { value: 'survived' }), 'survived', 'the call went through the restart');
      t.equal(restarts(), 1);
      await k.settled();
      t.match(k.events.find((e) => e.kind === 'failed')?.reason, new RegExp(`its ${kind} exited with code 70`), 'the reason is logged');
    });

    await t.test('crash: a non-idempotent call in flight fails with EIO', async (t) => {
      await k.inject({ component: 'probe', type: 'crash', op: 'poke' });
      await t.rejects(k.call('probe', 'poke', { component: 'tmpfs', op: 'statfs', args: { fsid: 1 } }), { errno: 'EIO', message: /probe failed while the call was in flight/ });
      await k.settled();
      t.equal(restarts(), 2);
    });

    await t.test('crash-init: dies in its next init, and is not restarted in a loop', async (t) => {
      await k.inject({ component: 'probe', type: 'crash-init' });
      await k.inject({ component: 'probe', type: 'crash', op: 'echo' });
      t.same(await k.call('probe', 'echo', { value: 1 }), 1, 'the second restart succeeds');
      t.ok(k.events.some((e) => e.kind === 'failed' && /while starting/.test(e.reason)), 'the death in init is logged');
      t.equal(restarts(), 4, 'two restarts: one died in init');
    });

    await t.test('hang: the heartbeat notices, the domain is replaced, the call retried', async (t) => {
      await k.inject({ component: 'probe', type: 'hang', op: 'sleep' });
      await k.call('probe', 'sleep', { ms: 1 });
      t.ok(k.events.some((e) => /stopped answering/.test(e.reason)), 'detected by the heartbeat');
      t.same(await k.call('probe', 'echo', { value: 'back' }), 'back');
    });

    await t.test('delay, error, corrupt, drop', async (t) => {
      await k.inject({ component: 'probe', type: 'delay', ms: 200, op: 'echo' });
      const t0 = performance.now();
      await k.call('probe', 'echo', { value: 1 });
      t.ok(performance.now() - t0 >= 190, 'delayed');
      await k.inject({ component: 'probe', type: 'error', errno: 'ENOSPC', op: 'echo' });
      await t.rejects(k.call('probe', 'echo', { value: 1 }), { errno: 'ENOSPC', message: /injected ENOSPC/ });
      t.same(await k.call('probe', 'echo', { value: 2 }), 2, 'a fault fires once by default');
      await k.inject({ component: 'probe', type: 'corrupt', op: 'echo' });
      const bytes = new Uint8Array(8192).fill(0x55);
      const back = await k.call<Uint8Array>('probe', 'echo', { value: bytes });
      t.not(Buffer.compare(back, bytes), 0, 'the reply\'s bytes were flipped');
      t.equal(back.filter((b, i) => b !== bytes[i]).length, 2, 'one bit in each 4 KiB');
      await k.inject({ component: 'probe', type: 'drop', op: 'echo' });
      t.same(await k.call('probe', 'echo', { value: 3 }), 3, 'a dropped reply to an idempotent call is retried after its deadline');
      await k.inject({ component: 'probe', type: 'drop', op: 'poke' });
      await t.rejects(k.call('probe', 'poke', { component: 'tmpfs', op: 'statfs', args: { fsid: 1 } }), { errno: 'ETIMEDOUT', message: /no reply/ }, 'a non-idempotent one times out');
    });

    await t.test('triggers: after N, op filter, probability from a seed, count', async (t) => {
      await k.inject({ component: 'probe', type: 'error', errno: 'EAGAIN', op: 'echo', after: 2, count: 2 });
      const outcome = async () => k.call('probe', 'echo', { value: 0 }).then(() => 'ok', (e: SysError) => e.errno);
      t.same([await outcome(), await outcome(), await outcome(), await outcome(), await outcome()], ['ok', 'ok', 'EAGAIN', 'EAGAIN', 'ok']);
      const draw = async () => {
        await k.clearFaults('probe');
        await k.inject({ component: 'probe', type: 'error', op: 'echo', prob: 0.5, seed: 42, count: 0 });
        const got = [];
        for (let i = 0; i < 16; i++) got.push(await outcome());
        return got.join(',');
      };
      const first = await draw();
      t.equal(await draw(), first, 'the same seed gives the same faults');
      t.ok(first.includes('EIO') && first.includes('ok'), `about half fail (${first})`);
      await k.clearFaults();
      t.same(k.armed, [], 'clear disarms');
      t.equal(await outcome(), 'ok');
    });

    await t.test('leak: the domain outgrows its memory limit and is replaced', async (t) => {
      await k.inject({ component: 'probe', type: 'leak', op: 'echo', count: 0 });
      const before = restarts();
      for (let i = 0; i < 40 && restarts() === before; i++) await k.call('probe', 'echo', { value: i }).catch(() => {});
      await k.settled();
      t.ok(restarts() > before, 'restarted');
      t.ok(k.events.some((e) => /out of memory|SIGABRT|code 134/.test(e.reason)), `the reason says so (${k.events.filter((e) => e.kind === 'failed').map((e) => e.reason).pop()})`);
      await k.clearFaults('probe');
      t.same(await k.call('probe', 'echo', { value: 'fresh' }), 'fresh');
    });

    await t.test('a restart of vfs is transparent to client processes, files on tmpfs survive it', async (t) => {
      const p = await k.spawn();
      await p.writeFile('/tmp/kept', 'kept');
      await k.inject({ component: 'vfs', type: 'crash', op: 'stat' });
      t.equal((await p.stat('/tmp/kept')).size, 4, 'the stat in flight was retried');
      t.equal(new TextDecoder().decode(await p.readFile('/tmp/kept')), 'kept');
      t.same((await p.mounts()).map((m) => m.target), ['/', '/tmp', '/dev'], 'the mounts are back');
    });

    await t.test('open fds survive a restart of their file system', async (t) => {
      const p = await k.spawn();
      const fd = await p.open('/dev/zero');
      await k.inject({ component: 'dev', type: 'crash', op: 'read' });
      t.same(Array.from(await p.read(fd, 3)), [0, 0, 0], 'the read in flight was retried on the new dev');
      t.same(Array.from(await p.read(fd, 2)), [0, 0], 'the fd still works');
      await p.close(fd);
    });
  });
}

t.test('a call waits out a restart: a death in init and a slow restart spend none of its tries or its deadline', async (t) => {
  // Two tries, and a 300 ms deadline against a 1.5 s backoff before the restart after the death
  // in init: the call must not be sent to an incarnation until its components have started.
  const k = await bootWithProbe('thread', {
    calls: { timeoutMs: 300, tries: 2, reconnectMs: 8000 },
    supervision: { probe: { backoff: { firstMs: 1500, maxMs: 1500 } } },
  });
  t.teardown(() => k.halt());
  await k.inject({ component: 'probe', type: 'crash-init' });
  await k.inject({ component: 'probe', type: 'crash', op: 'echo' });
  const t0 = performance.now();
  t.same(await k.call('probe', 'echo', { value: 'after' }), 'after', 'the call in flight went through both restarts');
  t.ok(performance.now() - t0 >= 1400, 'it waited out the backoff');
  t.ok(k.events.some((e) => e.kind === 'failed' && /while starting/.test(e.reason)), 'the death in init happened');
  t.equal(k.domains().find((d) => d.name === 'probe')!.restarts, 2);
});

t.test("a call's deadline waits out the restart of a domain below its callee", async (t) => {
  // The core's read goes to vfs, whose read of /dev/zero meets dev's crash, then a death in its
  // init and a 1.5 s backoff before the next restart: the core's 300 ms deadline on vfs must not
  // run out while vfs waits for dev.
  const k = await bootWithProbe('thread', {
    calls: { timeoutMs: 300, tries: 4, reconnectMs: 8000 },
    supervision: { dev: { backoff: { firstMs: 1500, maxMs: 1500 } } },
  });
  t.teardown(() => k.halt());
  const p = await k.spawn();
  const fd = await p.open('/dev/zero');
  await k.inject({ component: 'dev', type: 'crash-init' });
  await k.inject({ component: 'dev', type: 'crash', op: 'read' });
  const t0 = performance.now();
  t.same(Array.from(await p.read(fd, 3)), [0, 0, 0], 'the read went through the restarts of dev');
  t.ok(performance.now() - t0 >= 1400, 'it waited out the backoff');
});

t.test('restart intensity: exceeded, the component is given up and its dependents stopped', async (t) => {
  const k = await bootWithProbe('thread', { supervision: { probe: { intensity: { max: 1, withinMs: 60_000 } } } });
  t.teardown(() => k.halt());
  // A fault lives in one incarnation: arm it again in each.
  await k.inject({ component: 'probe', type: 'crash', op: 'echo' });
  t.same(await k.call('probe', 'echo', { value: 1 }), 1, 'the first crash is survived');
  await k.settled();
  await k.inject({ component: 'probe', type: 'crash', op: 'echo' });
  await t.rejects(k.call('probe', 'echo', { value: 2 }), { errno: 'EIO', message: /was not restarted/ }, 'the second is one too many');
  await k.settled();
  t.equal(k.domains().find((x) => x.name === 'probe')!.status, 'failed');
  t.ok(k.events.some((e) => e.kind === 'gave-up' && /more than 1 restarts/.test(e.reason)), 'escalation is logged');
  await t.rejects(k.call('probe', 'echo', { value: 3 }), { errno: 'EIO', message: /was not restarted/ }, 'calls to it fail at once');
  const p = await k.spawn();
  await p.writeFile('/tmp/x', 'x');
  t.pass('the rest of the kernel serves on');
});

t.test('temporary components are not restarted; rest_for_one restarts dependents after', async (t) => {
  const k = await bootWithProbe('thread', { supervision: { probe: { restart: 'temporary' }, tmpfs: { strategy: 'rest_for_one' } } });
  t.teardown(() => k.halt());
  await k.inject({ component: 'probe', type: 'crash', op: 'echo' });
  await t.rejects(k.call('probe', 'echo', { value: 1 }), { errno: 'EIO', message: /probe/ });
  await k.settled();
  t.equal(k.domains().find((x) => x.name === 'probe')!.status, 'failed');
  await k.inject({ component: 'tmpfs', type: 'crash', op: 'statfs' });
  const p = await k.spawn();
  await p.statfs('/tmp').catch(() => {});
  await k.settled();
  const restarted = k.events.filter((e) => e.kind === 'restarted').map((e) => e.domain);
  t.same(restarted, ['tmpfs', 'vfs'], 'vfs, which requires tmpfs, restarted after it');
});

t.test('an essential component that cannot come back halts the kernel with a report', async (t) => {
  const k = await bootWithProbe('thread', { supervision: { vfs: { restart: 'temporary' } } });
  t.teardown(() => k.halt());
  const children = threads();
  await k.inject({ component: 'vfs', type: 'crash', op: 'getpid' });
  const p = k.init;
  await t.rejects(p.getpid(), { errno: 'EIO', message: /vfs/ });
  await k.settled();
  t.match(k.panicked, /essential domain vfs \(vfs\) failed and cannot be restarted/);
  await t.rejects(p.getpid(), { errno: 'EIO', message: /kernel panic/ });
  t.ok(threads() < children, 'the domains are gone');
});

t.test('monolithic: a fatal fault panics the whole kernel, with a report, leaving nothing behind', async (t) => {
  for (const type of ['crash', 'hang', 'leak'] as const) {
    const k = await boot({ policy: 'monolithic' });
    const p = await k.spawn();
    await k.inject({ component: 'tmpfs', type, op: 'statfs' });
    await t.rejects(p.statfs('/tmp'), { errno: 'EIO', message: /kernel panic/ }, `${type}: the call fails`);
    t.match(k.panicked, new RegExp(`injected ${type} at tmpfs.statfs.*whole kernel stops`), `${type}: the report says what and why`);
    await t.rejects(p.getpid(), { errno: 'EIO', message: /kernel panic/ }, `${type}: so does everything after`);
    await k.halt();
  }
  const k = await boot({ policy: 'multiprocess', mounts: [{ target: '/', fstype: 'tmpfs' }] });
  const pids = k.domains().filter((d) => d.kind === 'process').map((d) => d.id);
  await k.inject({ component: 'tmpfs', type: 'crash', op: 'statfs' });
  await (await k.spawn()).statfs('/');
  t.ok(k.panicked === null, 'under multiprocess the same crash is survived');
  await k.halt();
  t.ok(pids.every((pid) => !alive(pid)), 'and halt leaves no process behind');
});

t.test('a fault plan is armed at boot; bad faults are refused with a sentence', async (t) => {
  const k = await boot({ policy: 'microkernel', faults: [{ component: 'dev', type: 'error', errno: 'EACCES', op: 'read' }], ...FAST });
  t.teardown(() => k.halt());
  const p = await k.spawn();
  await t.rejects(p.readFile('/dev/zero'), { errno: 'EACCES', message: /injected/ });
  await t.rejects(k.inject({ component: 'nope', type: 'crash' }), { errno: 'EINVAL', message: /unknown component 'nope'/ });
  await t.rejects(k.inject({ component: 'dev', type: 'explode' as never }), { errno: 'EINVAL', message: /unknown type 'explode'/ });
  await t.rejects(k.inject({ component: 'dev', type: 'delay' }), { errno: 'EINVAL', message: /a delay needs ms/ });
  await t.rejects(boot({ policy: 'monolithic', faults: [{ component: 'dev', type: 'error', errno: 'EWHAT' as never }] }), { errno: 'EINVAL', message: /not an errno/ });
});
