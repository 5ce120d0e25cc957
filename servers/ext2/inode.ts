// Inodes: the on-disk record (128 bytes, or more with extra fields for nanosecond times) and
// the per-op table of loaded inodes. An op loads each inode once — two names for the same
// inode in one op (rename within a directory) get the same object — and the dirty ones are
// written back into their inode table blocks when the op ends. Only the fields this driver
// knows are rewritten; the rest of the record (in-inode extended attributes, …) is kept.
// With metadata_csum each record written gets its checksum (i_checksum_lo/hi) at once.

import { S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK, SysError, major, makedev, minor, type Attr, type Handle } from '../../kernel/api.js';
import type { BlockCache } from './cache.js';
import { inodeChecksum, sealInodeChecksum, storedInodeChecksum } from './csum.js';
import { corrupt } from './errors.js';
import type { Groups } from './groups.js';
import { GOOD_OLD_INODE_SIZE, type Geometry } from './superblock.js';

export const ROOT_INO = 2;
/** Most links an ext2 inode may have (EXT2_LINK_MAX). */
export const LINK_MAX = 32000;
/**
 * ext4's limit (EXT4_LINK_MAX), which a directory's links follow on a dir_nlink file system; an
 * indexed directory there goes past it, its i_links_count then 1 ("many").
 */
export const EXT4_LINK_MAX = 65000;
/** i_flags bit of a directory with an htree index. */
export const INDEX_FL = 0x1000;
/** i_flags bit of ext4's huge_file: i_blocks counts file system blocks, not 512-byte units. */
const HUGE_FILE_FL = 0x40000;
/** Most 512-byte units i_blocks_lo and i_blocks_hi hold together (48 bits); past it, huge_file counts blocks. */
const MAX_BLOCKS_48 = 2 ** 48 - 1;
/** i_flags bit of ext4: i_block holds the root of an extent tree, not block pointers. */
export const EXTENTS_FL = 0x80000;
/** i_block holds 15 pointers, 60 bytes: a symlink target shorter than that lives there. */
export const N_BLOCKS = 15;
export const FAST_SYMLINK_MAX = 59;
/** i_blocks counts units of this many bytes, whatever the block size. */
export const I_BLOCKS_UNIT = 512;
/** The seven file types a mode may hold; any other value of its S_IFMT bits is damage. */
const FILE_TYPE_MODES = new Set([S_IFREG, S_IFDIR, S_IFLNK, S_IFCHR, S_IFBLK, S_IFIFO, S_IFSOCK]);

/** What reading and writing a record depends on (a Geometry is one). */
export interface InodeFormat {
  /** Bytes of a record (s_inode_size). */
  inodeSize: number;
  blockSize: number;
  /** huge_file: i_blocks_hi counts, and EXT4_HUGE_FILE_FL makes i_blocks count blocks. */
  hugeFile: boolean;
  /** i_extra_isize of a new record (0 for 128-byte inodes): superblock.ts newExtraIsize. */
  extraIsize: number;
}

// Where each field of the on-disk inode lies: Linux's struct ext2_inode (fs/ext2/ext2.h), and
// past the first 128 bytes struct ext4_inode's extra fields (Documentation/filesystems/ext4/
// inodes.rst). All little-endian.
const I_MODE = 0x00; // u16
const I_UID = 0x02; // u16, low half
const I_SIZE = 0x04; // u32, low half
const I_ATIME = 0x08; // s32 seconds
const I_CTIME = 0x0c;
const I_MTIME = 0x10;
const I_DTIME = 0x14; // u32 seconds
const I_GID = 0x18; // u16, low half
const I_LINKS_COUNT = 0x1a; // u16
const I_BLOCKS = 0x1c; // u32, in I_BLOCKS_UNIT
const I_FLAGS = 0x20; // u32
const I_BLOCK = 0x28; // u32 × N_BLOCKS
const I_GENERATION = 0x64; // u32
const I_FILE_ACL = 0x68; // u32
/** u16: i_blocks' high half (osd2's l_i_blocks_high), with huge_file. */
const I_BLOCKS_HIGH = 0x74;
/** u32: a regular file's size, high half (i_dir_acl on a directory). */
const I_SIZE_HIGH = 0x6c;
const I_UID_HIGH = 0x78; // u16, osd2's l_i_uid_high
const I_GID_HIGH = 0x7a; // u16, osd2's l_i_gid_high
/** u16: bytes in use past the first 128 (only in a larger inode). */
const I_EXTRA_ISIZE = 0x80;
/** u32 each: ns << 2 | epoch bits of the time of the same name. */
const I_CTIME_EXTRA = 0x84;
const I_MTIME_EXTRA = 0x88;
const I_ATIME_EXTRA = 0x8c;
const I_CRTIME = 0x90;
const I_CRTIME_EXTRA = 0x94;

