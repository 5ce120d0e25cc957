// Changing ext4 extent trees, as Linux's fs/ext4/extents.c and e2fsprogs' lib/ext2fs/extent.c
// do (Documentation/filesystems/ext4/ifork.rst, "Extent Tree"):
//
// - mapping a hole allocates a block and adds it to the tree: the extent before it grows when
//   the block follows it on disk and in the file (ee_len up to 32768), the extent after it
//   grows backwards likewise, two extents that come to touch are joined, or a new extent is
//   inserted in order;
// - writing into an uninitialised extent splits it around the written block, which becomes an
//   initialised extent of its own (joined with its initialised neighbours like any other): the
//   rest stays uninitialised and keeps reading as zeros. No zeros are written for it;
// - a node with more entries than eh_max splits in two (an append keeps the old node full and
//   starts a new one, as e2fsprogs' extent_node_split does), the new node's first block going
//   into its parent; a full root in i_block moves its entries into a new block and becomes an
//   index one level deeper (ext4_ext_grow_indepth). An index entry's ei_block is always its
//   child's first logical block (ext4_ext_correct_indexes), which e2fsck checks;
// - truncating frees the blocks past the new end, shortens or drops extents, frees emptied
//   nodes, and empties the root when nothing is left.
//
// After a change that added or removed a node or an entry, the tree's shape is held to
// e2fsck's pass 1E rule (e2fsck/extents.c, e2fsck_should_rebuild_extents): per level, no more
// free slots than one block holds, and no level with fewer entries than a level above could
// hold; and it is never deeper than its extents need. A tree that breaks the rule is rebuilt
// packed (every node full but the last of each level), as e2fsck would rebuild it; otherwise
// e2fsck -fy would "optimize" it and report the file system modified.
//
// Every tree block written carries its et_checksum with metadata_csum. i_blocks counts tree
// blocks like data blocks, in 512-byte units. Damage met on the way is the loader's EUCLEAN.

import { SysError } from '../../kernel/api.js';
import type { Allocator } from './alloc.js';
import type { FreedRun } from './blockmap.js';
import type { BlockCache } from './cache.js';
import {
  EXT_INIT_MAX_LEN, EXT_MAX_DEPTH, LBLK_END, ROOT_MAX, blockMax, emptyRoot, extentsOf, indexesOf, serializeNode,
  type Extent, type ExtentIndex, type ExtentMap, type ExtentNode,
} from './extents.js';
import { corrupt } from './errors.js';
import type { Groups } from './groups.js';
import { EXTENTS_FL, I_BLOCKS_UNIT, N_BLOCKS, type Inode } from './inode.js';
import type { Geometry } from './superblock.js';

/** A walk from the root to a leaf: the nodes, and in each index node the entry followed. */
interface Path {
  nodes: ExtentNode[];
  pos: number[];
}

/** Per tree level (0 = the root), what e2fsck's pass 1 sums: entries, and eh_max (one less for a non-root node not full). */
interface LevelCount {
  num: number;
  max: number;
}

const firstKey = (n: ExtentNode) => n.entries[0].block;

/** Whether extent b continues extent a on disk and in the file, and the two fit in one initialised extent. */
function joinable(a: Extent, b: Extent): boolean {
  return !a.uninit && !b.uninit && a.block + a.len === b.block && a.start + a.len === b.start && a.len + b.len <= EXT_INIT_MAX_LEN;
}

export class ExtentWriter {
  private readonly sectorsPerBlock: number;
  /** Entries of a node in a block. */
  private readonly perBlock: number;

  constructor(
    private readonly cache: BlockCache,
    private readonly groups: Groups,
    private readonly alloc: Allocator,
    private readonly reader: ExtentMap,
    geo: Geometry,
  ) {
    this.sectorsPerBlock = geo.blockSize / I_BLOCKS_UNIT;
    this.perBlock = blockMax(geo.blockSize);
  }

  /** Makes a new inode map its blocks with an (empty) extent tree, as ext4_ext_tree_init does. */
  initialize(node: Inode): void {
    node.flags |= EXTENTS_FL;
    this.storeRoot(node, emptyRoot());
  }

