// mkfs: writes a new ext2 file system — revision 1 with the features filetype, sparse_super
// and large_file, or revision 0 — laid out as mke2fs lays out the same parameters: in each
// group the superblock and descriptor copies (where sparse_super puts them), the two bitmaps
// and the inode table; then a root directory and a lost+found of mke2fs's size. With a UUID
// and a time given, the image is the same byte for byte every time (the hash seed is then
// the UUID); otherwise both come from the host's random generator.

import { S_IFDIR, SysError, type Context } from '../../kernel/api.js';
import { Device, type Write } from './device.js';
import { DOT_ENTRIES_SIZE, FT_UNKNOWN, typeCode, writeDotEntries, writeEmptyBlock, writeEntry } from './dir.js';
import { writeDescriptor } from './groups.js';
import { I_BLOCKS_UNIT, Inode, ROOT_INO } from './inode.js';
import {
  EXT2_MAGIC, GOOD_OLD_FIRST_INO, GOOD_OLD_INODE_SIZE, GROUP_DESC_SIZE, INCOMPAT_FILETYPE, RO_COMPAT_LARGE_FILE,
  ERRORS_CONTINUE, RO_COMPAT_SPARSE_SUPER, STATE_CLEAN, SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE, Superblock, hasSuperblock,
} from './superblock.js';

export interface MkfsArgs {
  /**
   * The host image: created, or truncated and resized to `size`. With `key`, a LUKS container
   * (cgd's format or cryptsetup's) whose payload gets the file system: `size` is then at most
   * the payload's, and the whole payload when absent.
   */
  source: string;
  size?: number;
  /** The container's passphrase: the file system is made inside it, through cgd. */
  key?: Uint8Array;
  /** A partition of the disk image `source` (its number): the file system is made in it, through dk; `size` at most its size. */
  partition?: number;
  blockSize?: number;
  /** Inode count wanted (rounded up to fill whole inode table blocks in every group). */
  inodes?: number;
  /** Bytes per inode, when `inodes` is not given. */
  inodeRatio?: number;
  inodeSize?: number;
  label?: string;
  uuid?: string;
  /** Creation time, in seconds since the epoch. */
  time?: number;
  revision?: number;
}

export interface MkfsResult {
  blocks: number;
  inodes: number;
  blockSize: number;
  inodeSize: number;
  groups: number;
  uuid: string;
}

const MiB = 1024 * 1024;
const PAGE = 4096;
/** The bad blocks inode (EXT2_BAD_INO): mke2fs gives it times and nothing else. */
const BAD_BLOCKS_INO = 1;
/** lost+found is the first non-reserved inode, as mke2fs makes it. */
const LOST_FOUND_INO = GOOD_OLD_FIRST_INO;
const RESERVED_PERCENT = 5;
/** bg_flags: the inode table is zeroed. */
const BG_INODE_ZEROED = 4;
/** s_default_mount_opts bits (EXT2_DEFM_*): user_xattr and acl, the ones mke2fs records. */
const DEFM_XATTR_USER = 0x4;
const DEFM_ACL = 0x8;
const DEFAULT_MOUNT_OPTIONS = DEFM_XATTR_USER | DEFM_ACL;
const HASH_HALF_MD4 = 1;
const FLAGS_SIGNED_HASH = 1;
/** s_max_mnt_count −1 (as a u16): no check forced by the number of mounts. */
const NO_MAX_MOUNT_COUNT = 0xffff;
/** The extra inode space mke2fs asks for in large inodes. */
const EXTRA_ISIZE = 32;
/** A group's leftover shorter than its metadata plus this is dropped, as mke2fs does. */
const MIN_LAST_GROUP_DATA = 50;

interface Plan {
  blockSize: number;
  blocks: number;
  firstDataBlock: number;
  blocksPerGroup: number;
  groups: number;
  inodesPerGroup: number;
  inodeTableBlocks: number;
  gdtBlocks: number;
  inodeSize: number;
  revision: number;
  sparseSuper: boolean;
  reservedBlocks: number;
  lostFoundBlocks: number;
}

function invalid(message: string): SysError {
  return new SysError('EINVAL', `mkfs: ${message}`);
}

