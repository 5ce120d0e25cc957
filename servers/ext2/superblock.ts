// The superblock: 1024 bytes at byte 1024 of the image. Its fields are read and written in
// place in the raw bytes, so fields this driver does not know survive a rewrite unchanged.
// `checkFeatures` first refuses what is not ext2 or uses features this driver cannot read (a
// bigalloc or journal device superblock means other things by the same numbers); then
// `geometryOf` checks that the numbers describe a file system that fits the device before
// anything else trusts them.

import { SysError } from '../../kernel/api.js';
import { INCOMPAT_CSUM_SEED, RO_COMPAT_GDT_CSUM, RO_COMPAT_METADATA_CSUM, S_CHECKSUM, checksumSeed, superblockChecksum } from './csum.js';
import { corrupt } from './errors.js';

export const SUPERBLOCK_OFFSET = 1024;
export const SUPERBLOCK_SIZE = 1024;
export const EXT2_MAGIC = 0xef53;
/** Inode size, and first non-reserved inode, of revision 0 (EXT2_GOOD_OLD_*). */
export const GOOD_OLD_INODE_SIZE = 128;
export const GOOD_OLD_FIRST_INO = 11;
/** Largest file without large_file: i_size read as a signed 32-bit number. */
export const MAX_SIZE_WITHOUT_LARGE_FILE = 2 ** 31 - 1;

/** s_state bits: unmounted cleanly (EXT2_VALID_FS), errors detected (EXT2_ERROR_FS). */
export const STATE_CLEAN = 1;
export const STATE_ERRORS = 2;
/** s_errors: what to do on meeting corruption (EXT2_ERRORS_*). */
export const ERRORS_CONTINUE = 1;
export const ERRORS_RO = 2;
export const ERRORS_PANIC = 3;
/** s_first/last_error_errcode of corruption (EXT4_ERR_EFSCORRUPTED, as e2fsprogs' e2p_errcode2str names it). */
const ERRCODE_EFSCORRUPTED = 5;

/** A jbd2 journal: in inode s_journal_inum, or on the device s_journal_dev / s_journal_uuid names. */
export const COMPAT_HAS_JOURNAL = 0x4;
export const COMPAT_RESIZE_INODE = 0x10;
/** Directories may carry an htree index (INDEX_FL). */
export const COMPAT_DIR_INDEX = 0x20;
/** s_flags: directory hashes treat name bytes as unsigned chars. */
const FLAGS_UNSIGNED_HASH = 0x2;
export const COMPAT_SPARSE_SUPER2 = 0x200;
export const INCOMPAT_FILETYPE = 0x2;
/** needs_recovery: the journal holds transactions not yet written home (the mount recovers them: journal.ts). */
export const INCOMPAT_RECOVER = 0x4;
/** ext4's extent trees, 64-bit group descriptors, flex_bg (Documentation/filesystems/ext4/super.rst). */
export const INCOMPAT_EXTENTS = 0x40;
export const INCOMPAT_64BIT = 0x80;
export const INCOMPAT_FLEX_BG = 0x200;
/** RO_COMPAT huge_file: i_blocks_hi, and i_blocks in file system blocks with EXT4_HUGE_FILE_FL. */
export const RO_COMPAT_HUGE_FILE = 0x8;
export const RO_COMPAT_SPARSE_SUPER = 0x1;
export const RO_COMPAT_LARGE_FILE = 0x2;
/** RO_COMPAT dir_nlink: an indexed directory past EXT4_LINK_MAX subdirectories has i_links_count 1. */
export const RO_COMPAT_DIR_NLINK = 0x20;
/** RO_COMPAT extra_isize: new inodes get at least s_min_extra_isize, and s_want_extra_isize, extra bytes. */
export const RO_COMPAT_EXTRA_ISIZE = 0x40;
/** Blocks allocated in clusters: bitmaps and group sizes count clusters, not blocks. */
export const RO_COMPAT_BIGALLOC = 0x200;

