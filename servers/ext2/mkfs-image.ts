// The blocks of a new ext2, ext3 or ext4 file system, as device writes: superblock copies and
// descriptor tables, each group's bitmaps, the first inodes (bad blocks, root, resize inode,
// journal, lost+found), the two directories, the resize inode's and the journal's blocks. With
// metadata_csum (ext4) every structure carries its checksum (Documentation/filesystems/ext4/
// checksums.rst), and groups not yet used are left uninitialised (BLOCK_UNINIT, INODE_UNINIT,
// bg_itable_unused) exactly as mke2fs leaves them — so that the image is the one mke2fs makes.

import { S_IFDIR, S_IFREG } from '../../kernel/api.js';
import { setU16 } from './bytes.js';
import {
  BG_CHECKSUM, DIRENT_TAIL_SIZE, RO_COMPAT_METADATA_CSUM, bitmapChecksum, checksumSeed,
  groupDescChecksum, inodeSeed, sealInodeChecksum,
} from './csum.js';
import type { Write } from './device.js';
import { DOT_ENTRIES_SIZE, FT_UNKNOWN, sealLeafBlock, typeCode, writeDotEntries, writeEmptyBlock, writeEntry } from './dir.js';
import { BG_BLOCK_UNINIT, BG_INODE_UNINIT, BG_INODE_ZEROED, writeDescriptor } from './groups.js';
import { EXTENTS_FL, I_BLOCKS_UNIT, Inode, ROOT_INO } from './inode.js';
import { extentRoot, type Run } from './mkfs-files.js';
import { JOURNAL_INO, addJournal } from './mkfs-journal.js';
import { BlockMap, groupFirst, groupSize, placeTables, superblockBlocks, type LayoutGeometry } from './mkfs-layout.js';
import { RESIZE_INO, resizeInode } from './mkfs-resize.js';
import {
  COMPAT_DIR_INDEX, COMPAT_HAS_JOURNAL, COMPAT_RESIZE_INODE, EXT2_MAGIC, ERRORS_CONTINUE, GOOD_OLD_FIRST_INO, GOOD_OLD_INODE_SIZE, INCOMPAT_64BIT, INCOMPAT_EXTENTS, INCOMPAT_FILETYPE,
  INCOMPAT_FLEX_BG, RO_COMPAT_HUGE_FILE, RO_COMPAT_LARGE_FILE, RO_COMPAT_SPARSE_SUPER, STATE_CLEAN, SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE, Superblock, hasSuperblock, newExtraIsize,
} from './superblock.js';

/** The file system types mkfs makes. */
export type FsType = 'ext2' | 'ext3' | 'ext4';

/** The geometry of a new file system, as mkfs's plan chose it. */
export interface Plan extends LayoutGeometry {
  type: FsType;
  blockSize: number;
  inodesPerGroup: number;
  inodeSize: number;
  revision: number;
  reservedBlocks: number;
  lostFoundBlocks: number;
  /** s_desc_size: 64 with 64bit, else 32. */
  descSize: number;
  /** The journal's length in blocks (ext3, ext4), else 0. */
  journalBlocks: number;
}

/** The new file system: its blocks, and the ranges that must read as zeros (inode tables, journal). */
export interface Image {
  writes: Write[];
  zeroed: Run[];
}

/** The bad blocks inode (EXT2_BAD_INO): mke2fs gives it times and nothing else. */
const BAD_BLOCKS_INO = 1;
/** lost+found is the first non-reserved inode, as mke2fs makes it. */
const LOST_FOUND_INO = GOOD_OLD_FIRST_INO;
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

// Feature bits (Documentation/filesystems/ext4/super.rst) that only mkfs uses.
const COMPAT_EXT_ATTR = 0x8;
const RO_COMPAT_DIR_NLINK = 0x20;
const RO_COMPAT_EXTRA_ISIZE = 0x40;
/** mke2fs -t ext4's features here (/etc/mke2fs.conf), besides the journal. */
const EXT4_COMPAT = COMPAT_EXT_ATTR | COMPAT_RESIZE_INODE | COMPAT_DIR_INDEX;
const EXT4_INCOMPAT = INCOMPAT_FILETYPE | INCOMPAT_EXTENTS | INCOMPAT_64BIT | INCOMPAT_FLEX_BG;
const EXT4_RO_COMPAT = RO_COMPAT_SPARSE_SUPER | RO_COMPAT_LARGE_FILE | RO_COMPAT_HUGE_FILE | RO_COMPAT_DIR_NLINK | RO_COMPAT_EXTRA_ISIZE | RO_COMPAT_METADATA_CSUM;

