// Allocation of blocks and inodes from the group bitmaps, keeping every count e2fsck checks
// (bitmap bits, per-group free and directory counts; the superblock's totals are summed from
// the groups at commit). Freeing something already free means the image is damaged. Which
// group a new inode goes to is orlov.ts's choice. The bitmaps come from groups.ts, which makes
// those of lazily initialised groups on first use and keeps bg_itable_unused.

import { SysError } from '../../kernel/api.js';
import { clearBit, findClear, isSet, setBit } from './bitmap.js';
import type { BlockCache } from './cache.js';
import { corrupt } from './errors.js';
import type { Groups } from './groups.js';
import { ROOT_INO, type Inode } from './inode.js';
import { Debts, TOPDIR_FL, orlovGroup, otherGroup } from './orlov.js';
import type { Geometry } from './superblock.js';

export class Allocator {
  /** Per group: no free block lies below this bit (a search hint, not a promise of one). */
  private readonly blockHint: number[];
  /** Free blocks in all groups, kept so that an op can see ENOSPC coming before it starts. */
  private freeTotal: number;
  private readonly debts: Debts;

  constructor(
    private readonly cache: BlockCache,
    private readonly groups: Groups,
    private readonly geo: Geometry,
  ) {
    this.blockHint = new Array<number>(geo.groups).fill(0);
    this.freeTotal = groups.totalFreeBlocks();
    this.debts = new Debts(geo.groups);
  }

  /** After a rollback: the counter and hints are recomputed from the (restored) descriptors. */
  reset(): void {
    this.freeTotal = this.groups.totalFreeBlocks();
    this.blockHint.fill(0);
  }

  /** Fails with ENOSPC unless `count` blocks are free. */
  need(count: number): void {
    if (this.freeTotal < count) throw new SysError('ENOSPC', 'ext2: no free blocks left');
  }

  /** Allocates a free block, the first one at or after `goal` if it can. */
  async allocBlock(goal: number): Promise<number> {
    const { groups } = this;
    if (goal < this.geo.firstDataBlock || goal >= this.geo.blocksCount) goal = this.geo.firstDataBlock;
    const home = groups.groupOfBlock(goal);
    for (let i = 0; i <= groups.count; i++) {
      const g = (home + i) % groups.count;
      if (groups.freeBlocks(g) === 0) continue;
      const from = Math.max(this.blockHint[g], i === 0 ? goal - groups.firstBlock(g) : 0);
      const bit = findClear(await groups.blockBits(g), from, groups.blocksIn(g));
      if (bit < 0) continue;
      const b = groups.firstBlock(g) + bit;
      if (groups.isMetadata(b)) throw corrupt(`the block bitmap of group ${g} marks metadata block ${b} as free`);
      const bitmap = await groups.changeBlockBits(g);
      setBit(bitmap, bit);
      groups.addFreeBlocks(g, -1);
      this.freeTotal--;
      if (from === this.blockHint[g]) this.blockHint[g] = bit + 1;
      return b;
    }
    throw new SysError('ENOSPC', 'ext2: no free blocks left');
  }

  async freeBlock(b: number): Promise<void> {
    const { groups } = this;
    if (groups.isMetadata(b)) throw corrupt(`a file claims block ${b}, which is metadata or outside the file system`);
    const g = groups.groupOfBlock(b);
    const bit = b - groups.firstBlock(g);
    const bitmap = await groups.changeBlockBits(g);
    if (!isSet(bitmap, bit)) throw corrupt(`block ${b} is freed but the bitmap says it is already free (claimed twice?)`);
    clearBit(bitmap, bit);
    groups.addFreeBlocks(g, 1);
    this.freeTotal++;
    if (bit < this.blockHint[g]) this.blockHint[g] = bit;
    this.cache.discard(b);
  }

  /**
   * Allocates an inode for a new file in directory `parent`: in the group orlov.ts chooses, or
   * (when that group's bitmap turns out full) the next one that has a free inode.
   */
  async allocInode(parent: Inode, isDir: boolean): Promise<number> {
    const { groups, geo } = this;
    const parentGroup = groups.groupOfInode(parent.ino);
    const home = isDir
      ? orlovGroup(groups, geo, this.debts, parentGroup, parent.ino === ROOT_INO || (parent.flags & TOPDIR_FL) !== 0)
      : otherGroup(groups, parentGroup, parent.ino);
    if (home < 0) throw new SysError('ENOSPC', 'ext2: no free inodes left');
    for (let i = 0; i < groups.count; i++) {
      const g = (home + i) % groups.count;
      if (groups.freeInodes(g) === 0) continue;
      const first = g * geo.inodesPerGroup + 1;
      // Inodes below first_ino are reserved even if a damaged bitmap says otherwise.
      const from = Math.max(0, geo.firstIno - first);
      const bit = findClear(await groups.inodeBits(g), from, geo.inodesPerGroup);
      if (bit < 0) continue;
      const bitmap = await groups.changeInodeBits(g);
      setBit(bitmap, bit);
      groups.addFreeInodes(g, -1);
      await groups.noteInodeUsed(g, bit);
      if (isDir) groups.addUsedDirs(g, 1);
      this.debts.note(g, isDir);
      return first + bit;
    }
    throw new SysError('ENOSPC', 'ext2: no free inodes left');
  }

  async freeInode(ino: number, isDir: boolean): Promise<void> {
    const { groups, geo } = this;
    const g = groups.groupOfInode(ino);
    const bit = ino - 1 - g * geo.inodesPerGroup;
    const bitmap = await groups.changeInodeBits(g);
    if (!isSet(bitmap, bit)) throw corrupt(`inode ${ino} is freed but the bitmap says it is already free`);
    clearBit(bitmap, bit);
    groups.addFreeInodes(g, 1);
    groups.noteInodeFreed(g, bitmap);
    if (isDir) groups.addUsedDirs(g, -1);
  }
}