  /**
   * The physical block of lblk, allocating it near `goal` when it is a hole. `fresh` says the
   * caller must fill all of it: a new block, or one of an uninitialised extent (which read as
   * zeros and is now initialised). Fails with ENOSPC before changing anything when the block
   * and the nodes a split may need cannot all be had.
   */
  async map(node: Inode, lblk: number, goal: number): Promise<{ block: number; fresh: boolean }> {
    const seed = this.reader.seedOf(node);
    const path = await this.find(node, lblk, seed);
    const leaf = path.nodes[path.nodes.length - 1];
    const ex = extentsOf(leaf);
    const before = ex.length;
    let i = ex.length - 1;
    while (i >= 0 && ex[i].block > lblk) i--;
    let at: number;
    let block: number;
    if (i >= 0 && lblk < ex[i].block + ex[i].len) {
      const e = ex[i];
      block = e.start + (lblk - e.block);
      if (!e.uninit) return { block, fresh: false };
      this.alloc.need(path.nodes.length + 1);
      const parts: Extent[] = [];
      if (lblk > e.block) parts.push({ block: e.block, len: lblk - e.block, start: e.start, uninit: true });
      parts.push({ block: lblk, len: 1, start: block, uninit: false });
      if (lblk + 1 < e.block + e.len) parts.push({ block: lblk + 1, len: e.block + e.len - lblk - 1, start: block + 1, uninit: true });
      ex.splice(i, 1, ...parts);
      at = i + (lblk > e.block ? 1 : 0);
    } else {
      this.alloc.need(path.nodes.length + 2);
      block = await this.alloc.allocBlock(goal);
      this.count(node, 1);
      at = i + 1;
      ex.splice(at, 0, { block: lblk, len: 1, start: block, uninit: false });
    }
    if (at + 1 < ex.length && joinable(ex[at], ex[at + 1])) {
      ex[at].len += ex[at + 1].len;
      ex.splice(at + 1, 1);
    }
    if (at > 0 && joinable(ex[at - 1], ex[at])) {
      ex[at - 1].len += ex[at].len;
      ex.splice(at, 1);
      at--;
    }
    const split = await this.settlePath(node, path, at, seed);
    if (split || ex.length < before) await this.keepShape(node, seed);
    return { block, fresh: true };
  }

  /**
   * Frees every block of logical block `keep` and beyond and the tree nodes left empty, then
   * reshapes the tree — unless `reshape` is false: a step of a truncate spread over several
   * transactions, whose last step reshapes (a rebuild of a large tree in every step would not
   * fit one; the inode is on the orphan list meanwhile, so e2fsck truncates it before it looks
   * at its tree's shape).
   */
  async truncate(node: Inode, keep: number, reshape = true): Promise<void> {
    const seed = this.reader.seedOf(node);
    const root = this.reader.root(node);
    if (!(await this.trim(node, root, keep, seed))) return;
    if (root.entries.length === 0) root.depth = 0;
    this.storeRoot(node, root);
    if (reshape) await this.keepShape(node, seed);
  }

  /** Rebuilds the tree packed when its shape breaks e2fsck's rule (after truncate steps that did not reshape). */
  reshape(node: Inode): Promise<void> {
    return this.keepShape(node, this.reader.seedOf(node));
  }

  /**
   * What truncate(node, keep) would free, without changing anything: each extent's part at or
   * past `keep`, and each tree node whose extents all lie there (at its first logical block).
   */
  async freedFrom(node: Inode, keep: number): Promise<FreedRun[]> {
    const out: FreedRun[] = [];
    await this.freedBelow(node, this.reader.root(node), keep, this.reader.seedOf(node), out);
    return out;
  }

  /** Adds to `out` what trim() would free below node `n`; returns the first logical block `n` maps (Infinity for none). */
  private async freedBelow(node: Inode, n: ExtentNode, keep: number, seed: number | null, out: FreedRun[]): Promise<number> {
    let first = Infinity;
    if (n.depth === 0) {
      for (const e of extentsOf(n)) {
        first = Math.min(first, e.block);
        if (e.block + e.len <= keep) continue;
        const from = Math.max(keep, e.block);
        out.push({ lblk: from, start: e.start + (from - e.block), count: e.block + e.len - from });
      }
      return first;
    }
    const ix = indexesOf(n);
    for (let i = 0; i < ix.length; i++) {
      const end = i + 1 < ix.length ? ix[i + 1].block : n.hi;
      if (end <= keep) {
        first = Math.min(first, ix[i].block);
        continue;
      }
      const below = await this.freedBelow(node, await this.reader.child(node, n, i, seed), keep, seed, out);
      first = Math.min(first, below);
      if (below >= keep) out.push({ lblk: below === Infinity ? Math.max(keep, ix[i].block) : below, start: ix[i].leaf, count: 1 });
    }
    return first;
  }

