// Direct reads (issue 13, point 1; kernel/direct-files.ts): a pread of an fd that vfs's open
// granted goes from the core to the file system alone, and vfs serves nothing of it; every
// other fd, and every error, reads as through vfs. A grant ends with its fd (close, dup2, a
// close in a batch), belongs to its process, leaves injected faults to strike, and ends when
// the file system restarts under it, the pread then answered through vfs's recovery. A stat
// after a direct read sees the atime the read moved; readFile reads by pread, so directly.
// Every placement (the three policies and the mixed one) gives the same outcomes. And the
// attacks: an open under way while its process exits, closes or dup2s over the fd; bad pread
// arguments; a batch with refused ops; calls after a halt.

import t, { type Test } from 'tap';
import { makeFile, outcome, served } from './lib/direct.js';
import { ALL_POLICIES, policyName, sameUnderEveryPolicy } from './lib/policies.js';
import { O_RDONLY, O_RDWR, O_WRONLY, SysError, boot, type Kernel, type Proc, type ProcChannel } from '../kernel/index.js';

const POLICIES = ALL_POLICIES;
const enc = new TextEncoder();
const dec = new TextDecoder();

/** What one kernel does in each case: the outcomes seen, by case. */
async function run(t: Test, k: Kernel): Promise<Record<string, unknown>> {
  const seen: Record<string, unknown> = {};
  const p = await k.spawn();
  await p.mkdir('/tmp/d', 0o755);
  await makeFile(p, '/tmp/d/a', 'alpha');
  await makeFile(p, '/tmp/d/b', 'bravo');

  await t.test('a pread of a file open for reading reaches the file system alone', async (t) => {
    const fd = await p.open('/tmp/d/a', O_RDONLY);
    const before = await served(k);
    const reads = [];
    for (let i = 0; i < 5; i++) reads.push(await outcome(p.pread(fd, 3, i)));
    const after = await served(k);
    seen.reads = reads;
    t.same(reads, ["bytes 'alp'", "bytes 'lph'", "bytes 'pha'", "bytes 'ha'", "bytes 'a'"], 'the bytes at each offset');
    t.equal(after.vfs - before.vfs, 0, 'vfs served none of them');
    t.equal(after.tmpfs - before.tmpfs, 5, 'tmpfs served each');
    const rw = await p.open('/tmp/d/b', O_RDWR);
    const mid = await served(k);
    seen.rw = await outcome(p.pread(rw, 5, 0));
    t.equal((await served(k)).vfs - mid.vfs, 0, 'an fd open for reading and writing reads directly too');
    await p.pwrite(rw, enc.encode('B'), 0);
    seen.afterWrite = await outcome(p.pread(rw, 5, 0));
    t.equal(seen.afterWrite, "bytes 'Bravo'", 'a direct read sees a write made through vfs');
    await p.close(rw);
    await p.close(fd);
  });

  await t.test('other fds read through vfs, with its errors', async (t) => {
    const wr = await p.open('/tmp/d/a', O_WRONLY);
    const dir = await p.open('/tmp/d', O_RDONLY);
    const [rd] = await p.pipe();
    const before = await served(k);
    seen.others = [await outcome(p.pread(wr, 1, 0)), await outcome(p.pread(dir, 1, 0)), await outcome(p.pread(rd, 1, 0))];
    t.match(seen.others, [/^EBADF/, /^EISDIR/, /^ESPIPE/], 'write-only, directory, pipe');
    t.equal((await served(k)).vfs - before.vfs, 3, 'each went to vfs');
    for (const fd of [wr, dir, rd]) await p.close(fd);
  });

  await t.test('a grant ends with its fd', async (t) => {
    const a = await p.open('/tmp/d/a', O_RDONLY);
    await p.pread(a, 1, 0);
    await p.close(a);
    const closed = await outcome(p.pread(a, 1, 0));
    t.match(closed, /^EBADF/, 'a closed fd');
    const again = await p.open('/tmp/d/b', O_RDONLY);
    t.equal(again, a, 'the next open takes the same fd number');
    const reopened = await outcome(p.pread(again, 5, 0));
    t.equal(reopened, "bytes 'Bravo'", 'which reads its own file');

    const b = await p.open('/tmp/d/a', O_RDONLY);
    await p.pread(b, 1, 0);
    await p.dup2(again, b);
    const duped = await outcome(p.pread(b, 5, 0));
    t.equal(duped, "bytes 'Bravo'", 'dup2 over a granted fd: it reads the file dup2 gave it');

    const c = await p.open('/tmp/d/a', O_RDONLY);
    await p.pread(c, 1, 0);
    const r = await p.batch([{ op: 'close', args: { fd: c } }]);
    t.ok(r[0].ok, 'closed in a batch');
    const batchClosed = await outcome(p.pread(c, 1, 0));
    t.match(batchClosed, /^EBADF/, 'a grant ends with a close in a batch');
    seen.ends = [closed, reopened, duped, batchClosed];
    for (const fd of [again, b]) await p.close(fd);
  });

  await t.test("a grant is its process's", async (t) => {
    const fd = await p.open('/tmp/d/a', O_RDONLY);
    await p.pread(fd, 1, 0);
    const q = await k.spawn();
    seen.other = await outcome(q.pread(fd, 5, 0));
    t.match(seen.other, /^EBADF/, 'another process has no such fd');
    await q.exit();
    await p.close(fd);
  });

  await t.test('a stat after a direct read sees the atime it moved', async (t) => {
    await p.utimes('/tmp/d/a', 1000, 1000);
    t.equal((await p.stat('/tmp/d/a')).atime, 1000, 'atime set (and cached by vfs)');
    const fd = await p.open('/tmp/d/a', O_RDONLY);
    await p.pread(fd, 1, 0);
    const atime = (await p.stat('/tmp/d/a')).atime;
    t.ok(atime > 1000, `stat sees the read's atime (${atime})`);
    seen.atimeMoved = atime > 1000;
    await p.close(fd);
  });

  await t.test('a fault injected into the file system strikes a direct read', async (t) => {
    const fd = await p.open('/tmp/d/a', O_RDONLY);
    await k.inject({ component: 'tmpfs', type: 'error', errno: 'EIO', op: 'read' });
    seen.fault = [await outcome(p.pread(fd, 5, 0)), await outcome(p.pread(fd, 5, 0))];
    t.match(seen.fault, [/^EIO: .*injected EIO/, "bytes 'alpha'"], 'the read it hits fails with its errno; the next reads');
    await p.close(fd);
  });

  await t.test('readFile and sequentialReader read straight from the file system; a pipe through vfs', async (t) => {
    const before = await served(k);
    seen.readFile = dec.decode(await p.readFile('/tmp/d/b'));
    const after = await served(k);
    t.equal(seen.readFile, 'Bravo', 'the content');
    t.equal(after.vfs - before.vfs, 3, 'vfs served the open, the close, and the note of the direct reads sent ahead of the close');
    const [rd, wr] = await p.pipe();
    await p.write(wr, enc.encode('piped'));
    await p.close(wr);
    const next = p.sequentialReader(rd);
    seen.pipe = [await outcome(next(3)), await outcome(next(9)), await outcome(next(9))];
    t.same(seen.pipe, ["bytes 'pip'", "bytes 'ed'", "bytes ''"], 'a pipe (ESPIPE to pread) is read with read');
    await p.close(rd);
  });

  await p.exit();
  return seen;
}

