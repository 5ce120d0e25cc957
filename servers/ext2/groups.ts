// Block groups: the group descriptor table (pinned in the cache for the life of the mount),
// where each group's bitmaps and inode table lie, and which blocks are metadata that no file
// may own or the allocator hand out. Descriptors are 32 bytes, or s_desc_size with ext4's
// 64bit (the _hi halves of block numbers and counts); with metadata_csum or uninit_bg each
// carries a checksum, verified when the table is loaded. With flex_bg a group's bitmaps and
// inode table may lie in another group: their places are read from the descriptors only.

import { setU16, setU32, u16, u32 } from './bytes.js';
import type { BlockCache } from './cache.js';
import { BG_CHECKSUM, groupDescChecksum, groupDescChecksum16 } from './csum.js';
import { corrupt } from './errors.js';
import { GROUP_DESC_SIZE, type Geometry } from './superblock.js';

// Where each field of a group descriptor lies: Linux's struct ext2_group_desc (fs/ext2/ext2.h),
// GROUP_DESC_SIZE bytes, and past them struct ext4_group_desc's _hi halves
// (Documentation/filesystems/ext4/group_descr.rst). Little-endian.
const BLOCK_BITMAP = 0x00; // u32
const INODE_BITMAP = 0x04; // u32
const INODE_TABLE = 0x08; // u32
const FREE_BLOCKS = 0x0c; // u16
const FREE_INODES = 0x0e; // u16
const USED_DIRS = 0x10; // u16
const FLAGS = 0x12; // u16, bg_flags (ext4's; mke2fs sets it on ext2 too)
const ITABLE_UNUSED = 0x1c; // u16, bg_itable_unused (ext4's): inodes at the table's end never used
/** Where a field's high half lies in a descriptor of 64 bytes or more: 0x20 past its low half. */
const HI = 0x20;

/**
 * bg_flags bits of uninit_bg and metadata_csum (EXT4_BG_*): the inode or block bitmap was never
 * written; the inode table is zeroed.
 */
export const BG_INODE_UNINIT = 0x1;
export const BG_BLOCK_UNINIT = 0x2;
export const BG_INODE_ZEROED = 0x4;

/** A whole group descriptor, as mkfs writes one. */
export interface GroupDescriptor {
  blockBitmap: number;
  inodeBitmap: number;
  inodeTable: number;
  freeBlocks: number;
  freeInodes: number;
  usedDirs: number;
  flags: number;
}

/** Writes group g's 32-byte descriptor into `table`, the bytes of a descriptor table from its start. */
export function writeDescriptor(table: Uint8Array, g: number, d: GroupDescriptor): void {
  const at = g * GROUP_DESC_SIZE;
  setU32(table, at + BLOCK_BITMAP, d.blockBitmap);
  setU32(table, at + INODE_BITMAP, d.inodeBitmap);
  setU32(table, at + INODE_TABLE, d.inodeTable);
  setU16(table, at + FREE_BLOCKS, d.freeBlocks);
  setU16(table, at + FREE_INODES, d.freeInodes);
  setU16(table, at + USED_DIRS, d.usedDirs);
  setU16(table, at + FLAGS, d.flags);
}

export class Groups {
  private constructor(
    private readonly cache: BlockCache,
    private readonly geo: Geometry,
    /** The superblock's s_uuid, which uninit_bg's CRC-16 covers. */
    private readonly uuid: Uint8Array,
  ) {}

  /** Sorted [first block, block count] of every group's bitmaps and inode table. */
  private tables: [number, number][] = [];

  /**
   * Reads and pins the descriptor table, verifies each descriptor's bg_checksum (metadata_csum
   * or uninit_bg) and checks where each group's metadata lies. Errors: EUCLEAN naming the group.
   */
  static async load(cache: BlockCache, geo: Geometry, uuid: Uint8Array): Promise<Groups> {
    const first = geo.firstDataBlock + 1;
    await cache.getRun(first, geo.gdtBlocks);
    for (let i = 0; i < geo.gdtBlocks; i++) cache.pin(first + i);
    const groups = new Groups(cache, geo, uuid);
    for (let g = 0; g < geo.groups; g++) groups.checkChecksum(g);
    for (let g = 0; g < geo.groups; g++) groups.checkLayout(g);
    groups.tables = groups.listTables();
    return groups;
  }

