// ext4's extent trees (Documentation/filesystems/ext4/ifork.rst, "Extent Tree"; fs/ext4/
// ext4_extents.h): a file with EXTENTS_FL maps its blocks with a tree whose root is the
// 60 bytes of i_block. Every node is a 12-byte header (eh_magic 0xF30A, eh_entries, eh_max,
// eh_depth, eh_generation) and 12-byte entries: in a leaf (depth 0) extents (ee_block, ee_len,
// ee_start), in an index node (ei_block, ei_leaf) pointing at a node one level down; a node in
// a block ends in struct ext4_extent_tail (et_checksum) with metadata_csum.
//
// This module is the node format and the read side. Every node is checked when it is loaded
// (magic, entries within eh_max within the space, depth one less than its parent's and at most
// 5, entries sorted and inside the parent's range, blocks inside the file system and not
// metadata, the tail checksum with metadata_csum) — damage is EUCLEAN naming the inode and the
// node. The walk only visits nodes whose range meets the blocks asked for, and depth falls by
// one per level, so it ends. extent-write.ts changes trees through the same loader.

import { setU16, setU32, u16, u32 } from './bytes.js';
import type { BlockCache } from './cache.js';
import { extentBlockChecksum, extentTailOffset, inodeSeed } from './csum.js';
import { corrupt } from './errors.js';
import type { Groups } from './groups.js';
import type { Inode } from './inode.js';
import type { Geometry } from './superblock.js';

/** eh_magic of every extent tree node. */
export const EH_MAGIC = 0xf30a;
/** The deepest tree ext4 builds (EXT4_MAX_EXTENT_DEPTH). */
export const EXT_MAX_DEPTH = 5;
/** The longest initialised extent (EXT_INIT_MAX_LEN); an ee_len above it marks an uninitialised one of ee_len − 32768 blocks. */
export const EXT_INIT_MAX_LEN = 32768;
/** Header and entry size. */
const ENTRY = 12;
/** Entries the root in i_block (60 bytes) holds (ext4_ext_space_root). */
export const ROOT_MAX = 4;
/** Logical block numbers are 32-bit: the end of every range. */
export const LBLK_END = 2 ** 32;

// Header fields (struct ext4_extent_header), u16 each but eh_generation (u32).
const EH_MAGIC_AT = 0;
const EH_ENTRIES = 2;
const EH_MAX = 4;
const EH_DEPTH = 6;
const EH_GENERATION = 8;
// Leaf entry (struct ext4_extent): ee_block u32, ee_len u16, ee_start_hi u16, ee_start_lo u32.
const EE_BLOCK = 0;
const EE_LEN = 4;
const EE_START_HI = 6;
const EE_START_LO = 8;
// Index entry (struct ext4_extent_idx): ei_block u32, ei_leaf_lo u32, ei_leaf_hi u16.
const EI_BLOCK = 0;
const EI_LEAF_LO = 4;
const EI_LEAF_HI = 8;

/** A leaf entry: logical blocks block … block+len−1 at physical start …; uninitialised ones read as zeros. */
export interface Extent {
  block: number;
  len: number;
  start: number;
  uninit: boolean;
}

/** An index entry: the node at block `leaf` maps logical blocks from `block` on. */
export interface ExtentIndex {
  block: number;
  leaf: number;
}

/** One node, parsed: its entries are Extents at depth 0, ExtentIndexes above. */
export interface ExtentNode {
  /** The node's block, or null for the root in i_block. */
  at: number | null;
  depth: number;
  /** eh_max. */
  max: number;
  /** eh_generation, kept as found. */
  generation: number;
  entries: (Extent | ExtentIndex)[];
  /** The logical range its parent gives it: lo … hi−1. */
  lo: number;
  hi: number;
}

export const extentsOf = (n: ExtentNode) => n.entries as Extent[];
export const indexesOf = (n: ExtentNode) => n.entries as ExtentIndex[];

