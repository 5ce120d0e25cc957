// The journal of a new ext3 or ext4 file system, as e2fsprogs' lib/ext2fs/mkjournal.c makes an
// internal one: inode 8 holding a jbd2 log of ext2fs_default_journal_size blocks, empty
// (s_start 0: nothing to recover), whose first block is a version 2 journal superblock; and
// the superblock's s_journal_inum and s_jnl_blocks (a backup of the inode's i_block and size).
// Sources: Documentation/filesystems/ext4/journal.rst, special_inodes.rst, super.rst.

import { SysError } from '../../kernel/api.js';
import { encodeJournalSuperblock } from './jbd2-format.js';
import { EXTENTS_FL, I_BLOCKS_UNIT, N_BLOCKS } from './inode.js';
import { blockMap, extentRoot, fitsInInode, indirectBlocks, type Run } from './mkfs-files.js';
import { groupFirst, groupSize, noRoom, type BlockMap } from './mkfs-layout.js';

export const JOURNAL_INO = 8;
/** The fewest blocks a file system must have to get a journal (ext2fs_default_journal_size's -1). */
const MIN_BLOCKS_FOR_JOURNAL = 2048;
/** The journal lengths mke2fs -J size= accepts, in blocks (EXT2_JOURNAL_MIN_BLOCKS … figure_journal_size's bound). */
const MIN_JOURNAL_BLOCKS = 1024;
const MAX_JOURNAL_BLOCKS = 10240000;
/** Users of an internal journal: the file system itself. */
const INTERNAL_JOURNAL_USERS = 1;

/**
 * The journal's length in blocks for a file system of `blocks` blocks of `blockSize` bytes:
 * `MiB` when given (mke2fs -J size=; from 1024 blocks to 10240000 and at most half the file
 * system, as mke2fs's figure_journal_size allows), else ext2fs_default_journal_size's (4 MiB of
 * 4 KiB blocks up to 2^15 blocks, doubling with the size up to 1 GiB). EINVAL below 2048
 * blocks, where mke2fs makes no journal, and for a size out of bounds.
 */
export function journalBlocks(blocks: number, blockSize: number, MiB?: number): number {
  if (blocks < MIN_BLOCKS_FOR_JOURNAL) throw new SysError('EINVAL', `mkfs: ${blocks} blocks is too small for a journal (${MIN_BLOCKS_FOR_JOURNAL} at least)`);
  if (MiB !== undefined) {
    const n = (MiB * 1024 * 1024) / blockSize;
    if (n < MIN_JOURNAL_BLOCKS || n > MAX_JOURNAL_BLOCKS) {
      throw new SysError('EINVAL', `mkfs: a journal of ${MiB} MiB is ${n} blocks, not between ${MIN_JOURNAL_BLOCKS} and ${MAX_JOURNAL_BLOCKS}`);
    }
    if (n > blocks / 2) throw new SysError('EINVAL', `mkfs: a journal of ${MiB} MiB is more than half of the file system's ${blocks} blocks`);
    return n;
  }
  const K = 1024;
  const steps: [number, number][] = [
    [32 * K, 1024], [256 * K, 4096], [512 * K, 8192], [4096 * K, 16384], [8192 * K, 32768], [16384 * K, 65536], [32768 * K, 131072],
  ];
  return steps.find(([below]) => blocks < below)?.[1] ?? 262144;
}

/**
 * Where an ext4 journal goes (mkjournal.c's get_midpoint_journal_block): the first block of
 * the flex group holding the middle of the file system (or of the next one with free blocks),
 * or of whichever of that and the next group has more free blocks.
 */
function midpointGoal(map: BlockMap, flexSize: number): number {
  const g = map.g;
  const free = (group: number) => groupSize(g, group) - map.countUsed(groupFirst(g, group), groupSize(g, group));
  let group = Math.floor((g.blocks - g.firstDataBlock) / 2 / g.blocksPerGroup);
  let start: number;
  if (flexSize && group > flexSize) {
    group &= ~(flexSize - 1);
    while (group < g.groups && free(group) === 0) group++;
    if (group === g.groups) group = 0;
    start = group;
  } else {
    start = group > 0 ? group - 1 : group;
  }
  const end = group + 1 < g.groups ? group + 1 : group;
  let best = start;
  for (let i = start + 1; i <= end; i++) if (free(i) > free(best)) best = i;
  return groupFirst(g, best);
}

/** The journal inode's fields and the blocks to write, from addJournal. */
export interface Journal {
  block: number[];
  size: number;
  /** i_blocks, in 512-byte units. */
  blocks: number;
  /** i_flags: EXTENTS_FL with an extent tree. */
  flags: number;
  writes: Map<number, Uint8Array>;
  /** s_jnl_blocks: i_block, then i_size_high and i_size. */
  backup: number[];
  /** The blocks it owns (its log and any indirect blocks). */
  runs: Run[];
  /** How many of them are indirect blocks. */
  indirect: number;
}

/**
 * Takes the journal's n blocks and makes its contents, placed as mke2fs 1.47 places them: the
 * first free blocks from the middle of the file system with `extents` (ext4: an extent tree
 * in the inode, or one contiguous run when the free space is cut into more pieces than that
 * holds), else (ext3) from the first free block on, with a block map. `uuid` goes into the
 * journal superblock.
 */
export function addJournal(map: BlockMap, n: number, blockSize: number, uuid: Uint8Array, extents: boolean, flexSize: number): Journal {
  const writes = new Map<number, Uint8Array>();
  let block: number[];
  let first: number;
  let owned = n;
  let runs: Run[];
  if (extents) {
    const goal = midpointGoal(map, flexSize);
    runs = map.freeRuns(goal, n) ?? [];
    // Free space cut into more pieces than i_block has extents for: one contiguous run instead.
    if (runs.length === 0 || !fitsInInode(runs)) runs = [{ start: map.take(goal, n, 'the journal'), length: n }];
    else map.takeRuns(runs);
    block = extentRoot(runs, 'the journal');
    first = runs[0].start;
  } else {
    owned += indirectBlocks(n, blockSize / 4);
    runs = map.freeRuns(0, owned) ?? [];
    if (runs.length === 0) throw noRoom('the journal');
    map.takeRuns(runs);
    const m = blockMap(n, runs, blockSize);
    block = m.block;
    for (const [at, data] of m.indirect) writes.set(at, data);
    first = block[0];
  }
  const superblock = new Uint8Array(blockSize);
  superblock.set(encodeJournalSuperblock({
    version: 2, blockSize, maxLen: n, first: 1, sequence: 1, start: 0, errno: 0,
    featureCompat: 0, featureIncompat: 0, featureRoCompat: 0, uuid, nrUsers: INTERNAL_JOURNAL_USERS,
    maxTransaction: 0, maxTransData: 0, checksumType: 0, numFcBlocks: 0, users: new Uint8Array(0) /* s_users stays zero */,
  }));
  writes.set(first, superblock);
  const size = n * blockSize;
  const backup = [...block.slice(0, N_BLOCKS), Math.floor(size / 2 ** 32), size % 2 ** 32];
  return { block, size, blocks: owned * (blockSize / I_BLOCKS_UNIT), flags: extents ? EXTENTS_FL : 0, writes, backup, runs, indirect: owned - n };
}