  get count(): number {
    return this.geo.groups;
  }

  /** The first block of group g. */
  firstBlock(g: number): number {
    return this.geo.firstDataBlock + g * this.geo.blocksPerGroup;
  }

  /** How many blocks group g has (the last one may be short). */
  blocksIn(g: number): number {
    return Math.min(this.geo.blocksPerGroup, this.geo.blocksCount - this.firstBlock(g));
  }

  groupOfBlock(b: number): number {
    return Math.floor((b - this.geo.firstDataBlock) / this.geo.blocksPerGroup);
  }

  groupOfInode(ino: number): number {
    return Math.floor((ino - 1) / this.geo.inodesPerGroup);
  }

  blockBitmap(g: number): number { return this.u64(g, BLOCK_BITMAP); }
  inodeBitmap(g: number): number { return this.u64(g, INODE_BITMAP); }
  inodeTable(g: number): number { return this.u64(g, INODE_TABLE); }
  freeBlocks(g: number): number { return this.u32of16(g, FREE_BLOCKS); }
  freeInodes(g: number): number { return this.u32of16(g, FREE_INODES); }
  usedDirs(g: number): number { return this.u32of16(g, USED_DIRS); }

  addFreeBlocks(g: number, delta: number): void {
    this.add16(g, FREE_BLOCKS, delta, this.blocksIn(g), 'free block');
  }
  addFreeInodes(g: number, delta: number): void {
    this.add16(g, FREE_INODES, delta, this.geo.inodesPerGroup, 'free inode');
  }
  addUsedDirs(g: number, delta: number): void {
    this.add16(g, USED_DIRS, delta, this.geo.inodesPerGroup, 'directory');
  }

  totalFreeBlocks(): number {
    let n = 0;
    for (let g = 0; g < this.geo.groups; g++) n += this.freeBlocks(g);
    return n;
  }

  totalFreeInodes(): number {
    let n = 0;
    for (let g = 0; g < this.geo.groups; g++) n += this.freeInodes(g);
    return n;
  }

  /**
   * Why this driver must not write here, or null: a group marked uninitialised (BLOCK_UNINIT,
   * INODE_UNINIT, or inodes counted unused), which only uninit_bg and metadata_csum file
   * systems keep up to date (those are read-only here anyway). This driver keeps neither, so
   * an inode or block it allocated there would be new damage to e2fsck (e2fsprogs'
   * f_uninit_disable).
   */
  uninitialisedReason(): string | null {
    for (let g = 0; g < this.geo.groups; g++) {
      const marks = [
        this.u16(g, FLAGS) & BG_INODE_UNINIT ? 'INODE_UNINIT' : '', this.u16(g, FLAGS) & BG_BLOCK_UNINIT ? 'BLOCK_UNINIT' : '',
        this.u16(g, ITABLE_UNUSED) !== 0 ? `${this.u16(g, ITABLE_UNUSED)} unused inodes` : '',
      ].filter((m) => m !== '');
      if (marks.length > 0) return `group ${g} is marked uninitialised (${marks.join(', ')}), which this driver does not keep up to date`;
    }
    return null;
  }

