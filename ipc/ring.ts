// A single-producer single-consumer byte ring in a SharedArrayBuffer: one direction of a
// channel between two threads. Records are a u32 length and the bytes, 4-byte aligned; a
// record that would cross the end is preceded by a wrap marker and starts again at 0. The
// producer publishes with an atomic store of the write position, the consumer frees space with
// an atomic store of the read position — no locks, no system calls.

const WRITE = 0;
const READ = 1;
const HEADER_BYTES = 64; // keeps the two positions off the data's cache lines
const WRAP = 0xffffffff;

const align4 = (n: number) => (n + 3) & ~3;

export class Ring {
  private readonly pos: Int32Array;
  private readonly data: Uint8Array;
  private readonly view: DataView;
  private readonly mask: number;
  readonly capacity: number;

  /** A new ring's shared memory; capacity is a power of two. */
  static allocate(capacity: number): SharedArrayBuffer {
    if (capacity & (capacity - 1) || capacity < 1024) throw new RangeError('ring capacity must be a power of two ≥ 1024');
    return new SharedArrayBuffer(HEADER_BYTES + capacity);
  }

  constructor(readonly buffer: SharedArrayBuffer) {
    this.capacity = buffer.byteLength - HEADER_BYTES;
    this.mask = this.capacity - 1;
    this.pos = new Int32Array(buffer, 0, 2);
    this.data = new Uint8Array(buffer, HEADER_BYTES, this.capacity);
    this.view = new DataView(buffer, HEADER_BYTES, this.capacity);
  }

  /** The largest record that always fits in an empty ring. */
  get maxRecord(): number {
    return this.capacity / 2 - 8;
  }

  /** Appends a record; false when there is no room now (the caller sends it another way). */
  tryWrite(bytes: Uint8Array): boolean {
    if (bytes.length > this.maxRecord) return false;
    const w = Atomics.load(this.pos, WRITE) >>> 0;
    const r = Atomics.load(this.pos, READ) >>> 0;
    const need = 4 + align4(bytes.length);
    let at = w & this.mask;
    const tail = this.capacity - at;
    const total = tail < need ? tail + need : need;
    if (this.capacity - ((w - r) >>> 0) < total) return false;
    if (tail < need) {
      this.view.setUint32(at, WRAP, true);
      at = 0;
    }
    this.view.setUint32(at, bytes.length, true);
    this.data.set(bytes, at + 4);
    Atomics.store(this.pos, WRITE, (w + total) | 0);
    return true;
  }

  /** True when a record is waiting. */
  get pending(): boolean {
    return Atomics.load(this.pos, WRITE) !== Atomics.load(this.pos, READ);
  }

  /**
   * Hands the next record to `take` as a view into the ring (valid only during the call) and
   * then frees its space. False when the ring is empty.
   */
  read(take: (record: Uint8Array) => void): boolean {
    const r = Atomics.load(this.pos, READ) >>> 0;
    const w = Atomics.load(this.pos, WRITE) >>> 0;
    if (r === w) return false;
    let at = r & this.mask;
    let skipped = 0;
    let length = this.view.getUint32(at, true);
    if (length === WRAP) {
      skipped = this.capacity - at;
      at = 0;
      length = this.view.getUint32(0, true);
    }
    try {
      take(this.data.subarray(at + 4, at + 4 + length));
    } finally {
      Atomics.store(this.pos, READ, (r + skipped + 4 + align4(length)) | 0);
    }
    return true;
  }
}

/** What a thread's poller is doing, as its doorbell shows it to the threads that write to it. */
export const RUNNING = 0;
/** Back in its event loop: a producer must send it a message on its port. */
export const PARKED = 1;
/** Blocked in Atomics.wait on the doorbell for a moment: a producer notifies it. */
export const DOZING = 2;
/** The thread has ended: nobody wakes it, nobody counts it. */
const ENDED = 3;

/** Counts the threads of the process whose pollers run, so that spinning never takes the core a woken thread needs. */
export interface RunningCount {
  enter(): void;
  leave(): void;
}

/**
 * A thread's doorbell, shared with every thread that writes to its rings. The consumer marks it
 * PARKED or DOZING before it stops looking at its rings; the first producer to find it so sets
 * it back to RUNNING, counts the thread as running again, and wakes it (a notify, or a port
 * message that it must send). Under load, when the thread polls, producers do nothing at all.
 */
export class Doorbell {
  private readonly cell: Int32Array;

  /** A new doorbell: its thread is not running a poller yet. */
  static allocate(): SharedArrayBuffer {
    const buffer = new SharedArrayBuffer(4);
    new Int32Array(buffer)[0] = PARKED;
    return buffer;
  }

  constructor(readonly buffer: SharedArrayBuffer, private readonly running: RunningCount) {
    this.cell = new Int32Array(buffer);
  }

  /** Consumer: stops running (PARKED or DOZING); it looks at its rings once more after this. */
  sleep(state: typeof PARKED | typeof DOZING): void {
    if (Atomics.exchange(this.cell, 0, state) === RUNNING) this.running.leave();
  }

  /** Consumer: blocks while DOZING, at most `ms`, unless a producer has woken it already. */
  doze(ms: number): void {
    Atomics.wait(this.cell, 0, DOZING, ms);
  }

  /** Consumer: runs again; counts itself as running unless a producer did when it woke it. */
  resume(): void {
    if (Atomics.exchange(this.cell, 0, RUNNING) !== RUNNING) this.running.enter();
  }

  /** Producer, after writing: wakes the consumer; true when it was PARKED and must be sent a message. */
  ring(): boolean {
    for (;;) {
      const state = Atomics.load(this.cell, 0);
      if (state === RUNNING || state === ENDED) return false;
      if (Atomics.compareExchange(this.cell, 0, state, RUNNING) !== state) continue;
      this.running.enter();
      if (state === DOZING) Atomics.notify(this.cell, 0);
      return state === PARKED;
    }
  }

  /** The thread's host, when the thread has ended: it no longer counts as running. */
  retire(): void {
    if (Atomics.exchange(this.cell, 0, ENDED) === RUNNING) this.running.leave();
  }
}