/** Entries a node in a block of `blockSize` bytes holds (ext4_ext_space_block): the tail checksum fits after them. */
export function blockMax(blockSize: number): number {
  return Math.floor((blockSize - ENTRY) / ENTRY);
}

/** An empty root: a leaf of no extents, what ext4_ext_tree_init puts in a new inode's i_block. */
export function emptyRoot(): ExtentNode {
  return { at: null, depth: 0, max: ROOT_MAX, generation: 0, entries: [], lo: 0, hi: LBLK_END };
}

/**
 * The bytes of a node: `out` (60 bytes for the root, a block otherwise) is cleared and gets the
 * header and entries; with `seed` (the inode's checksum seed) a block node gets its tail checksum.
 */
export function serializeNode(n: ExtentNode, out: Uint8Array, seed: number | null): void {
  out.fill(0);
  setU16(out, EH_MAGIC_AT, EH_MAGIC);
  setU16(out, EH_ENTRIES, n.entries.length);
  setU16(out, EH_MAX, n.max);
  setU16(out, EH_DEPTH, n.depth);
  setU32(out, EH_GENERATION, n.generation);
  n.entries.forEach((entry, i) => {
    const e = ENTRY + i * ENTRY;
    if (n.depth === 0) {
      const x = entry as Extent;
      setU32(out, e + EE_BLOCK, x.block);
      setU16(out, e + EE_LEN, x.uninit ? x.len + EXT_INIT_MAX_LEN : x.len);
      setU16(out, e + EE_START_HI, Math.floor(x.start / 2 ** 32));
      setU32(out, e + EE_START_LO, x.start % 2 ** 32);
    } else {
      const x = entry as ExtentIndex;
      setU32(out, e + EI_BLOCK, x.block);
      setU32(out, e + EI_LEAF_LO, x.leaf % 2 ** 32);
      setU16(out, e + EI_LEAF_HI, Math.floor(x.leaf / 2 ** 32));
    }
  });
  if (n.at !== null && seed !== null) setU32(out, extentTailOffset(out), extentBlockChecksum(seed, out));
}

export class ExtentMap {
  constructor(
    private readonly cache: BlockCache,
    private readonly groups: Groups,
    private readonly geo: Geometry,
  ) {}

  /** The inode's seed for extent block checksums (inodeSeed), or null without metadata_csum. */
  seedOf(node: Inode): number | null {
    return this.geo.csumSeed === null ? null : inodeSeed(this.geo.csumSeed, node.ino, node.generation);
  }

  /** The root node in i_block, checked. */
  root(node: Inode): ExtentNode {
    return this.parse(node, node.blockBytes(), null, null, 0, LBLK_END, null);
  }

  /** Child `i` of index node `parent`, loaded from its block and checked (its checksum too, with `seed`). */
  async child(node: Inode, parent: ExtentNode, i: number, seed: number | null): Promise<ExtentNode> {
    const ix = indexesOf(parent);
    const hi = i + 1 < ix.length ? ix[i + 1].block : parent.hi;
    return this.parse(node, await this.cache.get(ix[i].leaf), ix[i].leaf, parent.depth - 1, ix[i].block, Math.min(hi, parent.hi), seed);
  }

  /**
   * Physical blocks of logical blocks first … first+count−1 of an inode with EXTENTS_FL: 0 for
   * a hole and for an uninitialised extent (which reads as zeros). Errors: EUCLEAN naming the
   * inode and the node at fault.
   */
  async lookupRun(node: Inode, first: number, count: number): Promise<Float64Array> {
    const out = new Float64Array(count);
    await this.visit(node, this.root(node), first, first + count, out, this.seedOf(node));
    return out;
  }

  private async visit(node: Inode, n: ExtentNode, first: number, end: number, out: Float64Array, seed: number | null): Promise<void> {
    for (let i = 0; i < n.entries.length; i++) {
      if (n.depth === 0) {
        const x = extentsOf(n)[i];
        if (x.uninit) continue;
        for (let l = Math.max(first, x.block); l < Math.min(end, x.block + x.len); l++) {
          const b = x.start + (l - x.block);
          if (this.groups.isMetadata(b)) throw this.bad(node, n.at, `maps logical block ${l} to block ${b}, which is metadata`);
          out[l - first] = b;
        }
      } else {
        const ix = indexesOf(n);
        const next = i + 1 < ix.length ? ix[i + 1].block : n.hi;
        if (next <= first || ix[i].block >= end) continue;
        await this.visit(node, await this.child(node, n, i, seed), first, end, out, seed);
      }
    }
  }

