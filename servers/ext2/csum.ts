// ext4's metadata_csum checksums (and uninit_bg's CRC-16 group descriptor checksum) as compute
// functions over raw bytes, with the places they are stored. The spec is the Linux kernel's
// Documentation/filesystems/ext4/checksums.rst and the code it describes: fs/ext4/super.c
// (ext4_superblock_csum, ext4_group_desc_csum), fs/ext4/bitmap.c, fs/ext4/inode.c
// (ext4_inode_csum), fs/ext4/extents.c (ext4_extent_block_csum), fs/ext4/namei.c
// (ext4_dirblock_csum, ext4_dx_csum). Every crc32c here is the raw update (ext4_chksum), never
// inverted; every number is an unsigned 32-bit integer unless said otherwise.

import { setU16, u16, u32 } from './bytes.js';
import { crc16Update, crc32cUpdate } from './crc32c.js';

/** s_feature_incompat's metadata_csum_seed: the seed is s_checksum_seed, not derived from the uuid. */
export const INCOMPAT_CSUM_SEED = 0x2000;
/** s_feature_ro_compat's uninit_bg (GDT_CSUM) and metadata_csum. */
export const RO_COMPAT_GDT_CSUM = 0x10;
export const RO_COMPAT_METADATA_CSUM = 0x400;

const S_FEATURE_INCOMPAT = 0x60;
const S_UUID = 0x68;
const S_CHECKSUM_SEED = 0x270;
/** s_checksum: the last 4 bytes of the 1024-byte superblock. */
export const S_CHECKSUM = 0x3fc;

/** bg_checksum's offset in a group descriptor (u16). */
export const BG_CHECKSUM = 0x1e;

/** The size of an inode's first, always present part (EXT2_GOOD_OLD_INODE_SIZE). */
const GOOD_OLD_INODE_SIZE = 128;
const I_GENERATION = 0x64;
/** i_checksum_lo (u16, in the first 128 bytes) and i_checksum_hi (u16, in the extra part). */
export const I_CHECKSUM_LO = 0x7c;
const I_EXTRA_ISIZE = 0x80;
export const I_CHECKSUM_HI = 0x82;

const ZERO4 = new Uint8Array(4);

function le32(v: number): Uint8Array {
  return Uint8Array.of(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24);
}

/**
 * The file system's checksum seed (sbi->s_csum_seed in fs/ext4/super.c): s_checksum_seed when
 * INCOMPAT_CSUM_SEED is set, else crc32c(~0, s_uuid). `sb` is the raw 1024-byte superblock.
 */
export function checksumSeed(sb: Uint8Array): number {
  if (u32(sb, S_FEATURE_INCOMPAT) & INCOMPAT_CSUM_SEED) return u32(sb, S_CHECKSUM_SEED);
  return crc32cUpdate(0xffffffff, sb.subarray(S_UUID, S_UUID + 16));
}

/** s_checksum of a raw 1024-byte superblock: crc32c(~0, the bytes before s_checksum) (ext4_superblock_csum). */
export function superblockChecksum(sb: Uint8Array): number {
  return crc32cUpdate(0xffffffff, sb.subarray(0, S_CHECKSUM));
}

/**
 * bg_checksum (16 bits) of group `group`'s descriptor `desc` — exactly its s_desc_size bytes
 * (32 without 64bit) — as ext4_group_desc_csum computes it: over the group number (le32),
 * the descriptor with bg_checksum taken as zero. With metadata_csum (`seed` from checksumSeed)
 * it is the low 16 bits of crc32c; see groupDescChecksum16 for uninit_bg.
 */
export function groupDescChecksum(seed: number, group: number, desc: Uint8Array): number {
  let c = crc32cUpdate(seed, le32(group));
  c = crc32cUpdate(c, desc.subarray(0, BG_CHECKSUM));
  c = crc32cUpdate(c, ZERO4.subarray(0, 2));
  c = crc32cUpdate(c, desc.subarray(BG_CHECKSUM + 2));
  return c & 0xffff;
}

/**
 * bg_checksum of uninit_bg (RO_COMPAT_GDT_CSUM without metadata_csum): crc16(~0) over the
 * superblock's uuid (16 bytes), the group number (le32) and the descriptor `desc` (its
 * s_desc_size bytes; 32 without 64bit) minus bg_checksum (ext4_group_desc_csum's "old crc16 code").
 */
export function groupDescChecksum16(uuid: Uint8Array, group: number, desc: Uint8Array): number {
  let c = crc16Update(0xffff, uuid);
  c = crc16Update(c, le32(group));
  c = crc16Update(c, desc.subarray(0, BG_CHECKSUM));
  return crc16Update(c, desc.subarray(BG_CHECKSUM + 2));
}

/**
 * The checksum of a block bitmap (bg_block_bitmap_csum_lo/_hi) or an inode bitmap
 * (bg_inode_bitmap_csum_lo/_hi): crc32c(seed) over the bitmap's first `bits` / 8 bytes, `bits`
 * being the clusters (blocks) or inodes per group (fs/ext4/bitmap.c). Descriptors of 32 bytes
 * keep only the low 16 bits.
 */
export function bitmapChecksum(seed: number, bitmap: Uint8Array, bits: number): number {
  return crc32cUpdate(seed, bitmap.subarray(0, bits >>> 3));
}

/**
 * An inode's own seed (ei->i_csum_seed): crc32c(seed) over its number and its i_generation,
 * both le32. Extent blocks, directory blocks and dx nodes are checksummed from it.
 */
export function inodeSeed(seed: number, ino: number, generation: number): number {
  return crc32cUpdate(crc32cUpdate(seed, le32(ino)), le32(generation));
}