function decodeTime(seconds: number, extra: number | null): number {
  if (extra === null) return seconds * 1000;
  return (seconds + (extra & 3) * 2 ** 32) * 1000 + (extra >>> 2) / 1e6;
}

/** Seconds (as a signed 32-bit value) and, when there is room, the extra word (ns << 2 | epoch). */
function encodeTime(ms: number, withExtra: boolean): { seconds: number; extra: number } {
  let sec = Math.floor(ms / 1000);
  const ns = Math.min(999_999_999, Math.round((ms - sec * 1000) * 1e6));
  if (!withExtra) return { seconds: Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, sec)), extra: 0 };
  sec = Math.max(-(2 ** 31), Math.min(2 ** 34 - 2 ** 31 - 1, sec));
  const epoch = Math.floor((sec + 2 ** 31) / 2 ** 32);
  return { seconds: sec - epoch * 2 ** 32, extra: ((ns << 2) | epoch) >>> 0 };
}

export class Inode {
  mode = 0;
  uid = 0;
  gid = 0;
  size = 0;
  links = 0;
  /** Space used, in 512-byte units, indirect and attribute blocks included. */
  blocks = 0;
  flags = 0;
  generation = 0;
  /** The extended attribute block, or 0. */
  fileAcl = 0;
  /** Seconds; nonzero only on a freed inode. */
  dtime = 0;
  /** Milliseconds since the epoch. */
  atime = 0;
  mtime = 0;
  ctime = 0;
  readonly block = new Uint32Array(N_BLOCKS);
  /** Bytes in use past the first 128 (0 on 128-byte inodes). */
  extraIsize = 0;
  /** Changed in this op: written back when the op ends. */
  dirty = false;
  /** Newly allocated in this op: the record is rewritten from zero. */
  fresh = false;

  constructor(readonly ino: number) {}

  get type(): number { return this.mode & S_IFMT; }
  get isDir(): boolean { return this.type === S_IFDIR; }
  get isReg(): boolean { return this.type === S_IFREG; }
  get isSymlink(): boolean { return this.type === S_IFLNK; }
  /** Whether the mode holds one of the seven file types. */
  get hasFileType(): boolean { return FILE_TYPE_MODES.has(this.type); }

  /**
   * Whether this directory may take another subdirectory (fs/ext4/namei.c EXT4_DIR_LINK_MAX):
   * below LINK_MAX links — EXT4_LINK_MAX with dir_nlink, where an indexed directory has no limit.
   */
  canAddSubdir(dirNlink: boolean): boolean {
    if (!dirNlink) return this.links < LINK_MAX;
    return this.links < EXT4_LINK_MAX || (this.flags & INDEX_FL) !== 0;
  }

  /**
   * A new subdirectory's '..' (ext4_inc_count): one more link; with dir_nlink an indexed
   * directory that passes EXT4_LINK_MAX, or already counts 1 ("many"), keeps 1.
   */
  addSubdir(dirNlink: boolean): void {
    this.links++;
    if (dirNlink && this.flags & INDEX_FL && (this.links > EXT4_LINK_MAX || this.links === 2)) this.links = 1;
    this.dirty = true;
  }