/** What this driver reads and writes (needs_recovery: once the mount has recovered the journal); any other INCOMPAT bit refuses the mount. */
const INCOMPAT_SUPPORTED = INCOMPAT_FILETYPE | INCOMPAT_RECOVER | INCOMPAT_EXTENTS | INCOMPAT_64BIT | INCOMPAT_FLEX_BG | INCOMPAT_CSUM_SEED;
/** RO_COMPAT bits that change the meaning of the geometry: refused like unknown INCOMPAT bits. */
const RO_COMPAT_UNREADABLE = RO_COMPAT_BIGALLOC;
/** What it writes; any other RO_COMPAT bit makes the mount read-only. */
const RO_COMPAT_SUPPORTED = RO_COMPAT_SPARSE_SUPER | RO_COMPAT_LARGE_FILE | RO_COMPAT_HUGE_FILE | RO_COMPAT_GDT_CSUM | RO_COMPAT_DIR_NLINK
  | RO_COMPAT_EXTRA_ISIZE | RO_COMPAT_METADATA_CSUM;

const INCOMPAT_NAMES: Record<number, string> = {
  0x1: 'compression', [INCOMPAT_FILETYPE]: 'filetype', [INCOMPAT_RECOVER]: 'needs_recovery', 0x8: 'journal_dev', 0x10: 'meta_bg',
  0x40: 'extent', 0x80: '64bit', 0x100: 'mmp', 0x200: 'flex_bg', 0x400: 'ea_inode', 0x1000: 'dirdata',
  0x2000: 'metadata_csum_seed', 0x4000: 'large_dir', 0x8000: 'inline_data', 0x10000: 'encrypt', 0x20000: 'casefold',
};
const RO_COMPAT_NAMES: Record<number, string> = {
  [RO_COMPAT_SPARSE_SUPER]: 'sparse_super', [RO_COMPAT_LARGE_FILE]: 'large_file', 0x4: 'btree_dir', 0x8: 'huge_file', 0x10: 'uninit_bg', 0x20: 'dir_nlink',
  0x40: 'extra_isize', 0x100: 'quota', [RO_COMPAT_BIGALLOC]: 'bigalloc', 0x400: 'metadata_csum', 0x800: 'replica', 0x1000: 'read-only',
  0x2000: 'project', 0x4000: 'shared_blocks', 0x8000: 'verity', 0x10000: 'orphan_present',
};

function featureNames(bits: number, names: Record<number, string>): string {
  const out: string[] = [];
  for (let bit = 1; bit !== 0 && bit <= bits; bit = (bit << 1) >>> 0) {
    if (bits & bit) out.push(names[bit] ?? `0x${bit.toString(16)}`);
  }
  return out.join(', ');
}

