// The block cache of one mount. Every block the driver reads or changes passes through it:
// clean blocks stay in an LRU, changed ("dirty") blocks stay until the next commit, and the
// group descriptor blocks are pinned for the life of the mount.
//
// Each op runs between begin() and end(). The first time an op changes a block, the cache
// remembers how the block was, so rollback() can undo a failed op entirely: a commit then
// only ever writes the state between whole ops. (A clean block needs no copy: undoing is
// forgetting it, the device still has it.) Nothing is evicted or reused in the middle of an
// op, so a buffer an op holds stays valid until the op ends.

import { corrupt } from './errors.js';
import type { Device, Write } from './device.js';

interface Entry {
  buf: Uint8Array;
  dirty: boolean;
  pinned: boolean;
}

/**
 * How a block was before the current op changed it: a copy of a dirty or pinned block,
 * 'clean' for a clean one (undone by forgetting it), null when it was not cached.
 */
type Before = Uint8Array | 'clean' | null;

/** Largest write of one commit entry: runs of adjacent dirty blocks are joined up to this. */
const MAX_WRITE = 16 * 1024 * 1024;
/**
 * Read-around: a device read for uncached blocks also takes the uncached blocks next to them in
 * their aligned cluster of this many bytes (64 blocks of 1 KiB, 16 of 4 KiB), back to the
 * cluster's start and, when the stretch ends the run asked for, on to its end. Inode table
 * blocks, directory blocks and the data of small files are read by the cluster rather than by the
 * block: a walk over a tree, which visits files in hash order (an indexed directory's readdir),
 * not in the order their blocks lie, finds most of them cached. The clean copies this adds are
 * what the device holds: every block this cache has changed is cached (dirty) and never read
 * over, and the blocks written past the cache (the superblock, a journal's log) are never read
 * through it. A random read costs one larger device read per cluster instead of one per block.
 */
const CLUSTER_BYTES = 64 * 1024;
/** Block buffers are cut from slabs of this size. */
const SLAB_BYTES = 1024 * 1024;
/**
 * Free buffers kept for reuse, in bytes; beyond it a released buffer is left to the garbage
 * collector. Without a bound, one large write (its blocks all dirty in one op) would stay
 * allocated for the life of the mount after it was written and evicted.
 */
const MAX_FREE_BYTES = 4 * SLAB_BYTES;

/**
 * Block-sized buffers cut from large slabs and recycled: thousands of cached blocks are then
 * a few dozen ArrayBuffers for the garbage collector, not thousands.
 */
class BufferPool {
  private readonly free: Uint8Array[] = [];
  private readonly maxFree: number;

  constructor(private readonly blockSize: number) {
    this.maxFree = MAX_FREE_BYTES / blockSize;
  }

  /** A buffer of unspecified content. */
  take(): Uint8Array {
    if (this.free.length === 0) {
      const slab = new Uint8Array(SLAB_BYTES);
      for (let at = 0; at < SLAB_BYTES; at += this.blockSize) this.free.push(slab.subarray(at, at + this.blockSize));
    }
    return this.free.pop()!;
  }

  /** Takes a buffer back, or drops it when MAX_FREE_BYTES are free already. */
  give(buf: Uint8Array): void {
    if (this.free.length < this.maxFree) this.free.push(buf);
  }
}

export class BlockCache {
  private readonly entries = new Map<number, Entry>();
  /** Clean, unpinned entries, least recently used first: what eviction may drop. */
  private readonly lru = new Map<number, Entry>();
  private readonly dirty = new Set<number>();
  private readonly before = new Map<number, Before>();
  private readonly pool: BufferPool;
  /** Buffers that left the cache during the op: reused once it ends. */
  private readonly released: Uint8Array[] = [];
  private readonly capacity: number;
  /** Blocks in one read-around cluster (CLUSTER_BYTES). */
  private readonly clusterBlocks: number;

  constructor(
    private readonly dev: Device,
    readonly blockSize: number,
    private readonly blocksCount: number,
    capacityBytes: number,
  ) {
    this.capacity = Math.max(64, Math.floor(capacityBytes / blockSize));
    this.clusterBlocks = Math.max(1, Math.floor(CLUSTER_BYTES / blockSize));
    this.pool = new BufferPool(blockSize);
  }

  get dirtyBytes(): number {
    return this.dirty.size * this.blockSize;
  }

  /** A block for reading. The caller must not change it (use modify). */
  async get(b: number): Promise<Uint8Array> {
    const e = this.entries.get(b);
    if (e) {
      this.touch(b, e);
      return e.buf;
    }
    return (await this.getRun(b, 1))[0];
  }

  /** Blocks first … first+count−1 for reading; each uncached stretch costs one device read, with read-around (CLUSTER_BYTES). */
  async getRun(first: number, count: number): Promise<Uint8Array[]> {
    this.check(first);
    this.check(first + count - 1);
    const bs = this.blockSize;
    const out: Uint8Array[] = new Array(count);
    for (let i = 0; i < count; ) {
      const e = this.entries.get(first + i);
      if (e) {
        this.touch(first + i, e);
        out[i++] = e.buf;
        continue;
      }
      let j = i + 1;
      while (j < count && !this.entries.has(first + j)) j++;
      const cluster = this.clusterBlocks;
      // [lo, hi): the stretch first+i … first+j−1 and the uncached blocks around it in its clusters.
      let lo = first + i;
      while (lo > Math.floor((first + i) / cluster) * cluster && !this.entries.has(lo - 1)) lo--;
      let hi = first + j;
      if (j === count) while (hi < Math.min(this.blocksCount, Math.ceil((first + j) / cluster) * cluster) && !this.entries.has(hi)) hi++;
      const data = await this.dev.read(lo * bs, (hi - lo) * bs);
      for (let b = lo; b < hi; b++) {
        const buf = this.pool.take();
        buf.set(data.subarray((b - lo) * bs, (b - lo + 1) * bs));
        this.insert(b, { buf, dirty: false, pinned: false });
        if (b >= first + i && b < first + j) out[b - first] = buf;
      }
      i = j;
    }
    return out;
  }

