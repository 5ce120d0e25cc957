// The pool domain: placements that use it (and those refused), a pure op with the same results
// in main, a thread, a process and a pool, calls spread over the pool's workers, and each
// fault type against a component in a pool — a lost worker fails or retries only its own
// calls, counted as the pool's restarts; a hung one is noticed by the heartbeat, one that runs
// long with its event loop free is not — and a halt that leaves no thread.

import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import t from 'tap';
import { threads } from './lib/os.js';
import { CONTROL_COMMANDS } from '../bin/shell/commands.js';
import { localControl } from '../kernel/control.js';
import { SysError, boot, type BootOptions, type Kernel } from '../kernel/index.js';
import { placeComponent, presetSpec, resolvePlacement, type DomainKind, type PlacementSpec } from '../kernel/placement.js';
import { BUILTIN, PURE_BUILTIN, loadComponent } from '../kernel/registry.js';

const fixture = (name: string) => pathToFileURL(join(import.meta.dirname, 'fixtures', name)).href;
const sum = fixture('sum.ts');
// A worker that replaces a lost one loads its code while the calls wait for it: on a loaded
// machine that may take a second or more.
const FAST: Partial<BootOptions> = { calls: { timeoutMs: 4000, tries: 3, reconnectMs: 8000 } };

/** Every built-in component in main, and `sum` in a domain of its own of `kind`. */
function withSum(kind: DomainKind, workers?: number): PlacementSpec {
  return placeComponent({ name: `sum-${kind}`, modules: { sum }, domains: { main: { kind: 'main', components: [...BUILTIN, 'sum'] } } }, 'sum', kind, workers);
}

async function refusal(spec: unknown): Promise<string> {
  try {
    await resolvePlacement(spec);
  } catch (err) {
    return `${(err as SysError).errno}: ${(err as Error).message}`;
  }
  return 'accepted';
}