// Where each field this driver reads or writes lies: Linux's struct ext2_super_block
// (fs/ext2/ext2.h), and past it struct ext4_super_block (Documentation/filesystems/ext4/
// super.rst) for the fields mke2fs also fills in. Little-endian; u32 unless marked.
const S_INODES_COUNT = 0x00;
const S_BLOCKS_COUNT = 0x04;
const S_R_BLOCKS_COUNT = 0x08;
const S_FREE_BLOCKS_COUNT = 0x0c;
const S_FREE_INODES_COUNT = 0x10;
const S_FIRST_DATA_BLOCK = 0x14;
const S_LOG_BLOCK_SIZE = 0x18;
const S_LOG_FRAG_SIZE = 0x1c;
const S_BLOCKS_PER_GROUP = 0x20;
const S_FRAGS_PER_GROUP = 0x24;
const S_INODES_PER_GROUP = 0x28;
const S_MTIME = 0x2c;
const S_WTIME = 0x30;
const S_MNT_COUNT = 0x34; // u16
const S_MAX_MNT_COUNT = 0x36; // u16
const S_MAGIC = 0x38; // u16
const S_STATE = 0x3a; // u16
const S_ERRORS = 0x3c; // u16
const S_LASTCHECK = 0x40;
const S_REV_LEVEL = 0x4c;
// From here on, revision 1 only.
const S_FIRST_INO = 0x54;
const S_INODE_SIZE = 0x58; // u16
const S_BLOCK_GROUP_NR = 0x5a; // u16
const S_FEATURE_COMPAT = 0x5c;
const S_FEATURE_INCOMPAT = 0x60;
const S_FEATURE_RO_COMPAT = 0x64;
const S_UUID = 0x68; // 16 bytes
const S_VOLUME_NAME = 0x78; // 16 bytes
const S_RESERVED_GDT_BLOCKS = 0xce; // u16
const S_JOURNAL_UUID = 0xd0; // 16 bytes
const S_JOURNAL_INUM = 0xe0;
const S_JOURNAL_DEV = 0xe4;
const S_LAST_ORPHAN = 0xe8;
const S_DESC_SIZE = 0xfe; // u16, with 64bit
const S_HASH_SEED = 0xec; // 16 bytes
const S_DEF_HASH_VERSION = 0xfc; // u8
const S_DEFAULT_MOUNT_OPTS = 0x100;
const S_MKFS_TIME = 0x108;
const S_MIN_EXTRA_ISIZE = 0x15c; // u16
const S_WANT_EXTRA_ISIZE = 0x15e; // u16
const S_FLAGS = 0x160;
const S_BLOCKS_COUNT_HI = 0x150; // with 64bit
const S_FREE_BLOCKS_HI = 0x158; // with 64bit
const S_LOG_GROUPS_PER_FLEX = 0x174; // u8
const S_CHECKSUM_TYPE = 0x175; // u8, 1 = crc32c
// The error record (ext4's, which e2fsck and dumpe2fs read on any revision 1 file system).
const S_ERROR_COUNT = 0x194;
const S_FIRST_ERROR_TIME = 0x198;
const S_LAST_ERROR_TIME = 0x1cc;
const S_OVERHEAD_CLUSTERS = 0x248;
const S_BACKUP_BGS = 0x24c; // u32 × 2
const S_FIRST_ERROR_TIME_HI = 0x278; // u8
const S_LAST_ERROR_TIME_HI = 0x279; // u8
const S_FIRST_ERROR_ERRCODE = 0x27a; // u8
const S_LAST_ERROR_ERRCODE = 0x27b; // u8

/** Little-endian field access to the raw superblock bytes. */
export class Superblock {
  readonly raw: Uint8Array;
  private readonly view: DataView;

  constructor(raw: Uint8Array) {
    this.raw = raw;
    this.view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  }

  private u16(at: number): number { return this.view.getUint16(at, true); }
  private u32(at: number): number { return this.view.getUint32(at, true); }
  private set16(at: number, v: number): void { this.view.setUint16(at, v, true); }
  private set32(at: number, v: number): void { this.view.setUint32(at, v >>> 0, true); }

