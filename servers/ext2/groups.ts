// Block groups: the group descriptor table (pinned in the cache for the life of the mount),
// where each group's bitmaps and inode table lie, and which blocks are metadata that no file
// may own or the allocator hand out. Descriptors are 32 bytes, or s_desc_size with ext4's
// 64bit (the _hi halves of block numbers and counts); with metadata_csum or uninit_bg each
// carries a checksum, verified when the table is loaded. With flex_bg a group's bitmaps and
// inode table may lie in another group: their places are read from the descriptors only.
//
// Lazily initialised groups (uninit_bg or metadata_csum; Documentation/filesystems/ext4/
// blockgroup.rst, "Lazy Block Group Initialization"): a BLOCK_UNINIT group's block bitmap and an
// INODE_UNINIT group's inode bitmap were never written; they are made here on first use, as
// fs/ext4/balloc.c ext4_init_block_bitmap and ialloc.c ext4_init_inode_bitmap make them.
// bg_itable_unused, INODE_UNINIT and BLOCK_UNINIT are then kept as e2fsprogs computes them
// (ext2fs_set_gdt_csum): the used part of the inode table ends after its last inode in use, a
// group with no inode in use is INODE_UNINIT, one (but the last) with every block free
// BLOCK_UNINIT. (Linux only ever lowers bg_itable_unused and clears the flags.) Checksums (bg_checksum, and with
// metadata_csum the bitmap checksums) are stamped by seal(), once per commit; a bitmap's
// checksum is verified the first time the mount reads it.

import { setU16, setU32, u16, u32 } from './bytes.js';
import { isSet, setBits } from './bitmap.js';
import type { BlockCache } from './cache.js';
import { BG_CHECKSUM, bitmapChecksum, groupDescChecksum, groupDescChecksum16 } from './csum.js';
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
const BLOCK_BITMAP_CSUM = 0x18; // u16, bg_block_bitmap_csum_lo (metadata_csum)
const INODE_BITMAP_CSUM = 0x1a; // u16, bg_inode_bitmap_csum_lo
const ITABLE_UNUSED = 0x1c; // u16, bg_itable_unused_lo (ext4's): inodes at the table's end never used
/** Where a field's high half lies in a descriptor of 64 bytes or more: 0x20 past its low half… */
const HI = 0x20;
/** …but for bg_itable_unused_hi. */
const ITABLE_UNUSED_HI = 0x32;
/** The bitmap checksums' high halves are there when s_desc_size reaches past them (EXT4_BG_*_BITMAP_CSUM_HI_END). */
const BITMAP_CSUM_HI_END = 0x3c;