t.test('placements', async (t) => {
  const moved = withSum('pool', 3);
  t.same(moved.domains.sum, { kind: 'pool', components: ['sum'], workers: 3 }, 'placeComponent gives the component a pool of its own');
  t.same(moved.domains.main.components, [...BUILTIN], 'and takes it out of main');
  t.same(placeComponent(moved, 'sum', 'main').domains, { main: { kind: 'main', components: [...BUILTIN, 'sum'] } }, 'and back into main, dropping the empty pool');
  const placed = await resolvePlacement(withSum('pool'));
  t.equal(placed.domains.find((d) => d.name === 'sum')!.workers, Math.min((await import('node:os')).availableParallelism(), 64), 'workers default to the cores');

  t.match(await refusal(placeComponent(presetSpec('monolithic', BUILTIN), 'ext2', 'pool')),
    /^EINVAL: placement: component 'ext2' cannot run in pool domain 'ext2': it is not declared pure \(/, 'a component not declared pure is refused');
  const needy = { name: 'n', modules: { needy: fixture('needy.ts') }, domains: { main: { kind: 'main', components: [...BUILTIN] }, p: { kind: 'pool', components: ['needy'] } } };
  t.match(await refusal(needy), /component 'needy' cannot run in pool domain 'p': a pure component requires nothing, and it requires 'tmpfs'/, 'a pure component that requires something is refused');
  for (const workers of [0, 65, 1.5, '2']) {
    t.match(await refusal(withSum('pool', workers as number)), /domain 'sum' has "workers": .*; it must be an integer from 1 to 64/, `workers ${JSON.stringify(workers)} is refused`);
  }
  t.match(await refusal(withSum('thread', 2)), /domain 'sum' is of kind thread: only a pool domain has "workers"/, 'workers on a thread domain is refused');

  for (const c of BUILTIN) t.equal((await loadComponent(c)).pure === true, (PURE_BUILTIN as readonly string[]).includes(c), `PURE_BUILTIN agrees with ${c}'s definition`);
  const preset = presetSpec('microkernel', ['blk', 'sum'], ['sum']);
  t.same(preset.domains, { blk: { kind: 'thread', components: ['blk'] }, sum: { kind: 'pool', components: ['sum'] } }, 'microkernel puts a pure component in a pool named after it');
  t.same(presetSpec('multiprocess', ['blk', 'sum'], ['sum']).domains.sum, { kind: 'pool', components: ['sum'] }, 'multiprocess too');
  t.same(presetSpec('monolithic', ['blk', 'sum'], ['sum']).domains, { main: { kind: 'main', components: ['blk', 'sum'] } }, 'monolithic keeps it in main');
});

/** What a run of sum's ops gives, errors as errno and message. */
async function results(k: Kernel): Promise<unknown[]> {
  const data = Uint8Array.from({ length: 5000 }, (_, i) => (i * 7) & 0xff);
  const calls: [string, Record<string, unknown>][] = [
    ['fnv', { data, rounds: 3 }], ['bump', { data }], ['fail', { errno: 'ENOSPC' }], ['fnv', { data: 'not bytes', rounds: 1 }], ['nosuch', {}],
  ];
  const out: unknown[] = [];
  for (const [op, args] of calls) {
    out.push(await k.call('sum', op, args).then((r) => r instanceof Uint8Array ? [...r.subarray(0, 8), r.length] : r, (e: SysError) => `${e.errno}: ${e.message}`));
  }
  return out;
}

t.test('a pure op gives the same results in main, a thread, a process and a pool', async (t) => {
  const seen: Record<string, unknown[]> = {};
  for (const kind of ['main', 'thread', 'process', 'pool'] as const) {
    const k = await boot({ policy: withSum(kind, kind === 'pool' ? 2 : undefined), ...FAST });
    try {
      seen[kind] = await results(k);
      t.equal(k.domains().find((d) => d.components.includes('sum'))!.kind, kind, `sum runs in a ${kind} domain`);
    } finally {
      await k.halt();
    }
  }
  t.match(seen.main[2], /^ENOSPC: /, 'an errno crosses as such');
  t.match(seen.main[3], /^EINVAL: /, 'bad arguments are refused');
  for (const kind of ['thread', 'process', 'pool']) t.same(seen[kind], seen.main, `${kind}: identical to main, errno for errno`);
});

t.test('a component in any domain calls a pool component through the main domain', async (t) => {
  for (const kind of ['main', 'thread', 'process'] as const) {
    const spec = placeComponent(placeComponent({
      name: `caller-${kind}`, modules: { sum, sumcaller: fixture('sumcaller.ts') },
      domains: { main: { kind: 'main', components: [...BUILTIN, 'sum', 'sumcaller'] } },
    }, 'sum', 'pool', 2), 'sumcaller', kind);
    const k = await boot({ policy: spec, ...FAST });
    try {
      t.same(await k.call('sumcaller', 'call', { op: 'bump', args: { data: new Uint8Array([7, 255]) } }), new Uint8Array([8, 0]), `from ${kind}: the result`);
      await t.rejects(k.call('sumcaller', 'call', { op: 'fail', args: { errno: 'EXDEV' } }), { errno: 'EXDEV', message: /asked to fail with EXDEV/ }, `from ${kind}: the errno`);
      const ids = new Set<unknown>();
      for (let round = 0, t0 = Date.now(); round < 20 && Date.now() - t0 < 30_000 && ids.size < 2; round++) {
        for (const id of await Promise.all(Array.from({ length: 8 }, () => k.call('sumcaller', 'call', { op: 'where', args: { ms: 20 } })))) ids.add(id);
      }
      t.equal(ids.size, 2, `from ${kind}: calls in flight at once went to both workers`);
    } finally {
      await k.halt();
    }
  }
});

t.test('under each preset, a kernel with a pool boots and serves', async (t) => {
  for (const policy of ['monolithic', 'microkernel', 'multiprocess'] as const) {
    const all = [...BUILTIN, 'sum'];
    const spec = { ...presetSpec(policy, all, ['sum']), modules: { sum } };
    const k = await boot({ policy: spec, ...FAST, mounts: [{ target: '/', fstype: 'tmpfs' }] });
    try {
      t.equal(k.domains().find((d) => d.components.includes('sum'))!.kind, policy === 'monolithic' ? 'main' : 'pool', `${policy}: sum's domain`);
      t.same(await k.call('sum', 'bump', { data: new Uint8Array([1, 2, 255]) }), new Uint8Array([2, 3, 0]), `${policy}: served`);
      await k.init.writeFile('/f', 'x');
      t.equal(new TextDecoder().decode(await k.init.readFile('/f')), 'x', `${policy}: the rest of the kernel serves too`);
    } finally {
      await k.halt();
    }
  }
});

t.test('many calls in flight use more than one worker', async (t) => {
  const k = await boot({ policy: withSum('pool', 2), ...FAST });
  t.teardown(() => k.halt());
  const ids = new Set<number>();
  // Bounded: the second worker may still be loading while the first takes the first batch.
  for (let round = 0, t0 = Date.now(); round < 20 && Date.now() - t0 < 30_000 && ids.size < 2; round++) {
    for (const id of await Promise.all(Array.from({ length: 8 }, () => k.call<number>('sum', 'where', { ms: 20 })))) ids.add(id);
  }
  t.equal(ids.size, 2, `calls were served by both workers (thread ids ${[...ids].join(', ')})`);
  const ps = k.domains().find((d) => d.name === 'sum')!;
  t.equal(ps.kind, 'pool');
  t.equal(ps.workers, 2, 'ps tells the workers');
  t.same(new Set(ps.threads), ids, 'and their thread ids');
  let shown = '';
  await CONTROL_COMMANDS.ps.run({ control: localControl(k) }, [], { out: async (s) => void (shown += String(s)), err: () => {}, stdin: null });
  const row = shown.split('\n').find((l) => l.startsWith('sum '))!;
  t.match(row, new RegExp(`^sum +pool/2 +${[...ps.threads!].join(',')} +running +0 `), `the shell's ps shows it: ${row}`);
});

// A heartbeat shorter than the call deadline (FAST's 4 s), so that a hung worker is noticed by it.
const HEARTBEAT: Partial<BootOptions> = { heartbeat: { periodMs: 200, timeoutMs: 1000 } };

t.test('faults in a pool domain', async (t) => {
  const k = await boot({ policy: withSum('pool', 2), ...FAST, ...HEARTBEAT, memoryLimitMb: 64, supervision: { sum: { intensity: { max: 100, withinMs: 60_000 } } } });
  t.teardown(() => k.halt());
  const restarts = () => k.domains().find((d) => d.name === 'sum')!.restarts;
  const where = (ms = 0) => k.call<number>('sum', 'where', { ms });
  const lost = () => k.events.filter((e) => e.kind === 'failed' && e.domain === 'sum').length;
  await where();

  await t.test('crash: only the call that hit it is retried, on another worker; the restart is counted', async (t) => {
    const before = restarts();
    await k.inject({ component: 'sum', type: 'crash', after: 2 });
    const all = await Promise.allSettled(Array.from({ length: 6 }, () => where(30)));
    t.same(all.map((r) => r.status), Array(6).fill('fulfilled'), 'every call was answered');
    t.equal(restarts(), before + 1, 'one worker was lost');
    t.ok(k.events.some((e) => e.kind === 'failed' && e.domain === 'sum' && /worker died/.test(e.reason)), 'dmesg tells');
  });

  await t.test('hang: noticed by the heartbeat before the call deadline, its worker terminated, the call retried', async (t) => {
    const before = restarts();
    await k.inject({ component: 'sum', type: 'hang' });
    t.type(await where(), 'number', 'the call came back');
    t.equal(restarts(), before + 1, 'the hung worker counts as a restart');
    t.ok(k.events.some((e) => e.domain === 'sum' && /its worker \(thread \d+\) stopped answering \(no liveness tick in 1000 ms\) and was terminated/.test(e.reason)), 'dmesg tells: the heartbeat, not the call deadline, cut it off');
    t.notOk(k.events.some((e) => e.domain === 'sum' && /no reply in 4000 ms/.test(e.reason)), 'the call deadline never came');
  });

  await t.test('error, delay, drop and corrupt act on the call as in any domain', async (t) => {
    await k.inject({ component: 'sum', type: 'error', errno: 'EROFS' });
    await t.rejects(where(), { errno: 'EROFS', message: /injected EROFS/ }, 'the injected errno');
    t.type(await where(), 'number', 'then served again');
    const before = restarts();
    // Longer than the heartbeat's timeout, with the worker's event loop free (as argon2 on
    // libuv's threadpool): it keeps ticking, so it is not taken for a hang.
    await k.inject({ component: 'sum', type: 'delay', ms: 1500 });
    const t0 = Date.now();
    await where();
    t.ok(Date.now() - t0 >= 1490, 'delayed, past the heartbeat timeout, and not cut off');
    await k.inject({ component: 'sum', type: 'drop' });
    const t1 = Date.now();
    t.type(await where(), 'number', 'a dropped reply: retried after the deadline');
    t.ok(Date.now() - t1 >= 3990, 'the whole call deadline, not the heartbeat timeout: a worker that answered is not watched');
    const data = new Uint8Array(8192);
    await k.inject({ component: 'sum', type: 'corrupt', op: 'bump' });
    const bumped = await k.call<Uint8Array>('sum', 'bump', { data });
    t.equal(bumped.filter((b) => b !== 1).length, 2, 'corrupt: a bit flipped in each 4 KiB');
    t.equal(restarts(), before, 'none of these lost a worker');
  });

  await t.test('crash-init: the worker that takes the next call dies; the call is retried', async (t) => {
    const before = restarts();
    await k.inject({ component: 'sum', type: 'crash-init' });
    t.type(await where(), 'number');
    t.equal(restarts(), before + 1);
  });

  await t.test('leak: the worker grows to its heap limit and is replaced; the call is retried', async (t) => {
    const before = lost();
    await k.inject({ component: 'sum', type: 'leak', count: 0 });
    let served = 0;
    for (let i = 0; i < 40 && lost() === before; i++) {
      await where().then(() => served++, () => {});
    }
    await k.clearFaults('sum');
    t.ok(lost() > before, `a worker ran out of memory (after ${served} calls served)`);
    t.type(await where(), 'number', 'the pool serves on');
  });

  const stats = await k.faultHits();
  t.ok(stats.sum, 'fault hits are counted for the pool component');
});

t.test("a cold pool's start does not count against its first call's deadline", async (t) => {
  // Starting the workers (and, from source, compiling their code) takes longer than this deadline.
  const k = await boot({ policy: withSum('pool', 2), calls: { timeoutMs: 300, tries: 1, reconnectMs: 1000 } });
  t.teardown(() => k.halt());
  t.type(await k.call<number>('sum', 'where', { ms: 0 }), 'number', 'the first call is answered');
});

t.test('with no heartbeat, a hung worker is cut off at the call deadline (the last resort), and the call retried', async (t) => {
  const k = await boot({ policy: withSum('pool', 2), ...FAST, heartbeat: { periodMs: 0 } });
  t.teardown(() => k.halt());
  await k.inject({ component: 'sum', type: 'hang' });
  t.type(await k.call<number>('sum', 'where', { ms: 0 }), 'number', 'the call came back');
  t.ok(k.events.some((e) => e.domain === 'sum' && /no reply in 4000 ms: its worker was terminated/.test(e.reason)), 'dmesg tells');
});

t.test('restart intensity: past it the pool is given up on, its calls fail with EIO', async (t) => {
  const k = await boot({
    policy: withSum('pool', 1), mounts: [{ target: '/', fstype: 'tmpfs' }],
    calls: { timeoutMs: 5000, tries: 5, reconnectMs: 1000 }, supervision: { sum: { intensity: { max: 1, withinMs: 60_000 } } },
  });
  t.teardown(() => k.halt());
  await k.inject({ component: 'sum', type: 'crash', count: 0 });
  // Each call's first try crashes its worker (a retry carries no fault): the first call is
  // retried within the intensity, the second is past it.
  t.type(await k.call('sum', 'where', { ms: 0 }), 'number', 'the first lost worker is within the intensity');
  const second = await k.call('sum', 'where', { ms: 0 }).catch((e: SysError) => e);
  t.match(second, { errno: 'EIO', message: /restart intensity/ }, 'the second is past it: the call fails');
  const ps = k.domains().find((d) => d.name === 'sum')!;
  t.equal(ps.status, 'failed', 'ps says failed');
  t.ok(k.events.some((e) => e.kind === 'gave-up' && e.domain === 'sum'), 'dmesg tells');
  await t.rejects(k.call('sum', 'where', { ms: 0 }), { errno: 'EIO', message: /restart intensity/ }, 'later calls fail at once');
  await k.init.writeFile('/f', 'x');
  t.equal(new TextDecoder().decode(await k.init.readFile('/f')), 'x', 'the rest of the kernel goes on');
});

t.test('halt ends every worker of the pool', async (t) => {
  const before = threads();
  const k = await boot({ policy: withSum('pool', 2), ...FAST });
  await Promise.all(Array.from({ length: 4 }, () => k.call('sum', 'where', { ms: 10 })));
  t.ok(threads() >= before + 2, 'the workers ran');
  await k.halt();
  let now = threads();
  for (let i = 0; i < 50 && now > before; i++) {
    await new Promise((r) => setTimeout(r, 100));
    now = threads();
  }
  t.ok(now <= before, `no thread is left (${now} now, ${before} before)`);
});

t.test('after halt the process exits by itself: no worker is left', async (t) => {
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), join(import.meta.dirname, 'fixtures', 'pool-halt-child.ts')], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  // A generous bound: what this guards against is a process that never exits.
  const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
  const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => child.on('exit', (c, s) => resolve([c, s])));
  clearTimeout(timer);
  t.match(out, /HALTED/, 'the kernel halted');
  t.same([code, signal], [0, null], 'and the process exited on its own');
});
