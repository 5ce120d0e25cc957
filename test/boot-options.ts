// Every boot option is checked before anything starts: a bad value is refused with EINVAL and a
// sentence naming the option and what it must be, and the refused boot leaves no thread, child
// process or socket directory behind. A good value that is not the default takes effect.

import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import t from 'tap';
import { threads } from './lib/os.js';
import { boot, type BootOptions, type PlacementSpec } from '../kernel/index.js';
import { BUILTIN } from '../kernel/registry.js';
import { errnoOf } from './lib/errno.js';

/** Options that are refused, and what the refusal must say. */
const BAD: [what: string, options: Record<string, unknown>, message: RegExp][] = [
  ['a misspelt option', { polcy: 'microkernel' }, /unknown boot option 'polcy'/],
  ['a policy that is a number', { policy: 42 }, /boot option policy must be monolithic, microkernel, multiprocess, the path of a placement file or a placement object, got 42/],
  ['an unknown transport', { transport: 'pigeon' }, /boot option transport must be one of ring, postMessage, got 'pigeon'/],

  ['calls that are not an object', { calls: 'fast' }, /boot option calls must be an object \{timeoutMs, tries, reconnectMs\}/],
  ['a zero call timeout', { calls: { timeoutMs: 0 } }, /boot option calls\.timeoutMs must be a positive integer of milliseconds/],
  ['a fractional call timeout', { calls: { timeoutMs: 1.5 } }, /boot option calls\.timeoutMs must be a positive integer of milliseconds.*, got the number 1\.5/],
  ['a call timeout given as text', { calls: { timeoutMs: '100' } }, /boot option calls\.timeoutMs must be a positive integer of milliseconds.*, got '100'/],
  ['a call timeout longer than a timer can wait', { calls: { timeoutMs: 2 ** 31 } }, /boot option calls\.timeoutMs must be a positive integer of milliseconds \(at most 2147483647\)/],
  ['zero tries', { calls: { tries: 0 } }, /boot option calls\.tries must be a positive integer, got 0/],
  ['a negative reconnect wait', { calls: { reconnectMs: -1 } }, /boot option calls\.reconnectMs must be a non-negative integer of milliseconds/],
  ['an unknown field of calls', { calls: { retries: 3 } }, /boot option calls has an unknown field 'retries'/],

  ['a negative heartbeat period', { heartbeat: { periodMs: -5 } }, /boot option heartbeat\.periodMs must be a non-negative integer of milliseconds.*\(0: no heartbeat\)/],
  ['a zero heartbeat timeout', { heartbeat: { timeoutMs: 0 } }, /boot option heartbeat\.timeoutMs must be a positive integer of milliseconds/],
  ['an unknown field of heartbeat', { heartbeat: { every: 100 } }, /boot option heartbeat has an unknown field 'every'/],

  ['a zero memory limit', { memoryLimitMb: 0 }, /boot option memoryLimitMb must be a positive integer of MiB, got 0/],
  ['a memory limit given as text', { memoryLimitMb: '64' }, /boot option memoryLimitMb must be a positive integer of MiB, got '64'/],

  ['mounts that are not an array', { mounts: 'tmpfs' }, /boot option mounts must be an array of mounts/],
  ['a mount without a file-system type', { mounts: [{ target: '/' }] }, /boot option mounts\[0\]\.fstype must be a string, and is missing/],
  ['a mount whose readonly is text', { mounts: [{ target: '/', fstype: 'tmpfs', readonly: 'yes' }] }, /boot option mounts\[0\]\.readonly must be true or false/],
  ['a mount with an unknown field', { mounts: [{ target: '/', fstype: 'tmpfs', options: 'ro' }] }, /boot option mounts\[0\] has an unknown field 'options'/],
  ['a mount at a relative path', { mounts: [{ target: 'rel/x', fstype: 'tmpfs' }] }, /boot option mounts\[0\]\.target must be an absolute path/],

  ['supervision that is an array', { supervision: [] }, /boot option supervision must be an object mapping component names/],
  ['supervision of an unknown component', { supervision: { nosuch: {} } }, /boot option supervision names unknown component 'nosuch'/],
  ['an unknown restart type', { supervision: { dev: { restart: 'sometimes' } } }, /boot option supervision\.dev\.restart must be one of permanent, transient, temporary/],
  ['a negative restart intensity', { supervision: { dev: { intensity: { max: -1 } } } }, /boot option supervision\.dev\.intensity\.max must be a non-negative integer/],
  ['an intensity window given as text', { supervision: { dev: { intensity: { withinMs: '10' } } } }, /boot option supervision\.dev\.intensity\.withinMs must be a positive integer of milliseconds/],
  ['a backoff whose maximum is below its first', { supervision: { dev: { backoff: { firstMs: 100, maxMs: 10 } } } }, /boot option supervision\.dev\.backoff\.maxMs must be no less than backoff\.firstMs \(100\), got 10/],
  ['an unknown strategy', { supervision: { dev: { strategy: 'all_for_one' } } }, /boot option supervision\.dev\.strategy must be one of one_for_one, rest_for_one/],
  ['essential given as text', { supervision: { dev: { essential: 'yes' } } }, /boot option supervision\.dev\.essential must be true or false/],

  ['faults that are not an array', { faults: 'crash' }, /boot option faults must be an array of faults/],
  ['a fault with a bad errno', { faults: [{ component: 'dev', type: 'error', errno: 'EWHAT' }] }, /boot option faults\[0\]: errno 'EWHAT' is not an errno name/],
  ['an onEvent that is not a function', { onEvent: 'log' }, /boot option onEvent must be a function/],
];

