// A file's block map: 12 direct pointers in the inode, then single, double and triple
// indirect blocks of pointers (0 is a hole). Every pointer read from disk is checked before
// it is followed: outside the file system or onto metadata is damage (EUCLEAN), and so is an
// indirect block that reappears below itself. Freeing a block twice is caught by the bitmap.
// An inode with ext4's EXTENTS_FL maps its blocks with an extent tree instead (extents.ts
// reads it, extent-write.ts changes it); this class is the one interface to both maps. On a
// file system with the extent feature, new files, directories and slow symlinks get a tree.

import { SysError } from '../../kernel/api.js';
import type { Allocator } from './alloc.js';
import { setU32, u32 } from './bytes.js';
import type { BlockCache } from './cache.js';
import { corrupt } from './errors.js';
import { ExtentWriter } from './extent-write.js';
import { ExtentMap } from './extents.js';
import type { Groups } from './groups.js';
import { EXTENTS_FL, I_BLOCKS_UNIT, type Inode } from './inode.js';
import { MAX_SIZE_WITHOUT_LARGE_FILE, type Geometry } from './superblock.js';

const DIRECT = 12;

/**
 * Blocks a truncate frees: `count` physical blocks from `start`, mapping logical blocks from
 * `lblk` on — or one map block (indirect block, extent tree node), `lblk` then the first
 * logical block mapped below it, for the map block goes when everything below it does.
 */
export interface FreedRun {
  lblk: number;
  start: number;
  count: number;
}

const pointerAt = (buf: Uint8Array, index: number) => u32(buf, index * 4);
const setPointer = (buf: Uint8Array, index: number, b: number) => setU32(buf, index * 4, b);

/**
 * Largest file size in bytes that the map and the 32-bit i_blocks (512-byte units, indirect
 * blocks included) can describe, computed as Linux's ext2_max_size: the whole block tree if
 * its blocks fit in i_blocks, else as many data blocks as fit beside the indirect blocks a
 * dense file of that length needs.
 */
export function maxFileSize(geo: Geometry): number {
  const p = geo.pointersPerBlock;
  const tree = DIRECT + p + p * p + p * p * p;
  const treeMeta = 1 + (1 + p) + (1 + p + p * p);
  let limit = Math.floor((2 ** 32 - 1) / (geo.blockSize / I_BLOCKS_UNIT));
  if (tree + treeMeta <= limit) return tree * geo.blockSize;
  const blocks = limit;
  limit -= DIRECT + p;
  let meta = 1; // the single indirect block
  if (limit < p * p) {
    meta += 1 + Math.ceil(limit / p);
  } else {
    meta += 1 + p;
    limit -= p * p;
    meta += 1 + Math.ceil(limit / p) + Math.ceil(limit / (p * p));
  }
  return (blocks - meta) * geo.blockSize;
}

/**
 * Largest size in bytes of a file mapped by an extent tree, as Linux's ext4_max_size computes
 * it: logical blocks below 2^32 − 1 (so that an extent can reach the last), and without
 * huge_file no more blocks than the 32-bit i_blocks counts in 512-byte units.
 */
export function maxExtentFileSize(geo: Geometry): number {
  const blocks = (2 ** 32 - 1) * geo.blockSize;
  if (geo.hugeFile) return blocks;
  return Math.min(blocks, Math.floor((2 ** 32 - 1) / (geo.blockSize / I_BLOCKS_UNIT)) * geo.blockSize);
}

export class BlockMap {
  private readonly p: number;
  private readonly sectorsPerBlock: number;
  private readonly extents: ExtentMap;
  private readonly extentWriter: ExtentWriter;
  private readonly extentsAllowed: boolean;
  private readonly maxSizes: { blockMap: number; extents: number };

  constructor(
    private readonly cache: BlockCache,
    private readonly groups: Groups,
    private readonly alloc: Allocator,
    geo: Geometry,
  ) {
    this.p = geo.pointersPerBlock;
    this.sectorsPerBlock = geo.blockSize / I_BLOCKS_UNIT;
    this.extents = new ExtentMap(cache, groups, geo);
    this.extentWriter = new ExtentWriter(cache, groups, alloc, this.extents, geo);
    this.extentsAllowed = geo.extents;
    const revision0 = geo.revision === 0 ? MAX_SIZE_WITHOUT_LARGE_FILE : Infinity;
    this.maxSizes = { blockMap: Math.min(revision0, maxFileSize(geo)), extents: Math.min(revision0, maxExtentFileSize(geo)) };
  }

  /**
   * Gives a new inode that will own blocks (a regular file, directory or slow symlink) the map
   * of its file system: an empty extent tree with the extent feature; else the block map, which
   * a new inode's zeroed i_block already is.
   */
  initialize(node: Inode): void {
    if (this.extentsAllowed) this.extentWriter.initialize(node);
  }

  /** Largest size in bytes the inode's map can address. */
  maxSize(node: Inode): number {
    return this.usesExtents(node) ? this.maxSizes.extents : this.maxSizes.blockMap;
  }

