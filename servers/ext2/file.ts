// The bytes of a file (or of a slow symlink): reads that fetch each physically contiguous
// stretch with one device read, writes that allocate next to the previous block, holes that
// read as zeros, and resizing in both directions.

import { SysError, handOver } from '../../kernel/api.js';
import type { BlockCache } from './cache.js';
import type { BlockMap } from './blockmap.js';
import type { Groups } from './groups.js';
import type { Inode } from './inode.js';

export class FileContent {
  constructor(
    private readonly cache: BlockCache,
    private readonly map: BlockMap,
    private readonly groups: Groups,
    private readonly blockSize: number,
  ) {}

  /** Up to `length` bytes at `offset`; fewer at the end of the file. */
  async read(node: Inode, offset: number, length: number): Promise<Uint8Array> {
    const end = Math.min(node.size, offset + length);
    if (end <= offset) return new Uint8Array(0);
    const bs = this.blockSize;
    const out = new Uint8Array(end - offset);
    const first = Math.floor(offset / bs);
    const count = Math.floor((end - 1) / bs) - first + 1;
    const phys = await this.map.lookupRun(node, first, count);
    for (let i = 0; i < count; ) {
      if (phys[i] === 0) {
        i++; // a hole: out is already zero there
        continue;
      }
      let n = 1;
      while (i + n < count && phys[i + n] === phys[i] + n) n++;
      const bufs = await this.cache.getRun(phys[i], n);
      for (let k = 0; k < n; k++) {
        const start = (first + i + k) * bs;
        const from = Math.max(offset, start);
        const to = Math.min(end, start + bs);
        out.set(bufs[k].subarray(from - start, to - start), from - offset);
      }
      i += n;
    }
    return handOver(out);
  }

  /**
   * Writes data at offset, allocating holes. Returns the bytes written, a prefix of data:
   * fewer than asked when the file system filled up after some were written, or when the
   * file reached the largest size its map addresses (as Linux's write does). When not one byte
   * can be written it fails with ENOSPC or EFBIG, and the op's rollback undoes what it allocated.
   */
  async write(node: Inode, offset: number, data: Uint8Array): Promise<number> {
    if (data.length === 0) return 0;
    const maxSize = this.map.maxSize(node);
    if (offset >= maxSize) throw new SysError('EFBIG', `ext2: a file cannot grow past ${maxSize} bytes`);
    const end = Math.min(offset + data.length, maxSize);
    if (offset > node.size) await this.zeroTail(node);
    const bs = this.blockSize;
    const first = Math.floor(offset / bs);
    const last = Math.floor((end - 1) / bs);
    let goal = await this.goal(node, first);
    let written = 0;
    for (let lblk = first; lblk <= last; lblk++) {
      const start = lblk * bs;
      const from = Math.max(offset, start) - start;
      const to = Math.min(end, start + bs) - start;
      let mapped: { block: number; fresh: boolean };
      try {
        mapped = await this.map.map(node, lblk, goal);
      } catch (err) {
        if (written > 0 && err instanceof SysError && err.errno === 'ENOSPC') break;
        throw err;
      }
      const buf = mapped.fresh ? this.cache.fresh(mapped.block)
        : from === 0 && to === bs ? this.cache.replace(mapped.block)
        : await this.cache.modify(mapped.block);
      buf.set(data.subarray(start + from - offset, start + to - offset), from);
      written += to - from;
      goal = mapped.block + 1;
    }
    if (offset + written > node.size) node.size = offset + written;
    node.dirty = true;
    return written;
  }

  /**
   * Truncates or extends (with a hole) to `size` bytes. With `freeTail` false, a truncate sets
   * i_size and zeroes the last block's tail but leaves the blocks past it mapped, for the
   * caller to free (in steps: fs.ts's spreading).
   */
  async resize(node: Inode, size: number, freeTail = true): Promise<void> {
    const maxSize = this.map.maxSize(node);
    if (size > maxSize) throw new SysError('EFBIG', `ext2: a file cannot grow past ${maxSize} bytes`);
    if (size === node.size) return;
    if (size > node.size) {
      await this.zeroTail(node);
    } else {
      if (freeTail) await this.map.truncate(node, Math.ceil(size / this.blockSize));
      node.size = size;
      await this.zeroTail(node);
    }
    node.size = size;
    node.dirty = true;
  }

  /** Zeroes the last block past the end of the file, so that growing the file shows zeros there. */
  private async zeroTail(node: Inode): Promise<void> {
    const tail = node.size % this.blockSize;
    if (tail === 0) return;
    const b = await this.map.lookup(node, Math.floor(node.size / this.blockSize));
    if (b !== 0) (await this.cache.modify(b)).fill(0, tail);
  }

  /** Where a file's block lblk should go: after its previous block, or in the inode's group. */
  private async goal(node: Inode, lblk: number): Promise<number> {
    const prev = lblk > 0 ? await this.map.lookup(node, lblk - 1) : 0;
    return prev !== 0 ? prev + 1 : this.groups.firstBlock(this.groups.groupOfInode(node.ino));
  }
}
