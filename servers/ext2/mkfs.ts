// mkfs: writes a new file system. ext2 (the default): revision 1 with the features filetype,
// sparse_super and large_file, or revision 0, laid out as mke2fs lays out the same parameters:
// in each group the superblock and descriptor copies (where sparse_super puts them), the two
// bitmaps and the inode table; then a root directory and a lost+found of mke2fs's size. ext3:
// the same with a journal (has_journal). ext4: the features mke2fs -t ext4 sets (journal,
// extents, 64bit, flex_bg, metadata_csum, resize_inode, …; see mkfs-image.ts). With a UUID and
// a time given, the image is the same byte for byte every time (the hash seed is then the
// UUID unless given too); otherwise they come from the host's random generator.

import { SysError, type Context } from '../../kernel/api.js';
import { Device, type Write } from './device.js';
import { type Run } from './mkfs-files.js';
import { image, type FsType, type Plan } from './mkfs-image.js';
import { superblockBlocks } from './mkfs-layout.js';
import { journalBlocks } from './mkfs-journal.js';
import { reservedGdtBlocks } from './mkfs-resize.js';
import { GOOD_OLD_FIRST_INO, GOOD_OLD_INODE_SIZE, GROUP_DESC_SIZE } from './superblock.js';

export interface MkfsArgs {
  /** ext2 (the default), ext3 or ext4. */
  type?: string;
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
  /** s_hash_seed, the directory hash's seed (mke2fs -E hash_seed=); default: the UUID when one is given, else random. */
  hashSeed?: string;
  /** ext3/ext4: the journal's size in MiB (mke2fs -J size=); default: ext2fs_default_journal_size's. */
  journalSize?: number;
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
const RESERVED_PERCENT = 5;
/** A group's leftover shorter than its metadata plus this is dropped, as mke2fs does. */
const MIN_LAST_GROUP_DATA = 50;
/** ext4's descriptors with 64bit (EXT4_MIN_DESC_SIZE_64BIT), and its groups per flex group (mke2fs's default, 2^4). */
const DESC_SIZE_64BIT = 64;
const EXT4_FLEX_SIZE = 16;
/** ext4 here has extra_isize: room for it in every inode. */
const EXT4_MIN_INODE_SIZE = 256;
const TYPES: readonly FsType[] = ['ext2', 'ext3', 'ext4'];

function invalid(message: string): SysError {
  return new SysError('EINVAL', `mkfs: ${message}`);
}

/** The geometry mke2fs would choose for these arguments. */
function plan(a: MkfsArgs & { size: number }): Plan {
  const type = (a.type ?? 'ext2') as FsType;
  if (!TYPES.includes(type)) throw invalid(`'${a.type}' is not a file system type mkfs makes (ext2, ext3, ext4)`);
  const ext4 = type === 'ext4';
  const revision = a.revision ?? 1;
  if (revision !== 0 && revision !== 1) throw invalid(`revision ${revision} is not 0 or 1`);
  if (revision === 0 && type !== 'ext2') throw invalid(`${type} needs revision 1`);
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
  if (a.journalSize !== undefined && type === 'ext2') throw invalid('ext2 has no journal (ext3 and ext4 have)');
  if (ext4 && inodeSize < EXT4_MIN_INODE_SIZE) throw invalid(`ext4 needs inodes of ${EXT4_MIN_INODE_SIZE} bytes or more (extra_isize)`);
  const ratio = a.inodeRatio ?? (floppy ? 8192 : small ? 4096 : big ? 32768 : 16384);
  if (ratio < 1024 || ratio > 64 * MiB) throw invalid(`inode ratio ${ratio} is not between 1024 and 64 MiB`);
  const firstDataBlock = blockSize === 1024 ? 1 : 0;
  const blocksPerGroup = blockSize * 8;
  const sparseSuper = revision === 1;
  const descSize = ext4 ? DESC_SIZE_64BIT : GROUP_DESC_SIZE;
  const flexSize = ext4 ? EXT4_FLEX_SIZE : 0;
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
    // Rounded down to a multiple of 8 as mke2fs rounds it, ipg may leave lost+found outside
    // group 0, where this mkfs puts the reserved inodes and lost+found (mke2fs spreads them).
    if (ipg < GOOD_OLD_FIRST_INO) {
      throw invalid(`${ipg} inodes per group are too few: inodes 1 to ${GOOD_OLD_FIRST_INO - 1} are reserved and lost+found is inode ${GOOD_OLD_FIRST_INO}, all in group 0`);
    }
    const inodeTableBlocks = Math.ceil((ipg * inodeSize) / blockSize);
    const gdtBlocks = Math.ceil((groups * descSize) / blockSize);
    const reservedGdt = ext4 ? reservedGdtBlocks(blocks, firstDataBlock, blocksPerGroup, blockSize, descSize, gdtBlocks) : 0;
    const geometry = { blocks, firstDataBlock, blocksPerGroup, groups, sparseSuper, gdtBlocks, reservedGdtBlocks: reservedGdt, inodeTableBlocks, flexSize };
    if (3 + gdtBlocks + reservedGdt + inodeTableBlocks > blocksPerGroup) throw invalid(`${inodesWanted} inodes do not fit in ${groups} groups`);
    const lastOverhead = 2 + inodeTableBlocks + superblockBlocks(geometry, groups - 1);
    const rem = (blocks - firstDataBlock) % blocksPerGroup;
    if (groups > 1 && rem > 0 && rem < lastOverhead + MIN_LAST_GROUP_DATA) {
      const ratioUsed = (100 * reservedBlocks) / blocks;
      blocks -= rem;
      reservedBlocks = Math.floor((ratioUsed * blocks) / 100);
      continue;
    }
    const firstGroupBlocks = Math.min(blocksPerGroup, blocks - firstDataBlock);
    if (firstGroupBlocks < 3 + gdtBlocks + reservedGdt + inodeTableBlocks + 1 + lostFoundBlocks) {
      throw invalid(`${a.size} bytes is too small for ${inodesWanted} inodes of ${inodeSize} bytes`);
    }
    return {
      ...geometry, type, blockSize, inodesPerGroup: ipg, inodeSize, revision, reservedBlocks, lostFoundBlocks, descSize,
      journalBlocks: type === 'ext2' ? 0 : journalBlocks(blocks, blockSize, a.journalSize),
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

/** Bytes of zeros per commit that clears a container's inode tables and journal: well within one call. */
const ZEROS_PER_COMMIT = 4 * MiB;

/**
 * The runs that must read as zeros (inode tables, the journal), as zero writes of at most
 * ZEROS_PER_COMMIT bytes each: what a container's payload or a partition needs before the file
 * system's blocks, since no truncation empties it (an emptied host image reads as zeros, which
 * image() relies on).
 */
function zeroWrites(runs: Run[], blockSize: number): Write[] {
  const writes: Write[] = [];
  for (const r of runs) {
    const end = (r.start + r.length) * blockSize;
    for (let at = r.start * blockSize; at < end; at += ZEROS_PER_COMMIT) {
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
  const uuid = a.uuid !== undefined ? parseUuid(a.uuid) : randomUuid(ctx);
  const hashSeed = a.hashSeed !== undefined ? parseUuid(a.hashSeed) : a.uuid !== undefined ? uuid : randomUuid(ctx);
  const time = a.time ?? Math.floor(ctx.hyp.clockRealtime() / 1000);
  const build = (size: number) => {
    const p = plan({ ...a, size });
    return { p, made: image(p, uuid, hashSeed, time, label) };
  };
  // Bad arguments are refused before the image is touched, when its size is known.
  const early = a.size !== undefined ? build(a.size) : undefined;
  const { dev, size } = await target(ctx, a);
  try {
    const { p, made } = early ?? build(size);
    if (a.key !== undefined || a.partition !== undefined) for (const zeros of zeroWrites(made.zeroed, p.blockSize)) await dev.commit([zeros]);
    await dev.commit(made.writes);
    return { blocks: p.blocks, inodes: p.inodesPerGroup * p.groups, blockSize: p.blockSize, inodeSize: p.inodeSize, groups: p.groups, uuid: formatUuid(uuid) };
  } finally {
    await dev.detach();
  }
}
