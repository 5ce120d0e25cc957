// One poller per thread drains every ring that delivers to the thread. When they are empty it
// spins: it polls again after each turn of promise continuations, letting the event loop run
// every few tens of microseconds, so a message is picked up within a microsecond or two. It
// spins while it waits for replies and for a moment after its last message (the next request
// of a busy client comes soon), and only while fewer threads of the process spin than there
// are cores, so spinning threads leave a core to the one working. Then it parks: it marks its
// doorbell and returns to the event loop, and the next producer wakes it with a message on a
// port — the cost of a postMessage, paid only after an idle spell. An idle thread burns no CPU.

import type { Doorbell, Ring } from './ring.js';

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
  /** Spin at most this long after the last message. */
  spinLingerMs: number;
  /** While spinning, let the event loop run (timers, I/O, port messages) this often. */
  eventLoopEveryMs: number;
}

/**
 * Measured on a 2-vCPU machine: a linger of 50 µs covers a busy client's think time between
 * calls (a few µs), yet is short enough that two lingering threads soon leave the cores to a
 * thread that was woken; longer lingers made chains of calls slower, shorter ones the null
 * syscall (numbers in the README).
 */
export const DEFAULT_WAIT: WaitPolicy = { spinForReplyMs: 1, spinLingerMs: 0.05, eventLoopEveryMs: 0.05 };

/**
 * Who may spin: the `limit` threads of the process that most recently started to. A thread
 * that starts waiting takes a ticket; it spins while fewer than `limit` tickets were taken
 * after its own, and stops as soon as newer waiters push it out. In a chain of calls
 * (client → vfs → tmpfs) the newest waiter is the innermost caller, the next to be answered,
 * so the spinning happens where the reply is about to land, and the outer callers, whose
 * replies are further away, park and leave their cores to the threads at work. Messages are
 * written before a ticket is taken, so a thread pushed out finds anything sent to it.
 */
export class SpinTickets {
  readonly cells: Int32Array;

  static allocate(limit: number): SharedArrayBuffer {
    const buffer = new SharedArrayBuffer(8);
    new Int32Array(buffer)[1] = Math.max(1, limit);
    return buffer;
  }

  constructor(readonly buffer: SharedArrayBuffer) {
    this.cells = new Int32Array(buffer);
  }

  take(): number {
    return Atomics.add(this.cells, 0, 1) + 1;
  }

  /** Whether the holder of `ticket` is still among the newest `limit` spinners. */
  mayspin(ticket: number): boolean {
    return ((Atomics.load(this.cells, 0) - ticket) | 0) < this.cells[1];
  }
}

const BATCH = 256;
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

export class Poller {
  private readonly sources = new Set<RingSource>();
  private running = false;
  private lastMessage = 0;
  private lastTurn = 0;
  /** How waits ended: with a message found while spinning, or by parking. */
  readonly stats = { spun: 0, parked: 0 };

  constructor(
    readonly bell: Doorbell,
    private readonly tickets: SpinTickets,
    private readonly policy: WaitPolicy = DEFAULT_WAIT,
  ) {}

  add(source: RingSource): void {
    this.sources.add(source);
    this.wake();
  }

  remove(source: RingSource): void {
    this.sources.delete(source);
  }

  /** Starts polling if parked: a producer's wake-up arrived, or a source was added. */
  wake(): void {
    if (this.running || this.sources.size === 0) return;
    this.running = true;
    this.bell.unpark();
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

  private anyPending(): boolean {
    for (const s of this.sources) if (s.rx.pending) return true;
    return false;
  }

  private anyWaiting(): boolean {
    for (const s of this.sources) if (s.waiting) return true;
    return false;
  }

  /** How long to spin now: lingering after a recent message, and while replies are due. */
  private spinWindow(now: number): number {
    const linger = this.policy.spinLingerMs - (now - this.lastMessage);
    return Math.max(linger, this.anyWaiting() ? this.policy.spinForReplyMs : 0);
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

  /** Polls for up to `window` ms, while newer waiters leave it room; true when something arrived. */
  private async spin(window: number): Promise<boolean> {
    if (window <= 0) return false;
    const ticket = this.tickets.take();
    const start = performance.now();
    while (performance.now() - start < window && this.tickets.mayspin(ticket)) {
      await this.yieldTurn();
      if (this.anyPending() || this.sources.size === 0) return true;
    }
    return false;
  }

  private async loop(): Promise<void> {
    this.lastMessage = this.lastTurn = performance.now();
    for (;;) {
      if (this.sources.size === 0) break;
      if (this.drain()) {
        this.lastMessage = performance.now();
        await this.yieldTurn(); // let the continuations run before looking again
        continue;
      }
      if (await this.spin(this.spinWindow(performance.now()))) {
        this.stats.spun++;
        continue;
      }
      // Park: announce it, then look once more, so a record written meanwhile is not missed.
      this.bell.park();
      if (!this.anyPending()) break;
      this.bell.unpark();
    }
    this.stats.parked++;
    this.running = false;
  }
}