  /** Down from the root to the leaf whose range holds lblk (or the first leaf, for a block before every extent). */
  private async find(node: Inode, lblk: number, seed: number | null): Promise<Path> {
    const path: Path = { nodes: [this.reader.root(node)], pos: [] };
    for (let n = path.nodes[0]; n.depth > 0; ) {
      const ix = indexesOf(n);
      if (ix.length === 0) throw corrupt(`inode ${node.ino}'s extent tree has an index node at depth ${n.depth} with no entries`);
      let i = ix.length - 1;
      while (i > 0 && ix[i].block > lblk) i--;
      path.pos.push(i);
      n = await this.reader.child(node, n, i, seed);
      path.nodes.push(n);
    }
    return path;
  }

  /**
   * Writes back the nodes of a path whose leaf changed at entry `at`: first keys carried up
   * into the index entries, nodes past eh_max split (or the root grown). Returns whether a
   * node was added.
   */
  private async settlePath(node: Inode, path: Path, at: number, seed: number | null): Promise<boolean> {
    const { nodes, pos } = path;
    const changed = new Set<ExtentNode>([nodes[nodes.length - 1]]);
    for (let level = nodes.length - 1; level > 0; level--) {
      const entry = indexesOf(nodes[level - 1])[pos[level - 1]];
      if (entry.block === firstKey(nodes[level])) break;
      entry.block = firstKey(nodes[level]);
      changed.add(nodes[level - 1]);
      if (pos[level - 1] !== 0) break;
    }
    let added = false;
    for (let level = nodes.length - 1; level >= 0 && nodes[level].entries.length > nodes[level].max; level--) {
      added = true;
      const n = nodes[level];
      if (level === 0) {
        changed.add(await this.grow(node, n));
        break;
      }
      const right = await this.split(node, n, at);
      changed.add(right);
      at = pos[level - 1] + 1;
      indexesOf(nodes[level - 1]).splice(at, 0, { block: firstKey(right), leaf: right.at! });
      changed.add(nodes[level - 1]);
    }
    for (const n of changed) await this.store(node, n, seed);
    return added;
  }

  /** Moves the root's entries into a new block below it: the root becomes an index one level deeper. Returns the new node. */
  private async grow(node: Inode, root: ExtentNode): Promise<ExtentNode> {
    if (root.depth >= EXT_MAX_DEPTH) throw new SysError('EFBIG', `ext2: inode ${node.ino}'s extent tree cannot grow deeper than ${EXT_MAX_DEPTH}`);
    const child: ExtentNode = { ...root, at: await this.allocNode(node), max: this.perBlock, generation: 0, entries: root.entries };
    root.depth++;
    root.entries = [{ block: firstKey(child), leaf: child.at! }];
    return child;
  }

  /**
   * Splits a node past eh_max, whose entry `at` was just added: after an append (the last entry)
   * the node keeps eh_max entries and the rest starts a new node; otherwise each keeps half.
   */
  private async split(node: Inode, n: ExtentNode, at: number): Promise<ExtentNode> {
    const cut = at === n.entries.length - 1 ? n.max : Math.ceil(n.entries.length / 2);
    const entries = n.entries.splice(cut);
    return { at: await this.allocNode(node), depth: n.depth, max: this.perBlock, generation: 0, entries, lo: entries[0].block, hi: n.hi };
  }

  /**
   * Frees what node `n` maps at or past `keep`, and its children left empty. Returns whether
   * `n` changed; a changed child is written back here, the caller writes `n`.
   */
  private async trim(node: Inode, n: ExtentNode, keep: number, seed: number | null): Promise<boolean> {
    let changed = false;
    if (n.depth === 0) {
      const ex = extentsOf(n);
      for (let i = ex.length - 1; i >= 0 && ex[i].block + ex[i].len > keep; i--) {
        const e = ex[i];
        const from = Math.max(keep, e.block);
        await this.free(node, e.start + (from - e.block), e.block + e.len - from);
        if (from === e.block) ex.splice(i, 1);
        else e.len = from - e.block;
        changed = true;
      }
      return changed;
    }
    const ix = indexesOf(n);
    const ends = ix.map((_, i) => (i + 1 < ix.length ? ix[i + 1].block : n.hi));
    for (let i = ix.length - 1; i >= 0 && ends[i] > keep; i--) {
      const child = await this.reader.child(node, n, i, seed);
      if (!(await this.trim(node, child, keep, seed))) continue;
      changed = true;
      if (child.entries.length > 0) {
        await this.store(node, child, seed);
      } else {
        await this.free(node, ix[i].leaf, 1);
        ix.splice(i, 1);
      }
    }
    return changed;
  }