  get inodesCount() { return this.u32(S_INODES_COUNT); }
  set inodesCount(v) { this.set32(S_INODES_COUNT, v); }
  /** s_blocks_count_lo, with s_blocks_count_hi above it on a 64bit file system. */
  get blocksCount() { return this.u32(S_BLOCKS_COUNT) + (this.incompat & INCOMPAT_64BIT ? this.u32(S_BLOCKS_COUNT_HI) * 2 ** 32 : 0); }
  set blocksCount(v) { this.set32(S_BLOCKS_COUNT, v); }
  get reservedBlocks() { return this.u32(S_R_BLOCKS_COUNT); }
  set reservedBlocks(v) { this.set32(S_R_BLOCKS_COUNT, v); }
  /** s_free_blocks_count_lo, with s_free_blocks_count_hi above it on a 64bit file system. */
  get freeBlocks() { return this.u32(S_FREE_BLOCKS_COUNT) + (this.incompat & INCOMPAT_64BIT ? this.u32(S_FREE_BLOCKS_HI) * 2 ** 32 : 0); }
  set freeBlocks(v) {
    this.set32(S_FREE_BLOCKS_COUNT, v % 2 ** 32);
    if (this.incompat & INCOMPAT_64BIT) this.set32(S_FREE_BLOCKS_HI, Math.floor(v / 2 ** 32));
  }
  get freeInodes() { return this.u32(S_FREE_INODES_COUNT); }
  set freeInodes(v) { this.set32(S_FREE_INODES_COUNT, v); }
  get firstDataBlock() { return this.u32(S_FIRST_DATA_BLOCK); }
  set firstDataBlock(v) { this.set32(S_FIRST_DATA_BLOCK, v); }
  get logBlockSize() { return this.u32(S_LOG_BLOCK_SIZE); }
  set logBlockSize(v) { this.set32(S_LOG_BLOCK_SIZE, v); }
  set logFragSize(v: number) { this.set32(S_LOG_FRAG_SIZE, v); }
  get blocksPerGroup() { return this.u32(S_BLOCKS_PER_GROUP); }
  set blocksPerGroup(v) { this.set32(S_BLOCKS_PER_GROUP, v); }
  set fragsPerGroup(v: number) { this.set32(S_FRAGS_PER_GROUP, v); }
  get inodesPerGroup() { return this.u32(S_INODES_PER_GROUP); }
  set inodesPerGroup(v) { this.set32(S_INODES_PER_GROUP, v); }
  set mountTime(v: number) { this.set32(S_MTIME, v); }
  set writeTime(v: number) { this.set32(S_WTIME, v); }
  get mountCount() { return this.u16(S_MNT_COUNT); }
  set mountCount(v) { this.set16(S_MNT_COUNT, v); }
  set maxMountCount(v: number) { this.set16(S_MAX_MNT_COUNT, v); }
  get magic() { return this.u16(S_MAGIC); }
  set magic(v) { this.set16(S_MAGIC, v); }
  get state() { return this.u16(S_STATE); }
  set state(v) { this.set16(S_STATE, v); }
  /** What to do on meeting corruption: ERRORS_CONTINUE, ERRORS_RO or ERRORS_PANIC. */
  get errors() { return this.u16(S_ERRORS); }
  set errors(v) { this.set16(S_ERRORS, v); }
  set lastCheck(v: number) { this.set32(S_LASTCHECK, v); }
  get revLevel() { return this.u32(S_REV_LEVEL); }
  set revLevel(v) { this.set32(S_REV_LEVEL, v); }
  /** First non-reserved inode (GOOD_OLD_FIRST_INO in revision 0). */
  get firstIno() { return this.revLevel === 0 ? GOOD_OLD_FIRST_INO : this.u32(S_FIRST_INO); }
  set firstIno(v) { this.set32(S_FIRST_INO, v); }
  get inodeSize() { return this.revLevel === 0 ? GOOD_OLD_INODE_SIZE : this.u16(S_INODE_SIZE); }
  set inodeSize(v) { this.set16(S_INODE_SIZE, v); }
  set blockGroupNr(v: number) { this.set16(S_BLOCK_GROUP_NR, v); }
  get compat() { return this.revLevel === 0 ? 0 : this.u32(S_FEATURE_COMPAT); }
  set compat(v) { this.set32(S_FEATURE_COMPAT, v); }
  get incompat() { return this.revLevel === 0 ? 0 : this.u32(S_FEATURE_INCOMPAT); }
  set incompat(v) { this.set32(S_FEATURE_INCOMPAT, v); }
  get roCompat() { return this.revLevel === 0 ? 0 : this.u32(S_FEATURE_RO_COMPAT); }
  set roCompat(v) { this.set32(S_FEATURE_RO_COMPAT, v); }
  get uuid() { return this.raw.subarray(S_UUID, S_UUID + 16); }
  get volumeName() { return this.raw.subarray(S_VOLUME_NAME, S_VOLUME_NAME + 16); }
  get reservedGdtBlocks() { return this.compat & COMPAT_RESIZE_INODE ? this.u16(S_RESERVED_GDT_BLOCKS) : 0; }
  set reservedGdtBlocks(v: number) { this.set16(S_RESERVED_GDT_BLOCKS, v); }
  /** The journal's inode (0 for an external journal, or none). */
  get journalInum() { return this.u32(S_JOURNAL_INUM); }
  set journalInum(v: number) { this.set32(S_JOURNAL_INUM, v); }
  /** s_last_orphan: the first inode of the orphan list (orphans.ts), 0 for none. */
  get lastOrphan() { return this.u32(S_LAST_ORPHAN); }
  set lastOrphan(v: number) { this.set32(S_LAST_ORPHAN, v); }
  /** An external journal's device number, and its uuid. */
  get journalDev() { return this.u32(S_JOURNAL_DEV); }
  get journalUuid() { return this.raw.subarray(S_JOURNAL_UUID, S_JOURNAL_UUID + 16); }
  get hashSeed() { return this.raw.subarray(S_HASH_SEED, S_HASH_SEED + 16); }
  set defHashVersion(v: number) { this.raw[S_DEF_HASH_VERSION] = v; }
  set defaultMountOptions(v: number) { this.set32(S_DEFAULT_MOUNT_OPTS, v); }
  set mkfsTime(v: number) { this.set32(S_MKFS_TIME, v); }
  get minExtraIsize() { return this.u16(S_MIN_EXTRA_ISIZE); }
  set minExtraIsize(v: number) { this.set16(S_MIN_EXTRA_ISIZE, v); }
  get wantExtraIsize() { return this.u16(S_WANT_EXTRA_ISIZE); }
  set wantExtraIsize(v: number) { this.set16(S_WANT_EXTRA_ISIZE, v); }
  set flags(v: number) { this.set32(S_FLAGS, v); }
  /** s_flags: which directory hash is unsigned (EXT2_FLAGS_UNSIGNED_HASH 0x2, EXT2_FLAGS_SIGNED_HASH 0x1). */
  get flags() { return this.u32(S_FLAGS); }
  get defHashVersion() { return this.raw[S_DEF_HASH_VERSION]; }
  /** Bytes of a group descriptor: s_desc_size with 64bit, else 32. */
  get descSize() { return this.incompat & INCOMPAT_64BIT ? this.u16(S_DESC_SIZE) : GROUP_DESC_SIZE; }
  set descSize(v: number) { this.set16(S_DESC_SIZE, v); }
  /** flex_bg: groups whose bitmaps and inode tables are packed together, as a power of two. */
  get logGroupsPerFlex() { return this.raw[S_LOG_GROUPS_PER_FLEX]; }
  set logGroupsPerFlex(v: number) { this.raw[S_LOG_GROUPS_PER_FLEX] = v; }
  get checksumType() { return this.raw[S_CHECKSUM_TYPE]; }
  set checksumType(v: number) { this.raw[S_CHECKSUM_TYPE] = v; }
  get checksum() { return this.u32(S_CHECKSUM); }