  /**
   * Whether b is a superblock or descriptor copy (reserved descriptor blocks included), a
   * bitmap or an inode table block: such a block is never file data and never allocated.
   */
  isMetadata(b: number): boolean {
    const geo = this.geo;
    if (b < geo.firstDataBlock || b >= geo.blocksCount) return true;
    const g = this.groupOfBlock(b);
    if (b - this.firstBlock(g) < this.reservedIn(g)) return true;
    // The last table starting at or before b (binary search), and whether b lies in it.
    let lo = 0;
    let hi = this.tables.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.tables[mid][0] <= b) lo = mid;
      else hi = mid - 1;
    }
    const t = this.tables[lo];
    return t !== undefined && t[0] <= b && b < t[0] + t[1];
  }

  /** Blocks at the start of group g that hold a superblock and descriptor copy. */
  private reservedIn(g: number): number {
    return this.geo.hasSuperblock(g) ? 1 + this.geo.gdtBlocks + this.geo.reservedGdtBlocks : 0;
  }

  private listTables(): [number, number][] {
    const out: [number, number][] = [];
    for (let g = 0; g < this.geo.groups; g++) {
      out.push([this.blockBitmap(g), 1], [this.inodeBitmap(g), 1], [this.inodeTable(g), this.geo.inodeTableBlocks]);
    }
    return out.sort((a, b) => a[0] - b[0]);
  }

  /** Verifies bg_checksum: crc32c's low half with metadata_csum, CRC-16 with uninit_bg. */
  private checkChecksum(g: number): void {
    const { csumSeed, gdtCsum, descSize } = this.geo;
    if (csumSeed === null && !gdtCsum) return;
    const { block, offset } = this.where(g);
    const desc = this.cache.pinned(block).subarray(offset, offset + descSize);
    const want = csumSeed !== null ? groupDescChecksum(csumSeed, g, desc) : groupDescChecksum16(this.uuid, g, desc);
    const stored = u16(desc, BG_CHECKSUM);
    if (stored !== want) throw corrupt(`group ${g}'s descriptor checksum is 0x${stored.toString(16)}, but its bytes give 0x${want.toString(16)}`);
  }

  /**
   * Each bitmap and the inode table lie in the group, past its superblock copy — or, with
   * flex_bg, anywhere in the file system past group 0's superblock and descriptors — and its
   * free counts are at most what it holds.
   */
  private checkLayout(g: number): void {
    const start = this.geo.flexBg ? this.geo.firstDataBlock : this.firstBlock(g);
    const end = this.geo.flexBg ? this.geo.blocksCount : this.firstBlock(g) + this.blocksIn(g);
    const reservedEnd = start + this.reservedIn(this.geo.flexBg ? 0 : g);
    const where = this.geo.flexBg ? "the file system's" : "the group's";
    const inside = (b: number, n: number) => b >= reservedEnd && b + n <= end;
    if (!inside(this.blockBitmap(g), 1)) throw corrupt(`group ${g}'s block bitmap is at block ${this.blockBitmap(g)}, outside ${where} blocks ${reservedEnd}–${end - 1}`);
    if (!inside(this.inodeBitmap(g), 1)) throw corrupt(`group ${g}'s inode bitmap is at block ${this.inodeBitmap(g)}, outside ${where} blocks ${reservedEnd}–${end - 1}`);
    if (!inside(this.inodeTable(g), this.geo.inodeTableBlocks)) {
      throw corrupt(`group ${g}'s inode table at block ${this.inodeTable(g)} does not fit in ${where} blocks ${reservedEnd}–${end - 1}`);
    }
    // Counts past what the group holds would make statfs (and allocation) believe in space that is not there.
    if (this.freeBlocks(g) > this.blocksIn(g)) throw corrupt(`group ${g} counts ${this.freeBlocks(g)} free blocks, but has ${this.blocksIn(g)}`);
    if (this.freeInodes(g) > this.geo.inodesPerGroup) throw corrupt(`group ${g} counts ${this.freeInodes(g)} free inodes, but has ${this.geo.inodesPerGroup}`);
  }

  private where(g: number): { block: number; offset: number } {
    const at = g * this.geo.descSize;
    return { block: this.geo.firstDataBlock + 1 + Math.floor(at / this.geo.blockSize), offset: at % this.geo.blockSize };
  }

  /** A block number: its u32 low half, and with 64-byte descriptors the high half HI bytes on. */
  private u64(g: number, field: number): number {
    return this.u32(g, field) + (this.geo.descSize >= 64 ? this.u32(g, field + HI) * 2 ** 32 : 0);
  }

  /** A count: its u16 low half, and with 64-byte descriptors the high half HI bytes on. */
  private u32of16(g: number, field: number): number {
    return this.u16(g, field) + (this.geo.descSize >= 64 ? this.u16(g, field + HI) * 0x10000 : 0);
  }

  private u32(g: number, field: number): number {
    const { block, offset } = this.where(g);
    return u32(this.cache.pinned(block), offset + field);
  }

  private u16(g: number, field: number): number {
    const { block, offset } = this.where(g);
    return u16(this.cache.pinned(block), offset + field);
  }

  private add16(g: number, field: number, delta: number, max: number, what: string): void {
    const v = this.u16(g, field) + delta;
    if (v < 0 || v > max) throw corrupt(`group ${g}'s ${what} count would become ${v} (out of 0–${max})`);
    const { block, offset } = this.where(g);
    setU16(this.cache.modifyPinned(block), offset + field, v);
  }
}