  /** Whether the inode maps with an extent tree: EXTENTS_FL, which only the extent feature allows. */
  private usesExtents(node: Inode): boolean {
    if (!(node.flags & EXTENTS_FL)) return false;
    if (!this.extentsAllowed) throw corrupt(`inode ${node.ino} has EXTENTS_FL on a file system without the extent feature`);
    return true;
  }

  /** Where logical block `lblk` hangs: [slot in i_block, index in each indirect level…]. */
  private path(lblk: number): number[] {
    const p = this.p;
    if (lblk < DIRECT) return [lblk];
    let l = lblk - DIRECT;
    if (l < p) return [DIRECT, l];
    l -= p;
    if (l < p * p) return [DIRECT + 1, Math.floor(l / p), l % p];
    l -= p * p;
    if (l < p * p * p) return [DIRECT + 2, Math.floor(l / (p * p)), Math.floor(l / p) % p, l % p];
    throw new SysError('EFBIG', `ext2: block ${lblk} of a file is past what its block map can address`);
  }

  private check(b: number, node: Inode): number {
    if (this.groups.isMetadata(b)) {
      throw corrupt(`inode ${node.ino} maps block ${b}, which is metadata or outside the file system`);
    }
    return b;
  }

  /** The physical block of logical block lblk, or 0 for a hole (or an uninitialised extent). */
  async lookup(node: Inode, lblk: number): Promise<number> {
    return (await this.lookupRun(node, lblk, 1))[0];
  }

  /**
   * Physical blocks of logical blocks first … first+count−1 (0 for holes), reading each
   * indirect block once. A pointer back to an indirect block on its own path is a loop.
   */
  async lookupRun(node: Inode, first: number, count: number): Promise<Float64Array> {
    if (this.usesExtents(node)) return this.extents.lookupRun(node, first, count);
    const out = new Float64Array(count);
    const above: number[] = [];
    for (let i = 0; i < count; ) {
      const path = this.path(first + i);
      // Down to the indirect block that holds this stretch's pointers (none for direct blocks).
      above.length = 0;
      let b = node.block[path[0]];
      for (let level = 1; level < path.length && b !== 0; level++) {
        this.follow(b, above, node);
        if (level < path.length - 1) b = pointerAt(await this.cache.get(b), path[level]);
      }
      if (path.length === 1) {
        out[i++] = b === 0 ? 0 : this.check(b, node);
        continue;
      }
      const last = path[path.length - 1];
      const n = Math.min(count - i, this.p - last);
      if (b !== 0) {
        const buf = await this.cache.get(b);
        for (let k = 0; k < n; k++) {
          const v = pointerAt(buf, last + k);
          if (v !== 0 && above.includes(this.check(v, node))) throw corrupt(`inode ${node.ino} maps its indirect block ${v} as data`);
          out[i + k] = v;
        }
      }
      i += n;
    }
    return out;
  }

  /** Steps down to indirect block b, refusing one outside the file system or already on the path. */
  private follow(b: number, above: number[], node: Inode): void {
    this.check(b, node);
    if (above.includes(b)) throw corrupt(`inode ${node.ino}'s indirect block ${b} appears below itself`);
    above.push(b);
  }

  /**
   * The physical block of lblk, allocating it (and any missing indirect blocks, zeroed, or
   * extent tree nodes) near `goal` when it is a hole. `fresh` says the data block was just
   * allocated, or was an uninitialised extent's: the caller must fill all of it.
   */
  async map(node: Inode, lblk: number, goal: number): Promise<{ block: number; fresh: boolean }> {
    if (this.usesExtents(node)) return this.extentWriter.map(node, lblk, goal);
    const path = this.path(lblk);
    const above: number[] = [];
    let b = node.block[path[0]];
    while (b !== 0 && above.length < path.length - 1) {
      this.follow(b, above, node);
      b = pointerAt(await this.cache.get(b), path[above.length]);
    }
    if (b !== 0) {
      if (above.includes(this.check(b, node))) throw corrupt(`inode ${node.ino} maps its indirect block ${b} as data`);
      return { block: b, fresh: false };
    }
    // The hole is the pointer at path[above.length]: allocate it and everything below it.
    this.alloc.need(path.length - above.length);
    let parent = above.length > 0 ? above[above.length - 1] : 0;
    for (let level = above.length; level < path.length; level++) {
      const fresh = await this.allocate(node, goal, level < path.length - 1);
      if (level === 0) node.block[path[0]] = fresh;
      else setPointer(await this.cache.modify(parent), path[level], fresh);
      parent = fresh;
    }
    return { block: parent, fresh: true };
  }

  private async allocate(node: Inode, goal: number, indirect: boolean): Promise<number> {
    const b = await this.alloc.allocBlock(goal);
    if (indirect) this.cache.fresh(b);
    node.blocks += this.sectorsPerBlock;
    node.dirty = true;
    return b;
  }

