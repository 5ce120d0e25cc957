// Batches (issue 13, point 3; kernel/batch.ts, servers/vfs/sys-batch.ts): a client's ops run
// in order from one message, each with its own outcome; a linked op after a failure is
// ECANCELED; an fd made earlier in the batch is named by { fdOf }; each op is checked as if it
// came alone; a batch has a bounded size; fds are per process; and the batch crosses into vfs
// once. Every policy gives the same outcomes, errno for errno and sentence for sentence.

import type { Test } from 'tap';
import { sameUnderEveryPolicy } from './lib/policies.js';
import {
  MAX_BATCH_BYTES, MAX_BATCH_OPS, O_CREAT, O_RDONLY, O_WRONLY, SysError, type BatchOp, type BatchResult, type Kernel,
} from '../kernel/index.js';
import { MAX_CALLS_IN_FLIGHT } from '../kernel/client-limits.js';

const POLICIES = ['monolithic', 'microkernel', 'multiprocess'];
const dec = new TextDecoder();

/** An outcome as the comparison across policies sees it: a value's gist, or errno and sentence. */
function gist(r: BatchResult): string {
  if (!r.ok) return `${r.error.errno}: ${r.error.message}`;
  const v = r.value;
  if (v === undefined) return 'ok';
  if (v instanceof Uint8Array) return `bytes '${dec.decode(v)}'`;
  if (typeof v === 'object' && v !== null && 'size' in v && 'mode' in v) return `stat size ${String(v.size)} mode 0o${(v.mode as number).toString(8)}`;
  return JSON.stringify(v);
}

/** A failure's errno and sentence, or 'resolved'. */
async function failure(p: Promise<unknown>): Promise<string> {
  return p.then(() => 'resolved', (err: SysError) => `${err.errno}: ${err.message}`);
}

const vfsCalls = async (k: Kernel) => (await k.callCounts()).vfs;

