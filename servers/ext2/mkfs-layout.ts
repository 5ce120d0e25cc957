// mkfs's block placement: a map of the blocks in use while a new file system is laid out,
// searched first-fit as libext2fs's ext2fs_get_free_blocks2 searches it, and the placement of
// each group's bitmaps and inode table — in the group itself, or with flex_bg packed at the
// start of its flex group as e2fsprogs' lib/ext2fs/alloc_tables.c places them
// (Documentation/filesystems/ext4/blockgroup.rst, "Flexible Block Groups").

import { SysError } from '../../kernel/api.js';
import type { Run } from './mkfs-files.js';
import { hasSuperblock } from './superblock.js';

/** The shape of a new file system that placement depends on. */
export interface LayoutGeometry {
  blocks: number;
  firstDataBlock: number;
  blocksPerGroup: number;
  groups: number;
  sparseSuper: boolean;
  /** Descriptor table blocks, and reserved ones after them (resize_inode), in each copy. */
  gdtBlocks: number;
  reservedGdtBlocks: number;
  inodeTableBlocks: number;
  /** Groups per flex group (1 << s_log_groups_per_flex), or 0 without flex_bg. */
  flexSize: number;
}

/** Where one group's bitmaps and inode table lie (block numbers). */
export interface GroupTables {
  blockBitmap: number;
  inodeBitmap: number;
  inodeTable: number;
}

/** One bit per block of the file system: set when the block is taken. */
export class BlockMap {
  private readonly bits: Uint8Array;

  constructor(readonly g: LayoutGeometry) {
    this.bits = new Uint8Array(Math.ceil(g.blocks / 8));
    // Block 0 of a 1 KiB-block file system holds the boot sector and belongs to no group.
    this.mark(0, g.firstDataBlock);
  }

  used(b: number): boolean {
    return (this.bits[b >> 3] & (1 << (b & 7))) !== 0;
  }

  /** Takes blocks [start, start + n). */
  mark(start: number, n: number): void {
    for (let b = start; b < start + n; b++) this.bits[b >> 3] |= 1 << (b & 7);
  }

  /**
   * The first block b in [start, finish) such that blocks [b, b + n) are all free and inside
   * the file system, or -1 (ext2fs_get_free_blocks2 without its wrap-around; start 0 means the
   * first data block).
   */
  findFree(start: number, finish: number, n: number): number {
    let b = Math.max(start, this.g.firstDataBlock);
    while (b < finish) {
      if (b + n > this.g.blocks) return -1;
      let taken = -1;
      for (let i = b + n - 1; i >= b; i--) {
        if (this.used(i)) {
          taken = i;
          break;
        }
      }
      if (taken < 0) return b;
      b = taken + 1; // every start up to the taken block would include it
    }
    return -1;
  }

  /**
   * Takes n contiguous blocks at or after `goal`, else anywhere; EINVAL naming `what` when no
   * such run is free.
   */
  take(goal: number, n: number, what: string): number {
    let at = this.findFree(goal, this.g.blocks, n);
    if (at < 0) at = this.findFree(0, goal, n);
    if (at < 0) throw noRoom(what);
    this.mark(at, n);
    return at;
  }

  /**
   * The first n free blocks from `goal` on (then from the start), in order, as runs — where
   * libext2fs's allocator puts a file it writes from the start; null when fewer are free.
   * Nothing is taken (see takeRuns).
   */
  freeRuns(goal: number, n: number): Run[] | null {
    const runs: Run[] = [];
    let left = n;
    for (const [from, to] of [[Math.max(goal, this.g.firstDataBlock), this.g.blocks], [this.g.firstDataBlock, goal]]) {
      for (let b = from; b < to && left > 0; b++) {
        if (this.used(b)) continue;
        const last = runs[runs.length - 1];
        if (last && last.start + last.length === b) last.length++;
        else runs.push({ start: b, length: 1 });
        left--;
      }
    }
    return left > 0 ? null : runs;
  }

  takeRuns(runs: Run[]): void {
    for (const r of runs) this.mark(r.start, r.length);
  }

  /** Blocks in use among [start, start + n). */
  countUsed(start: number, n: number): number {
    let count = 0;
    for (let b = start; b < start + n; b++) if (this.used(b)) count++;
    return count;
  }

  /** Group g's block bitmap contents: its bits from the map, the rest of the block's bits set. */
  groupBitmap(g: number, blockSize: number): Uint8Array {
    const out = new Uint8Array(blockSize);
    const first = groupFirst(this.g, g);
    const size = groupSize(this.g, g);
    for (let i = 0; i < blockSize * 8; i++) {
      if (i >= size || this.used(first + i)) out[i >> 3] |= 1 << (i & 7);
    }
    return out;
  }
}