  /** With metadata_csum, sets s_checksum to what the superblock's bytes give (csum.ts); else nothing. */
  sealChecksum(): void {
    if (this.roCompat & RO_COMPAT_METADATA_CSUM) this.set32(S_CHECKSUM, superblockChecksum(this.raw));
  }
  set overheadClusters(v: number) { this.set32(S_OVERHEAD_CLUSTERS, v); }
  /**
   * Records that corruption was met at `seconds` since the epoch, as Linux's ext4
   * save_error_info does: EXT2_ERROR_FS in s_state, the error count, the first error's time
   * (kept once set) and the last's, each with the code of corruption. Revision 0 has only
   * s_state. The function, line, inode and block fields stay zero: the driver's errors carry a
   * sentence, not those.
   */
  noteError(seconds: number): void {
    this.state |= STATE_ERRORS;
    if (this.revLevel === 0) return;
    this.set32(S_ERROR_COUNT, this.u32(S_ERROR_COUNT) + 1);
    const low = seconds % 2 ** 32;
    const high = Math.floor(seconds / 2 ** 32) & 0xff;
    if (this.u32(S_FIRST_ERROR_TIME) === 0 && this.raw[S_FIRST_ERROR_TIME_HI] === 0) {
      this.set32(S_FIRST_ERROR_TIME, low);
      this.raw[S_FIRST_ERROR_TIME_HI] = high;
      this.raw[S_FIRST_ERROR_ERRCODE] = ERRCODE_EFSCORRUPTED;
    }
    this.set32(S_LAST_ERROR_TIME, low);
    this.raw[S_LAST_ERROR_TIME_HI] = high;
    this.raw[S_LAST_ERROR_ERRCODE] = ERRCODE_EFSCORRUPTED;
  }
  /** sparse_super2: the two groups (besides 0) holding backups; 0 for none. */
  get backupGroups(): [number, number] { return [this.u32(S_BACKUP_BGS), this.u32(S_BACKUP_BGS + 4)]; }
}