  /** Rebuilds the tree packed when its shape breaks e2fsck's rule, or it is deeper than its extents need. */
  private async keepShape(node: Inode, seed: number | null): Promise<void> {
    const root = this.reader.root(node);
    const levels: LevelCount[] = [];
    await this.countLevels(node, root, 0, levels, seed);
    const extents = levels[levels.length - 1].num;
    let needed = 0;
    for (let cap = ROOT_MAX; extents > cap; cap *= this.perBlock) needed++;
    const badShape = levels.some((l, i) => l.max - l.num > this.perBlock || levels.slice(0, i).some((above) => l.num < above.max));
    if (needed < root.depth || badShape) await this.rebuild(node, root, seed);
  }

  /** Sums entries and eh_max per level as e2fsck's scan_extent_node does (a non-root node not full counts one slot less). */
  private async countLevels(node: Inode, n: ExtentNode, level: number, levels: LevelCount[], seed: number | null): Promise<void> {
    levels[level] ??= { num: 0, max: 0 };
    levels[level].num += n.entries.length;
    levels[level].max += n.max - (level > 0 && n.entries.length < n.max ? 1 : 0);
    if (n.depth === 0) return;
    for (let i = 0; i < n.entries.length; i++) await this.countLevels(node, await this.reader.child(node, n, i, seed), level + 1, levels, seed);
  }

  /** Replaces the tree by a packed one of the same extents: its blocks freed, then as few nodes as hold them, filled in order. */
  private async rebuild(node: Inode, root: ExtentNode, seed: number | null): Promise<void> {
    const extents: Extent[] = [];
    await this.dismantle(node, root, extents, seed);
    let level: (Extent | ExtentIndex)[] = extents;
    let depth = 0;
    while (level.length > ROOT_MAX) {
      const up: ExtentIndex[] = [];
      for (let i = 0; i < level.length; i += this.perBlock) {
        const entries = level.slice(i, i + this.perBlock);
        const n: ExtentNode = { at: await this.allocNode(node), depth, max: this.perBlock, generation: 0, entries, lo: entries[0].block, hi: LBLK_END };
        await this.store(node, n, seed);
        up.push({ block: entries[0].block, leaf: n.at! });
      }
      level = up;
      depth++;
    }
    this.storeRoot(node, { ...emptyRoot(), depth, entries: level, generation: root.generation });
  }

  /** Collects the extents below `n` in order and frees every node block on the way. */
  private async dismantle(node: Inode, n: ExtentNode, out: Extent[], seed: number | null): Promise<void> {
    if (n.depth === 0) {
      out.push(...extentsOf(n));
      return;
    }
    for (let i = 0; i < n.entries.length; i++) {
      await this.dismantle(node, await this.reader.child(node, n, i, seed), out, seed);
      await this.free(node, indexesOf(n)[i].leaf, 1);
    }
  }

  /** A block for a new tree node, near the start of the inode's group (away from the data being appended). */
  private async allocNode(node: Inode): Promise<number> {
    const b = await this.alloc.allocBlock(this.groups.firstBlock(this.groups.groupOfInode(node.ino)));
    this.count(node, 1);
    return b;
  }

  private async free(node: Inode, first: number, count: number): Promise<void> {
    for (let b = first; b < first + count; b++) await this.alloc.freeBlock(b);
    this.count(node, -count);
  }

  /** i_blocks follows the blocks the inode owns, data and tree alike. */
  private count(node: Inode, blocks: number): void {
    node.blocks = Math.max(0, node.blocks + blocks * this.sectorsPerBlock);
    node.dirty = true;
  }

  private async store(node: Inode, n: ExtentNode, seed: number | null): Promise<void> {
    if (n.at === null) this.storeRoot(node, n);
    else serializeNode(n, this.cache.replace(n.at), seed);
  }

  private storeRoot(node: Inode, root: ExtentNode): void {
    const bytes = new Uint8Array(N_BLOCKS * 4);
    serializeNode(root, bytes, null);
    node.setBlockBytes(bytes);
    node.dirty = true;
  }
}