  /** A subdirectory's '..' gone (ext4_dec_count): one link less, but 1 ("many", with dir_nlink) stays 1. */
  dropSubdir(now: number): void {
    if (this.links > 2) this.links--;
    this.ctime = now;
    this.dirty = true;
  }

  /** Makes a just-allocated inode new: no links, no blocks, all times now. */
  reset(mode: number, uid: number, gid: number, generation: number, now: number): void {
    this.mode = mode;
    this.uid = uid;
    this.gid = gid;
    this.size = this.links = this.blocks = this.flags = this.fileAcl = this.dtime = 0;
    this.generation = generation;
    this.atime = this.mtime = this.ctime = now;
    this.block.fill(0);
    this.fresh = this.dirty = true;
  }

  get isDevice(): boolean { return this.type === S_IFCHR || this.type === S_IFBLK; }

  /**
   * The device number of a character or block device, as makedev (kernel/api.ts) lays it out;
   * 0 for any other file. Stored as Linux's ext2 does (ext2_iget): the old 16-bit encoding
   * (major << 8 | minor) in i_block[0] when that is not 0, else the new encoding in i_block[1].
   */
  get rdev(): number {
    if (!this.isDevice) return 0;
    const old = this.block[0];
    if (old === 0) return this.block[1];
    return makedev((old >> 8) & 0xff, old & 0xff);
  }

  /**
   * Sets a device node's number as Linux's ext2_write_inode stores it: in the old encoding in
   * i_block[0] when major and minor are both below 256, else 0 there and the new encoding
   * (which is makedev's) in i_block[1].
   */
  set rdev(dev: number) {
    this.block.fill(0);
    if (major(dev) < 256 && minor(dev) < 256) this.block[0] = (major(dev) << 8) | minor(dev);
    else this.block[1] = dev;
  }

  /** i_block as the 60 bytes a fast symlink keeps its target in. */
  blockBytes(): Uint8Array {
    const out = new Uint8Array(N_BLOCKS * 4);
    const view = new DataView(out.buffer);
    for (let i = 0; i < N_BLOCKS; i++) view.setUint32(i * 4, this.block[i], true);
    return out;
  }

  setBlockBytes(bytes: Uint8Array): void {
    const padded = new Uint8Array(N_BLOCKS * 4);
    padded.set(bytes);
    const view = new DataView(padded.buffer);
    for (let i = 0; i < N_BLOCKS; i++) this.block[i] = view.getUint32(i * 4, true);
  }

  private hasField(at: number): boolean {
    return GOOD_OLD_INODE_SIZE + this.extraIsize >= at + 4;
  }

  /** Milliseconds at the precision the record can keep (seconds, or nanoseconds). */
  storedTime(ms: number): number {
    return this.hasField(I_ATIME_EXTRA) ? ms : Math.floor(ms / 1000) * 1000;
  }