/** The shape of a file system, derived from a superblock that has been checked. */
export interface Geometry {
  blockSize: number;
  blocksCount: number;
  firstDataBlock: number;
  blocksPerGroup: number;
  inodesPerGroup: number;
  inodesCount: number;
  groups: number;
  inodeSize: number;
  firstIno: number;
  /** Blocks of one group's inode table. */
  inodeTableBlocks: number;
  /** Blocks of the group descriptor table. */
  gdtBlocks: number;
  reservedGdtBlocks: number;
  /** Block pointers in one indirect block. */
  pointersPerBlock: number;
  /** Which groups hold a superblock and descriptor copy. */
  hasSuperblock: (g: number) => boolean;
  filetype: boolean;
  revision: number;
  /** Bytes of one group descriptor: 32, or s_desc_size (64 and up) with 64bit. */
  descSize: number;
  /** flex_bg: bitmaps and inode tables may lie in any group; their places are read, never computed. */
  flexBg: boolean;
  /** Files may map their blocks with extent trees (EXT4_EXTENTS_FL). */
  extents: boolean;
  /** metadata_csum: the checksum seed (checksumSeed); null without metadata_csum. */
  csumSeed: number | null;
  /** uninit_bg without metadata_csum: group descriptors carry a CRC-16. */
  gdtCsum: boolean;
  /** huge_file: i_blocks_hi is used, and EXT4_HUGE_FILE_FL counts i_blocks in blocks. */
  hugeFile: boolean;
  /** i_extra_isize of a new inode (newExtraIsize). */
  extraIsize: number;
  /** dir_nlink: an indexed directory may have more subdirectories than i_links_count counts. */
  dirNlink: boolean;
  /** dir_index: htree lookups, with s_hash_seed (16 bytes) and unsigned-char hashing per s_flags. */
  dirIndex: boolean;
  hashSeed: Uint8Array;
  hashUnsigned: boolean;
}

export const GROUP_DESC_SIZE = 32;
/** sizeof(struct ext4_inode) − 128: the extra space Linux gives a new inode at least (ns times, crtime, i_checksum_hi, i_projid). */
const DEFAULT_EXTRA_ISIZE = 32;

/**
 * i_extra_isize of a new inode in records of `inodeSize` bytes, as Linux's ext4 chooses
 * s_want_extra_isize (fs/ext4/super.c): 32, or more when the superblock (with extra_isize) asks
 * for more in s_want_extra_isize or s_min_extra_isize and the record has room; 0 for 128-byte
 * inodes.
 */
export function newExtraIsize(inodeSize: number, want = 0, min = 0): number {
  const room = inodeSize - GOOD_OLD_INODE_SIZE;
  if (room < DEFAULT_EXTRA_ISIZE) return 0;
  const asked = Math.max(DEFAULT_EXTRA_ISIZE, want, min);
  return asked <= room && asked % 4 === 0 ? asked : DEFAULT_EXTRA_ISIZE;
}
/** The largest s_desc_size (EXT4_MAX_DESC_SIZE: a 1 KiB block's worth). */
const GROUP_DESC_MAX_SIZE = 1024;