// Superblock fields only mkfs writes (struct ext4_super_block).
const S_JNL_BACKUP_TYPE = 0xfd; // u8
const S_JNL_BLOCKS = 0x10c; // u32 × 17
/** s_jnl_backup_type: s_jnl_blocks holds a copy of the journal inode's i_block (EXT3_JNL_BACKUP_BLOCKS). */
const JNL_BACKUP_BLOCKS = 1;
/** s_checksum_type: crc32c (EXT4_CRC32C_CHKSUM). */
const CHECKSUM_CRC32C = 1;

// Group descriptor fields past those groups.ts writes (struct ext4_group_desc).
const BG_BLOCK_BITMAP_CSUM_LO = 0x18; // u16
const BG_INODE_BITMAP_CSUM_LO = 0x1a; // u16
const BG_ITABLE_UNUSED_LO = 0x1c; // u16
const BG_BLOCK_BITMAP_CSUM_HI = 0x38; // u16, 64-byte descriptors only
const BG_INODE_BITMAP_CSUM_HI = 0x3a; // u16

/** A bitmap block with bits [0, used) and the padding bits [valid, end) set. */
function bitmap(blockSize: number, used: number, valid: number): Uint8Array {
  const bits = new Uint8Array(blockSize);
  const set = (bit: number) => (bits[bit >> 3] |= 1 << (bit & 7));
  for (let bit = 0; bit < used; bit++) set(bit);
  for (let bit = valid; bit < blockSize * 8; bit++) set(bit);
  return bits;
}

/** The superblock's fields that are the same in every copy. */
function superblockOf(p: Plan, uuid: Uint8Array, hashSeed: Uint8Array, time: number, label: Uint8Array): Superblock {
  const sb = new Superblock(new Uint8Array(SUPERBLOCK_SIZE));
  sb.inodesCount = p.inodesPerGroup * p.groups;
  sb.blocksCount = p.blocks;
  sb.reservedBlocks = p.reservedBlocks;
  sb.freeInodes = sb.inodesCount - LOST_FOUND_INO;
  sb.firstDataBlock = p.firstDataBlock;
  sb.logBlockSize = sb.logFragSize = Math.log2(p.blockSize / 1024);
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
  if (p.revision === 1) {
    sb.incompat = INCOMPAT_FILETYPE;
    sb.roCompat = RO_COMPAT_SPARSE_SUPER | RO_COMPAT_LARGE_FILE;
    sb.volumeName.set(label);
    sb.defaultMountOptions = DEFAULT_MOUNT_OPTIONS;
    if (p.inodeSize > GOOD_OLD_INODE_SIZE) sb.minExtraIsize = sb.wantExtraIsize = EXTRA_ISIZE;
  }
  if (p.type !== 'ext2') sb.compat |= COMPAT_HAS_JOURNAL;
  if (p.type === 'ext4') {
    sb.compat |= EXT4_COMPAT;
    sb.incompat |= EXT4_INCOMPAT;
    sb.roCompat |= EXT4_RO_COMPAT;
    sb.descSize = p.descSize;
    sb.reservedGdtBlocks = p.reservedGdtBlocks;
    sb.logGroupsPerFlex = Math.log2(p.flexSize);
    sb.checksumType = CHECKSUM_CRC32C;
  }
  return sb;
}