  /** Reads the record. */
  parse(view: DataView, { inodeSize, hugeFile, blockSize }: InodeFormat): void {
    this.mode = view.getUint16(I_MODE, true);
    this.uid = view.getUint16(I_UID, true) | (view.getUint16(I_UID_HIGH, true) << 16);
    this.gid = view.getUint16(I_GID, true) | (view.getUint16(I_GID_HIGH, true) << 16);
    this.uid >>>= 0;
    this.gid >>>= 0;
    this.size = view.getUint32(I_SIZE, true) + (this.isReg ? view.getUint32(I_SIZE_HIGH, true) * 2 ** 32 : 0);
    this.links = view.getUint16(I_LINKS_COUNT, true);
    this.flags = view.getUint32(I_FLAGS, true);
    this.blocks = view.getUint32(I_BLOCKS, true);
    if (hugeFile) {
      this.blocks += view.getUint16(I_BLOCKS_HIGH, true) * 2 ** 32;
      if (this.flags & HUGE_FILE_FL) this.blocks *= blockSize / I_BLOCKS_UNIT;
    }
    for (let i = 0; i < N_BLOCKS; i++) this.block[i] = view.getUint32(I_BLOCK + i * 4, true);
    this.generation = view.getUint32(I_GENERATION, true);
    this.fileAcl = view.getUint32(I_FILE_ACL, true);
    this.dtime = view.getUint32(I_DTIME, true);
    const extra = inodeSize > GOOD_OLD_INODE_SIZE ? view.getUint16(I_EXTRA_ISIZE, true) : 0;
    this.extraIsize = extra <= inodeSize - GOOD_OLD_INODE_SIZE && extra % 4 === 0 ? extra : 0;
    this.atime = decodeTime(view.getInt32(I_ATIME, true), this.hasField(I_ATIME_EXTRA) ? view.getUint32(I_ATIME_EXTRA, true) : null);
    this.ctime = decodeTime(view.getInt32(I_CTIME, true), this.hasField(I_CTIME_EXTRA) ? view.getUint32(I_CTIME_EXTRA, true) : null);
    this.mtime = decodeTime(view.getInt32(I_MTIME, true), this.hasField(I_MTIME_EXTRA) ? view.getUint32(I_MTIME_EXTRA, true) : null);
  }

  /**
   * Writes the fields this driver knows into the record (a new one is zeroed first, and gets
   * i_extra_isize and i_crtime). Errors: EFBIG when i_blocks does not fit (past 2^32 units
   * without huge_file).
   */
  serialize(view: DataView, format: InodeFormat, now: number): void {
    if (this.fresh) {
      for (let i = 0; i < format.inodeSize; i++) view.setUint8(i, 0);
      this.extraIsize = format.extraIsize;
      if (this.extraIsize) view.setUint16(I_EXTRA_ISIZE, this.extraIsize, true);
      const created = encodeTime(now, true);
      if (this.hasField(I_CRTIME_EXTRA)) {
        view.setInt32(I_CRTIME, created.seconds, true);
        view.setUint32(I_CRTIME_EXTRA, created.extra, true);
      }
      this.fresh = false;
    }
    view.setUint16(I_MODE, this.mode, true);
    view.setUint16(I_UID, this.uid & 0xffff, true);
    view.setUint16(I_UID_HIGH, this.uid >>> 16, true);
    view.setUint16(I_GID, this.gid & 0xffff, true);
    view.setUint16(I_GID_HIGH, this.gid >>> 16, true);
    view.setUint32(I_SIZE, this.size % 2 ** 32, true);
    if (this.isReg) view.setUint32(I_SIZE_HIGH, Math.floor(this.size / 2 ** 32), true);
    view.setUint16(I_LINKS_COUNT, this.links, true);
    this.writeBlocks(view, format);
    view.setUint32(I_FLAGS, this.flags, true);
    for (let i = 0; i < N_BLOCKS; i++) view.setUint32(I_BLOCK + i * 4, this.block[i], true);
    view.setUint32(I_GENERATION, this.generation, true);
    view.setUint32(I_FILE_ACL, this.fileAcl, true);
    view.setUint32(I_DTIME, this.dtime, true);
    this.writeTime(view, this.atime, I_ATIME, I_ATIME_EXTRA);
    this.writeTime(view, this.ctime, I_CTIME, I_CTIME_EXTRA);
    this.writeTime(view, this.mtime, I_MTIME, I_MTIME_EXTRA);
  }

  /**
   * i_blocks as ext4_inode_blocks_set stores it: 32 bits of 512-byte units; with huge_file 48
   * (i_blocks_hi), and past those the count in blocks with EXT4_HUGE_FILE_FL.
   */
  private writeBlocks(view: DataView, { hugeFile, blockSize }: InodeFormat): void {
    let units = this.blocks;
    if (units > 0xffffffff && !hugeFile) throw new SysError('EFBIG', `ext2: inode ${this.ino} would take more 512-byte units than i_blocks holds without huge_file`);
    if (hugeFile) {
      this.flags &= ~HUGE_FILE_FL;
      if (units > MAX_BLOCKS_48) {
        this.flags |= HUGE_FILE_FL;
        units = Math.ceil(units / (blockSize / I_BLOCKS_UNIT));
      }
      view.setUint16(I_BLOCKS_HIGH, Math.floor(units / 2 ** 32), true);
    }
    view.setUint32(I_BLOCKS, units % 2 ** 32, true);
  }