/**
 * Checks the numbers of a superblock that checkFeatures accepted against each other and the
 * device; returns the geometry.
 */
export function geometryOf(sb: Superblock, deviceBytes: number): Geometry {
  if (sb.logBlockSize > 2) {
    throw (sb.logBlockSize <= 6 ? new SysError('ENOTSUP', `ext2: block size ${1024 << sb.logBlockSize} is not supported (1024, 2048 and 4096 are)`)
      : corrupt(`the superblock's block size exponent ${sb.logBlockSize} is out of range`));
  }
  const blockSize = 1024 << sb.logBlockSize;
  const bits = blockSize * 8;
  const firstDataBlock = sb.firstDataBlock;
  if (firstDataBlock !== (blockSize === 1024 ? 1 : 0)) corruptSb(`first data block is ${firstDataBlock}`);
  const bpg = sb.blocksPerGroup;
  if (bpg < 8 || bpg > bits || bpg % 8) corruptSb(`blocks per group is ${bpg}`);
  const ipg = sb.inodesPerGroup;
  if (ipg < 1 || ipg > bits) corruptSb(`inodes per group is ${ipg}`);
  const blocksCount = sb.blocksCount;
  if (blocksCount <= firstDataBlock + 1) corruptSb(`block count is ${blocksCount}`);
  if (sb.incompat & INCOMPAT_FLEX_BG && sb.logGroupsPerFlex > 31) corruptSb(`groups per flex_bg exponent is ${sb.logGroupsPerFlex}`);
  const descSize = sb.descSize;
  if (descSize < GROUP_DESC_SIZE || descSize > GROUP_DESC_MAX_SIZE || (descSize & (descSize - 1)) !== 0) corruptSb(`group descriptor size is ${descSize}`);
  if (blocksCount * blockSize > deviceBytes) {
    throw corrupt(`the superblock says ${blocksCount} blocks of ${blockSize} bytes, but the image has only ${deviceBytes} bytes`);
  }
  const groups = Math.ceil((blocksCount - firstDataBlock) / bpg);
  if (sb.inodesCount !== ipg * groups) corruptSb(`inode count ${sb.inodesCount} is not ${groups} groups × ${ipg}`);
  const inodeSize = sb.inodeSize;
  if (inodeSize < GOOD_OLD_INODE_SIZE || inodeSize > blockSize || (inodeSize & (inodeSize - 1)) !== 0) corruptSb(`inode size is ${inodeSize}`);
  const firstIno = sb.firstIno;
  if (firstIno < GOOD_OLD_FIRST_INO || firstIno >= sb.inodesCount) corruptSb(`first inode is ${firstIno}`);
  const gdtBlocks = Math.ceil((groups * descSize) / blockSize);
  const reservedGdtBlocks = sb.reservedGdtBlocks;
  const inodeTableBlocks = Math.ceil((ipg * inodeSize) / blockSize);
  if (1 + gdtBlocks + reservedGdtBlocks + 2 + inodeTableBlocks > bpg) {
    corruptSb(`a group of ${bpg} blocks cannot hold its ${gdtBlocks + reservedGdtBlocks} descriptor and ${inodeTableBlocks} inode table blocks`);
  }
  return {
    blockSize, blocksCount, firstDataBlock, blocksPerGroup: bpg, inodesPerGroup: ipg, inodesCount: sb.inodesCount,
    groups, inodeSize, firstIno, inodeTableBlocks, gdtBlocks, reservedGdtBlocks, pointersPerBlock: blockSize / 4,
    hasSuperblock: backupRule(sb), filetype: (sb.incompat & INCOMPAT_FILETYPE) !== 0, revision: sb.revLevel,
    descSize, flexBg: (sb.incompat & INCOMPAT_FLEX_BG) !== 0, extents: (sb.incompat & INCOMPAT_EXTENTS) !== 0,
    csumSeed: sb.roCompat & RO_COMPAT_METADATA_CSUM ? checksumSeed(sb.raw) : null,
    gdtCsum: (sb.roCompat & (RO_COMPAT_METADATA_CSUM | RO_COMPAT_GDT_CSUM)) === RO_COMPAT_GDT_CSUM,
    hugeFile: (sb.roCompat & RO_COMPAT_HUGE_FILE) !== 0,
    extraIsize: sb.roCompat & RO_COMPAT_EXTRA_ISIZE ? newExtraIsize(inodeSize, sb.wantExtraIsize, sb.minExtraIsize) : newExtraIsize(inodeSize),
    dirNlink: (sb.roCompat & RO_COMPAT_DIR_NLINK) !== 0,
    dirIndex: (sb.compat & COMPAT_DIR_INDEX) !== 0, hashSeed: sb.hashSeed.slice(), hashUnsigned: (sb.flags & FLAGS_UNSIGNED_HASH) !== 0,
  };
}

