// The block maps of the files mkfs makes (the journal, lost+found, the root directory): the
// classic map of direct and indirect blocks (ext2, ext3), or an extent tree held in the
// inode's i_block (ext4). Sources: Documentation/filesystems/ext4/ifork.rst ("Direct/Indirect
// Block Addressing", "Extent Tree").

import { SysError } from '../../kernel/api.js';
import { setU16, setU32, u32 } from './bytes.js';
import { EH_MAGIC } from './extents.js';
import { N_BLOCKS } from './inode.js';

/** A run of physically contiguous blocks: its first block and how many. */
export interface Run {
  start: number;
  length: number;
}

const EXTENT_HEADER_SIZE = 12;
const EXTENT_SIZE = 12;
/** Extents that fit in i_block after the header. */
const ROOT_EXTENTS = (N_BLOCKS * 4 - EXTENT_HEADER_SIZE) / EXTENT_SIZE;
/** The longest initialised extent (ee_len's top bit marks an uninitialised one). */
export const MAX_EXTENT_LENGTH = 32768;
const DIRECT_BLOCKS = 12;

/** `runs` as extents mapped from logical block 0 in order, none longer than MAX_EXTENT_LENGTH. */
function extentsOf(runs: Run[]): { logical: number; start: number; length: number }[] {
  const extents: { logical: number; start: number; length: number }[] = [];
  let logical = 0;
  for (const run of runs) {
    for (let done = 0; done < run.length; done += MAX_EXTENT_LENGTH) {
      extents.push({ logical: logical + done, start: run.start + done, length: Math.min(MAX_EXTENT_LENGTH, run.length - done) });
    }
    logical += run.length;
  }
  return extents;
}

/** Whether `runs` fit in the extents an inode's i_block holds. */
export function fitsInInode(runs: Run[]): boolean {
  return extentsOf(runs).length <= ROOT_EXTENTS;
}

/**
 * i_block holding a depth-0 extent tree over `runs`, mapped from logical block 0 in order
 * (ext4_extent_header then ext4_extent entries). Refuses (EINVAL, naming the file `what`)
 * what needs more than the four extents i_block holds: mkfs makes no extent blocks.
 */
export function extentRoot(runs: Run[], what: string): number[] {
  const extents = extentsOf(runs);
  if (!fitsInInode(runs)) {
    throw new SysError('EINVAL', `mkfs: ${what} needs ${extents.length} extents, more than the ${ROOT_EXTENTS} its inode holds (mkfs writes no extent blocks yet)`);
  }
  const raw = new Uint8Array(N_BLOCKS * 4);
  setU16(raw, 0, EH_MAGIC);
  setU16(raw, 2, extents.length); // eh_entries
  setU16(raw, 4, ROOT_EXTENTS); // eh_max
  // eh_depth 0 (the extents are leaves), eh_generation 0
  extents.forEach((e, i) => {
    const at = EXTENT_HEADER_SIZE + i * EXTENT_SIZE;
    setU32(raw, at, e.logical); // ee_block
    setU16(raw, at + 4, e.length); // ee_len
    setU16(raw, at + 6, Math.floor(e.start / 2 ** 32)); // ee_start_hi
    setU32(raw, at + 8, e.start % 2 ** 32); // ee_start_lo
  });
  return Array.from({ length: N_BLOCKS }, (_, i) => u32(raw, i * 4));
}

/** Indirect blocks needed to map n data blocks with `perBlock` pointers per block. */
export function indirectBlocks(n: number, perBlock: number): number {
  let rest = n - DIRECT_BLOCKS;
  let count = 0;
  for (let level = 1; level <= 3 && rest > 0; level++) {
    const mapped = Math.min(rest, perBlock ** level);
    // One block per pointer block at each level of this subtree.
    for (let l = 1; l <= level; l++) count += Math.ceil(mapped / perBlock ** (l - 1) / perBlock);
    rest -= mapped;
  }
  if (rest > 0) throw new SysError('EINVAL', `mkfs: a file of ${n} blocks is past the triple indirect block's reach`);
  return count;
}

/** A block map built by blockMap: i_block, and the indirect blocks' contents by block number. */
export interface BlockMapResult {
  block: number[];
  indirect: Map<number, Uint8Array>;
}

/**
 * The classic block map of n data blocks laid over `runs` in order, each indirect block just
 * before the blocks it maps (as libext2fs allocates a file it writes from the start): runs
 * must hold n + indirectBlocks(n) blocks.
 */
export function blockMap(n: number, runs: Run[], blockSize: number): BlockMapResult {
  const perBlock = blockSize / 4;
  const sequence = (function* () {
    for (const r of runs) for (let b = r.start; b < r.start + r.length; b++) yield b;
  })();
  const next = (): number => {
    const b = sequence.next();
    if (b.done) throw new RangeError('blockMap: the runs are shorter than the map');
    return b.value;
  };
  const indirect = new Map<number, Uint8Array>();
  // A pointer block of `level` mapping `count` data blocks: itself first, then its subtree.
  const fill = (level: number, count: number): number => {
    const at = next();
    const buf = new Uint8Array(blockSize);
    indirect.set(at, buf);
    const each = perBlock ** (level - 1);
    for (let i = 0; count > 0; i++, count -= Math.min(count, each)) {
      setU32(buf, i * 4, level === 1 ? next() : fill(level - 1, Math.min(count, each)));
    }
    return at;
  };
  const block = new Array<number>(N_BLOCKS).fill(0);
  for (let i = 0; i < Math.min(n, DIRECT_BLOCKS); i++) block[i] = next();
  let rest = n - DIRECT_BLOCKS;
  for (let level = 1; level <= 3 && rest > 0; level++) {
    const mapped = Math.min(rest, perBlock ** level);
    block[DIRECT_BLOCKS - 1 + level] = fill(level, mapped);
    rest -= mapped;
  }
  return { block, indirect };
}
