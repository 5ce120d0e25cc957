// Which block group a new inode goes to, as Linux's ext2 chooses (fs/ext2/ialloc.c). A new
// directory is placed by the Orlov allocator (find_group_orlov): a top-level one — in the root,
// or in a directory marked TOPDIR — goes to the group with the fewest directories among those
// with at least the average free inodes and free blocks, so that unrelated trees spread over
// the disk; any other directory stays near its parent unless that part of the disk is getting
// crowded (too many directories, too few free inodes or blocks, or too many directories
// placed there lately without files to follow them: the group's "debt"). Anything else goes
// to its parent's group, or one found by a hash of the parent (find_group_other), so that the
// files of one directory stay together.

/** What the choice reads of the group descriptors. */
export interface GroupCounts {
  readonly count: number;
  freeInodes(g: number): number;
  freeBlocks(g: number): number;
  usedDirs(g: number): number;
}

/** The numbers of the file system the choice weighs the groups against. */
export interface OrlovGeometry {
  blocksCount: number;
  blocksPerGroup: number;
  inodesPerGroup: number;
}

/** i_flags bit of a directory whose subdirectories are spread like top-level ones (EXT2_TOPDIR_FL). */
export const TOPDIR_FL = 0x20000;
/** Linux's estimates of what a directory costs in inodes and in blocks (INODE_COST, BLOCK_COST). */
const INODE_COST = 64;
const BLOCK_COST = 256;
/** Debts are kept in a byte, as Linux's s_debts. */
const MAX_DEBT = 255;

/**
 * Directories placed in each group lately without files to follow them, as Linux's s_debts:
 * kept in memory only, from zero at mount.
 */
export class Debts {
  private readonly debts: Uint8Array;

  constructor(groups: number) {
    this.debts = new Uint8Array(groups);
  }

  get(g: number): number {
    return this.debts[g];
  }

  /** A new inode in group g: a directory adds to its debt, anything else pays one off. */
  note(g: number, isDir: boolean): void {
    if (isDir) this.debts[g] = Math.min(MAX_DEBT, this.debts[g] + 1);
    else if (this.debts[g] > 0) this.debts[g]--;
  }
}

/**
 * The group for a new directory whose parent lies in `parentGroup`; −1 when no group has a
 * free inode. Linux starts a top-level directory's search at a random group to break ties;
 * this one starts at group 0, so that the same operations make the same image (and give the
 * same inode numbers under every policy).
 */
export function orlovGroup(groups: GroupCounts, geo: OrlovGeometry, debts: Debts, parentGroup: number, topLevel: boolean): number {
  const n = groups.count;
  let freeInodes = 0;
  let freeBlocks = 0;
  let dirs = 0;
  for (let g = 0; g < n; g++) {
    freeInodes += groups.freeInodes(g);
    freeBlocks += groups.freeBlocks(g);
    dirs += groups.usedDirs(g);
  }
  const avgFreeInodes = Math.floor(freeInodes / n);
  const avgFreeBlocks = Math.floor(freeBlocks / n);

  if (topLevel) {
    let best = -1;
    let bestDirs = geo.inodesPerGroup;
    for (let g = 0; g < n; g++) {
      if (groups.freeInodes(g) === 0 || groups.usedDirs(g) >= bestDirs) continue;
      if (groups.freeInodes(g) < avgFreeInodes || groups.freeBlocks(g) < avgFreeBlocks) continue;
      best = g;
      bestDirs = groups.usedDirs(g);
    }
    return best >= 0 ? best : fallback(groups, parentGroup, avgFreeInodes);
  }

  dirs = Math.max(1, dirs);
  const blocksPerDir = Math.floor((geo.blocksCount - freeBlocks) / dirs);
  const maxDirs = Math.floor(dirs / n) + Math.floor(geo.inodesPerGroup / 16);
  const minInodes = avgFreeInodes - Math.floor(geo.inodesPerGroup / 4);
  const minBlocks = avgFreeBlocks - Math.floor(geo.blocksPerGroup / 4);
  let maxDebt = Math.floor(geo.blocksPerGroup / Math.max(blocksPerDir, BLOCK_COST));
  if (maxDebt * INODE_COST > geo.inodesPerGroup) maxDebt = Math.floor(geo.inodesPerGroup / INODE_COST);
  maxDebt = Math.max(1, Math.min(MAX_DEBT, maxDebt));
  for (let i = 0; i < n; i++) {
    const g = (parentGroup + i) % n;
    if (groups.freeInodes(g) === 0 || debts.get(g) >= maxDebt || groups.usedDirs(g) >= maxDirs) continue;
    if (groups.freeInodes(g) < minInodes || groups.freeBlocks(g) < minBlocks) continue;
    return g;
  }
  return fallback(groups, parentGroup, avgFreeInodes);
}

/** The first group from the parent's with at least the average free inodes, or with any. */
function fallback(groups: GroupCounts, parentGroup: number, avgFreeInodes: number): number {
  for (const atLeast of [avgFreeInodes, 1]) {
    for (let i = 0; i < groups.count; i++) {
      const g = (parentGroup + i) % groups.count;
      if (groups.freeInodes(g) > 0 && groups.freeInodes(g) >= atLeast) return g;
    }
  }
  return -1;
}

/**
 * The group for a new inode that is not a directory, in the directory `parentIno` of group
 * `parentGroup`: that group if it has a free inode and a free block; else a group found by a
 * quadratic hash from the parent's inode number (so that the files of one directory land
 * together, and those of another directory elsewhere); else any group with a free inode; −1
 * when none has one.
 */
export function otherGroup(groups: GroupCounts, parentGroup: number, parentIno: number): number {
  const n = groups.count;
  const roomy = (g: number) => groups.freeInodes(g) > 0 && groups.freeBlocks(g) > 0;
  if (roomy(parentGroup)) return parentGroup;
  let g = (parentGroup + parentIno) % n;
  for (let i = 1; i < n; i *= 2) {
    g = (g + i) % n;
    if (roomy(g)) return g;
  }
  for (let i = 1; i <= n; i++) {
    g = (parentGroup + i) % n;
    if (groups.freeInodes(g) > 0) return g;
  }
  return -1;
}