export function noRoom(what: string): SysError {
  return new SysError('EINVAL', `mkfs: no room for ${what}`);
}

export function groupFirst(g: LayoutGeometry, group: number): number {
  return g.firstDataBlock + group * g.blocksPerGroup;
}

/** Blocks in a group (the last may be short). */
export function groupSize(g: LayoutGeometry, group: number): number {
  return Math.min(g.blocksPerGroup, g.blocks - groupFirst(g, group));
}

function groupLast(g: LayoutGeometry, group: number): number {
  return groupFirst(g, group) + groupSize(g, group) - 1;
}

/** Blocks at the start of group g taken by a superblock copy, the descriptors and the reserved descriptor blocks. */
export function superblockBlocks(g: LayoutGeometry, group: number): number {
  return hasSuperblock(group, g.sparseSuper) ? 1 + g.gdtBlocks + g.reservedGdtBlocks : 0;
}

/**
 * Takes every group's superblock copy and descriptor blocks, then places each group's block
 * bitmap, inode bitmap and inode table as mke2fs does (alloc_tables.c), and takes them.
 */
export function placeTables(map: BlockMap): GroupTables[] {
  const g = map.g;
  for (let group = 0; group < g.groups; group++) map.mark(groupFirst(g, group), superblockBlocks(g, group));
  const tables: GroupTables[] = [];
  const must = (at: number, what: string, group: number): number => {
    if (at < 0) throw noRoom(`the ${what} of group ${group}`);
    return at;
  };
  for (let group = 0; group < g.groups; group++) {
    const first = groupFirst(g, group);
    let last = groupLast(g, group);
    if (!g.flexSize) {
      const blockBitmap = must(map.findFree(first, last, 1), 'block bitmap', group);
      map.mark(blockBitmap, 1);
      const inodeBitmap = must(map.findFree(first, last, 1), 'inode bitmap', group);
      map.mark(inodeBitmap, 1);
      const inodeTable = must(map.findFree(first, last, g.inodeTableBlocks), 'inode table', group);
      map.mark(inodeTable, g.inodeTableBlocks);
      tables.push({ blockBitmap, inodeBitmap, inodeTable });
      continue;
    }
    const fs = g.flexSize;
    const lastGroup = Math.min(group | (fs - 1), g.groups - 1);
    const remaining = lastGroup - group + 1;
    last = groupLast(g, lastGroup);
    // The last flex group keeps its tables contiguous: its slots are as many as its groups.
    let tableOffset = fs;
    if (group % fs === 0 && lastGroup === g.groups - 1) tableOffset = (lastGroup & (fs - 1)) === 0 ? fs : (lastGroup & (fs - 1)) + 1;
    const prev = tables[group - 1];
    const inFlex = group % fs !== 0;

    let start = flexOffset(map, group, inFlex ? prev.blockBitmap + 1 : 0, remaining, 1);
    let blockBitmap = map.findFree(start, last, 1);
    if (blockBitmap < 0) blockBitmap = must(map.findFree(first, last, 1), 'block bitmap', group);
    map.mark(blockBitmap, 1);

    start = flexOffset(map, group, inFlex ? prev.inodeBitmap + 1 : blockBitmap + tableOffset, remaining, 1);
    let inodeBitmap = map.findFree(start, last, 1);
    if (inodeBitmap < 0) inodeBitmap = must(map.findFree(first, last, 1), 'inode bitmap', group);
    map.mark(inodeBitmap, 1);

    start = flexOffset(map, group, inFlex ? prev.inodeTable + g.inodeTableBlocks : inodeBitmap + tableOffset, remaining, g.inodeTableBlocks);
    const inodeTable = must(map.findFree(start, last, g.inodeTableBlocks), 'inode table', group);
    map.mark(inodeTable, g.inodeTableBlocks);
    tables.push({ blockBitmap, inodeBitmap, inodeTable });
  }
  return tables;
}

/**
 * alloc_tables.c's flexbg_offset: where the next of `remaining` elements of `size` blocks goes —
 * right after the previous one when there is room, else the first room in the flex group.
 */
function flexOffset(map: BlockMap, group: number, startBlock: number, remaining: number, size: number): number {
  const g = map.g;
  const span = Math.min(remaining * size, Math.floor(g.blocksPerGroup / 4));
  if (startBlock && startBlock < g.blocks) {
    const at = map.findFree(startBlock, startBlock + span, size);
    if (at >= 0) return at;
  }
  const flexStart = groupFirst(g, Math.floor(group / g.flexSize) * g.flexSize);
  const last = groupLast(g, Math.min(group | (g.flexSize - 1), g.groups - 1));
  for (const [from, n] of [[flexStart, span], [flexStart, size], [0, size]]) {
    const at = map.findFree(from, last, n);
    if (at >= 0) return at;
  }
  return 0;
}
