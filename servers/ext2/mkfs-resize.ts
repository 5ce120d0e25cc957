// The resize inode (inode 7, COMPAT_RESIZE_INODE) of a new file system, as e2fsprogs'
// lib/ext2fs/res_gdt.c makes it: the descriptor blocks reserved for growing the file system
// (s_reserved_gdt_blocks after each descriptor table copy) are owned by this inode, so that no
// file gets them. Its double indirect block points at the primary reserved blocks, and each
// of those, read as an indirect block, lists its copies in the backup groups
// (Documentation/filesystems/ext4/special_inodes.rst; blockgroup.rst, "Block Group Descriptors").

import { setU32 } from './bytes.js';
import { I_BLOCKS_UNIT, N_BLOCKS } from './inode.js';
import { groupFirst, type BlockMap, type LayoutGeometry } from './mkfs-layout.js';
import { hasSuperblock } from './superblock.js';

export const RESIZE_INO = 7;
/** i_block's double indirect slot. */
const DIND_SLOT = 13;
const DIRECT_BLOCKS = 12;

/** What mkfs writes for the resize inode: its i_block, size, i_blocks, and the blocks to write. */
export interface ResizeInode {
  block: number[];
  size: number;
  blocks: number;
  /** i_flags: none (a block map, even on ext4). */
  flags: number;
  writes: Map<number, Uint8Array>;
}

/**
 * Reserved descriptor blocks per copy (calc_reserved_gdt_blocks in lib/ext2fs/initialize.c):
 * enough descriptors for the file system grown 1024 times or to 2^32 blocks, at most one
 * indirect block's worth of pointers.
 */
export function reservedGdtBlocks(blocks: number, firstDataBlock: number, blocksPerGroup: number, blockSize: number, descSize: number, gdtBlocks: number): number {
  const maxBlocks = Math.min(2 ** 32 - 1, blocks * 1024);
  const maxGroups = Math.ceil((maxBlocks - firstDataBlock) / blocksPerGroup);
  const wanted = Math.ceil(maxGroups / (blockSize / descSize)) - gdtBlocks;
  return Math.max(0, Math.min(wanted, blockSize / 4));
}

/**
 * Takes the resize inode's double indirect block (at the first free block after where group
 * 0's inode table would end without flex_bg, res_gdt.c's goal) and fills it and the primary
 * reserved blocks in.
 */
export function resizeInode(map: BlockMap, blockSize: number): ResizeInode {
  const g: LayoutGeometry = map.g;
  const perBlock = blockSize / 4;
  const sbBlock = g.firstDataBlock;
  const goal = sbBlock + g.gdtBlocks + g.reservedGdtBlocks + 2 + g.inodeTableBlocks;
  const dind = map.take(goal, 1, "the resize inode's double indirect block");
  const dindData = new Uint8Array(blockSize);
  const writes = new Map<number, Uint8Array>([[dind, dindData]]);
  const backups = Array.from({ length: g.groups }, (_, grp) => grp).filter((grp) => grp > 0 && hasSuperblock(grp, g.sparseSuper));
  let owned = 1;
  for (let i = 0; i < g.reservedGdtBlocks; i++) {
    const primary = sbBlock + 1 + g.gdtBlocks + i;
    setU32(dindData, ((g.gdtBlocks + i) % perBlock) * 4, primary);
    const list = new Uint8Array(blockSize);
    backups.forEach((grp, k) => setU32(list, k * 4, primary + groupFirst(g, grp) - groupFirst(g, 0)));
    writes.set(primary, list);
    owned += 1 + backups.length;
  }
  const block = new Array<number>(N_BLOCKS).fill(0);
  block[DIND_SLOT] = dind;
  // The size covers the whole double indirect range, as res_gdt.c sets it.
  const size = (perBlock * perBlock + perBlock + DIRECT_BLOCKS) * blockSize;
  return { block, size, blocks: owned * (blockSize / I_BLOCKS_UNIT), flags: 0, writes };
}