/** Whether the raw inode (inode size bytes) has room for i_checksum_hi: 128 + i_extra_isize reaches past it. */
export function inodeHasChecksumHi(raw: Uint8Array): boolean {
  return raw.length > GOOD_OLD_INODE_SIZE && GOOD_OLD_INODE_SIZE + u16(raw, I_EXTRA_ISIZE) >= I_CHECKSUM_HI + 2;
}

/**
 * The checksum of inode `ino` whose raw bytes (the whole on-disk inode, s_inode_size bytes)
 * are `raw` (ext4_inode_csum): crc32c from inodeSeed over the inode with i_checksum_lo, and
 * i_checksum_hi when it fits, taken as zero. Returned as stored: 32 bits when the inode has
 * i_checksum_hi, else the low 16 (i_checksum_lo alone).
 */
export function inodeChecksum(seed: number, ino: number, raw: Uint8Array): number {
  let c = inodeSeed(seed, ino, u32(raw, I_GENERATION));
  c = crc32cUpdate(c, raw.subarray(0, I_CHECKSUM_LO));
  c = crc32cUpdate(c, ZERO4.subarray(0, 2));
  c = crc32cUpdate(c, raw.subarray(I_CHECKSUM_LO + 2, GOOD_OLD_INODE_SIZE));
  if (!inodeHasChecksumHi(raw)) return crc32cUpdate(c, raw.subarray(GOOD_OLD_INODE_SIZE)) & 0xffff;
  c = crc32cUpdate(c, raw.subarray(GOOD_OLD_INODE_SIZE, I_CHECKSUM_HI));
  c = crc32cUpdate(c, ZERO4.subarray(0, 2));
  return crc32cUpdate(c, raw.subarray(I_CHECKSUM_HI + 2));
}

/** The checksum stored in a raw inode: i_checksum_lo, with i_checksum_hi above it when the inode has room for it. */
export function storedInodeChecksum(raw: Uint8Array): number {
  const lo = u16(raw, I_CHECKSUM_LO);
  return inodeHasChecksumHi(raw) ? (lo | (u16(raw, I_CHECKSUM_HI) << 16)) >>> 0 : lo;
}

/** Stores inodeChecksum in a raw inode: i_checksum_lo, and i_checksum_hi when the inode has room for it. */
export function sealInodeChecksum(seed: number, ino: number, raw: Uint8Array): void {
  const sum = inodeChecksum(seed, ino, raw);
  setU16(raw, I_CHECKSUM_LO, sum & 0xffff);
  if (inodeHasChecksumHi(raw)) setU16(raw, I_CHECKSUM_HI, sum >>> 16);
}

/** Whether a raw inode's stored checksum is inodeChecksum's. */
export function inodeChecksumOk(seed: number, ino: number, raw: Uint8Array): boolean {
  return storedInodeChecksum(raw) === inodeChecksum(seed, ino, raw);
}

/**
 * Where the struct ext4_extent_tail (et_checksum, le32) of an extent tree block lies: right
 * after eh_max entries of 12 bytes past the 12-byte header (EXT4_EXTENT_TAIL_OFFSET). The
 * caller checks it lies inside the block.
 */
export function extentTailOffset(block: Uint8Array): number {
  return 12 + 12 * u16(block, 4);
}

/** et_checksum of an extent tree block: crc32c from the owning inode's inodeSeed over the bytes before the tail (ext4_extent_block_csum). */
export function extentBlockChecksum(inodeSeedValue: number, block: Uint8Array): number {
  return crc32cUpdate(inodeSeedValue, block.subarray(0, extentTailOffset(block)));
}

/** The size of struct ext4_dir_entry_tail, the fake dirent that ends a directory leaf block under metadata_csum. */
export const DIRENT_TAIL_SIZE = 12;
/** det_reserved_ft: the fake file type that marks the tail. */
export const DIRENT_TAIL_FT = 0xde;

/**
 * Whether a directory leaf block ends in struct ext4_dir_entry_tail: inode 0, rec_len 12,
 * name_len 0, file type 0xDE (Documentation/filesystems/ext4/directory.rst, "Checksums").
 */
export function hasDirentTail(block: Uint8Array): boolean {
  const t = block.length - DIRENT_TAIL_SIZE;
  return u32(block, t) === 0 && u16(block, t + 4) === DIRENT_TAIL_SIZE && block[t + 6] === 0 && block[t + 7] === DIRENT_TAIL_FT;
}

/** det_checksum of a directory leaf block: crc32c from the directory's inodeSeed over the block before the tail (ext4_dirblock_csum). Stored in the block's last 4 bytes. */
export function dirBlockChecksum(inodeSeedValue: number, block: Uint8Array): number {
  return crc32cUpdate(inodeSeedValue, block.subarray(0, block.length - DIRENT_TAIL_SIZE));
}

/**
 * dt_checksum of an htree node (dx_root or dx_node) whose count/limit header is at
 * `countOffset` (32 in a dx_root with an 8-byte dx_root_info, 8 in a dx_node): crc32c from the
 * directory's inodeSeed over the header and `count` dx_entries, then the struct dx_tail
 * (dt_reserved, and dt_checksum as zero) that follows `limit` entries (ext4_dx_csum). The
 * tail's offset is countOffset + 8 × limit; the caller checks it lies inside the block.
 */
export function dxNodeChecksum(inodeSeedValue: number, block: Uint8Array, countOffset: number): number {
  const limit = u16(block, countOffset);
  const count = u16(block, countOffset + 2);
  const tail = countOffset + 8 * limit;
  let c = crc32cUpdate(inodeSeedValue, block.subarray(0, countOffset + 8 * count));
  c = crc32cUpdate(c, block.subarray(tail, tail + 4));
  return crc32cUpdate(c, ZERO4);
}
