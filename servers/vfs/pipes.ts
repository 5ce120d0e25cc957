// Pipes and FIFOs: the pipe object vfs holds for pipe() and for each FIFO (mount, inode) that
// is open, as Linux's fs/pipe.c. A pipe buffers up to PIPE_SIZE bytes. A read waits while it
// is empty and a writer is left, then takes what is there; with no writer left it reads EOF. A
// write waits while it is full and a reader is left; with no reader left it fails with EPIPE
// (there are no signals here). A write of at most PIPE_BUF bytes goes in whole or waits: it is
// never interleaved with another. Opening a FIFO for one end waits for the other end, as
// fifo_open does (O_RDWR never waits; O_NONBLOCK opens a read end at once and refuses a write
// end with no reader, ENXIO).
//
// Every wait is an await on a promise the other end resolves: a blocked call holds up no other
// syscall. And every wait ends: when the calling process exits, and when the kernel halts, with
// EIO and a sentence (PipeTable.releaseProcess, PipeTable.halt); and after a slice at most
// (WAIT_SLICE_MS, or half the core's call deadline when that is shorter), with EINTR (or a
// short write), which the client's Proc makes again as SA_RESTART would. So no call to vfs
// outlives the core's call deadline (which would fail it with
// ETIMEDOUT across a boundary, and not in one thread, while vfs went on waiting and took the
// data it was waiting for), and every policy behaves the same.

import { O_ACCMODE, O_RDONLY, O_WRONLY, PIPE_BUF, PIPE_SIZE, SysError } from '../../kernel/api.js';
import type { Vnode } from './mounts.js';

/** Who made a pipe with pipe(), and when (ms since the epoch). */
export interface PipeOwner {
  uid: number;
  gid: number;
  time: number;
}

/** A call waiting on a pipe: woken at each change of the pipe, failed when its wait is cut off. */
interface Waiter {
  pid: number;
  wake(): void;
  fail(err: SysError): void;
}

export class Pipe {
  /** Open file descriptions of each end. */
  readers = 0;
  writers = 0;
  /** How many times each end was opened: a FIFO open waits for the other's count to move. */
  private readOpens = 0;
  private writeOpens = 0;
  private chunks: Uint8Array[] = [];
  /** Bytes in chunks. */
  private held = 0;
  private readonly waiters = new Set<Waiter>();

  /**
   * @param table  the table whose halt and process exits cut off this pipe's waits
   * @param ino    its number, for fstat of a pipe made by pipe() (a FIFO's fds stat its file)
   * @param owner  for a pipe made by pipe(): who made it and when, for the same fstat
   */
  constructor(private readonly table: PipeTable, readonly ino: number, readonly owner?: PipeOwner) {}

  /**
   * Opens an end (or both, for O_RDWR) for a file description with open flags `flags`; for a
   * FIFO (`fifo`), waits as fifo_open does for the other end unless O_NONBLOCK (see the top).
   */
  async open(pid: number, flags: number, nonblock: boolean, fifo: boolean): Promise<void> {
    const acc = flags & O_ACCMODE;
    if (acc === O_WRONLY && fifo && nonblock && this.readers === 0) {
      if (this.writers === 0) this.table.forget(this);
      throw new SysError('ENXIO', 'open of a FIFO for writing: no process has it open for reading (O_NONBLOCK)');
    }
    if (acc !== O_WRONLY) {
      this.readers++;
      this.readOpens++;
    }
    if (acc !== O_RDONLY) {
      this.writers++;
      this.writeOpens++;
    }
    this.changed();
    if (!fifo || nonblock || (acc !== O_RDONLY && acc !== O_WRONLY)) return;
    const counted = acc === O_RDONLY ? () => this.writeOpens : () => this.readOpens;
    const before = counted();
    let slice: Promise<void> | undefined;
    try {
      for (let over = false; counted() === before && (acc === O_RDONLY ? this.writers : this.readers) === 0; ) {
        if (over) throw sliceOver();
        over = !(await this.wait(pid, (slice ??= this.table.slice())));
      }
    } catch (err) {
      this.close(flags);
      throw err;
    }
  }

  /** Closes an end (or both) of a file description with open flags `flags`. */
  close(flags: number): void {
    const acc = flags & O_ACCMODE;
    if (acc !== O_WRONLY) this.readers--;
    if (acc !== O_RDONLY) this.writers--;
    if (this.readers + this.writers === 0) {
      // As Linux: what is left in a pipe nobody has open is dropped.
      this.chunks = [];
      this.held = 0;
      this.table.forget(this);
    }
    this.changed();
  }

  /** Up to `length` bytes: waits while empty and a writer is left; empty at EOF. */
  async read(pid: number, length: number, nonblock: boolean): Promise<Uint8Array> {
    let slice: Promise<void> | undefined;
    for (let over = false; this.held === 0 && this.writers > 0 && length > 0; ) {
      if (nonblock) throw new SysError('EAGAIN', 'read: the pipe is empty (O_NONBLOCK)');
      if (over) throw sliceOver();
      over = !(await this.wait(pid, (slice ??= this.table.slice())));
    }
    const out = new Uint8Array(Math.min(length, this.held));
    for (let at = 0; at < out.length; ) {
      const first = this.chunks[0];
      const n = Math.min(first.length, out.length - at);
      out.set(first.subarray(0, n), at);
      at += n;
      if (n === first.length) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    }
    this.held -= out.length;
    if (out.length) this.changed();
    return out;
  }