/** This process's socket directories (kernel/sockets.ts names them after the kernel's pid). */
const socketDirs = () => readdirSync(tmpdir()).filter((f) => f.startsWith(`rumpus-sockets-${process.pid}-`));
const handles = () => process.getActiveResourcesInfo().filter((r) => ['MessagePort', 'PipeWrap', 'ProcessWrap', 'PipeServerWrap'].includes(r)).sort();

t.test('each bad boot option is refused with EINVAL naming it', async (t) => {
  for (const [what, options, message] of BAD) {
    await t.rejects(boot({ policy: 'monolithic', ...options } as BootOptions), { errno: 'EINVAL', message }, what);
  }
  await t.rejects(boot(null as never), { errno: 'EINVAL', message: /boot options must be an object, got null/ }, 'options that are not an object');
});

for (const policy of ['microkernel', 'multiprocess']) {
  t.test(`a boot refused for a bad option under ${policy} starts no domain`, async (t) => {
    // Counted after one refused boot: loading the component modules may start libuv's own threads.
    await t.rejects(boot({ policy, heartbeat: { timeoutMs: 0 } }), { errno: 'EINVAL', message: /boot option heartbeat\.timeoutMs/ });
    const threadsBefore = threads();
    const handlesBefore = handles();
    const dirsBefore = socketDirs();
    // One option checked before the placement is resolved, one after (it names a component).
    await t.rejects(boot({ policy, calls: { timeoutMs: -1 } }), { errno: 'EINVAL', message: /boot option calls\.timeoutMs/ });
    await t.rejects(boot({ policy, supervision: { ext2: { restart: 'never' as never } } }), { errno: 'EINVAL', message: /boot option supervision\.ext2\.restart/ });
    t.equal(threads(), threadsBefore, 'no thread was started');
    t.same(handles(), handlesBefore, 'no child process, pipe or port was made');
    t.same(socketDirs(), dirsBefore, 'no socket directory was made');
  });
}

t.test('options given as undefined are absent: the defaults apply', async (t) => {
  const k = await boot({ policy: 'monolithic', transport: undefined, faults: undefined, calls: { tries: undefined }, heartbeat: undefined });
  t.teardown(() => k.halt());
  t.equal(k.transport, 'ring', 'the default transport');
  const p = await k.spawn();
  await p.writeFile('/tmp/x', 'x');
  t.equal((await p.stat('/tmp/x')).size, 1, 'the kernel serves');
});

t.test('a call deadline given at boot is the one calls get', async (t) => {
  const probe = pathToFileURL(join(import.meta.dirname, 'fixtures', 'probe.ts')).href;
  const policy: PlacementSpec = {
    name: 'probe-in-a-thread', modules: { probe },
    domains: { main: { kind: 'main', components: [...BUILTIN] }, p: { kind: 'thread', components: ['probe'] } },
  };
  const k = await boot({ policy, mounts: [{ target: '/', fstype: 'tmpfs' }], calls: { timeoutMs: 200, tries: 1 } });
  t.teardown(() => k.halt());
  t.equal(await k.call('probe', 'echo', { value: 'quick' }), 'quick', 'a quick call is answered');
  // The default deadline (60 s) would let a 10 s sleep finish; this one does not.
  await t.rejects(k.call('probe', 'sleep', { ms: 10_000 }), { errno: 'ETIMEDOUT', message: /probe\.sleep: no reply/ }, 'a call slower than the deadline times out');
});

// Found by review: an unprivileged process (a `rumpus serve` token of uid 1000) could make no
// file anywhere in the default kernel. /tmp is 1777 as on any Unix: anyone makes files there,
// and only their owner removes them.
t.test('a mount\'s mode sets its root\'s; the default /tmp is 1777', async (t) => {
  const k = await boot({ policy: 'monolithic' });
  t.teardown(() => k.halt());
  const root = await k.spawn();
  t.equal((await root.stat('/tmp')).mode & 0o7777, 0o1777, '/tmp is sticky and open to all');
  const alice = await k.spawn({ uid: 1000, gid: 1000 });
  const bob = await k.spawn({ uid: 1001, gid: 1001 });
  await alice.writeFile('/tmp/alice', 'a');
  t.equal(await errnoOf(bob.unlink('/tmp/alice')), 'EPERM', 'another user cannot remove it');
  await alice.unlink('/tmp/alice');
  await t.rejects(boot({ policy: 'monolithic', mounts: [{ target: '/', fstype: 'tmpfs', mode: 0o10000 }] }), { errno: 'EINVAL', message: /mounts\[0\]\.mode/ }, 'a mode beyond 0o7777 is refused');
});
