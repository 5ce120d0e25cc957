// One poller per thread drains every ring that delivers to the thread. When they are empty it
// waits in three steps, each cheaper in CPU and dearer to wake from:
//  1. spin: poll again after each turn of promise continuations, letting the event loop run
//     every few tens of microseconds, so a message is picked up within a microsecond or two;
//     only while replies are due or for a moment after the last work, and only while the
//     cores allow it (see CoreShare), so a spinning thread does not hold the core that a thread
//     it has just woken needs;
//  2. doze: block in Atomics.wait on the doorbell for slices of ~100 µs, with a turn of the
//     event loop between slices (I/O completions, timers); a producer wakes it with a notify;
//  3. park: return to the event loop; the next producer wakes it with a message on a port —
//     the cost of a postMessage, paid only after an idle spell. A parked thread burns no CPU.

import { DOZING, PARKED, type Doorbell, type Ring, type RunningCount } from './ring.js';

export interface RingSource {
  readonly rx: Ring;
  /** A record arrived; it is a view into the ring, valid only during the call. */
  deliver(record: Uint8Array): void;
  /** True while this side waits for replies to requests it sent. */
  readonly waiting: boolean;
}

/** The waiting policy, in milliseconds. */
export interface WaitPolicy {
  /** Spin at most this long for a reply. */
  spinForReplyMs: number;
  /**
   * ...and at least this long. A reply caught while spinning doubles the next spin. A reply
   * that comes after the spin gave up sets it to twice the wait, when that is within
   * spinForReplyMs, and halves it otherwise: a thread stops burning a core on calls that take
   * milliseconds (a component's start, a disk write), but a spin that gave up just too soon
   * (the callee was asleep and had to be woken) grows to cover the wait next time. Halving it
   * then instead would keep both sides asleep: the caller, asleep when the reply comes, answers
   * too late for the callee's linger, so the callee is asleep at the next call too.
   */
  minSpinForReplyMs: number;
  /** Spin at most this long after the last work (a message handled, its continuations run). */
  spinLingerMs: number;
  /** While spinning, let the event loop run (timers, I/O, port messages) this often. */
  eventLoopEveryMs: number;
  /** After spinning, doze this long before parking. */
  dozeMs: number;
  /** One slice of a doze, between turns of the event loop. */
  dozeSliceMs: number;
}

/**
 * Measured on a 2-vCPU machine: a linger of 50 µs covers a busy client's think time between
 * calls (a few µs); waking a dozing thread (a notify, ~25 µs there) costs less than waking a
 * parked one (a port message, ~40 µs). A reply spin pays only while it is shorter than the
 * wakes it saves, so it stops at 0.1 ms: with 1 ms, 5,000 stat() calls through client, vfs
 * and tmpfs took longer (whole process, median of 6 pairs), the spinners holding the cores
 * that the threads at work needed.
 */
export const DEFAULT_WAIT: WaitPolicy = {
  spinForReplyMs: 0.1,
  minSpinForReplyMs: 0.02,
  spinLingerMs: 0.05,
  eventLoopEveryMs: 0.05,
  dozeMs: 2,
  dozeSliceMs: 0.1,
};

const TICKETS = 0;
const RUNNING = 1;
const CORES = 2;

/**
 * The process's cores, shared by the pollers of all its threads: how many threads run (a new
 * thread from its start, then whenever its poller is not dozing or parked), and tickets that
 * order the spinning threads by when they began. A thread may spin while no more threads run
 * than there are cores. With one more (a thread was just woken), only the newest spinners — as
 * many as there are cores, less the one that works — go on; with more still (threads starting,
 * loading their code), nobody spins. In a chain of calls (client → vfs → tmpfs) the newest is
 * the innermost caller, the next to be answered, or the server that has just replied, the next
 * to be called; the others doze and leave their cores to the threads at work. Three threads
 * taking turns on two cores must each sleep while the other two work, so a call through the
 * chain wakes two of them (the client and tmpfs), the fewest possible.
 */
export class CoreShare implements RunningCount {
  readonly cells: Int32Array;

  static allocate(cores: number): SharedArrayBuffer {
    const buffer = new SharedArrayBuffer(12);
    new Int32Array(buffer)[CORES] = Math.max(1, cores);
    return buffer;
  }

  constructor(readonly buffer: SharedArrayBuffer) {
    this.cells = new Int32Array(buffer);
  }

  enter(): void {
    Atomics.add(this.cells, RUNNING, 1);
  }

  leave(): void {
    Atomics.sub(this.cells, RUNNING, 1);
  }

  /** How many threads count as running now. */
  get running(): number {
    return Atomics.load(this.cells, RUNNING);
  }

  take(): number {
    return Atomics.add(this.cells, TICKETS, 1) + 1;
  }

  /**
   * True when more threads run than cores plus one: threads starting or at work want every
   * core, and a dozing thread's periodic turns of its event loop would take time from them.
   */
  get crowded(): boolean {
    return Atomics.load(this.cells, RUNNING) > this.cells[CORES] + 1;
  }