  /**
   * Writes all of `data`, waiting for room as needed; returns its length, or less when the last
   * reader went (or, with O_NONBLOCK, the pipe filled; or the wait's slice ended) after part of
   * it was written. EPIPE when there is no reader before any of it is written, EAGAIN when
   * nothing fits (O_NONBLOCK), EINTR when the slice ended before anything fitted.
   */
  async write(pid: number, data: Uint8Array, nonblock: boolean): Promise<number> {
    const atomic = data.length <= PIPE_BUF;
    let written = 0;
    let slice: Promise<void> | undefined;
    for (let over = false; written < data.length; ) {
      if (this.readers === 0) {
        if (written > 0) return written;
        throw new SysError('EPIPE', 'write: the pipe has no reader left');
      }
      const room = PIPE_SIZE - this.held;
      const rest = data.length - written;
      if (room >= rest || (room > 0 && !atomic)) {
        const n = Math.min(room, rest);
        this.chunks.push(data.slice(written, written + n)); // the caller's buffer is not kept
        this.held += n;
        written += n;
        this.changed();
        continue;
      }
      if (nonblock || over) {
        if (written > 0) return written;
        throw nonblock ? new SysError('EAGAIN', 'write: the pipe is full (O_NONBLOCK)') : sliceOver();
      }
      over = !(await this.wait(pid, (slice ??= this.table.slice())));
    }
    return written;
  }

  /** Fails every wait of process `pid` (every wait when pid is null) with `err`. */
  cutOff(pid: number | null, err: SysError): void {
    for (const w of [...this.waiters]) if (pid === null || w.pid === pid) w.fail(err);
  }

  /**
   * Waits for the pipe's next change: true then, false when `slice` ended first (the caller
   * looks once more, then answers EINTR); fails if the wait is cut off.
   */
  private async wait(pid: number, slice: Promise<void>): Promise<boolean> {
    if (this.table.halted) throw haltError();
    let w!: Waiter;
    const changed = new Promise<'changed'>((resolve, reject) => {
      w = {
        pid,
        wake: () => (this.waiters.delete(w), resolve('changed')),
        fail: (err) => (this.waiters.delete(w), reject(err)),
      };
      this.waiters.add(w);
    });
    if ((await Promise.race([changed, slice])) === 'changed') return true;
    this.waiters.delete(w);
    return false;
  }

  private changed(): void {
    for (const w of [...this.waiters]) w.wake();
  }
}

/** Longest one call waits on a pipe before it answers EINTR (kept well under the default 60 s call deadline). */
export const WAIT_SLICE_MS = 1000;

const sliceOver = () => new SysError('EINTR', 'a wait on a pipe or FIFO took its slice; the client makes the call again');
const haltError = () => new SysError('EIO', 'the kernel is halting: a wait on a pipe or FIFO was cut off');

/**
 * The pipes of one incarnation of vfs: every open one, and which is each FIFO's (by mount,
 * inode number and generation). They live in vfs only: after a restart of vfs they are gone
 * with the fds that referred to them.
 */
export class PipeTable {
  /** halt() was called: no wait begins any more. */
  halted = false;
  private readonly open = new Set<Pipe>();
  private readonly fifos = new Map<string, Pipe>();
  private readonly fifoKeys = new Map<Pipe, string>();
  private nextIno = 1;
  /** How long one wait lasts at most (ms). */
  private sliceMs = WAIT_SLICE_MS;

  /** @param sleep  resolves after a number of milliseconds (the host's, through hyp) */
  constructor(private readonly sleep: (ms: number) => Promise<void>) {}

  /**
   * The core's deadline for a call to vfs (ms; 0 when calls have none, in one thread): a wait
   * lasts at most half of it, so that its EINTR reaches the client before the core gives the
   * call up as ETIMEDOUT while vfs, still waiting, would take the data.
   */
  callDeadline(ms: number): void {
    this.sliceMs = ms > 0 ? Math.max(1, Math.min(WAIT_SLICE_MS, Math.floor(ms / 2))) : WAIT_SLICE_MS;
  }

  /** The end of a wait's slice, from now. */
  slice(): Promise<void> {
    return this.sleep(this.sliceMs);
  }

  /** A new pipe: for pipe() (made by `owner`), or for a FIFO. */
  make(owner?: PipeOwner): Pipe {
    const p = new Pipe(this, this.nextIno++, owner);
    this.open.add(p);
    return p;
  }

  /** The pipe of the FIFO v, made at its first open. */
  fifo(v: Vnode): Pipe {
    const key = `${v.mnt.id}:${v.h.ino}:${v.h.gen}`;
    let p = this.fifos.get(key);
    if (!p) {
      p = this.make();
      this.fifos.set(key, p);
      this.fifoKeys.set(p, key);
    }
    return p;
  }

  /** A pipe nobody has open any more: a FIFO's next open makes a new one. */
  forget(p: Pipe): void {
    this.open.delete(p);
    const key = this.fifoKeys.get(p);
    if (key !== undefined) {
      this.fifos.delete(key);
      this.fifoKeys.delete(p);
    }
  }

  /** Process `pid` exits: its waits end with EIO. */
  releaseProcess(pid: number): void {
    const err = new SysError('EIO', `process ${pid} exited while it waited on a pipe or FIFO`);
    for (const p of [...this.open]) p.cutOff(pid, err);
  }

  /** The kernel halts: every wait ends with EIO, and none begins any more. */
  halt(): void {
    this.halted = true;
    for (const p of [...this.open]) p.cutOff(null, haltError());
  }
}
