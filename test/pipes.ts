// Pipes and FIFOs between client processes, as Linux has them: reads that wait for data and
// end at EOF, writes that wait for room and fail with EPIPE, atomic small writes, O_NONBLOCK,
// FIFO opens that wait for the other end; dup and dup2; and halt or exit with a call blocked.
// The same, errno for errno, under every policy.

import t from 'tap';
import {
  O_NONBLOCK, O_RDONLY, O_RDWR, O_WRONLY, PIPE_BUF, PIPE_SIZE, S_IFIFO, S_IFMT, boot, type Kernel, type Proc,
} from '../kernel/index.js';
import { WAIT_SLICE_MS } from '../servers/vfs/pipes.js';
import { errnoOf } from './lib/errno.js';
import { ALL_POLICIES, policyName } from './lib/policies.js';

const text = (b: Uint8Array) => new TextDecoder().decode(b);
/** A turn of the event loop and of every domain: enough for a call to reach vfs and wait there. */
const settle = () => new Promise((r) => setTimeout(r, 50));

/** Whether p settled within a few turns (for "this call is still waiting"). */
async function stillWaiting(p: Promise<unknown>): Promise<boolean> {
  const marker = Symbol('waiting');
  const r = await Promise.race([p.then(() => 'settled', () => 'settled'), settle().then(() => marker)]);
  return r === marker;
}

/** Reads from fd until `n` bytes came or EOF; bounded by count. */
async function readAll(p: Proc, fd: number, n: number): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let got = 0;
  for (let i = 0; i < 10_000 && got < n; i++) {
    const chunk = await p.read(fd, n - got);
    if (chunk.length === 0) break;
    parts.push(chunk);
    got += chunk.length;
  }
  const out = new Uint8Array(got);
  let at = 0;
  for (const c of parts) out.set(c, (at += c.length) - c.length);
  return out;
}