  private writeTime(view: DataView, ms: number, at: number, extraAt: number): void {
    const withExtra = this.hasField(extraAt);
    const t = encodeTime(ms, withExtra);
    view.setInt32(at, t.seconds, true);
    if (withExtra) view.setUint32(extraAt, t.extra, true);
  }
}

/** The inodes loaded by the current op. */
export class InodeTable {
  private readonly loaded = new Map<number, Inode>();

  constructor(
    private readonly cache: BlockCache,
    private readonly groups: Groups,
    private readonly geo: Geometry,
  ) {}

  private where(ino: number): { block: number; offset: number } {
    const { inodesPerGroup, inodeSize, blockSize } = this.geo;
    const g = Math.floor((ino - 1) / inodesPerGroup);
    const byte = ((ino - 1) % inodesPerGroup) * inodeSize;
    return { block: this.groups.inodeTable(g) + Math.floor(byte / blockSize), offset: byte % blockSize };
  }

  private view(buf: Uint8Array, offset: number): DataView {
    return new DataView(buf.buffer, buf.byteOffset + offset, this.geo.inodeSize);
  }

  /**
   * Inode `ino` (checked to be a valid number, not checked to be in use). With metadata_csum
   * its checksum is verified (EUCLEAN naming the inode); a record of all zeros, never written,
   * has none to verify.
   */
  async get(ino: number): Promise<Inode> {
    const known = this.loaded.get(ino);
    if (known) return known;
    if (!Number.isInteger(ino) || ino < 1 || ino > this.geo.inodesCount) {
      throw corrupt(`inode number ${ino} is outside 1–${this.geo.inodesCount}`);
    }
    const { block, offset } = this.where(ino);
    const buf = await this.cache.get(block);
    if (this.geo.csumSeed !== null) this.verify(ino, buf.subarray(offset, offset + this.geo.inodeSize), this.geo.csumSeed);
    const node = new Inode(ino);
    node.parse(this.view(buf, offset), this.geo);
    this.loaded.set(ino, node);
    return node;
  }

  private verify(ino: number, raw: Uint8Array, seed: number): void {
    const stored = storedInodeChecksum(raw);
    if (stored === 0 && raw.every((b) => b === 0)) return;
    const want = inodeChecksum(seed, ino, raw);
    if (stored !== want) throw corrupt(`inode ${ino}'s checksum is 0x${stored.toString(16)}, but its bytes give 0x${want.toString(16)}`);
  }

  /** Writes every inode the op changed into its inode table block, with its checksum under metadata_csum. */
  async flush(now: number): Promise<void> {
    for (const node of this.loaded.values()) {
      if (!node.dirty) continue;
      const { block, offset } = this.where(node.ino);
      const buf = await this.cache.modify(block);
      node.serialize(this.view(buf, offset), this.geo, now);
      if (this.geo.csumSeed !== null) sealInodeChecksum(this.geo.csumSeed, node.ino, buf.subarray(offset, offset + this.geo.inodeSize));
      node.dirty = false;
    }
  }

  /** Forgets the op's inodes (at the end of every op, and after a rollback). */
  clear(): void {
    this.loaded.clear();
  }
}

export function handleOf(node: Inode): Handle {
  return { ino: node.ino, gen: node.generation };
}

export function attrOf(node: Inode, blockSize: number): Attr {
  return {
    ino: node.ino, gen: node.generation, mode: node.mode, nlink: node.links, uid: node.uid, gid: node.gid,
    size: node.size, blocks: node.blocks, blksize: blockSize, rdev: node.rdev,
    atime: node.atime, mtime: node.mtime, ctime: node.ctime,
  };
}