sameUnderEveryPolicy(POLICIES, 10, run);

t.test('a client can neither ask for a grant nor tell vfs what it read', async (t) => {
  const k = await boot({ policy: 'monolithic' });
  t.teardown(() => k.halt());
  const c = await k.spawnChannel();
  const asked = await c.sys('open', { path: '/tmp', flags: O_RDONLY, mode: 0, grant: true }).then(() => 'opened', (e: SysError) => e.errno);
  t.equal(asked, 'EINVAL', 'open with grant is refused');
  const told = await c.sys('usedDirectly', { files: [] }).then(() => 'served', (e: SysError) => e.errno);
  t.equal(told, 'ENOSYS', 'usedDirectly is not a client syscall');
});

t.test('microkernel: the file system restarts under a granted fd', async (t) => {
  const k = await boot({ policy: 'microkernel' });
  t.teardown(() => k.halt());
  const p = await k.spawn();
  await makeFile(p, '/tmp/r', 'restart');
  const fd = await p.open('/tmp/r', O_RDONLY);
  t.equal(dec.decode(await p.pread(fd, 7, 0)), 'restart', 'read directly');
  await k.inject({ component: 'tmpfs', type: 'crash', op: 'read' });
  t.equal(dec.decode(await p.pread(fd, 7, 0)), 'restart', 'the read the crash struck is answered, from the restarted tmpfs');
  const before = await served(k);
  t.equal(dec.decode(await p.pread(fd, 3, 4)), 'art', 'the fd reads on');
  t.equal((await served(k)).vfs - before.vfs, 1, 'through vfs: the grant ended with the restart');
});

/** Boots `policy` with a process that made /tmp/s ('secret'), runs `run`, and halts the kernel. */
async function withSecret(policy: string, run: (k: Kernel, p: Proc) => Promise<void>): Promise<void> {
  const k = await boot({ policy });
  try {
    const p = await k.spawn();
    await makeFile(p, '/tmp/s', 'secret');
    await run(k, p);
  } finally {
    await k.halt();
  }
}

/** A pread's outcome (outcome()) made by a bare channel's sys. */
const preadOutcome = (c: ProcChannel, args: Record<string, unknown>) => outcome(c.sys('pread', args) as Promise<Uint8Array>);