/** What one kernel does with the batches of this test: by case, the outcomes seen. */
async function run(t: Test, k: Kernel): Promise<Record<string, unknown>> {
  const seen: Record<string, unknown> = {};
  const p = await k.spawn();
  const fd = (i: number) => ({ fdOf: i });

  await t.test('ops run in order, each with its outcome', async (t) => {
    const r = await p.batch([
      { op: 'mkdir', args: { path: '/tmp/b', mode: 0o755 } },
      { op: 'open', args: { path: '/tmp/b/f', flags: O_WRONLY | O_CREAT, mode: 0o640 } },
      { op: 'write', args: { fd: fd(1), data: new TextEncoder().encode('hello') } },
      { op: 'close', args: { fd: fd(1) } },
      { op: 'stat', args: { path: '/tmp/b/f' } },
      { op: 'getcwd' },
    ]);
    seen.order = r.map(gist);
    t.same(seen.order, ['ok', '0', '5', 'ok', 'stat size 5 mode 0o100640', '"/"'], 'each op saw the ones before it');
  });

  await t.test('a failing op in the middle: the others run', async (t) => {
    const r = await p.batch([
      { op: 'getpid' },
      { op: 'stat', args: { path: '/tmp/b/none' } },
      { op: 'mkdir', args: { path: '/tmp/b/d', mode: 0o700 } },
      { op: 'rmdir', args: { path: '/tmp/b/none' } },
      { op: 'stat', args: { path: '/tmp/b/d' } },
    ]);
    seen.middle = r.map(gist);
    t.same(r.map((x) => (x.ok ? 'ok' : x.error.errno)), ['ok', 'ENOENT', 'ok', 'ENOENT', 'ok']);
    t.equal(r[0].ok && r[0].value, p.pid, "getpid is the batch's process");
    t.equal((await p.stat('/tmp/b/d')).mode & 0o777, 0o700, 'the op after a failure changed the file system');
  });

  await t.test('consecutive lookups run at once: each its own outcome, in order; a change between them is seen', async (t) => {
    await p.mkdir('/tmp/lk', { mode: 0o755 });
    await p.writeFile('/tmp/lk/f', 'hello', 0o640);
    await p.symlink('f', '/tmp/lk/ln');
    const r = await p.batch([
      { op: 'stat', args: { path: '/tmp/lk/f' } },
      { op: 'lstat', args: { path: '/tmp/lk/none' } },
      { op: 'lstat', args: { path: '/tmp/lk/ln' } },
      { op: 'stat', args: { path: '/tmp/lk/ln' } },
      { op: 'stat', args: { path: '/tmp/lk/f/x' } },
      { op: 'mkdir', args: { path: '/tmp/lk/e', mode: 0o750 } },
      { op: 'stat', args: { path: '/tmp/lk/e' } },
      { op: 'lstat', args: { path: '/tmp/lk/e/none' } },
    ]);
    seen.lookups = r.map(gist);
    t.same(r.map((x) => (x.ok ? 'ok' : x.error.errno)), ['ok', 'ENOENT', 'ok', 'ok', 'ENOTDIR', 'ok', 'ok', 'ENOENT']);
    t.same([0, 2, 3].map((i) => gist(r[i])), ['stat size 5 mode 0o100640', 'stat size 1 mode 0o120777', 'stat size 5 mode 0o100640'], 'each lookup found its own file');
    t.match(gist(r[6]), /^stat size \d+ mode 0o40750$/, 'the stat after the mkdir sees the directory');
  });

  await t.test('a link after a failure: ECANCELED, down the chain', async (t) => {
    const r = await p.batch([
      { op: 'open', args: { path: '/tmp/b/none', flags: O_RDONLY, mode: 0 } },
      { op: 'read', args: { fd: fd(0), length: 10 }, linked: true },
      { op: 'mkdir', args: { path: '/tmp/b/never', mode: 0o700 }, linked: true },
      { op: 'fstat', args: { fd: fd(0) } },
      { op: 'getpid', linked: true },
    ]);
    seen.link = r.map(gist);
    t.same(r.map((x) => (x.ok ? 'ok' : x.error.errno)), ['ENOENT', 'ECANCELED', 'ECANCELED', 'EBADF', 'ECANCELED']);
    t.match(gist(r[2]), /^ECANCELED: mkdir: not run: op 1 \(read\), to which it is linked, failed$/, 'with a sentence');
    t.match(gist(r[3]), /^EBADF: fstat: argument 'fd': op 0 \(open\), whose fd it names, failed$/, 'an fd of a failed open is no fd');
    t.equal(await failure(p.stat('/tmp/b/never')), "ENOENT: /tmp/b/never: no entry 'never'", 'a canceled op did nothing');
  });

  await t.test('an fd chain: open, fstat, read and close of a small file', async (t) => {
    const r = await p.batch([
      { op: 'open', args: { path: '/tmp/b/f', flags: O_RDONLY, mode: 0 } },
      { op: 'fstat', args: { fd: fd(0) }, linked: true },
      { op: 'read', args: { fd: fd(0), length: 100 }, linked: true },
      { op: 'dup', args: { fd: fd(0) } },
      { op: 'pread', args: { fd: fd(3), length: 3, offset: 1 } },
      { op: 'close', args: { fd: fd(3) } },
      { op: 'close', args: { fd: fd(0) } },
    ]);
    seen.chain = r.map(gist);
    t.same(seen.chain, ['0', 'stat size 5 mode 0o100640', "bytes 'hello'", '1', "bytes 'ell'", 'ok', 'ok']);
    t.same(await Promise.all([failure(p.fstat(0)), failure(p.fstat(1))]), ['EBADF: fd 0 is not open', 'EBADF: fd 1 is not open'], 'the batch closed what it opened');
    t.same(dec.decode(await p.readSmallFile('/tmp/b/f', 6) ?? new Uint8Array()), 'hello', 'readSmallFile: the whole file');
    t.equal(await p.readSmallFile('/tmp/b/f', 5), null, 'null when the read may not have reached the end');
    t.equal(await failure(p.readSmallFile('/tmp/b/none', 5)), "ENOENT: /tmp/b/none: no entry 'none'", "an open's failure");
  });

  await t.test('a bad op fails in its place, with a sentence; the kernel goes on', async (t) => {
    const r = await p.batch([
      { op: 'getpid' },
      { op: 'spawn', args: { uid: 0 } },
      { op: 'open', args: { path: '/tmp/b/f', flags: O_RDONLY, mode: 0, pid: 1 } },
      { op: 'stat', args: { path: 42 } },
      { op: 'read', args: { fd: 0 } },
      { op: 'exit' },
      { op: 'batch', args: { ops: [] } },
      { op: 'fstat', args: { fd: fd(7) } },
      { op: 'fstat', args: { fd: fd(0) } },
      { op: 'close', args: { fd: 'x' } },
      { op: 'getpid', linked: true },
      { op: 'getpid' },
    ] as BatchOp[]);
    seen.bad = r.map(gist);
    t.same(seen.bad, [
      String(p.pid),
      "ENOSYS: 'spawn' is not a syscall a client process can make",
      "EINVAL: open: 'pid' is not an argument: a process's identity comes from the process making the call",
      "EINVAL: vfs.stat: argument 'path' must be a string, got 42",
      "EINVAL: vfs.read: missing argument 'length' (a non-negative integer)",
      'EINVAL: exit cannot be in a batch',
      'EINVAL: batch cannot be in a batch',
      "EINVAL: fstat: argument 'fd': { fdOf: 7 } must name an earlier op of the batch (0 to 6)",
      "EINVAL: fstat: argument 'fd': { fdOf: 0 } names op 0 (getpid), which makes no fd (open, dup and dup2 do)",
      "EINVAL: vfs.close: argument 'fd' must be a non-negative integer, got a string",
      'ECANCELED: getpid: not run: op 9 (close), to which it is linked, failed',
      String(p.pid),
    ], 'each bad op gets the errno and sentence it would get alone');
    const alone = await Promise.all([
      failure(p.stat(42 as unknown as string)),
      failure(p.close('x' as unknown as number)),
    ]);
    t.same(alone, [(seen.bad as string[])[3], (seen.bad as string[])[9]], 'the same as the calls alone');
    t.equal(await p.getpid(), p.pid, 'the process goes on');
  });

  await t.test('a batch that is not one, or too big, is refused whole', async (t) => {
    const getpids = (n: number): BatchOp[] => Array.from({ length: n }, () => ({ op: 'getpid' }));
    const mkdir: BatchOp = { op: 'mkdir', args: { path: '/tmp/b/oversize', mode: 0o700 } };
    seen.refused = [
      await failure(p.batch([mkdir, ...getpids(MAX_BATCH_OPS)])),
      await failure(p.batch([mkdir, ...Array.from({ length: 17 }, () => ({ op: 'pread', args: { fd: 3, length: 1 << 20, offset: 0 } }))])),
      await failure(p.batch([mkdir, { op: 'pwrite', args: { fd: 3, data: new Uint8Array(MAX_BATCH_BYTES), offset: 0 } }, { op: 'read', args: { fd: 3, length: 1 } }])),
      await failure(p.batch([mkdir, null as unknown as BatchOp])),
      await failure(p.batch([mkdir, { op: 'getpid', linked: 1 } as unknown as BatchOp])),
      await failure(p.batch([mkdir, { op: 'getpid', extra: 1 } as unknown as BatchOp])),
    ];
    t.same(seen.refused, [
      `EINVAL: batch: ${MAX_BATCH_OPS + 1} ops, more than one batch may hold (${MAX_BATCH_OPS})`,
      `EINVAL: batch: its writes and reads move ${17 << 20} bytes, more than one batch may (${MAX_BATCH_BYTES})`,
      `EINVAL: batch: its writes and reads move ${MAX_BATCH_BYTES + 1} bytes, more than one batch may (${MAX_BATCH_BYTES})`,
      'EINVAL: batch: op 1 must be { op, args, linked } (an op\'s name, its arguments, true or false)',
      'EINVAL: batch: op 1 must be { op, args, linked } (an op\'s name, its arguments, true or false)',
      'EINVAL: batch: op 1 must be { op, args, linked } (an op\'s name, its arguments, true or false)',
    ]);
    t.equal(await failure(p.stat('/tmp/b/oversize')), "ENOENT: /tmp/b/oversize: no entry 'oversize'", 'nothing ran');
    const full = await p.batch(getpids(MAX_BATCH_OPS));
    t.ok(full.length === MAX_BATCH_OPS && full.every((r) => r.ok), `a batch of ${MAX_BATCH_OPS} runs`);
    t.same(await p.batch([]), [], 'an empty batch gives nothing');
  });

  await t.test("a batch names its own process's fds only", async (t) => {
    const a = await k.spawn();
    const b = await k.spawn();
    const afd = await a.open('/tmp/b/f', O_RDONLY);
    const r = await b.batch([{ op: 'fstat', args: { fd: afd } }, { op: 'read', args: { fd: afd, length: 5 } }, { op: 'getpid' }]);
    seen.otherFd = r.map(gist);
    t.same(seen.otherFd, [`EBADF: fd ${afd} is not open`, `EBADF: fd ${afd} is not open`, String(b.pid)]);
    t.equal((await a.fstat(afd)).size, 5, "the fd is still the other process's");
    await a.exit();
    await b.exit();
  });

  await t.test('a batch counts its ops as calls in flight', async (t) => {
    const ops: BatchOp[] = Array.from({ length: MAX_BATCH_OPS }, () => ({ op: 'getpid' }));
    const fits = MAX_CALLS_IN_FLIGHT / MAX_BATCH_OPS;
    const all = await Promise.allSettled(Array.from({ length: fits + 1 }, () => p.batch(ops)));
    seen.inFlight = all.map((s) => (s.status === 'fulfilled' ? 'ok' : (s.reason as SysError).errno));
    t.same(seen.inFlight, [...Array(fits).fill('ok'), 'EAGAIN'], `${fits} batches of ${MAX_BATCH_OPS} fit, one more does not`);
    t.match((all[fits] as PromiseRejectedResult).reason, { message: /with its 256 ops; wait for some to finish/ });
  });

  await t.test('a batch of N ops crosses into vfs once', async (t) => {
    const ops: BatchOp[] = [
      { op: 'open', args: { path: '/tmp/b/f', flags: O_RDONLY, mode: 0 } },
      { op: 'fstat', args: { fd: fd(0) }, linked: true },
      { op: 'read', args: { fd: fd(0), length: 1 << 20 }, linked: true },
      { op: 'close', args: { fd: fd(0) } },
      { op: 'stat', args: { path: '/tmp/b' } },
      { op: 'lstat', args: { path: '/tmp/b/d' } },
      { op: 'getpid' },
      { op: 'readdir', args: { path: '/tmp/b' } },
    ];
    const before = await vfsCalls(k);
    const r = await p.batch(ops);
    const after = await vfsCalls(k);
    t.ok(r.every((x) => x.ok), 'every op ran');
    seen.crossings = after - before;
    t.equal(seen.crossings, 1, `vfs served one call for ${ops.length} ops`);
    const names = (r[7] as { value: { name: string }[] }).value.map((e) => e.name).sort();
    t.same(names, ['d', 'f'], 'readdir in a batch gives entries in client form');
    const fdAlone = await p.open('/tmp/b/f', O_RDONLY);
    const single = await vfsCalls(k);
    for (let i = 0; i < 7; i++) await p.fstat(fdAlone);
    t.equal((await vfsCalls(k)) - single, 7, 'as 7 calls alone are 7');
    await p.close(fdAlone);
  });

  await p.exit();
  return seen;
}

sameUnderEveryPolicy(POLICIES, 10, run);