  private bad(node: Inode, at: number | null, what: string) {
    return corrupt(`inode ${node.ino}'s extent tree node ${at === null ? 'in i_block' : `at block ${at}`} ${what}`);
  }

  /** Parses and checks a node's bytes; `depth` is what its parent requires (null for the root), lo … hi−1 the range it gives. */
  private parse(node: Inode, buf: Uint8Array, at: number | null, depth: number | null, lo: number, hi: number, seed: number | null): ExtentNode {
    const bad = (what: string) => this.bad(node, at, what);
    if (u16(buf, EH_MAGIC_AT) !== EH_MAGIC) throw bad(`has eh_magic 0x${u16(buf, EH_MAGIC_AT).toString(16)}, not 0x${EH_MAGIC.toString(16)}`);
    const entries = u16(buf, EH_ENTRIES);
    const max = u16(buf, EH_MAX);
    const ownDepth = u16(buf, EH_DEPTH);
    const room = Math.floor((buf.length - ENTRY) / ENTRY);
    if (max === 0 || max > room) throw bad(`has eh_max ${max}, but room for 1–${room} entries`);
    if (entries > max) throw bad(`has eh_entries ${entries} past eh_max ${max}`);
    if (ownDepth > EXT_MAX_DEPTH || (depth !== null && ownDepth !== depth)) {
      throw bad(`has eh_depth ${ownDepth}, where ${depth === null ? `at most ${EXT_MAX_DEPTH}` : depth} is expected`);
    }
    if (at !== null && seed !== null) {
      const tail = extentTailOffset(buf);
      if (tail + 4 > buf.length) throw bad('has no room for its checksum tail');
      const want = extentBlockChecksum(seed, buf);
      if (u32(buf, tail) !== want) throw bad(`has checksum 0x${u32(buf, tail).toString(16)}, but its bytes give 0x${want.toString(16)}`);
    }
    const n: ExtentNode = { at, depth: ownDepth, max, generation: u32(buf, EH_GENERATION), entries: [], lo, hi };
    let prevEnd = lo;
    for (let i = 0; i < entries; i++) {
      const e = ENTRY + i * ENTRY;
      const block = u32(buf, e + (ownDepth === 0 ? EE_BLOCK : EI_BLOCK));
      if (block < prevEnd || block >= hi) throw bad(`has entry ${i} at logical block ${block}, out of order or outside ${lo}–${hi - 1}`);
      if (ownDepth === 0) {
        const raw = u16(buf, e + EE_LEN);
        const uninit = raw > EXT_INIT_MAX_LEN;
        const len = uninit ? raw - EXT_INIT_MAX_LEN : raw;
        const start = u32(buf, e + EE_START_LO) + u16(buf, e + EE_START_HI) * 2 ** 32;
        if (len === 0 || block + len > hi) throw bad(`has extent ${i} of ${len} blocks at logical block ${block}, outside ${lo}–${hi - 1}`);
        if (start < this.geo.firstDataBlock || start + len > this.geo.blocksCount) throw bad(`has extent ${i} at blocks ${start}–${start + len - 1}, outside the file system`);
        prevEnd = block + len;
        n.entries.push({ block, len, start, uninit });
      } else {
        const leaf = u32(buf, e + EI_LEAF_LO) + u16(buf, e + EI_LEAF_HI) * 2 ** 32;
        if (this.groups.isMetadata(leaf)) throw bad(`points at block ${leaf}, which is metadata or outside the file system`);
        prevEnd = block + 1;
        n.entries.push({ block, leaf });
      }
    }
    return n;
  }
}