/** The geometry mke2fs would choose for these arguments. */
function plan(a: MkfsArgs & { size: number }): Plan {
  const revision = a.revision ?? 1;
  if (revision !== 0 && revision !== 1) throw invalid(`revision ${revision} is not 0 or 1`);
  // mke2fs.conf's size classes: floppy, small, default and big.
  const floppy = a.size < 3 * MiB;
  const small = a.size < 512 * MiB;
  const big = a.size >= 4 * 1024 * 1024 * MiB;
  const blockSize = a.blockSize ?? (small ? 1024 : 4096);
  if (![1024, 2048, 4096].includes(blockSize)) throw invalid(`block size ${blockSize} is not 1024, 2048 or 4096`);
  const inodeSize = a.inodeSize ?? (revision === 0 ? GOOD_OLD_INODE_SIZE : 256);
  if (inodeSize < GOOD_OLD_INODE_SIZE || inodeSize > blockSize || (inodeSize & (inodeSize - 1)) !== 0) {
    throw invalid(`inode size ${inodeSize} is not a power of two from 128 to the block size`);
  }
  if (revision === 0 && inodeSize !== GOOD_OLD_INODE_SIZE) throw invalid('revision 0 has 128-byte inodes');
  const ratio = a.inodeRatio ?? (floppy ? 8192 : small ? 4096 : big ? 32768 : 16384);
  if (ratio < 1024 || ratio > 64 * MiB) throw invalid(`inode ratio ${ratio} is not between 1024 and 64 MiB`);
  const firstDataBlock = blockSize === 1024 ? 1 : 0;
  const blocksPerGroup = blockSize * 8;
  const sparseSuper = revision === 1;
  // Whole 4 KiB pages of the image, as mke2fs counts an image's blocks.
  let blocks = Math.floor(a.size / PAGE) * (PAGE / blockSize);
  if (blocks > 2 ** 32 - 1) throw invalid(`${a.size} bytes is too large for ${blockSize}-byte blocks`);
  if (blocks < 64) throw invalid(`${a.size} bytes is too small for a file system`);
  const inodesWanted = Math.max(GOOD_OLD_FIRST_INO + 1, a.inodes ?? Math.floor((blocks * blockSize) / ratio));
  let reservedBlocks = Math.floor((RESERVED_PERCENT * blocks) / 100);
  const lostFoundBlocks = Math.min(12, Math.max(2, 16384 / blockSize));
  for (;;) {
    const groups = Math.ceil((blocks - firstDataBlock) / blocksPerGroup);
    let ipg = Math.ceil(inodesWanted / groups);
    if (ipg > blockSize * 8) throw invalid(`${inodesWanted} inodes do not fit in ${groups} groups`);
    const perBlock = blockSize / inodeSize;
    ipg = Math.max(8, Math.ceil(ipg / perBlock) * perBlock) & ~7;
    const inodeTableBlocks = Math.ceil((ipg * inodeSize) / blockSize);
    const gdtBlocks = Math.ceil((groups * GROUP_DESC_SIZE) / blockSize);
    if (3 + gdtBlocks + inodeTableBlocks > blocksPerGroup) throw invalid(`${inodesWanted} inodes do not fit in ${groups} groups`);
    const lastOverhead = 2 + inodeTableBlocks + (hasSuperblock(groups - 1, sparseSuper) ? 1 + gdtBlocks : 0);
    const rem = (blocks - firstDataBlock) % blocksPerGroup;
    if (groups > 1 && rem > 0 && rem < lastOverhead + MIN_LAST_GROUP_DATA) {
      const ratioUsed = (100 * reservedBlocks) / blocks;
      blocks -= rem;
      reservedBlocks = Math.floor((ratioUsed * blocks) / 100);
      continue;
    }
    const firstGroupBlocks = Math.min(blocksPerGroup, blocks - firstDataBlock);
    if (firstGroupBlocks < 3 + gdtBlocks + inodeTableBlocks + 1 + lostFoundBlocks) {
      throw invalid(`${a.size} bytes is too small for ${inodesWanted} inodes of ${inodeSize} bytes`);
    }
    return {
      blockSize, blocks, firstDataBlock, blocksPerGroup, groups, inodesPerGroup: ipg, inodeTableBlocks, gdtBlocks,
      inodeSize, revision, sparseSuper, reservedBlocks, lostFoundBlocks,
    };
  }
}