  /**
   * Whether the holder of `ticket` may spin: while no more threads run than there are cores;
   * with one more (a thread just woken), only the newest spinners but one per core.
   */
  mayspin(ticket: number): boolean {
    const running = Atomics.load(this.cells, RUNNING);
    const cores = this.cells[CORES];
    if (running <= cores) return true;
    return running === cores + 1 && ((Atomics.load(this.cells, TICKETS) - ticket) | 0) < cores - 1;
  }
}

const BATCH = 256;
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

export class Poller {
  private readonly sources = new Set<RingSource>();
  private running = false;
  private lastTurn = 0;
  private replySpinMs: number;
  /** When the spin that gave up waiting for a reply began, until something arrives. */
  private gaveUpSince: number | null = null;

  constructor(
    readonly bell: Doorbell,
    readonly share: CoreShare,
    private readonly policy: WaitPolicy = DEFAULT_WAIT,
  ) {
    this.replySpinMs = policy.spinForReplyMs;
  }

  add(source: RingSource): void {
    this.sources.add(source);
    this.wake();
  }

  remove(source: RingSource): void {
    this.sources.delete(source);
  }

  /** Starts polling if parked: a producer's wake-up arrived, or a source was added. */
  wake(): void {
    if (this.running) return;
    if (this.sources.size === 0) {
      this.bell.sleep(PARKED); // a late producer may have counted it as running
      return;
    }
    this.running = true;
    this.bell.resume();
    // Not before the caller has finished wiring things up (an endpoint's handlers).
    queueMicrotask(() => void this.loop());
  }

  private drain(): boolean {
    let any = false;
    for (const s of this.sources) {
      for (let n = 0; n < BATCH && s.rx.read((record) => s.deliver(record)); n++) any = true;
    }
    return any;
  }

  /** Something to do: a record in a ring, or no rings left (the loop ends). */
  private due(): boolean {
    if (this.sources.size === 0) return true;
    for (const s of this.sources) if (s.rx.pending) return true;
    return false;
  }

  private anyWaiting(): boolean {
    for (const s of this.sources) if (s.waiting) return true;
    return false;
  }

  /** Lets the event loop run at the next yield: a frame waits on a port. */
  turnEventLoop(): void {
    this.lastTurn = -Infinity;
  }

  /** Yields to promise continuations, and to the event loop when it is its turn. */
  private async yieldTurn(): Promise<void> {
    if (performance.now() - this.lastTurn >= this.policy.eventLoopEveryMs) {
      await nextTurn();
      this.lastTurn = performance.now();
    } else {
      await null;
    }
  }

  /**
   * Polls while replies are due (up to replySpinMs) or for spinLingerMs after the last work,
   * as long as the core share allows it; true when something arrived.
   */
  private async spin(): Promise<boolean> {
    const start = performance.now();
    const ticket = this.share.take();
    for (;;) {
      const now = performance.now();
      const waiting = this.anyWaiting();
      const forReply = waiting && now - start < this.replySpinMs;
      if (waiting && !forReply) this.gaveUpSince ??= start;
      if (!forReply && now - start >= this.policy.spinLingerMs) return false;
      if (!this.share.mayspin(ticket)) return false;
      await this.yieldTurn();
      if (this.due()) {
        if (waiting) this.replySpinMs = Math.min(this.policy.spinForReplyMs, this.replySpinMs * 2);
        return true;
      }
    }
  }

  /** A spin for a reply gave up, and something came `waitedMs` after the spin began. */
  private replyCameLate(waitedMs: number): void {
    const { minSpinForReplyMs: min, spinForReplyMs: max } = this.policy;
    this.replySpinMs = waitedMs <= max ? Math.max(min, Math.min(max, 2 * waitedMs)) : Math.max(min, this.replySpinMs / 2);
    this.gaveUpSince = null;
  }

  /**
   * Blocks in slices, with a turn of the event loop between them, up to dozeMs, unless the
   * cores are crowded (then it parks at once); true when something arrived.
   */
  private async doze(): Promise<boolean> {
    const end = performance.now() + this.policy.dozeMs;
    while (performance.now() < end && !this.share.crowded) {
      this.bell.sleep(DOZING);
      if (!this.due()) this.bell.doze(this.policy.dozeSliceMs);
      this.bell.resume();
      if (this.due()) return true;
      await nextTurn();
      this.lastTurn = performance.now();
      if (this.due()) return true;
    }
    return false;
  }

  private async loop(): Promise<void> {
    this.lastTurn = performance.now();
    for (;;) {
      if (this.sources.size === 0) break;
      if (this.drain()) {
        if (this.gaveUpSince !== null) this.replyCameLate(performance.now() - this.gaveUpSince);
        await this.yieldTurn(); // let the continuations run before looking again
        continue;
      }
      if ((await this.spin()) || (await this.doze())) continue;
      // Park: announce it, then look once more, so a record written meanwhile is not missed.
      this.bell.sleep(PARKED);
      if (!this.due()) break;
      this.bell.resume();
    }
    this.bell.sleep(PARKED);
    this.running = false;
  }
}