/** Everything one policy does, as labelled results: compared to what Linux does, and across policies. */
async function scenario(k: Kernel): Promise<Record<string, unknown>> {
  const r: Record<string, unknown> = {};
  const root = await k.spawn();
  await root.mkdir('/tmp/p');
  await root.chmod('/tmp/p', 0o777);
  await root.exit();
  const a = await k.spawn({ uid: 1000, gid: 1000 });
  const b = await k.spawn({ uid: 1000, gid: 1000 });

  // pipe(): two fds, the lowest free; not seekable; a FIFO to fstat.
  const [rd, wr] = await a.pipe();
  r.fds = [rd, wr];
  r.fstatType = ((await a.fstat(rd)).mode & S_IFMT) === S_IFIFO;
  r.lseek = await errnoOf(a.lseek(rd, 0));
  r.pread = await errnoOf(a.pread(rd, 1, 0));
  r.pwrite = await errnoOf(a.pwrite(wr, 'x', 0));
  r.readWriteEnd = await errnoOf(a.read(wr, 1));
  r.writeReadEnd = await errnoOf(a.write(rd, 'x'));
  r.fsync = await errnoOf(a.fsync(wr));

  // A read waits while the pipe is empty, and gets what is there (up to its length).
  const waiting = a.read(rd, 100);
  r.readWaits = await stillWaiting(waiting);
  r.getpidMeanwhile = (await a.getpid()) === a.pid; // a blocked read holds up no other call
  r.wrote = await a.write(wr, 'hello');
  r.readGot = text(await waiting);
  await a.write(wr, 'abcdef');
  r.shortRead = text(await a.read(rd, 4));
  r.restRead = text(await a.read(rd, 100));

  // A write waits while the pipe is full; a read makes room.
  const full = new Uint8Array(PIPE_SIZE).fill(1);
  r.filled = await a.write(wr, full);
  const blockedWrite = a.write(wr, 'more');
  r.writeWaits = await stillWaiting(blockedWrite);
  r.drained = (await readAll(a, rd, PIPE_SIZE)).length;
  r.blockedWrote = await blockedWrite;
  r.afterDrain = text(await a.read(rd, 100));

  // O_NONBLOCK is not set on pipe() ends; EOF when the last writer closes, EPIPE when the last reader has.
  const wr2 = await a.dup(wr);
  r.dup = wr2;
  await a.close(wr);
  await a.write(wr2, 'via dup');
  r.viaDup = text(await a.read(rd, 100));
  const eof = a.read(rd, 10);
  r.eofWaitsForDup = await stillWaiting(eof);
  await a.close(wr2);
  r.eof = (await eof).length;
  const [rd2, wr3] = await a.pipe();
  await a.close(rd2);
  r.epipe = await errnoOf(a.write(wr3, 'x'));
  await a.close(wr3);

  // dup2: onto itself, onto an open fd (closed first), onto a free one, beyond MAX_FDS.
  const f = await a.open('/tmp/p/dupfile', 'w+');
  const g = await a.open('/tmp/p/other', 'w');
  r.dup2Same = await a.dup2(f, f);
  r.dup2Open = await a.dup2(f, g);
  await a.write(g, 'shared');
  r.sharedOffset = await a.lseek(f, 0, 1);
  r.dup2Free = await a.dup2(f, 40);
  r.lowestAfterHole = await a.dup(f);
  r.dup2Bad = await errnoOf(a.dup2(999, 3));
  r.dup2Beyond = await errnoOf(a.dup2(f, 1024));
  r.dupBad = await errnoOf(a.dup(999));
  for (const fd of [f, g, 40, r.lowestAfterHole as number]) await a.close(fd);

  // Atomic writes: two processes' writes of PIPE_BUF bytes never interleave.
  await a.mkfifo('/tmp/p/fifo', 0o600);
  r.fifoStat = ((await a.stat('/tmp/p/fifo')).mode & 0o177777).toString(8);
  const opening = a.open('/tmp/p/fifo', O_RDONLY);
  r.readOpenWaits = await stillWaiting(opening);
  const wa = await a.open('/tmp/p/fifo', O_WRONLY);
  const fr = await opening;
  const wb = await b.open('/tmp/p/fifo', O_WRONLY);
  r.fifoFstat = ((await b.fstat(wb)).mode & S_IFMT) === S_IFIFO;
  r.fifoLseek = await errnoOf(b.lseek(wb, 0));
  const chunkA = new Uint8Array(PIPE_BUF).fill(0x61);
  const chunkB = new Uint8Array(PIPE_BUF).fill(0x62);
  const writes: Promise<number>[] = [];
  for (let i = 0; i < 24; i++) writes.push(a.write(wa, chunkA), b.write(wb, chunkB));
  const all = await readAll(a, fr, 48 * PIPE_BUF);
  await Promise.all(writes);
  let whole = true;
  for (let at = 0; at < all.length; at += PIPE_BUF) whole &&= all.subarray(at, at + PIPE_BUF).every((x) => x === all[at]);
  r.atomic = whole && all.length === 48 * PIPE_BUF;
  await a.close(wa);
  const stillOpen = a.read(fr, 10);
  r.eofWaitsForOtherProcess = await stillWaiting(stillOpen);
  await b.close(wb);
  r.fifoEof = (await stillOpen).length;
  await a.close(fr);

  // A write-open waits for a reader (in another process); O_NONBLOCK: ENXIO, and a read end opens at once.
  const wOpen = b.open('/tmp/p/fifo', O_WRONLY);
  r.writeOpenWaits = await stillWaiting(wOpen);
  const rfd = await a.open('/tmp/p/fifo', O_RDONLY);
  const wfd = await wOpen;
  await b.write(wfd, 'across');
  r.acrossProcesses = text(await a.read(rfd, 100));
  await a.close(rfd);
  r.epipeFifo = await errnoOf(b.write(wfd, 'x'));
  await b.close(wfd);
  r.nonblockWriteOpen = await errnoOf(b.open('/tmp/p/fifo', O_WRONLY | O_NONBLOCK));
  const nr = await a.open('/tmp/p/fifo', O_RDONLY | O_NONBLOCK);
  r.nonblockReadOpen = typeof nr === 'number';
  r.nonblockEofNoWriter = (await a.read(nr, 10)).length;
  const nw = await b.open('/tmp/p/fifo', O_WRONLY | O_NONBLOCK);
  r.nonblockEmpty = await errnoOf(a.read(nr, 10));
  r.nonblockFullWrite = await b.write(nw, new Uint8Array(PIPE_SIZE + 10));
  r.nonblockFull = await errnoOf(b.write(nw, 'x'));
  await b.close(nw);
  await a.close(nr);
  const rw = await a.open('/tmp/p/fifo', O_RDWR);
  await a.write(rw, 'self');
  r.rdwrNeverWaits = text(await a.read(rw, 10));
  await a.close(rw);

  // A FIFO outlives its name while open; unlink while open.
  const keep = await a.open('/tmp/p/fifo', O_RDWR);
  await a.unlink('/tmp/p/fifo');
  await a.write(keep, 'unlinked');
  r.afterUnlink = text(await a.read(keep, 100));
  await a.close(keep);

  // A process that exits while blocked: its call ends (EIO), and its ends close.
  const c = await k.spawn({ uid: 1000, gid: 1000 });
  const [cr] = await c.pipe(); // its write end stays open: the read waits
  const cRead = errnoOf(c.read(cr, 10)); // its outcome taken at once: it may come before exit's answer
  await settle();
  await c.exit();
  r.exitWhileBlocked = await cRead;

  await a.exit();
  await b.exit();
  return r;
}

