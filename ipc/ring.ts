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

/**
 * A thread's parked flag, shared with every thread that writes to its rings. A thread parks by
 * setting it and returning to its event loop; the first producer to find it set clears it and
 * must wake the thread with a message on its port. So under load, when the thread is polling,
 * producers send no wake-ups at all.
 */
export class Doorbell {
  private readonly cell: Int32Array;

  static allocate(): SharedArrayBuffer {
    return new SharedArrayBuffer(4);
  }

  constructor(readonly buffer: SharedArrayBuffer) {
    this.cell = new Int32Array(buffer);
  }

  /** Consumer: about to return to the event loop; a producer will wake it. */
  park(): void {
    Atomics.store(this.cell, 0, 1);
  }

  /** Consumer: polling again. */
  unpark(): void {
    Atomics.store(this.cell, 0, 0);
  }

  /** Producer, after writing: true when this producer must send the wake-up. */
  claimWake(): boolean {
    return Atomics.compareExchange(this.cell, 0, 1, 0) === 1;
  }
}