function parseUuid(text: string): Uint8Array {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(text)) {
    throw invalid(`'${text}' is not a UUID like 01234567-89ab-cdef-0123-456789abcdef`);
  }
  const hex = text.replaceAll('-', '');
  return Uint8Array.from({ length: 16 }, (_, i) => parseInt(hex.slice(i * 2, i * 2 + 2), 16));
}

function formatUuid(b: Uint8Array): string {
  const hex = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A version 4 (random) UUID. */
function randomUuid(ctx: Context): Uint8Array {
  const b = ctx.hyp.random(16);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  return b;
}

interface GroupLayout {
  start: number;
  size: number;
  hasSuper: boolean;
  blockBitmap: number;
  inodeBitmap: number;
  inodeTable: number;
  /** Blocks in use from the group's start: its metadata, and in group 0 the two directories. */
  used: number;
}

function layout(p: Plan, g: number): GroupLayout {
  const start = p.firstDataBlock + g * p.blocksPerGroup;
  const hasSuper = hasSuperblock(g, p.sparseSuper);
  const blockBitmap = start + (hasSuper ? 1 + p.gdtBlocks : 0);
  const metadata = blockBitmap + 2 + p.inodeTableBlocks - start;
  return {
    start, size: Math.min(p.blocksPerGroup, p.blocks - start), hasSuper, blockBitmap, inodeBitmap: blockBitmap + 1,
    inodeTable: blockBitmap + 2, used: metadata + (g === 0 ? 1 + p.lostFoundBlocks : 0),
  };
}

/** A bitmap block with bits [0, used) and the padding bits [valid, end) set. */
function bitmap(blockSize: number, used: number, valid: number): Uint8Array {
  const bits = new Uint8Array(blockSize);
  const set = (bit: number) => (bits[bit >> 3] |= 1 << (bit & 7));
  for (let bit = 0; bit < used; bit++) set(bit);
  for (let bit = valid; bit < blockSize * 8; bit++) set(bit);
  return bits;
}

function inodeRecord(node: Inode, inodeSize: number, now: number): Uint8Array {
  const rec = new Uint8Array(inodeSize);
  node.serialize(new DataView(rec.buffer), inodeSize, now);
  return rec;
}

/** Every block of the new file system that is not zero, as device writes. */
function image(p: Plan, uuid: Uint8Array, hashSeed: Uint8Array, time: number, label: Uint8Array): Write[] {
  const bs = p.blockSize;
  const groups = Array.from({ length: p.groups }, (_, g) => layout(p, g));
  const writes: Write[] = [];

  const gdt = new Uint8Array(p.gdtBlocks * bs);
  let freeBlocks = 0;
  let overhead = p.firstDataBlock;
  for (const [g, l] of groups.entries()) {
    const usedInodes = g === 0 ? LOST_FOUND_INO : 0;
    writeDescriptor(gdt, g, {
      blockBitmap: l.blockBitmap, inodeBitmap: l.inodeBitmap, inodeTable: l.inodeTable, freeBlocks: l.size - l.used,
      freeInodes: p.inodesPerGroup - usedInodes, usedDirs: g === 0 ? 2 : 0 /* root and lost+found */, flags: BG_INODE_ZEROED,
    });
    freeBlocks += l.size - l.used;
    overhead += l.inodeTable + p.inodeTableBlocks - l.start;
    const bitmaps = new Uint8Array(2 * bs);
    bitmaps.set(bitmap(bs, l.used, l.size));
    bitmaps.set(bitmap(bs, usedInodes, p.inodesPerGroup), bs);
    writes.push({ offset: l.blockBitmap * bs, data: bitmaps });
  }

  const sb = new Superblock(new Uint8Array(SUPERBLOCK_SIZE));
  sb.inodesCount = p.inodesPerGroup * p.groups;
  sb.blocksCount = p.blocks;
  sb.reservedBlocks = p.reservedBlocks;
  sb.freeBlocks = freeBlocks;
  sb.freeInodes = sb.inodesCount - LOST_FOUND_INO;
  sb.firstDataBlock = p.firstDataBlock;
  sb.logBlockSize = sb.logFragSize = Math.log2(bs / 1024);
  sb.blocksPerGroup = sb.fragsPerGroup = p.blocksPerGroup;
  sb.inodesPerGroup = p.inodesPerGroup;
  sb.writeTime = sb.lastCheck = sb.mkfsTime = time;
  sb.maxMountCount = NO_MAX_MOUNT_COUNT;
  sb.magic = EXT2_MAGIC;
  sb.state = STATE_CLEAN;
  sb.errors = ERRORS_CONTINUE;
  sb.revLevel = p.revision;
  sb.firstIno = GOOD_OLD_FIRST_INO;
  sb.inodeSize = p.inodeSize;
  sb.uuid.set(uuid);
  sb.hashSeed.set(hashSeed);
  sb.defHashVersion = HASH_HALF_MD4;
  sb.flags = FLAGS_SIGNED_HASH;
  sb.overheadClusters = overhead;
  if (p.revision === 1) {
    sb.incompat = INCOMPAT_FILETYPE;
    sb.roCompat = RO_COMPAT_SPARSE_SUPER | RO_COMPAT_LARGE_FILE;
    sb.volumeName.set(label);
    sb.defaultMountOptions = DEFAULT_MOUNT_OPTIONS;
    if (p.inodeSize > GOOD_OLD_INODE_SIZE) sb.minExtraIsize = sb.wantExtraIsize = EXTRA_ISIZE;
  }
  for (const [g, l] of groups.entries()) {
    if (!l.hasSuper) continue;
    // Backups say "not clean", as mke2fs writes them.
    const copy = new Superblock(sb.raw.slice());
    if (g > 0) copy.state = 0;
    if (p.revision === 1) copy.blockGroupNr = g;
    writes.push({ offset: g === 0 ? SUPERBLOCK_OFFSET : l.start * bs, data: copy.raw });
    writes.push({ offset: (l.start + 1) * bs, data: gdt });
  }

  // Inodes 1 (bad blocks: only its times), 2 (root) and 11 (lost+found) in group 0's table.
  const ms = time * 1000;
  const dirType = p.revision === 1 ? typeCode(S_IFDIR) : FT_UNKNOWN;
  const rootBlock = groups[0].start + groups[0].used - 1 - p.lostFoundBlocks;
  const lostFoundBlock = rootBlock + 1;
  const sectorsPerBlock = bs / I_BLOCKS_UNIT;
  const table = new Uint8Array(Math.ceil((LOST_FOUND_INO * p.inodeSize) / bs) * bs);
  const badBlocks = new Inode(BAD_BLOCKS_INO);
  badBlocks.atime = badBlocks.mtime = badBlocks.ctime = ms;
  table.set(inodeRecord(badBlocks, p.inodeSize, ms), 0);
  const root = new Inode(ROOT_INO);
  root.reset(S_IFDIR | 0o755, 0, 0, 0, ms);
  root.size = bs;
  root.links = 3;
  root.blocks = sectorsPerBlock;
  root.block[0] = rootBlock;
  table.set(inodeRecord(root, p.inodeSize, ms), (ROOT_INO - 1) * p.inodeSize);
  const lostFound = new Inode(LOST_FOUND_INO);
  lostFound.reset(S_IFDIR | 0o700, 0, 0, 0, ms);
  lostFound.size = p.lostFoundBlocks * bs;
  lostFound.links = 2;
  lostFound.blocks = p.lostFoundBlocks * sectorsPerBlock;
  for (let i = 0; i < p.lostFoundBlocks; i++) lostFound.block[i] = lostFoundBlock + i;
  table.set(inodeRecord(lostFound, p.inodeSize, ms), (LOST_FOUND_INO - 1) * p.inodeSize);
  writes.push({ offset: groups[0].inodeTable * bs, data: table });

  const rootData = new Uint8Array(bs);
  writeDotEntries(rootData, ROOT_INO, ROOT_INO, dirType, DOT_ENTRIES_SIZE);
  writeEntry(rootData, DOT_ENTRIES_SIZE, LOST_FOUND_INO, bs - DOT_ENTRIES_SIZE, new TextEncoder().encode('lost+found'), dirType);
  const lostFoundData = new Uint8Array(p.lostFoundBlocks * bs);
  writeDotEntries(lostFoundData.subarray(0, bs), LOST_FOUND_INO, ROOT_INO, dirType);
  for (let i = 1; i < p.lostFoundBlocks; i++) writeEmptyBlock(lostFoundData.subarray(i * bs, (i + 1) * bs));
  writes.push({ offset: rootBlock * bs, data: rootData }, { offset: lostFoundBlock * bs, data: lostFoundData });
  return writes;
}

/** Bytes of zeros per commit that clears a container's inode tables: well within one call. */
const ZEROS_PER_COMMIT = 4 * MiB;

/**
 * The inode tables as zero writes, at most ZEROS_PER_COMMIT bytes each: what a container's
 * payload or a partition needs before the file system's blocks, since no truncation empties it (an emptied
 * host image reads as zeros, which image() relies on).
 */
function zeroedInodeTables(p: Plan): Write[] {
  const bs = p.blockSize;
  const writes: Write[] = [];
  for (let g = 0; g < p.groups; g++) {
    const end = (layout(p, g).inodeTable + p.inodeTableBlocks) * bs;
    for (let at = layout(p, g).inodeTable * bs; at < end; at += ZEROS_PER_COMMIT) {
      writes.push({ offset: at, data: new Uint8Array(Math.min(ZEROS_PER_COMMIT, end - at)) });
    }
  }
  return writes;
}

/**
 * The device a new file system goes on, and its size: a host image emptied and made `size`
 * bytes, or the payload of the container `key` opens.
 */
async function target(ctx: Context, a: MkfsArgs): Promise<{ dev: Device; size: number }> {
  if (a.key === undefined && a.partition === undefined) {
    if (a.size === undefined) throw invalid('a size is needed (only a LUKS container, given its key, or a partition has one of its own)');
    // Emptied first, so that nothing of an earlier image survives between the new blocks.
    await (await Device.attach(ctx, a.source, { size: 0 })).detach();
    return { dev: await Device.attach(ctx, a.source, { size: a.size }), size: a.size };
  }
  const dev = await Device.attach(ctx, a.source, { key: a.key, partition: a.partition });
  if (a.size !== undefined && a.size > dev.size) {
    await dev.detach();
    throw invalid(`${a.size} bytes do not fit in the ${a.key !== undefined ? "container's payload" : 'partition'} of ${dev.size}`);
  }
  return { dev, size: a.size ?? dev.size };
}

export async function mkfs(ctx: Context, a: MkfsArgs): Promise<MkfsResult> {
  const label = new TextEncoder().encode(a.label ?? '');
  if (label.length > 16) throw invalid(`the label '${a.label}' is longer than 16 bytes`);
  if (a.time !== undefined && a.time > 2 ** 32 - 1) throw invalid(`time ${a.time} does not fit in 32 bits`);
  if (a.size !== undefined) plan({ ...a, size: a.size }); // bad arguments refused before the image is touched
  const uuid = a.uuid !== undefined ? parseUuid(a.uuid) : randomUuid(ctx);
  const hashSeed = a.uuid !== undefined ? uuid : randomUuid(ctx);
  const time = a.time ?? Math.floor(ctx.hyp.clockRealtime() / 1000);
  const { dev, size } = await target(ctx, a);
  try {
    const p = plan({ ...a, size });
    if (a.key !== undefined || a.partition !== undefined) for (const zeros of zeroedInodeTables(p)) await dev.commit([zeros]);
    await dev.commit(image(p, uuid, hashSeed, time, label));
    return { blocks: p.blocks, inodes: p.inodesPerGroup * p.groups, blockSize: p.blockSize, inodeSize: p.inodeSize, groups: p.groups, uuid: formatUuid(uuid) };
  } finally {
    await dev.detach();
  }
}
