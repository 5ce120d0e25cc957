// ext4's extent trees (Documentation/filesystems/ext4/ifork.rst, "Extent Tree"; fs/ext4/
// ext4_extents.h): a file with EXT4_EXTENTS_FL maps its blocks with a tree whose root is the
// 60 bytes of i_block. Every node is a 12-byte header (eh_magic 0xF30A, eh_entries, eh_max,
// eh_depth) and 12-byte entries: in a leaf (depth 0) extents (ee_block, ee_len, ee_start), in an
// index node (ei_block, ei_leaf) pointing at a node one level down. Read only: every node is
// checked before use (magic, entries within eh_max within the space, depth one less than its
// parent's and at most 5, entries sorted and inside the parent's range, blocks inside the file
// system and not metadata, the tail checksum with metadata_csum) — damage is EUCLEAN naming
// the inode and the node. The walk only visits nodes whose range meets the blocks asked for,
// and depth falls by one per level, so it ends.

import { u16, u32 } from './bytes.js';
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
/** An ee_len above this marks an uninitialised extent of ee_len − 32768 blocks (EXT_INIT_MAX_LEN). */
const EXT_INIT_MAX_LEN = 32768;
/** Header and entry size. */
const ENTRY = 12;
/** Logical block numbers are 32-bit: the end of every range. */
const LBLK_END = 2 ** 32;

// Header fields (struct ext4_extent_header), u16 each.
const EH_MAGIC_AT = 0;
const EH_ENTRIES = 2;
const EH_MAX = 4;
const EH_DEPTH = 6;
// Leaf entry (struct ext4_extent): ee_block u32, ee_len u16, ee_start_hi u16, ee_start_lo u32.
const EE_BLOCK = 0;
const EE_LEN = 4;
const EE_START_HI = 6;
const EE_START_LO = 8;
// Index entry (struct ext4_extent_idx): ei_block u32, ei_leaf_lo u32, ei_leaf_hi u16.
const EI_BLOCK = 0;
const EI_LEAF_LO = 4;
const EI_LEAF_HI = 8;

/** One step of the walk: a node's bytes, where it came from, and the logical range its parent gives it. */
interface NodeAt {
  buf: Uint8Array;
  /** 'i_block', or the node's block number. */
  where: string;
  /** The depth its parent requires, or null for the root. */
  depth: number | null;
  lo: number;
  hi: number;
}

export class ExtentMap {
  constructor(
    private readonly cache: BlockCache,
    private readonly groups: Groups,
    private readonly geo: Geometry,
  ) {}

  /**
   * Physical blocks of logical blocks first … first+count−1 of an inode with EXTENTS_FL: 0 for
   * a hole and for an uninitialised extent (which reads as zeros). Errors: EUCLEAN naming the
   * inode and the node at fault.
   */
  async lookupRun(node: Inode, first: number, count: number): Promise<Float64Array> {
    const out = new Float64Array(count);
    const seed = this.geo.csumSeed === null ? null : inodeSeed(this.geo.csumSeed, node.ino, node.generation);
    await this.visit(node, { buf: node.blockBytes(), where: 'i_block', depth: null, lo: 0, hi: LBLK_END }, first, first + count, out, seed);
    return out;
  }

  private async visit(node: Inode, at: NodeAt, first: number, end: number, out: Float64Array, seed: number | null): Promise<void> {
    const { buf } = at;
    const bad = (what: string) => corrupt(`inode ${node.ino}'s extent tree node ${at.where === 'i_block' ? 'in i_block' : `at block ${at.where}`} ${what}`);
    if (u16(buf, EH_MAGIC_AT) !== EH_MAGIC) throw bad(`has eh_magic 0x${u16(buf, EH_MAGIC_AT).toString(16)}, not 0x${EH_MAGIC.toString(16)}`);
    const entries = u16(buf, EH_ENTRIES);
    const max = u16(buf, EH_MAX);
    const depth = u16(buf, EH_DEPTH);
    const room = Math.floor((buf.length - ENTRY) / ENTRY);
    if (max === 0 || max > room) throw bad(`has eh_max ${max}, but room for 1–${room} entries`);
    if (entries > max) throw bad(`has eh_entries ${entries} past eh_max ${max}`);
    if (depth > EXT_MAX_DEPTH || (at.depth !== null && depth !== at.depth)) {
      throw bad(`has eh_depth ${depth}, where ${at.depth === null ? `at most ${EXT_MAX_DEPTH}` : at.depth} is expected`);
    }
    if (at.depth !== null && seed !== null) {
      const tail = extentTailOffset(buf);
      if (tail + 4 > buf.length) throw bad('has no room for its checksum tail');
      const want = extentBlockChecksum(seed, buf);
      if (u32(buf, tail) !== want) throw bad(`has checksum 0x${u32(buf, tail).toString(16)}, but its bytes give 0x${want.toString(16)}`);
    }
    let prevEnd = at.lo;
    for (let i = 0; i < entries; i++) {
      const e = ENTRY + i * ENTRY;
      const lblk = u32(buf, e + (depth === 0 ? EE_BLOCK : EI_BLOCK));
      if (lblk < prevEnd || lblk >= at.hi) throw bad(`has entry ${i} at logical block ${lblk}, out of order or outside ${at.lo}–${at.hi - 1}`);
      if (depth === 0) {
        const raw = u16(buf, e + EE_LEN);
        const uninit = raw > EXT_INIT_MAX_LEN;
        const len = uninit ? raw - EXT_INIT_MAX_LEN : raw;
        const start = u32(buf, e + EE_START_LO) + u16(buf, e + EE_START_HI) * 2 ** 32;
        if (len === 0 || lblk + len > at.hi) throw bad(`has extent ${i} of ${len} blocks at logical block ${lblk}, outside ${at.lo}–${at.hi - 1}`);
        if (start < this.geo.firstDataBlock || start + len > this.geo.blocksCount) throw bad(`has extent ${i} at blocks ${start}–${start + len - 1}, outside the file system`);
        prevEnd = lblk + len;
        if (uninit) continue;
        for (let l = Math.max(first, lblk); l < Math.min(end, lblk + len); l++) {
          const b = start + (l - lblk);
          if (this.groups.isMetadata(b)) throw bad(`maps logical block ${l} to block ${b}, which is metadata`);
          out[l - first] = b;
        }
      } else {
        const next = i + 1 < entries ? u32(buf, e + ENTRY + EI_BLOCK) : at.hi;
        prevEnd = lblk + 1;
        if (next <= first || lblk >= end) continue;
        const child = u32(buf, e + EI_LEAF_LO) + u16(buf, e + EI_LEAF_HI) * 2 ** 32;
        if (this.groups.isMetadata(child)) throw bad(`points at block ${child}, which is metadata or outside the file system`);
        const childBuf = await this.cache.get(child);
        await this.visit(node, { buf: childBuf, where: String(child), depth: depth - 1, lo: lblk, hi: Math.min(next, at.hi) }, first, end, out, seed);
      }
    }
  }
}