  /** A cached block for changing in place; it becomes dirty. */
  async modify(b: number): Promise<Uint8Array> {
    const e = this.entries.get(b) ?? (await this.get(b), this.entries.get(b)!);
    this.remember(b, e);
    this.setDirty(b, e);
    return e.buf;
  }

  /**
   * A block whose whole content the caller is about to write, without reading the old one:
   * the cached buffer if there is one, else a new one of unspecified content. It becomes dirty.
   */
  replace(b: number): Uint8Array {
    this.check(b);
    let e = this.entries.get(b);
    this.remember(b, e);
    if (!e) {
      e = { buf: this.pool.take(), dirty: false, pinned: false };
      this.insert(b, e);
    }
    this.setDirty(b, e);
    return e.buf;
  }

  /** A block just allocated: zero-filled, dirty. */
  fresh(b: number): Uint8Array {
    return this.replace(b).fill(0);
  }

  /** A freed block: its content no longer matters and need not be written. */
  discard(b: number): void {
    const e = this.entries.get(b);
    if (!e || e.pinned) return;
    this.remember(b, e);
    this.drop(b, e);
  }

  /** Keeps the (already cached) block for the life of the mount. */
  pin(b: number): void {
    const e = this.entries.get(b)!;
    e.pinned = true;
    this.lru.delete(b);
  }

  /** A pinned block for reading, without waiting. */
  pinned(b: number): Uint8Array {
    return this.entries.get(b)!.buf;
  }

  /** A pinned block for changing in place, without waiting. */
  modifyPinned(b: number): Uint8Array {
    const e = this.entries.get(b)!;
    this.remember(b, e);
    this.setDirty(b, e);
    return e.buf;
  }

  /** Starts an op: from now on, first changes are remembered for rollback. */
  begin(): void {
    this.before.clear();
  }

  /** Ends an op successfully; clean blocks beyond the capacity are dropped. */
  end(): void {
    for (const was of this.before.values()) if (was instanceof Uint8Array) this.pool.give(was);
    this.before.clear();
    for (const [b, e] of this.lru) {
      if (this.lru.size <= this.capacity) break;
      this.drop(b, e);
    }
    for (const buf of this.released) this.pool.give(buf);
    this.released.length = 0;
  }

  /** Undoes every change of the current op. */
  rollback(): void {
    for (const [b, was] of this.before) {
      const e = this.entries.get(b);
      if (was instanceof Uint8Array) {
        // A dirty block stays dirty; a pinned one may be written back unchanged.
        if (e) {
          e.buf.set(was);
        } else {
          const buf = this.pool.take();
          buf.set(was);
          this.insert(b, { buf, dirty: false, pinned: false });
        }
        this.setDirty(b, this.entries.get(b)!);
      } else if (e) {
        this.drop(b, e);
      }
    }
    this.end();
  }

  /** The dirty blocks as device writes, in block order, adjacent blocks joined. */
  dirtyWrites(): Write[] {
    const bs = this.blockSize;
    const blocks = [...this.dirty].sort((a, b) => a - b);
    const writes: Write[] = [];
    for (let i = 0; i < blocks.length; ) {
      let j = i + 1;
      while (j < blocks.length && blocks[j] === blocks[j - 1] + 1 && (j - i + 1) * bs <= MAX_WRITE) j++;
      const data = new Uint8Array((j - i) * bs);
      for (let k = i; k < j; k++) data.set(this.entries.get(blocks[k])!.buf, (k - i) * bs);
      writes.push({ offset: blocks[i] * bs, data });
      i = j;
    }
    return writes;
  }

  /** After a successful commit: every dirty block is now on the device. */
  markClean(): void {
    for (const b of this.dirty) this.setClean(b, this.entries.get(b)!);
  }

  private check(b: number): void {
    if (!Number.isInteger(b) || b < 0 || b >= this.blocksCount) {
      throw corrupt(`block ${b} lies outside the file system (${this.blocksCount} blocks)`);
    }
  }

  private insert(b: number, e: Entry): void {
    this.entries.set(b, e);
    if (!e.pinned && !e.dirty) this.lru.set(b, e);
  }

  /** Forgets a block; its buffer is reused after the op. */
  private drop(b: number, e: Entry): void {
    this.entries.delete(b);
    this.lru.delete(b);
    this.dirty.delete(b);
    this.released.push(e.buf);
  }

  private touch(b: number, e: Entry): void {
    if (e.pinned || e.dirty) return;
    this.lru.delete(b);
    this.lru.set(b, e);
  }

  private remember(b: number, e: Entry | undefined): void {
    if (this.before.has(b)) return;
    if (!e) {
      this.before.set(b, null);
    } else if (!e.dirty && !e.pinned) {
      this.before.set(b, 'clean');
    } else {
      const copy = this.pool.take();
      copy.set(e.buf);
      this.before.set(b, copy);
    }
  }

  private setDirty(b: number, e: Entry): void {
    if (e.dirty) return;
    e.dirty = true;
    this.dirty.add(b);
    this.lru.delete(b);
  }

  private setClean(b: number, e: Entry): void {
    e.dirty = false;
    this.dirty.delete(b);
    if (!e.pinned) {
      this.lru.delete(b);
      this.lru.set(b, e);
    }
  }
}