/** Every block of the new file system that is not zero, as device writes. */
export function image(p: Plan, uuid: Uint8Array, hashSeed: Uint8Array, time: number, label: Uint8Array): Image {
  const bs = p.blockSize;
  const ext4 = p.type === 'ext4';
  const map = new BlockMap(p);
  const tables = placeTables(map);
  const rootBlock = map.take(0, 1, 'the root directory');
  const lostFoundBlock = map.take(0, p.lostFoundBlocks, 'lost+found');
  const resize = ext4 ? resizeInode(map, bs) : null;
  const journal = p.journalBlocks ? addJournal(map, p.journalBlocks, bs, uuid, ext4, p.flexSize) : null;
  const sb = superblockOf(p, uuid, hashSeed, time, label);
  const seed = ext4 ? checksumSeed(sb.raw) : null;
  const writes: Write[] = [];
  const write = (block: number, data: Uint8Array) => writes.push({ offset: block * bs, data });

  // Inodes 1 (bad blocks: only its times), 2 (root), 7 (resize), 8 (journal) and 11 (lost+found) in group 0's table.
  const ms = time * 1000;
  const table = new Uint8Array(Math.ceil((LOST_FOUND_INO * p.inodeSize) / bs) * bs);
  const putInode = (node: Inode) => {
    const rec = table.subarray((node.ino - 1) * p.inodeSize, node.ino * p.inodeSize);
    node.serialize(new DataView(rec.buffer, rec.byteOffset, rec.length), { inodeSize: p.inodeSize, blockSize: bs, hugeFile: false, extraIsize: newExtraIsize(p.inodeSize) }, ms);
    if (seed !== null) sealInodeChecksum(seed, node.ino, rec);
  };
  const newInode = (ino: number, mode: number, size: number, links: number, blocks: number) => {
    const node = new Inode(ino);
    node.reset(mode, 0, 0, 0, ms);
    node.size = size;
    node.links = links;
    node.blocks = blocks;
    return node;
  };
  /** A directory of `length` blocks from `start`: an extent in ext4, direct blocks before. */
  const newDir = (ino: number, mode: number, links: number, start: number, length: number, what: string) => {
    const node = newInode(ino, S_IFDIR | mode, length * bs, links, length * (bs / I_BLOCKS_UNIT));
    if (ext4) {
      node.flags = EXTENTS_FL;
      node.block.set(extentRoot([{ start, length }], what));
    } else {
      for (let i = 0; i < length; i++) node.block[i] = start + i;
    }
    return node;
  };
  const badBlocks = new Inode(BAD_BLOCKS_INO);
  badBlocks.atime = badBlocks.mtime = badBlocks.ctime = ms;
  putInode(badBlocks);
  // The other reserved inodes stay zero; with metadata_csum they get their checksum too, as mke2fs gives it.
  for (let ino = BAD_BLOCKS_INO + 1; seed !== null && ino < LOST_FOUND_INO; ino++) putInode(new Inode(ino));
  putInode(newDir(ROOT_INO, 0o755, 3, rootBlock, 1, 'the root directory'));
  putInode(newDir(LOST_FOUND_INO, 0o700, 2, lostFoundBlock, p.lostFoundBlocks, 'lost+found'));
  for (const [ino, file] of [[RESIZE_INO, resize], [JOURNAL_INO, journal]] as const) {
    if (!file) continue;
    const node = newInode(ino, S_IFREG | 0o600, file.size, 1, file.blocks);
    node.block.set(file.block);
    node.flags = file.flags;
    putInode(node);
    for (const [at, data] of file.writes) write(at, data);
  }
  write(tables[0].inodeTable, table);

  const dirType = p.revision === 1 ? typeCode(S_IFDIR) : FT_UNKNOWN;
  const end = bs - (seed === null ? 0 : DIRENT_TAIL_SIZE);
  const rootData = new Uint8Array(bs);
  writeDotEntries(rootData, ROOT_INO, ROOT_INO, dirType, DOT_ENTRIES_SIZE);
  writeEntry(rootData, DOT_ENTRIES_SIZE, LOST_FOUND_INO, end - DOT_ENTRIES_SIZE, new TextEncoder().encode('lost+found'), dirType);
  if (seed !== null) sealLeafBlock(rootData, inodeSeed(seed, ROOT_INO, 0));
  write(rootBlock, rootData);
  const lostFoundData = new Uint8Array(p.lostFoundBlocks * bs);
  for (let i = 0; i < p.lostFoundBlocks; i++) {
    const block = lostFoundData.subarray(i * bs, (i + 1) * bs);
    if (i === 0) writeDotEntries(block.subarray(0, end), LOST_FOUND_INO, ROOT_INO, dirType);
    else writeEmptyBlock(block.subarray(0, end));
    if (seed !== null) sealLeafBlock(block, inodeSeed(seed, LOST_FOUND_INO, 0));
  }
  write(lostFoundBlock, lostFoundData);

  const gdt = new Uint8Array(p.gdtBlocks * bs);
  let freeBlocks = 0;
  for (let g = 0; g < p.groups; g++) {
    const size = groupSize(p, g);
    const free = size - map.countUsed(groupFirst(p, g), size);
    const usedInodes = g === 0 ? LOST_FOUND_INO : 0;
    // With metadata_csum, as mke2fs: a group with no inode in use is INODE_UNINIT, one (but the
    // last) whose only blocks in use are its superblock and descriptor copies BLOCK_UNINIT; the
    // bitmaps of either kind are not written and have no checksum.
    const inodeUninit = seed !== null && usedInodes === 0;
    const blockUninit = seed !== null && g < p.groups - 1 && size - free === superblockBlocks(p, g);
    const desc = gdt.subarray(g * p.descSize, (g + 1) * p.descSize);
    writeDescriptor(desc, 0, {
      ...tables[g], freeBlocks: free, freeInodes: p.inodesPerGroup - usedInodes, usedDirs: g === 0 ? 2 : 0 /* root and lost+found */,
      flags: BG_INODE_ZEROED | (inodeUninit ? BG_INODE_UNINIT : 0) | (blockUninit ? BG_BLOCK_UNINIT : 0),
    });
    freeBlocks += free;
    const blockBits = map.groupBitmap(g, bs);
    const inodeBits = bitmap(bs, usedInodes, p.inodesPerGroup);
    if (!blockUninit) write(tables[g].blockBitmap, blockBits);
    if (!inodeUninit) write(tables[g].inodeBitmap, inodeBits);
    if (seed === null) continue;
    setU16(desc, BG_ITABLE_UNUSED_LO, p.inodesPerGroup - usedInodes);
    const blockSum = blockUninit ? 0 : bitmapChecksum(seed, blockBits, p.blocksPerGroup);
    const inodeSum = inodeUninit ? 0 : bitmapChecksum(seed, inodeBits, p.inodesPerGroup);
    setU16(desc, BG_BLOCK_BITMAP_CSUM_LO, blockSum & 0xffff);
    setU16(desc, BG_INODE_BITMAP_CSUM_LO, inodeSum & 0xffff);
    setU16(desc, BG_BLOCK_BITMAP_CSUM_HI, blockSum >>> 16);
    setU16(desc, BG_INODE_BITMAP_CSUM_HI, inodeSum >>> 16);
    setU16(desc, BG_CHECKSUM, groupDescChecksum(seed, g, desc));
  }

  sb.freeBlocks = freeBlocks;
  // Overhead, as mke2fs counts it: every block in use (and block 0 of 1 KiB blocks) but the
  // two directories', the resize inode's own block and the journal's indirect blocks.
  const used = p.blocks - p.firstDataBlock - freeBlocks;
  sb.overheadClusters = p.firstDataBlock + used - 1 - p.lostFoundBlocks - (resize ? 1 : 0) - (journal?.indirect ?? 0);
  if (journal) {
    sb.journalInum = JOURNAL_INO;
    const view = new DataView(sb.raw.buffer);
    view.setUint8(S_JNL_BACKUP_TYPE, JNL_BACKUP_BLOCKS);
    journal.backup.forEach((v, i) => view.setUint32(S_JNL_BLOCKS + i * 4, v, true));
  }
  for (let g = 0; g < p.groups; g++) {
    if (!hasSuperblock(g, p.sparseSuper)) continue;
    // Backups say "not clean", as mke2fs writes them.
    const copy = new Superblock(sb.raw.slice());
    if (g > 0) copy.state = 0;
    if (p.revision === 1) copy.blockGroupNr = g;
    copy.sealChecksum();
    writes.push({ offset: g === 0 ? SUPERBLOCK_OFFSET : groupFirst(p, g) * bs, data: copy.raw });
    write(groupFirst(p, g) + 1, gdt);
  }
  const zeroed = tables.map((t) => ({ start: t.inodeTable, length: p.inodeTableBlocks }));
  if (journal) zeroed.push(...journal.runs);
  return { writes, zeroed };
}
