// The syscall entry's fast path (issue 13, part 4): under the monolithic policy a call that vfs
// answers at once, with no fault armed on vfs, is answered without a chain of promises
// (kernel.ts syscall, domain.ts dispatch). What it skips must still happen: the op counters see
// every call, a fault armed on the null syscall fires by each trigger (once, after N, with
// probability p from a seed, only for its op) and stops when cleared, bad arguments get the
// same errno and sentence, and a client firing calls without waiting still meets the limit on
// calls in flight. Each is checked under monolithic and, for the same outcome, microkernel.

import t from 'tap';
import { SysError, boot, type Kernel, type Proc } from '../kernel/index.js';
import { MAX_CALLS_IN_FLIGHT } from '../kernel/client-limits.js';
import { seededRandom } from '../kernel/faults.js';

/** Makes `n` getpid calls one after another; for each, 'ok' or its errno. */
async function getpids(p: Proc, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    out.push(await p.getpid().then((pid) => (pid === p.pid ? 'ok' : `pid ${pid}`), (err: SysError) => err.errno));
  }
  return out;
}

const vfsCalls = async (k: Kernel) => (await k.callCounts()).vfs;

for (const policy of ['monolithic', 'microkernel']) {
  t.test(policy, async (t) => {
    const k = await boot({ policy });
    t.teardown(() => k.halt());
    const p = await k.spawn();

    await t.test('the op counters count every call', async (t) => {
      const before = await vfsCalls(k);
      t.same(await getpids(p, 50), Array(50).fill('ok'), '50 calls answered');
      t.equal(await vfsCalls(k), before + 50, 'vfs counted 50 calls');
    });

    await t.test('a fault after N calls, at most count times, then cleared', async (t) => {
      await k.inject({ component: 'vfs', type: 'error', errno: 'EAGAIN', op: 'getpid', after: 3, count: 2 });
      const before = await vfsCalls(k);
      t.same(await getpids(p, 8), ['ok', 'ok', 'ok', 'EAGAIN', 'EAGAIN', 'ok', 'ok', 'ok'], 'calls 4 and 5 hit');
      t.equal(await vfsCalls(k), before + 8, 'every call counted, hit or not');
      t.equal((await k.faultHits()).vfs?.error, 2, 'the hits are reported');
      await t.rejects(
        (async () => {
          await k.clearFaults('vfs');
          await k.inject({ component: 'vfs', type: 'error', errno: 'ENOSPC', op: 'getpid' });
          await p.getpid();
        })(),
        { errno: 'ENOSPC', message: 'vfs.getpid: injected ENOSPC' },
        'a fault armed once hits the next call, with its sentence',
      );
      t.same(await getpids(p, 3), ['ok', 'ok', 'ok'], 'spent, it hits no more');
      await k.clearFaults('vfs');
      const cleared = await vfsCalls(k);
      t.same(await getpids(p, 5), Array(5).fill('ok'), 'cleared, calls are answered');
      t.equal(await vfsCalls(k), cleared + 5, 'and counted');
    });

    await t.test('a fault for another op leaves the null syscall alone', async (t) => {
      await k.inject({ component: 'vfs', type: 'error', errno: 'EIO', op: 'umask', count: 0 });
      t.same(await getpids(p, 5), Array(5).fill('ok'), 'getpid is not hit');
      await t.rejects(p.umask(0o22), { errno: 'EIO', message: 'vfs.umask: injected EIO' }, 'umask is');
      await k.clearFaults('vfs');
    });

    await t.test('a fault with a probability hits the calls its seed draws', async (t) => {
      await k.inject({ component: 'vfs', type: 'error', errno: 'EIO', op: 'getpid', prob: 0.5, seed: 42, count: 0 });
      const draw = seededRandom(42);
      const expected = Array.from({ length: 40 }, () => (draw() < 0.5 ? 'EIO' : 'ok'));
      t.ok(expected.includes('EIO') && expected.includes('ok'), 'the seed draws both');
      t.same(await getpids(p, 40), expected, 'the same calls are hit');
      await k.clearFaults('vfs');
    });

    await t.test('bad arguments get the same errno and sentence', async (t) => {
      await t.rejects(k.call('vfs', 'getpid', { pid: 'one' }), {
        errno: 'EINVAL', message: "vfs.getpid: argument 'pid' must be a non-negative integer, got a string",
      });
      await t.rejects(k.call('vfs', 'getpid', {}), { errno: 'EINVAL', message: "vfs.getpid: missing argument 'pid' (a non-negative integer)" });
      await t.rejects(k.call('vfs', 'getpid', { pid: p.pid, fd: 1 }), { errno: 'EINVAL', message: "vfs.getpid: unknown argument 'fd'" });
      await t.rejects(k.call('vfs', 'nosuchop', { pid: p.pid }), { errno: 'ENOSYS', message: "vfs: unknown op 'nosuchop'" });
      await t.rejects(k.call('vfs', 'getpid', { pid: 99_999 }), { errno: 'ESRCH', message: 'vfs: no process 99999' });
      const before = await vfsCalls(k);
      await k.call('vfs', 'getpid', { pid: 99_999 }).catch(() => {});
      t.equal(await vfsCalls(k), before + 1, 'a call that fails is counted too');
    });

    await t.test(`calls made without waiting count against ${MAX_CALLS_IN_FLIGHT} in flight`, async (t) => {
      const results = await Promise.allSettled(Array.from({ length: MAX_CALLS_IN_FLIGHT + 3 }, () => p.getpid()));
      const refused = results.filter((r) => r.status === 'rejected').map((r) => (r.reason as SysError).errno);
      t.same(refused, ['EAGAIN', 'EAGAIN', 'EAGAIN'], 'exactly the excess is refused');
      t.same(await getpids(p, 3), ['ok', 'ok', 'ok'], 'once answered, calls go through again');
    });
  });
}
