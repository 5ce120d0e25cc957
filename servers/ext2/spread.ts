// How much of a truncate fits in one jbd2 transaction. Freeing a block changes its group's
// block bitmap and the descriptor block that counts the group's free blocks; a file whose
// blocks lie in more groups than a transaction holds bitmaps is freed in several steps, from
// the end (as Linux's ext4_truncate restarts its handle, fs/ext4/inode.c and extents.c), the
// inode on the orphan list in between (Documentation/filesystems/ext4/orphan.rst). This file
// chooses where each step may stop; fs.ts runs the steps.

import type { FreedRun } from './blockmap.js';

/**
 * Blocks a step of a truncate may change besides bitmaps and descriptors: the map blocks on
 * the path to the cut (three indirect levels, or an extent tree up to five deep), the inode's
 * and the orphan list's inode table blocks, an extended attribute block with its bitmap and
 * descriptor, the inode bitmap and its descriptor. Not the rebuild of an extent tree that
 * e2fsck's shape rule may ask for: the middle steps leave the tree as trimmed, and the last
 * step's rebuild, of what a truncate keeps, fails its transaction with ENOSPC when it is
 * larger than one (the inode then stays on the orphan list).
 */
export const STEP_RESERVE = 16;

/** Where groups' bitmaps and descriptors lie: the part of the geometry a cut needs. */
export interface GroupLayout {
  /** Blocks in a group. */
  blocksPerGroup: number;
  /** The first block of group 0 (1 with 1 KiB blocks, else 0). */
  firstDataBlock: number;
  /** Group descriptors in one descriptor block. */
  descriptorsPerBlock: number;
}

/**
 * The cut of one step: the smallest logical block c ≥ `keep` such that truncating to c frees
 * `runs` (BlockMap.freedFrom(node, keep)) at or past c changing at most `budget` bitmap and
 * descriptor blocks — one of each per group a freed block lies in. Returns `keep` when all of
 * it fits; never more than the last place a run starts, so that every step frees something.
 */
export function cutFor(runs: readonly FreedRun[], keep: number, budget: number, layout: GroupLayout): number {
  const { blocksPerGroup: bpg, firstDataBlock: first, descriptorsPerBlock: perBlock } = layout;
  // Each run split where it crosses into another group: where the piece starts in the file, its group.
  const pieces: { lblk: number; group: number }[] = [];
  for (const r of runs) {
    for (let b = r.start; b < r.start + r.count; ) {
      const group = Math.floor((b - first) / bpg);
      pieces.push({ lblk: r.lblk + (b - r.start), group });
      b = first + (group + 1) * bpg;
    }
  }
  pieces.sort((a, b) => b.lblk - a.lblk);
  const groups = new Set<number>();
  const descriptors = new Set<number>();
  let cut = Infinity;
  for (let i = 0; i < pieces.length; ) {
    // Every piece from this logical block on goes at once: cutting here frees them all.
    const at = pieces[i].lblk;
    const added: number[] = [];
    for (; i < pieces.length && pieces[i].lblk === at; i++) {
      if (!groups.has(pieces[i].group)) added.push(pieces[i].group);
      groups.add(pieces[i].group);
    }
    const newDescriptors = new Set(added.map((g) => Math.floor(g / perBlock)).filter((d) => !descriptors.has(d)));
    if (cut !== Infinity && groups.size + descriptors.size + newDescriptors.size > budget) return cut;
    for (const d of newDescriptors) descriptors.add(d);
    cut = at;
  }
  return keep;
}