const EXPECTED: Record<string, unknown> = {
  fds: [0, 1], fstatType: true, lseek: 'ESPIPE', pread: 'ESPIPE', pwrite: 'ESPIPE', readWriteEnd: 'EBADF', writeReadEnd: 'EBADF',
  fsync: 'EINVAL', readWaits: true, getpidMeanwhile: true, wrote: 5, readGot: 'hello', shortRead: 'abcd', restRead: 'ef',
  filled: PIPE_SIZE, writeWaits: true, drained: PIPE_SIZE, blockedWrote: 4, afterDrain: 'more',
  dup: 2, viaDup: 'via dup', eofWaitsForDup: true, eof: 0, epipe: 'EPIPE',
  dup2Same: 1, dup2Open: 2, sharedOffset: 6, dup2Free: 40, lowestAfterHole: 3, dup2Bad: 'EBADF', dup2Beyond: 'EBADF', dupBad: 'EBADF',
  fifoStat: '10600', readOpenWaits: true, fifoFstat: true, fifoLseek: 'ESPIPE', atomic: true, eofWaitsForOtherProcess: true, fifoEof: 0,
  writeOpenWaits: true, acrossProcesses: 'across', epipeFifo: 'EPIPE', nonblockWriteOpen: 'ENXIO',
  nonblockReadOpen: true, nonblockEofNoWriter: 0, nonblockEmpty: 'EAGAIN', nonblockFullWrite: PIPE_SIZE, nonblockFull: 'EAGAIN',
  rdwrNeverWaits: 'self', afterUnlink: 'unlinked', exitWhileBlocked: 'EIO',
};

const seen: Record<string, unknown>[] = [];
for (const policy of ALL_POLICIES) {
  t.test(`pipes and FIFOs under ${policyName(policy)}`, async (t) => {
    const k = await boot({ policy });
    try {
      const r = await scenario(k);
      for (const [label, want] of Object.entries(EXPECTED)) t.same(r[label], want, label);
      seen.push(r);
      if (seen.length > 1) t.same(r, seen[0], 'the same results as under the first policy');
    } finally {
      await k.halt();
    }
  });

  t.test(`halt under ${policyName(policy)} ends calls blocked on a pipe and a FIFO open`, async (t) => {
    const k = await boot({ policy });
    const p = await k.spawn();
    const [, wr] = await p.pipe();
    await p.write(wr, new Uint8Array(PIPE_SIZE));
    // Each outcome is taken at once (errnoOf), so that none is an unhandled rejection during halt.
    const blocked = {
      read: errnoOf(p.read((await p.pipe())[0], 10)),
      write: errnoOf(p.write(wr, 'x')),
      'FIFO open': errnoOf(p.mkfifo('/tmp/f').then(() => p.open('/tmp/f', O_RDONLY))),
    };
    await settle();
    await k.halt(); // must not hang
    for (const [what, outcome] of Object.entries(blocked)) t.equal(await outcome, 'EIO', `the blocked ${what} fails with EIO`);
  });
}

for (const policy of ALL_POLICIES) {
  t.test(`under ${policyName(policy)}, a read that waits longer than the call deadline still gets its data`, async (t) => {
    const deadline = WAIT_SLICE_MS + 500;
    const k = await boot({ policy, calls: { timeoutMs: deadline, tries: 1, reconnectMs: 15_000 } });
    try {
      const p = await k.spawn();
      const [rd, wr] = await p.pipe();
      const late = p.read(rd, 10);
      await new Promise((r) => setTimeout(r, deadline + 1000));
      await p.write(wr, 'late');
      t.equal(text(await late), 'late', 'no ETIMEDOUT, and nothing lost');
    } finally {
      await k.halt();
    }
  });
}

for (const policy of ['microkernel', 'multiprocess']) {
  t.test(`under ${policy}, a restart of vfs closes pipes and FIFOs: their fds are EBADF`, async (t) => {
    const k = await boot({ policy });
    try {
      const p = await k.spawn();
      const [rd, wr] = await p.pipe();
      await p.write(wr, 'before');
      await p.mkfifo('/tmp/f');
      const ff = await p.open('/tmp/f', O_RDWR);
      await k.inject({ component: 'vfs', type: 'crash', op: 'getpid' });
      await p.getpid();
      await k.settled();
      t.same([await errnoOf(p.read(rd, 10)), await errnoOf(p.write(wr, 'x')), await errnoOf(p.read(ff, 1))], ['EBADF', 'EBADF', 'EBADF'], 'every pipe and FIFO fd is gone');
      const again = await p.open('/tmp/f', O_RDWR);
      await p.write(again, 'new');
      t.equal(text(await p.read(again, 10)), 'new', 'the FIFO opens again, on a new pipe');
      const [r2, w2] = await p.pipe();
      await p.write(w2, 'fresh');
      t.equal(text(await p.read(r2, 10)), 'fresh', 'and pipe() works');
    } finally {
      await k.halt();
    }
  });
}