  /**
   * What truncate(node, keep) would free, without changing anything: the data blocks at or
   * past `keep` (uninitialised extents too) and the map blocks left empty, as runs; a run of
   * data never spans two indirect blocks or extents. Errors: EUCLEAN as lookupRun.
   */
  async freedFrom(node: Inode, keep: number): Promise<FreedRun[]> {
    if (this.usesExtents(node)) return this.extentWriter.freedFrom(node, keep);
    const out: FreedRun[] = [];
    for (let i = keep; i < DIRECT; i++) if (node.block[i] !== 0) out.push({ lblk: i, start: this.check(node.block[i], node), count: 1 });
    let base = DIRECT;
    let span = this.p;
    for (let level = 1; level <= 3; level++, base += span, span *= this.p) {
      const b = node.block[DIRECT + level - 1];
      if (b === 0 || keep >= base + span) continue;
      const first = await this.freedBelow(node, b, level, base, keep, [], out);
      if (first >= keep) out.push({ lblk: Math.min(first, base + span - 1), start: b, count: 1 });
    }
    return out;
  }

  /**
   * Adds to `out` what trim() would free below indirect block b (of `level`, mapping from
   * logical block `base`). Returns the first logical block mapped below b (Infinity for none):
   * trim() frees b when that is at or past `keep`.
   */
  private async freedBelow(node: Inode, b: number, level: number, base: number, keep: number, above: number[], out: FreedRun[]): Promise<number> {
    this.follow(b, above, node);
    const buf = await this.cache.get(b);
    const childSpan = this.p ** (level - 1);
    let first = Infinity;
    let run: FreedRun | null = null;
    for (let i = 0; i < this.p; i++) {
      const child = pointerAt(buf, i);
      if (child === 0) continue;
      const childBase = base + i * childSpan;
      if (childBase + childSpan <= keep) {
        first = Math.min(first, childBase);
        continue;
      }
      if (level === 1) {
        first = Math.min(first, childBase);
        if (above.includes(this.check(child, node))) throw corrupt(`inode ${node.ino} maps its indirect block ${child} as data`);
        if (run && run.lblk + run.count === childBase && run.start + run.count === child) run.count++;
        else out.push((run = { lblk: childBase, start: child, count: 1 }));
        continue;
      }
      const below = await this.freedBelow(node, child, level - 1, childBase, keep, above, out);
      first = Math.min(first, below);
      if (below >= keep) out.push({ lblk: Math.min(below, childBase + childSpan - 1), start: child, count: 1 });
    }
    above.pop();
    return first;
  }

  /**
   * Frees every block of logical block `keep` and beyond, and indirect blocks (or extent tree
   * nodes) left empty. With `reshape` false, an extent tree is left as trimmed (one step of a
   * spread truncate: ExtentWriter.truncate), until reshape().
   */
  async truncate(node: Inode, keep: number, reshape = true): Promise<void> {
    if (this.usesExtents(node)) return this.extentWriter.truncate(node, keep, reshape);
    for (let i = keep; i < DIRECT; i++) {
      if (node.block[i] !== 0) {
        await this.release(node, node.block[i]);
        node.block[i] = 0;
      }
    }
    let base = DIRECT;
    let span = this.p;
    for (let level = 1; level <= 3; level++, base += span, span *= this.p) {
      const slot = DIRECT + level - 1;
      const b = node.block[slot];
      if (b === 0 || keep >= base + span) continue;
      if (await this.trim(node, b, level, base, keep)) {
        await this.release(node, b);
        node.block[slot] = 0;
      }
    }
    node.dirty = true;
  }

  /** Gives an extent tree left by truncate steps the shape e2fsck expects; a block map has none to keep. */
  async reshape(node: Inode): Promise<void> {
    if (this.usesExtents(node)) await this.extentWriter.reshape(node);
  }

  /**
   * Frees what indirect block b (of `level`, mapping from logical block `base`) maps at or
   * past `keep`. Returns true when nothing below b is left, so b itself can go.
   */
  private async trim(node: Inode, b: number, level: number, base: number, keep: number): Promise<boolean> {
    const buf = await this.cache.get(this.check(b, node));
    const childSpan = this.p ** (level - 1);
    const cleared: number[] = [];
    let left = false;
    for (let i = 0; i < this.p; i++) {
      const child = pointerAt(buf, i);
      if (child === 0) continue;
      const childBase = base + i * childSpan;
      if (childBase + childSpan <= keep) {
        left = true;
        continue;
      }
      const empty = level === 1 || (await this.trim(node, child, level - 1, childBase, keep));
      if (empty) {
        await this.release(node, child);
        cleared.push(i);
      } else {
        left = true;
      }
    }
    if (left && cleared.length > 0) {
      const out = await this.cache.modify(b);
      for (const i of cleared) setPointer(out, i, 0);
    }
    return !left;
  }

  private async release(node: Inode, b: number): Promise<void> {
    await this.alloc.freeBlock(this.check(b, node));
    node.blocks = Math.max(0, node.blocks - this.sectorsPerBlock);
  }
}