t.test('an open answered after its process sent exit gives no grant: a pread after exit is ESRCH', async (t) => {
  for (const policy of POLICIES) {
    await withSecret(policy, async (k) => {
      const c = await k.spawnChannel();
      // Not awaited: the exit is sent while the open is under way, and vfs runs it before the
      // open makes its fd (in a process that is going away).
      const opening = c.sys('open', { path: '/tmp/s', flags: O_RDONLY, mode: 0 });
      await c.sys('exit', {});
      const fd = await opening.catch(() => 0) as number;
      t.match(await preadOutcome(c, { fd, length: 6, offset: 0 }), /^ESRCH/, `${policyName(policy)}: the exited process reads nothing`);
    });
  }
});

t.test('a close or dup2 that vfs runs after the open made the fd, before the core has its answer, ends the grant', async (t) => {
  // Monolithic: vfs runs in the core's thread, so how many turns of the microtask queue the
  // client waits before its close decides, deterministically, where vfs runs it.
  await withSecret('monolithic', async (k) => {
    for (const ending of ['close', 'dup2'] as const) {
      let endedTheNewFd = 0;
      for (let turns = 0; turns < 40; turns++) {
        const c = await k.spawnChannel();
        const spare = ending === 'dup2' ? await c.sys('pipe', {}) as number[] : [];
        const fd = spare.length; // the lowest fd free: the one the open makes unless a dup2 took it first
        const opening = c.sys('open', { path: '/tmp/s', flags: O_RDONLY, mode: 0 });
        for (let i = 0; i < turns; i++) await null;
        const ended = c.sys(ending, ending === 'close' ? { fd } : { fd: spare[0], newfd: fd }).then(() => true, () => false);
        const opened = await opening;
        const read = await preadOutcome(c, { fd, length: 6, offset: 0 });
        if (!(await ended)) {
          t.equal(read, "bytes 'secret'", `${ending} after ${turns} turns came first and failed: the fd reads its file`);
        } else {
          if (opened === fd) endedTheNewFd++;
          t.match(read, ending === 'close' ? /^EBADF/ : /^ESPIPE/, `${ending} after ${turns} turns: the fd is what it left`);
        }
        await c.sys('exit', {});
      }
      t.ok(endedTheNewFd > 0, `some ${ending} ran after the open made its fd`);
    }
  });
});

t.test('a direct pread checks its arguments as vfs checks them', async (t) => {
  for (const policy of POLICIES) {
    await withSecret(policy, async (k) => {
      const c = await k.spawnChannel();
      const granted = await c.sys('open', { path: '/tmp/s', flags: O_RDONLY, mode: 0 }) as number;
      const viaVfs = await c.sys('open', { path: '/tmp/s', flags: O_WRONLY, mode: 0 }) as number; // no grant
      const bad = [{ length: '3', offset: 0 }, { length: [3], offset: 0 }, { length: 1e300, offset: 0 }, { length: 3, offset: -1 }, { length: 3 }];
      for (const args of bad) {
        const direct = await preadOutcome(c, { fd: granted, ...args });
        t.equal(direct, await preadOutcome(c, { fd: viaVfs, ...args }), `${policyName(policy)}: ${JSON.stringify(args)} as vfs answers it`);
        t.match(direct, /^EINVAL: vfs\.pread: /, 'refused');
      }
    });
  }
});

t.test('a batch holding an exit or a batch fails them in their place for a process with a granted fd', async (t) => {
  await withSecret('monolithic', async (k, p) => {
    const fd = await p.open('/tmp/s', O_RDONLY);
    const r = await p.batch([{ op: 'batch', args: { ops: [] } }, { op: 'exit' }, { op: 'getpid' }]);
    t.same(r.map((e) => (e.ok ? 'ok' : `${e.error.errno}: ${e.error.message}`)), ['EINVAL: batch cannot be in a batch', 'EINVAL: exit cannot be in a batch', 'ok'], 'each in its place');
    const before = await served(k);
    t.equal(await outcome(p.pread(fd, 6, 0)), "bytes 'secret'", 'the fd reads on');
    t.equal((await served(k)).vfs - before.vfs, 0, 'directly: the exit that was refused ended no grant');
  });
});

t.test('after a halt, a granted fd and the note of a direct read fail in the words of the call made', async (t) => {
  await withSecret('monolithic', async (k, p) => {
    const fd = await p.open('/tmp/s', O_RDONLY);
    await p.pread(fd, 6, 0); // read directly: vfs is to hear of it before the next syscall
    await k.halt();
    t.equal(await outcome(p.stat('/tmp/s') as Promise<never>), 'EIO: vfs.stat: the kernel has halted', 'the next syscall, not the note sent ahead of it');
    t.equal(await outcome(p.pread(fd, 6, 0)), 'EIO: vfs.pread: the kernel has halted', 'a pread of the granted fd, as any pread');
  });
});
