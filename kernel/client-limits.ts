// What a client can make the kernel hold, and the limits on it (DESIGN.md, rule 8: every byte a
// client can make a component hold is charged to a limit): the client processes alive, and per
// process its syscalls in flight and the bytes its reads among them ask for. Past a limit a
// call is refused with EAGAIN, as the kernel is not made to grow.

import { SysError } from '../ipc/errno.js';

/**
 * Syscalls one client process may have in flight at once. Each one holds memory in the core and
 * in vfs (its arguments, its promise) until it is answered, so a client that fires calls without
 * waiting is refused the excess with EAGAIN rather than made to grow the kernel. 1024 is far
 * more than any one program pipelines (the syscall suite never has more than a few).
 */
export const MAX_CALLS_IN_FLIGHT = 1024;

/**
 * Bytes one client process's reads in flight (read, pread) may ask for in all. Each is answered
 * with a buffer of up to its length, held until the reply is taken: without this bound,
 * MAX_CALLS_IN_FLIGHT reads of the largest size would make the kernel hold gigabytes. A read is
 * let through whatever its length when none of the process's reads is in flight (vfs bounds
 * the size of one).
 */
export const MAX_READ_BYTES_IN_FLIGHT = 256 * 1024 * 1024;

/**
 * Client processes alive at once. Each holds an fd table and a cwd in vfs until it exits;
 * spawn() past this fails with EAGAIN, as fork(2) does at RLIMIT_NPROC.
 */
export const MAX_PROCS = 1024;

/** Per client process: its syscalls in flight, and the bytes its reads among them ask for. */
export class CallsInFlight {
  /** By pid; absent when the process has none in flight. */
  private readonly load = new Map<number, { calls: number; readBytes: number }>();

  /**
   * Counts syscall `op` of process `pid`, with its (client-checked) arguments, as in flight, or
   * refuses it with EAGAIN past MAX_CALLS_IN_FLIGHT or MAX_READ_BYTES_IN_FLIGHT. Returns what
   * to call once it is answered.
   */
  admit(pid: number, op: string, args: Record<string, unknown>): () => void {
    return this.take(pid, op, 1, readAsks(op, args));
  }

  /**
   * admit() for a batch (kernel/batch.ts): each of its ops counts as a call in flight (an empty
   * batch as one), and its reads' lengths in all as the bytes they ask for; refused whole, with
   * EAGAIN, when they do not all fit.
   */
  admitBatch(pid: number, ops: readonly { op: string; args: Record<string, unknown> }[]): () => void {
    let asks = 0;
    for (const { op, args } of ops) asks += readAsks(op, args);
    return this.take(pid, 'batch', Math.max(1, ops.length), asks);
  }

  private take(pid: number, op: string, calls: number, asks: number): () => void {
    const load = this.load.get(pid) ?? { calls: 0, readBytes: 0 };
    if (load.calls + calls > MAX_CALLS_IN_FLIGHT) {
      const what = calls === 1 ? '' : ` with its ${calls} ops`;
      throw new SysError('EAGAIN', `${op}: process ${pid} has ${load.calls} calls in flight already, and at most ${MAX_CALLS_IN_FLIGHT} may be${what}; wait for some to finish`);
    }
    if (asks > 0 && load.readBytes > 0 && load.readBytes + asks > MAX_READ_BYTES_IN_FLIGHT) {
      throw new SysError('EAGAIN', `${op}: process ${pid} has reads of ${load.readBytes} bytes in flight already, and at most ${MAX_READ_BYTES_IN_FLIGHT} may be; wait for some to finish`);
    }
    load.calls += calls;
    load.readBytes += asks;
    this.load.set(pid, load);
    return () => {
      load.calls -= calls;
      load.readBytes -= asks;
      if (load.calls === 0) this.load.delete(pid);
    };
  }
}

/** The bytes a read (read, pread) asks for; 0 for any other op, and for a length that is not a byte count (vfs's to refuse). */
export function readAsks(op: string, args: Record<string, unknown>): number {
  return (op === 'read' || op === 'pread') && Number.isSafeInteger(args.length) ? Math.max(0, args.length as number) : 0;
}