function corruptSb(what: string): never {
  throw corrupt(`the superblock's ${what}`);
}

/**
 * Refuses what is not an ext2 superblock (EINVAL), a revision past 1 and a file system with
 * features this driver cannot read (ENOTSUP, naming them), a journal with transactions to
 * replay (EUCLEAN) and, with metadata_csum, a superblock whose s_checksum is wrong (EUCLEAN) —
 * before any other number in it is trusted. Returns a sentence naming the RO_COMPAT features
 * that only allow reading (quota, project, verity… and unknown bits), or null when the file
 * system may be written.
 */
export function checkFeatures(sb: Superblock): string | null {
  if (sb.magic !== EXT2_MAGIC) {
    throw new SysError('EINVAL', `ext2: no ext2 file system here (magic 0x${sb.magic.toString(16)}, expected 0x${EXT2_MAGIC.toString(16)})`);
  }
  if (sb.revLevel > 1) throw new SysError('ENOTSUP', `ext2: revision ${sb.revLevel} is not supported (only 0 and 1)`);
  const unknownIncompat = (sb.incompat & ~INCOMPAT_SUPPORTED) >>> 0;
  const unreadableRo = sb.roCompat & RO_COMPAT_UNREADABLE;
  if (unknownIncompat || unreadableRo) {
    const names = [featureNames(unknownIncompat, INCOMPAT_NAMES), featureNames(unreadableRo, RO_COMPAT_NAMES)].filter((n) => n !== '');
    throw new SysError('ENOTSUP', `ext2: cannot mount: unsupported feature(s) ${names.join(', ')}`);
  }
  if (sb.roCompat & RO_COMPAT_METADATA_CSUM) {
    if (sb.checksumType !== 1) throw corrupt(`the superblock's checksum type is ${sb.checksumType}, not 1 (crc32c)`);
    const want = superblockChecksum(sb.raw);
    if (sb.checksum !== want) throw corrupt(`the superblock's checksum is 0x${sb.checksum.toString(16)}, but its bytes give 0x${want.toString(16)}`);
  }
  const readOnly = featureNames((sb.roCompat & ~RO_COMPAT_SUPPORTED) >>> 0, RO_COMPAT_NAMES);
  return readOnly !== '' ? `feature(s) ${readOnly} not supported for writing` : null;
}

/** Where the superblock's features put backups: sparse_super2's two groups, sparse_super's, or every group. */
function backupRule(sb: Superblock): (g: number) => boolean {
  if (sb.compat & COMPAT_SPARSE_SUPER2) {
    const [a, b] = sb.backupGroups;
    return (g) => g === 0 || g === a || g === b;
  }
  const sparse = (sb.roCompat & RO_COMPAT_SPARSE_SUPER) !== 0;
  return (g) => hasSuperblock(g, sparse);
}

/** Whether group g holds a backup of the superblock and descriptors, with or without sparse_super. */
export function hasSuperblock(g: number, sparseSuper: boolean): boolean {
  if (!sparseSuper || g <= 1) return true;
  for (const base of [3, 5, 7]) {
    let p = base;
    while (p < g) p *= base;
    if (p === g) return true;
  }
  return false;
}