/** Which of a group's structures changed since the last seal (or, in `verified`, were checked). */
const BLOCK_BITS = 1;
const INODE_BITS = 2;
const DESCRIPTOR = 4;

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
  /** Per group, what changed since the last seal(): BLOCK_BITS, INODE_BITS, DESCRIPTOR. */
  private readonly changed = new Map<number, number>();
  /** Per group, the bitmaps whose checksum this mount has verified (BLOCK_BITS, INODE_BITS). */
  private readonly verified: Uint8Array;

  private constructor(
    private readonly cache: BlockCache,
    private readonly geo: Geometry,
    /** The superblock's s_uuid, which uninit_bg's CRC-16 covers. */
    private readonly uuid: Uint8Array,
  ) {
    this.verified = new Uint8Array(geo.groups);
  }

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

  /** bg_flags: BG_INODE_UNINIT, BG_BLOCK_UNINIT, BG_INODE_ZEROED. */
  flags(g: number): number { return this.u16(g, FLAGS); }
  /** bg_itable_unused: inodes at the end of the group's table never used (0 without uninit_bg or metadata_csum). */
  itableUnused(g: number): number { return this.lazy ? this.halves(g, ITABLE_UNUSED, ITABLE_UNUSED_HI) : 0; }

  /** Adds to group g's free block count; a group (but the last) left with every block free becomes BLOCK_UNINIT again. */
  addFreeBlocks(g: number, delta: number): void {
    this.add(g, FREE_BLOCKS, FREE_BLOCKS + HI, delta, this.blocksIn(g), 'free block');
    if (this.lazy && this.freeBlocks(g) === this.geo.blocksPerGroup && g !== this.geo.groups - 1) this.setFlags(g, this.flags(g) | BG_BLOCK_UNINIT);
  }
  addFreeInodes(g: number, delta: number): void {
    this.add(g, FREE_INODES, FREE_INODES + HI, delta, this.geo.inodesPerGroup, 'free inode');
  }
  addUsedDirs(g: number, delta: number): void {
    this.add(g, USED_DIRS, USED_DIRS + HI, delta, this.geo.inodesPerGroup, 'directory');
  }

  /**
   * Group g's block bitmap, for reading. A BLOCK_UNINIT group's is made first (a change of the
   * current op). With metadata_csum, the first read of each is checked against
   * bg_block_bitmap_csum: EUCLEAN naming the group and the bitmap.
   */
  async blockBits(g: number): Promise<Uint8Array> {
    if (this.lazy && this.flags(g) & BG_BLOCK_UNINIT) return this.initBlockBitmap(g);
    const buf = await this.cache.get(this.blockBitmap(g));
    this.verifyBitmap(g, BLOCK_BITS, buf);
    return buf;
  }

  /** Group g's block bitmap for changing (dirty in the cache; its checksum is stamped at the next seal). */
  async changeBlockBits(g: number): Promise<Uint8Array> {
    await this.blockBits(g);
    this.note(g, BLOCK_BITS);
    return this.cache.modify(this.blockBitmap(g));
  }

  /**
   * Group g's inode bitmap, for reading: as blockBits. An INODE_UNINIT group's is made first —
   * and its block bitmap too if it is BLOCK_UNINIT, as Linux's __ext4_new_inode does.
   */
  async inodeBits(g: number): Promise<Uint8Array> {
    if (this.lazy && this.flags(g) & BG_INODE_UNINIT) {
      if (this.flags(g) & BG_BLOCK_UNINIT) this.initBlockBitmap(g);
      return this.initInodeBitmap(g);
    }
    const buf = await this.cache.get(this.inodeBitmap(g));
    this.verifyBitmap(g, INODE_BITS, buf);
    return buf;
  }

  /** Group g's inode bitmap for changing, as changeBlockBits. */
  async changeInodeBits(g: number): Promise<Uint8Array> {
    await this.inodeBits(g);
    this.note(g, INODE_BITS);
    return this.cache.modify(this.inodeBitmap(g));
  }

  /**
   * Inode `index` (0-based) of group g was just marked in use. If it lies past the used part of
   * the inode table, the used part grows to hold it (bg_itable_unused lowered), its records
   * zeroed first when the table is not (no BG_INODE_ZEROED: mke2fs's lazy_itable_init left
   * whatever the image held there).
   */
  async noteInodeUsed(g: number, index: number): Promise<void> {
    if (!this.lazy) return;
    const ipg = this.geo.inodesPerGroup;
    const usedEnd = ipg - this.itableUnused(g);
    if (index < usedEnd) return;
    if (!(this.flags(g) & BG_INODE_ZEROED)) {
      const { inodeSize, blockSize } = this.geo;
      for (let i = usedEnd; i <= index; i++) {
        const byte = i * inodeSize;
        const at = byte % blockSize;
        (await this.cache.modify(this.inodeTable(g) + Math.floor(byte / blockSize))).fill(0, at, at + inodeSize);
      }
    }
    this.setItableUnused(g, ipg - index - 1);
  }

  /**
   * An inode of group g was just freed (`bitmap` is the group's inode bitmap, changed): the
   * used part of the table ends after the last inode still in use, and a group with none in use
   * is INODE_UNINIT again, as e2fsprogs computes them.
   */
  noteInodeFreed(g: number, bitmap: Uint8Array): void {
    if (!this.lazy) return;
    const ipg = this.geo.inodesPerGroup;
    if (this.freeInodes(g) === ipg) {
      this.setFlags(g, this.flags(g) | BG_INODE_UNINIT);
      this.setItableUnused(g, ipg);
      return;
    }
    // From the table's end, not from the used part's: an inode in use that the count wrongly
    // calls unused must not be left out of it.
    let last = ipg - 1;
    while (last >= 0 && !isSet(bitmap, last)) last--;
    this.setItableUnused(g, ipg - (last + 1));
  }

  /**
   * Stamps the checksums of every group changed since the last seal: with metadata_csum those
   * of its changed bitmaps (not of an uninitialised one, which nothing reads), then bg_checksum
   * (crc32c's low half, or uninit_bg's CRC-16). Called once per commit, inside a cache op.
   */
  async seal(): Promise<void> {
    const seed = this.geo.csumSeed;
    for (const [g, what] of this.changed) {
      if (seed !== null && what & BLOCK_BITS && !(this.flags(g) & BG_BLOCK_UNINIT)) {
        this.setBitmapChecksum(g, BLOCK_BITMAP_CSUM, bitmapChecksum(seed, await this.cache.get(this.blockBitmap(g)), this.geo.blocksPerGroup));
      }
      if (seed !== null && what & INODE_BITS && !(this.flags(g) & BG_INODE_UNINIT)) {
        this.setBitmapChecksum(g, INODE_BITMAP_CSUM, bitmapChecksum(seed, await this.cache.get(this.inodeBitmap(g)), this.geo.inodesPerGroup));
      }
      if (this.lazy) this.set16(g, BG_CHECKSUM, this.descriptorChecksum(g));
    }
    this.changed.clear();
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
   * INODE_UNINIT, or inodes counted unused) on a file system without uninit_bg or
   * metadata_csum, which alone declare those marks: e2fsck would take an inode or block
   * allocated there as new damage (e2fsprogs' f_uninit_disable).
   */
  uninitialisedReason(): string | null {
    if (this.lazy) return null;
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
    const t = this.tables[this.tableAtOrBefore(b)];
    return t !== undefined && t[0] <= b && b < t[0] + t[1];
  }

  /** The index in `tables` of the last table starting at or before b (binary search), or 0. */
  private tableAtOrBefore(b: number): number {
    let lo = 0;
    let hi = this.tables.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.tables[mid][0] <= b) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Whether group descriptors carry bg_checksum and the lazy-initialisation fields (uninit_bg or metadata_csum). */
  private get lazy(): boolean {
    return this.geo.csumSeed !== null || this.geo.gdtCsum;
  }

  /**
   * Makes a BLOCK_UNINIT group's block bitmap (ext4_init_block_bitmap): its superblock and
   * descriptor copy, and the bitmaps and inode tables that lie in it (with flex_bg, those of
   * other groups packed there), in use; the bits past its blocks set. Its free count must be
   * what that leaves, or the descriptor is damaged. The flag is cleared.
   */
  private initBlockBitmap(g: number): Uint8Array {
    const buf = this.cache.fresh(this.blockBitmap(g));
    const first = this.firstBlock(g);
    const end = first + this.blocksIn(g);
    setBits(buf, 0, this.reservedIn(g));
    for (let i = this.tableAtOrBefore(first); i < this.tables.length && this.tables[i][0] < end; i++) {
      const [start, length] = this.tables[i];
      if (start + length > first) setBits(buf, Math.max(start, first) - first, Math.min(start + length, end) - first);
    }
    setBits(buf, end - first, this.geo.blockSize * 8);
    let free = 0;
    for (let bit = 0; bit < end - first; bit++) if (!isSet(buf, bit)) free++;
    if (free !== this.freeBlocks(g)) throw corrupt(`group ${g} is BLOCK_UNINIT and counts ${this.freeBlocks(g)} free blocks, but its metadata leaves ${free}`);
    this.setFlags(g, this.flags(g) & ~BG_BLOCK_UNINIT);
    this.madeBitmap(g, BLOCK_BITS);
    return buf;
  }

  /** Makes an INODE_UNINIT group's inode bitmap (ext4_init_inode_bitmap): no inode in use, the bits past inodes_per_group set. */
  private initInodeBitmap(g: number): Uint8Array {
    const ipg = this.geo.inodesPerGroup;
    if (this.freeInodes(g) !== ipg) throw corrupt(`group ${g} is INODE_UNINIT but counts ${this.freeInodes(g)} free inodes of ${ipg}`);
    const buf = this.cache.fresh(this.inodeBitmap(g));
    setBits(buf, ipg, this.geo.blockSize * 8);
    this.setFlags(g, this.flags(g) & ~BG_INODE_UNINIT);
    this.madeBitmap(g, INODE_BITS);
    return buf;
  }

  /** With metadata_csum, checks a bitmap read for the first time against its checksum in the descriptor. */
  private verifyBitmap(g: number, which: number, buf: Uint8Array): void {
    const seed = this.geo.csumSeed;
    if (seed === null || this.verified[g] & which) return;
    const [field, bits, name] = which === BLOCK_BITS ? [BLOCK_BITMAP_CSUM, this.geo.blocksPerGroup, 'block'] : [INODE_BITMAP_CSUM, this.geo.inodesPerGroup, 'inode'];
    const full = this.geo.descSize >= BITMAP_CSUM_HI_END;
    const want = full ? bitmapChecksum(seed, buf, bits) : bitmapChecksum(seed, buf, bits) & 0xffff;
    const stored = full ? (this.u16(g, field) | (this.u16(g, field + HI) << 16)) >>> 0 : this.u16(g, field);
    if (stored !== want) throw corrupt(`group ${g}'s ${name} bitmap checksum is 0x${stored.toString(16)}, but its bytes give 0x${want.toString(16)}`);
    this.verified[g] |= which;
  }

  private setBitmapChecksum(g: number, field: number, sum: number): void {
    this.set16(g, field, sum & 0xffff);
    if (this.geo.descSize >= BITMAP_CSUM_HI_END) this.set16(g, field + HI, sum >>> 16);
  }

  private setFlags(g: number, flags: number): void {
    this.set16(g, FLAGS, flags);
  }

  private setItableUnused(g: number, n: number): void {
    this.set16(g, ITABLE_UNUSED, n & 0xffff);
    if (this.geo.descSize >= 64) this.set16(g, ITABLE_UNUSED_HI, n >>> 16);
  }

  /** bg_checksum as group g's descriptor bytes give it (metadata_csum or uninit_bg). */
  private descriptorChecksum(g: number): number {
    const { block, offset } = this.where(g);
    const desc = this.cache.pinned(block).subarray(offset, offset + this.geo.descSize);
    return this.geo.csumSeed !== null ? groupDescChecksum(this.geo.csumSeed, g, desc) : groupDescChecksum16(this.uuid, g, desc);
  }

  /** A bitmap made here: its checksum is stamped at the next seal, and until then nothing verifies it. */
  private madeBitmap(g: number, which: number): void {
    this.note(g, which);
    this.verified[g] |= which;
  }

  private note(g: number, what: number): void {
    this.changed.set(g, (this.changed.get(g) ?? 0) | what);
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
    if (!this.lazy) return;
    const want = this.descriptorChecksum(g);
    const stored = this.u16(g, BG_CHECKSUM);
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
    // An unused part larger than the table would send the first inode allocation zeroing
    // records before the table (noteInodeUsed).
    if (this.itableUnused(g) > this.geo.inodesPerGroup) throw corrupt(`group ${g} counts ${this.itableUnused(g)} unused inode table entries, but has ${this.geo.inodesPerGroup}`);
    const inUse = this.geo.inodesPerGroup - this.freeInodes(g);
    if (this.usedDirs(g) > inUse) throw corrupt(`group ${g} counts ${this.usedDirs(g)} directories, but only ${inUse} inodes in use`);
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
    return this.halves(g, field, field + HI);
  }

  /** A count whose u16 halves lie at `lo` and (with 64-byte descriptors) `hi`. */
  private halves(g: number, lo: number, hi: number): number {
    return this.u16(g, lo) + (this.geo.descSize >= 64 ? this.u16(g, hi) * 0x10000 : 0);
  }

  private u32(g: number, field: number): number {
    const { block, offset } = this.where(g);
    return u32(this.cache.pinned(block), offset + field);
  }

  private u16(g: number, field: number): number {
    const { block, offset } = this.where(g);
    return u16(this.cache.pinned(block), offset + field);
  }

  /** Adds to a count whose halves lie at `lo` and `hi` (the latter with 64-byte descriptors only). */
  private add(g: number, lo: number, hi: number, delta: number, max: number, what: string): void {
    const v = this.halves(g, lo, hi) + delta;
    if (v < 0 || v > max) throw corrupt(`group ${g}'s ${what} count would become ${v} (out of 0–${max})`);
    this.set16(g, lo, v & 0xffff);
    if (this.geo.descSize >= 64) this.set16(g, hi, v >>> 16);
  }

  private set16(g: number, field: number, v: number): void {
    const { block, offset } = this.where(g);
    setU16(this.cache.modifyPinned(block), offset + field, v);
    this.note(g, DESCRIPTOR);
  }
}
