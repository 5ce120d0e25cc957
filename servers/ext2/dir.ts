// Directories: linear blocks of entries (inode u32, rec_len u16, name_len u8, file_type u8,
// name). Every block is checked entry by entry before use, names included: a name holding '/'
// or NUL, or a '.' or '..' that is not one of a directory's first two entries, is corruption
// (EUCLEAN) for every op on that directory, never a name handed on. For each directory in use, an
// index of its names (and of the free room in each block) is kept between ops, so a lookup
// or an insertion does not rescan the directory; the driver is the only writer, and updates
// the index with each change it makes. Names are bytes, kept and compared as byte strings
// (one char per byte), never decoded: two names differ when their bytes do.
//
// On a dir_index file system a directory with INDEX_FL is kept indexed as Linux's ext4 keeps
// it (fs/ext4/namei.c ext4_dx_add_entry, do_split, make_indexed_dir): a new name goes into
// the leaf its hash leads to; a full leaf splits by hash into a new block, which the index
// node above gains; a full node splits, or, when the dx_root is full, the root's entries move
// into a new dx_node one level down (at most MAX_INDIRECT_LEVELS, beyond which the directory
// is full: ENOSPC). A linear directory of one block that fills up becomes indexed. Removing a
// name changes its leaf only; the index never shrinks. With metadata_csum every leaf block
// ends in a dirent tail entries never use, and every block changed gets its checksum again.

import {
  NAME_MAX, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK, SysError, byteString, bytesOf, quoteName,
  type DirEntry, type DirPage, type FileType,
} from '../../kernel/api.js';
import { setU16, setU32, u16, u32 } from './bytes.js';
import type { BlockCache } from './cache.js';
import type { BlockMap } from './blockmap.js';
import { DIRENT_TAIL_FT, DIRENT_TAIL_SIZE, dirBlockChecksum, hasDirentTail, inodeSeed } from './csum.js';
import {
  DX_HASH_TEA, DX_NODE_COUNT, DX_ROOT_COUNT, MAX_INDIRECT_LEVELS, dxEntries, dxHash, dxHashVersion, dxLeaves, dxLimit, dxNextLeaf, dxProbe, dxProbeHash, initDxNode, initDxRoot,
  refuseNodeAsLeaf, sealDxNode, setDxEntries, setDxIndirectLevels, type DxDir, type DxLevel,
} from './dx.js';
import { corrupt } from './errors.js';
import { I_BLOCKS_UNIT, INDEX_FL, type Inode } from './inode.js';
import type { Geometry } from './superblock.js';

// Where each field of an entry lies: Linux's struct ext2_dir_entry_2 (fs/ext2/ext2.h).
// Little-endian. Without the filetype feature (struct ext2_dir_entry), name_len is a u16
// over both bytes and there is no file_type.
const ENTRY_INODE = 0; // u32, 0 for an unused entry
const ENTRY_REC_LEN = 4; // u16
const ENTRY_NAME_LEN = 6; // u8
const ENTRY_FILE_TYPE = 7; // u8
/** The name's first byte: the header's size. */
const ENTRY_NAME = 8;
/** The shortest entry: a header and a name of up to 4 bytes. */
const MIN_REC_LEN = 12;
/** Bytes '.' and '..' take at the start of a directory followed by other entries. */
export const DOT_ENTRIES_SIZE = 2 * MIN_REC_LEN;
/** A directory's size is a 32-bit field. */
const MAX_DIR_SIZE = 2 ** 32 - 1;
/** Names kept in all directory indexes together; the least recently used go first. */
const MAX_INDEXED_NAMES = 256 * 1024;
/**
 * Rounds of an insertion into an htree, each of which places the name or makes room: a name
 * needs at most a new level, a node split per level and a leaf split before it is placed;
 * twice that bounds it with room to spare.
 */
const MAX_HTREE_ROUNDS = 2 * (MAX_INDIRECT_LEVELS + 3);

/** file_type of an entry whose type is not recorded (EXT2_FT_UNKNOWN), as without the filetype feature. */
export const FT_UNKNOWN = 0;
/** The other file_type codes (EXT2_FT_*), with the mode type and the FileType each stands for. */
const FILE_TYPES: { code: number; mode: number; name: FileType }[] = [
  { code: 1, mode: S_IFREG, name: 'reg' },
  { code: 2, mode: S_IFDIR, name: 'dir' },
  { code: 3, mode: S_IFCHR, name: 'chr' },
  { code: 4, mode: S_IFBLK, name: 'blk' },
  { code: 5, mode: S_IFIFO, name: 'fifo' },
  { code: 6, mode: S_IFSOCK, name: 'sock' },
  { code: 7, mode: S_IFLNK, name: 'lnk' },
];
const TYPE_CODES = new Map(FILE_TYPES.map((t) => [t.mode, t.code]));
const TYPE_NAMES = new Map(FILE_TYPES.map((t) => [t.code, t.name]));

/** The dirent file_type code for an inode mode. */
export function typeCode(mode: number): number {
  return TYPE_CODES.get(mode & S_IFMT) ?? FT_UNKNOWN;
}

/** Bytes an entry with a name of n bytes takes at least. */
export function recLenFor(n: number): number {
  return (ENTRY_NAME + n + 3) & ~3;
}

/** Writes one entry at `off` (its padding zeroed). */
export function writeEntry(buf: Uint8Array, off: number, ino: number, recLen: number, name: Uint8Array, type: number): void {
  buf.fill(0, off, off + recLenFor(name.length));
  setU32(buf, off + ENTRY_INODE, ino);
  setU16(buf, off + ENTRY_REC_LEN, recLen);
  buf[off + ENTRY_NAME_LEN] = name.length;
  buf[off + ENTRY_FILE_TYPE] = type;
  buf.set(name, off + ENTRY_NAME);
}

const DOT = new Uint8Array([0x2e]);
const DOT_DOT = new Uint8Array([0x2e, 0x2e]);

/**
 * Fills a new directory's first block: '.', then '..' running to the end of the block, or
 * to `firstFree` if entries are to follow. `type` is the dirent code of a directory (0
 * without the filetype feature).
 */
export function writeDotEntries(buf: Uint8Array, ino: number, parent: number, type: number, firstFree = buf.length): void {
  writeEntry(buf, 0, ino, MIN_REC_LEN, DOT, type);
  writeEntry(buf, MIN_REC_LEN, parent, firstFree - MIN_REC_LEN, DOT_DOT, type);
}

/** Makes a block one unused entry spanning all of it. */
export function writeEmptyBlock(buf: Uint8Array): void {
  buf.fill(0);
  setU16(buf, ENTRY_REC_LEN, buf.length);
}

/**
 * Ends a directory leaf block with metadata_csum's struct ext4_dir_entry_tail (inode 0,
 * rec_len 12, name_len 0, file type 0xDE) and its det_checksum, from the directory's inodeSeed
 * (fs/ext4/namei.c ext4_initialize_dirent_tail, ext4_dirblock_csum_set).
 */
export function sealLeafBlock(buf: Uint8Array, dirSeed: number): void {
  const tail = buf.length - DIRENT_TAIL_SIZE;
  buf.fill(0, tail);
  setU16(buf, tail + ENTRY_REC_LEN, DIRENT_TAIL_SIZE);
  buf[tail + ENTRY_FILE_TYPE] = DIRENT_TAIL_FT;
  setU32(buf, buf.length - 4, dirBlockChecksum(dirSeed, buf));
}

/** The name of the entry whose name starts at `at`, `len` bytes, as a byte string. */
function nameAt(buf: Uint8Array, at: number, len: number): string {
  return byteString(buf.subarray(at, at + len));
}

/**
 * Whether a block of an indexed directory is an htree node: block 0 (the dx_root, behind '.'
 * and '..'), or a dx_node, whose first entry is an unused one spanning the whole block.
 */
function isDxBlock(buf: Uint8Array, lblk: number): boolean {
  return lblk === 0 || (u32(buf, ENTRY_INODE) === 0 && u16(buf, ENTRY_REC_LEN) === buf.length);
}

const SLASH = 0x2f;
const PERIOD = 0x2e;

/** Whether the entry's name is '.' or '..'. */
function isDots(buf: Uint8Array, e: RawEntry): boolean {
  const at = e.off + ENTRY_NAME;
  return (e.nameLen === 1 || e.nameLen === 2) && buf[at] === PERIOD && buf[at + e.nameLen - 1] === PERIOD;
}

/**
 * Why the name of a live entry cannot be there, or null: a name holds neither '/' nor NUL, and
 * '.' and '..' are the names of a directory's first two entries (`slot` 0 and 1) only.
 */
function nameFault(buf: Uint8Array, at: number, len: number, slot: number): string | null {
  for (let i = at; i < at + len; i++) {
    if (buf[i] === SLASH) return "holds '/'";
    if (buf[i] === 0) return 'holds NUL';
  }
  const dots = len <= 2 && buf[at] === PERIOD && buf[at + len - 1] === PERIOD ? len : 0;
  if (dots !== 0 && slot !== dots - 1) return `is not the directory's ${dots === 1 ? 'first' : 'second'} entry`;
  return null;
}

/** A live entry lifted out of its block, with its name's htree hash, to be written elsewhere. */
interface MovedEntry {
  ino: number;
  type: number;
  name: Uint8Array;
  /** rec_len it had: what do_split weighs it by. */
  recLen: number;
  hash: number;
}

/** One call's worth of a directory listing: the entries (type as the entry's file_type), where the next goes on, whether none are left. */
interface Listed {
  found: { name: string; ino: number; type: number }[];
  cookie: number;
  eof: boolean;
}

/** Past every hash (a position of listByHash): 2^32. */
const HASH_END = 0x1_0000_0000;

/** Hash order, and byte order of the names within one hash (so a collision group's order is fixed). */
function byHashThenName(a: MovedEntry, b: MovedEntry): number {
  if (a.hash !== b.hash) return a.hash - b.hash;
  const n = Math.min(a.name.length, b.name.length);
  for (let i = 0; i < n; i++) if (a.name[i] !== b.name[i]) return a.name[i] - b.name[i];
  return a.name.length - b.name.length;
}

/** Writes entries one after the other from `from`, the last running to `end`; zeroes the rest before `end`. */
function packEntries(buf: Uint8Array, from: number, end: number, entries: MovedEntry[]): void {
  buf.fill(0, from, end);
  let off = from;
  entries.forEach((e, i) => {
    const len = i === entries.length - 1 ? end - off : recLenFor(e.name.length);
    writeEntry(buf, off, e.ino, len, e.name, e.type);
    off += len;
  });
  if (entries.length === 0) setU16(buf, from + ENTRY_REC_LEN, end - from);
}

/** One entry as scan reports it (the same object is reused for every entry). */
interface RawEntry {
  off: number;
  ino: number;
  recLen: number;
  nameLen: number;
  type: number;
}

/** The longest entry that fits after (or, unused, in place of) this one. */
function slack(e: RawEntry): number {
  return e.ino === 0 ? e.recLen : e.recLen - recLenFor(e.nameLen);
}

export interface Slot {
  ino: number;
  /** The file_type code recorded in the entry (0 without the filetype feature). */
  type: number;
  /** Which block of the directory holds the entry. */
  lblk: number;
}

/** What the driver knows about one directory between ops. */
interface DirIndex {
  names: Map<string, Slot>;
  /** Physical block of each logical block. */
  phys: number[];
  /** Per block, the longest entry that fits in it (what a linear directory's insertion looks at). */
  room: number[];
}

export class Directories {
  private readonly indexes = new Map<number, DirIndex>();
  private indexedNames = 0;
  private readonly bs: number;

  constructor(
    private readonly cache: BlockCache,
    private readonly map: BlockMap,
    private readonly geo: Geometry,
    /** s_def_hash_version: the hash of the htree a directory gets when it becomes indexed. */
    private readonly defHashVersion: number,
  ) {
    this.bs = geo.blockSize;
  }

  /** Whether the directory is read and changed through its htree: INDEX_FL on a dir_index file system. */
  private indexed(dir: Inode): boolean {
    return this.geo.dirIndex && (dir.flags & INDEX_FL) !== 0;
  }

  /** The directory's own checksum seed with metadata_csum (inodeSeed), else null. */
  private dirSeed(dir: Inode): number | null {
    return this.geo.csumSeed === null ? null : inodeSeed(this.geo.csumSeed, dir.ino, dir.generation);
  }

  /** Where entries of a leaf block end: before the dirent tail with metadata_csum. */
  private get leafEnd(): number {
    return this.bs - (this.geo.csumSeed === null ? 0 : DIRENT_TAIL_SIZE);
  }

  /**
   * After block lblk of dir changed: its checksum again with metadata_csum — the dx tail of an
   * indexed directory's block 0 (the dx_root, whose '.' and '..' it covers), else the leaf's
   * dirent tail. dx_nodes are sealed where they change.
   */
  private seal(dir: Inode, lblk: number, buf: Uint8Array): void {
    const seed = this.dirSeed(dir);
    if (seed === null) return;
    if (lblk === 0 && this.indexed(dir)) sealDxNode(seed, buf, DX_ROOT_COUNT);
    else sealLeafBlock(buf, seed);
  }

  // ---- reading --------------------------------------------------------------------------

  /**
   * Calls fn with each entry of block lblk of dir after checking it; fn returns true to stop
   * early. With metadata_csum, the checksum tail ending a leaf block is not an entry.
   */
  private scan(buf: Uint8Array, dir: Inode, lblk: number, fn: (e: RawEntry) => boolean | void): void {
    const bs = this.geo.csumSeed !== null && hasDirentTail(buf) ? this.bs - DIRENT_TAIL_SIZE : this.bs;
    const e: RawEntry = { off: 0, ino: 0, recLen: 0, nameLen: 0, type: 0 };
    const bad = (what: string) => corrupt(`directory inode ${dir.ino}, block ${lblk}: the entry at offset ${e.off} ${what}`);
    for (let off = 0, slot = lblk === 0 ? 0 : 2; off < bs; off += e.recLen, slot++) {
      e.off = off;
      if (bs - off < MIN_REC_LEN) throw bad('does not fit in the block');
      e.ino = u32(buf, off + ENTRY_INODE);
      e.recLen = u16(buf, off + ENTRY_REC_LEN);
      e.nameLen = this.geo.filetype ? buf[off + ENTRY_NAME_LEN] : u16(buf, off + ENTRY_NAME_LEN);
      e.type = this.geo.filetype ? buf[off + ENTRY_FILE_TYPE] : FT_UNKNOWN;
      if (e.recLen < MIN_REC_LEN || e.recLen % 4 !== 0 || off + e.recLen > bs) throw bad(`has a bad record length ${e.recLen}`);
      if (ENTRY_NAME + e.nameLen > e.recLen) throw bad('has a name longer than its record');
      if (e.ino > this.geo.inodesCount) throw bad(`names inode ${e.ino}, past the last inode`);
      if (e.ino !== 0 && e.nameLen === 0) throw bad('has an empty name');
      if (e.nameLen > NAME_MAX) throw bad(`has a name of ${e.nameLen} bytes, longer than ${NAME_MAX}`);
      const fault = e.ino === 0 ? null : nameFault(buf, off + ENTRY_NAME, e.nameLen, slot);
      if (fault) throw bad(`(inode ${e.ino}) is named ${quoteName(nameAt(buf, off + ENTRY_NAME, e.nameLen))}, which ${fault}`);
      if (fn(e)) return;
    }
  }

  /** The longest entry that still fits in a block. */
  private roomIn(buf: Uint8Array, dir: Inode, lblk: number): number {
    let room = 0;
    this.scan(buf, dir, lblk, (e) => {
      room = Math.max(room, slack(e));
    });
    return room;
  }

  /**
   * The entry `name` in its block (which the index says holds it), and the entry before it
   * (−1 if it is the block's first), for changing it in place.
   */
  private async entry(dir: Inode, name: string): Promise<{ buf: Uint8Array; lblk: number; off: number; prev: number; slot: Slot }> {
    const idx = await this.index(dir);
    const slot = idx.names.get(name);
    if (!slot) throw new SysError('ENOENT', `ext2: no entry '${name}'`);
    const buf = await this.cache.modify(idx.phys[slot.lblk]);
    let prev = -1;
    let off = -1;
    this.scan(buf, dir, slot.lblk, (e) => {
      if (e.ino !== 0 && nameAt(buf, e.off + ENTRY_NAME, e.nameLen) === name) {
        off = e.off;
        return true;
      }
      prev = e.off;
    });
    if (off < 0) throw new Error(`directory inode ${dir.ino}: entry '${name}' is in the index but not in its block`);
    return { buf, lblk: slot.lblk, off, prev, slot };
  }

  /** A directory's blocks: its size must be a whole number of them, all allocated. */
  private checkSize(dir: Inode): number {
    const count = dir.size / this.bs;
    if (!Number.isInteger(count) || count < 1) throw corrupt(`directory inode ${dir.ino} has size ${dir.size}, not a whole number of blocks`);
    if (dir.size > dir.blocks * I_BLOCKS_UNIT) throw corrupt(`directory inode ${dir.ino} has size ${dir.size} but only ${dir.blocks * I_BLOCKS_UNIT} bytes of blocks`);
    return count;
  }

  private async index(dir: Inode): Promise<DirIndex> {
    const known = this.indexes.get(dir.ino);
    if (known) {
      this.indexes.delete(dir.ino);
      this.indexes.set(dir.ino, known);
      return known;
    }
    const count = this.checkSize(dir);
    const phys = Array.from(await this.map.lookupRun(dir, 0, count));
    const seen = new Set<number>();
    phys.forEach((b, lblk) => {
      if (b === 0) throw corrupt(`directory inode ${dir.ino}, block ${lblk} is a hole`);
      if (seen.has(b)) throw corrupt(`directory inode ${dir.ino}, block ${lblk} is block ${b} again`);
      seen.add(b);
    });
    const idx: DirIndex = { names: new Map(), phys, room: [] };
    for (let lblk = 0; lblk < count; ) {
      let n = 1;
      while (lblk + n < count && phys[lblk + n] === phys[lblk + n - 1] + 1) n++;
      const bufs = await this.cache.getRun(phys[lblk], n);
      for (const buf of bufs) {
        this.verifyLeaf(buf, dir, lblk);
        let room = 0;
        this.scan(buf, dir, lblk, (e) => {
          room = Math.max(room, slack(e));
          if (e.ino === 0) return;
          const name = nameAt(buf, e.off + ENTRY_NAME, e.nameLen);
          if (!idx.names.has(name)) idx.names.set(name, { ino: e.ino, type: e.type, lblk });
        });
        idx.room.push(room);
        lblk++;
      }
    }
    this.indexes.set(dir.ino, idx);
    this.indexedNames += idx.names.size;
    for (const [ino, old] of this.indexes) {
      if (this.indexedNames <= MAX_INDEXED_NAMES || ino === dir.ino) break;
      this.indexes.delete(ino);
      this.indexedNames -= old.names.size;
    }
    return idx;
  }

  /**
   * With metadata_csum, a leaf block's det_checksum (EUCLEAN naming the directory and block
   * when wrong or missing). The htree's own blocks (dx_root, dx_node) carry a dx tail instead,
   * which the htree lookup verifies.
   */
  private verifyLeaf(buf: Uint8Array, dir: Inode, lblk: number): void {
    const seed = this.geo.csumSeed;
    if (seed === null || ((dir.flags & INDEX_FL) !== 0 && isDxBlock(buf, lblk))) return;
    if (!hasDirentTail(buf)) throw corrupt(`directory inode ${dir.ino}, block ${lblk} has no checksum tail`);
    const want = dirBlockChecksum(inodeSeed(seed, dir.ino, dir.generation), buf);
    const stored = u32(buf, buf.length - 4);
    if (stored !== want) throw corrupt(`directory inode ${dir.ino}, block ${lblk} has checksum 0x${stored.toString(16)}, but its bytes give 0x${want.toString(16)}`);
  }

  /**
   * The entry `name`: from the directory's index of names when it is in memory; else, in a
   * directory with an htree (INDEX_FL on a dir_index file system), from the index blocks and
   * the one leaf (or few, on a hash collision) the name's hash leads to; else from every block.
   */
  async lookup(dir: Inode, name: string): Promise<Slot | undefined> {
    if (this.indexes.has(dir.ino) || !this.indexed(dir)) return (await this.index(dir)).names.get(name);
    const blocks = this.checkSize(dir);
    const read = async (lblk: number) => {
      const b = await this.map.lookup(dir, lblk);
      if (b === 0) throw corrupt(`directory inode ${dir.ino}, block ${lblk} is a hole`);
      return this.cache.get(b);
    };
    // '.' and '..' are in block 0, the dx_root, and nowhere a hash leads (so Linux's
    // __ext4_find_entry reads block 0 for them too).
    const dx: DxDir = { ino: dir.ino, blocks, csumSeed: this.dirSeed(dir), read };
    const leaves = name === '.' || name === '..' ? [0] : dxLeaves(dx, bytesOf(name), this.geo.hashSeed, this.geo.hashUnsigned);
    for await (const lblk of leaves) {
      const buf = await read(lblk);
      if (lblk !== 0) refuseNodeAsLeaf(dx, buf, lblk);
      this.verifyLeaf(buf, dir, lblk);
      let found: Slot | undefined;
      this.scan(buf, dir, lblk, (e) => {
        if (e.ino === 0 || e.nameLen !== name.length || nameAt(buf, e.off + ENTRY_NAME, e.nameLen) !== name) return;
        found = { ino: e.ino, type: e.type, lblk };
        return true;
      });
      if (found) return found;
    }
    return undefined;
  }

  /**
   * Whether the directory holds nothing but '.' and '..': judged on the blocks, by every entry
   * with a non-zero inode, never by the index's names (which holds one of two equal names).
   */
  async isEmpty(dir: Inode): Promise<boolean> {
    const idx = await this.index(dir);
    let empty = true;
    for (let lblk = 0; lblk < idx.phys.length && empty; lblk++) {
      const buf = await this.cache.get(idx.phys[lblk]);
      this.scan(buf, dir, lblk, (e) => {
        if (e.ino !== 0 && !isDots(buf, e)) empty = false;
        return !empty;
      });
    }
    return empty;
  }

  /**
   * Up to `count` entries (at least one) from position `cookie`, without '.' and '..'; the
   * returned cookie is where the next call goes on. In a linear directory a position is a byte
   * offset into it; in an indexed one it is a hash (see listByHash).
   */
  async list(dir: Inode, cookie: number, count: number, typeOf: (ino: number) => Promise<FileType>): Promise<DirPage> {
    const idx = await this.index(dir);
    const most = Math.max(1, count);
    const listed = this.indexed(dir) ? await this.listByHash(dir, idx, cookie, most) : await this.listByOffset(dir, idx, cookie, most);
    const entries: DirEntry[] = [];
    for (const f of listed.found) entries.push({ name: f.name, ino: f.ino, type: TYPE_NAMES.get(f.type) ?? (await typeOf(f.ino)) });
    return { entries, cookie: listed.cookie, eof: listed.eof };
  }

  /**
   * An indexed directory's entries in hash order, as ext4_dx_readdir gives them, so that a leaf
   * split by a change between two calls (which moves entries to a new block, at the end) neither
   * repeats nor skips an entry that was not changed. A position is a hash (low bit clear): the
   * entries from it on; the returned one is the hash of the first entry not returned. Entries of
   * one hash are never split between two calls (a collision group longer than `count` comes whole).
   */
  private async listByHash(dir: Inode, idx: DirIndex, cookie: number, count: number): Promise<Listed> {
    if (cookie >= HASH_END) return { found: [], cookie: HASH_END, eof: true };
    const dx = this.dxDir(dir, idx);
    const from = cookie - (cookie % 2);
    const path = await dxProbeHash(dx, from, this.geo.hashUnsigned);
    const pending: MovedEntry[] = [];
    for (;;) {
      const bottom = path.levels[path.levels.length - 1];
      const lblk = bottom.blocks[bottom.at];
      const buf = await this.cache.get(idx.phys[lblk]);
      refuseNodeAsLeaf(dx, buf, lblk);
      this.verifyLeaf(buf, dir, lblk);
      for (const e of this.liftEntries(buf, dir, lblk, path.version)) if (e.hash >= from) pending.push(e);
      const next = await dxNextLeaf(dx, path.levels);
      // What lies below the next leaf's hash is all read (a leaf that continues a collision
      // holds more of the hash it starts at, so that hash is not complete yet).
      const below = next === null ? HASH_END : (next & ~1) >>> 0;
      const complete = pending.filter((e) => e.hash < below).sort(byHashThenName);
      if (complete.length <= count && next !== null) continue;
      let cut = Math.min(count, complete.length);
      while (cut > 0 && cut < complete.length && complete[cut].hash === complete[cut - 1].hash) cut--;
      if (cut === 0) for (cut = 1; cut < complete.length && complete[cut].hash === complete[0].hash; cut++);
      const found = complete.slice(0, cut).map((e) => ({ name: byteString(e.name), ino: e.ino, type: e.type }));
      if (cut < complete.length) return { found, cookie: complete[cut].hash, eof: false };
      return next === null ? { found, cookie: HASH_END, eof: true } : { found, cookie: below, eof: false };
    }
  }

  /** A linear directory's entries from byte offset `cookie`, block by block. */
  private async listByOffset(dir: Inode, idx: DirIndex, cookie: number, count: number): Promise<Listed> {
    const bs = this.bs;
    const found: Listed['found'] = [];
    let next = idx.phys.length * bs;
    for (let lblk = Math.floor(cookie / bs); lblk < idx.phys.length && next === idx.phys.length * bs; lblk++) {
      const buf = await this.cache.get(idx.phys[lblk]);
      this.scan(buf, dir, lblk, (e) => {
        const pos = lblk * bs + e.off;
        if (pos < cookie || e.ino === 0) return;
        const name = nameAt(buf, e.off + ENTRY_NAME, e.nameLen);
        if (name === '.' || name === '..') return;
        if (found.length === count) {
          next = pos;
          return true;
        }
        found.push({ name, ino: e.ino, type: e.type });
      });
    }
    return { found, cookie: next, eof: next >= idx.phys.length * bs };
  }

  // ---- changing -------------------------------------------------------------------------

  /**
   * Adds an entry name → node: through the htree in an indexed directory; else into the first
   * block with room, making a full one-block directory indexed on a dir_index file system, and
   * otherwise growing the directory by a block.
   */
  async add(dir: Inode, name: string, node: Inode, now: number): Promise<void> {
    const idx = await this.index(dir);
    const bytes = bytesOf(name);
    const type = this.geo.filetype ? typeCode(node.mode) : FT_UNKNOWN;
    let lblk: number;
    if (this.indexed(dir)) {
      lblk = await this.addIndexed(dir, idx, bytes, node.ino, type);
    } else {
      lblk = idx.room.findIndex((room) => room >= recLenFor(bytes.length));
      if (lblk < 0 && idx.phys.length === 1 && this.geo.dirIndex && this.defHashVersion <= DX_HASH_TEA) {
        await this.makeIndexed(dir, idx);
        lblk = await this.addIndexed(dir, idx, bytes, node.ino, type);
      } else {
        if (lblk < 0) lblk = await this.grow(dir, idx);
        const buf = await this.cache.modify(idx.phys[lblk]);
        if (!this.place(buf, dir, lblk, bytes, node.ino, type)) throw corrupt(`directory inode ${dir.ino}, block ${lblk} has no room for an entry although its unused entries add up to enough`);
        idx.room[lblk] = this.roomIn(buf, dir, lblk);
        this.seal(dir, lblk, buf);
      }
    }
    idx.names.set(name, { ino: node.ino, type, lblk });
    this.indexedNames++;
    this.changed(dir, now);
  }

  /** Writes the entry into the first entry of block lblk with room for it (add_dirent_to_buf); whether one had room. */
  private place(buf: Uint8Array, dir: Inode, lblk: number, name: Uint8Array, ino: number, type: number): boolean {
    const need = recLenFor(name.length);
    let placed = false;
    this.scan(buf, dir, lblk, (e) => {
      if (slack(e) < need) return false;
      if (e.ino === 0) {
        writeEntry(buf, e.off, ino, e.recLen, name, type);
      } else {
        const used = recLenFor(e.nameLen);
        writeEntry(buf, e.off + used, ino, e.recLen - used, name, type);
        setU16(buf, e.off + ENTRY_REC_LEN, used);
      }
      placed = true;
      return true;
    });
    return placed;
  }

  /** The htree walk over a directory whose blocks the index knows. */
  private dxDir(dir: Inode, idx: DirIndex): DxDir {
    return { ino: dir.ino, blocks: idx.phys.length, csumSeed: this.dirSeed(dir), read: (lblk) => this.cache.get(idx.phys[lblk]) };
  }

  /**
   * ext4_dx_add_entry: puts the name into the leaf its hash leads to, making room first when
   * that leaf is full — a split of the leaf, before it a split of the full index node above
   * it, or a new level when every node up to the dx_root is full — and looking again after
   * each. Returns the leaf's logical block.
   */
  private async addIndexed(dir: Inode, idx: DirIndex, name: Uint8Array, ino: number, type: number): Promise<number> {
    for (let round = 0; round < MAX_HTREE_ROUNDS; round++) {
      const dx = this.dxDir(dir, idx);
      const path = await dxProbe(dx, name, this.geo.hashSeed, this.geo.hashUnsigned);
      const bottom = path.levels[path.levels.length - 1];
      const lblk = bottom.blocks[bottom.at];
      refuseNodeAsLeaf(dx, await this.cache.get(idx.phys[lblk]), lblk);
      const buf = await this.cache.modify(idx.phys[lblk]);
      this.verifyLeaf(buf, dir, lblk);
      if (this.place(buf, dir, lblk, name, ino, type)) {
        this.seal(dir, lblk, buf);
        return lblk;
      }
      if (bottom.hashes.length === bottom.limit) await this.splitIndex(dir, idx, path.levels);
      else await this.splitLeaf(dir, idx, bottom, path.version, lblk, buf);
    }
    throw new SysError('ENOSPC', `ext2: directory inode ${dir.ino}: no room for the entry after splitting its htree ${MAX_HTREE_ROUNDS} times`);
  }

  /**
   * The live entries of block lblk with their hashes under `version`, '.' and '..' left out
   * (dx_make_map).
   */
  private liftEntries(buf: Uint8Array, dir: Inode, lblk: number, version: number): MovedEntry[] {
    const out: MovedEntry[] = [];
    this.scan(buf, dir, lblk, (e) => {
      if (e.ino === 0 || isDots(buf, e)) return;
      const name = buf.slice(e.off + ENTRY_NAME, e.off + ENTRY_NAME + e.nameLen);
      out.push({ ino: e.ino, type: e.type, name, recLen: e.recLen, hash: dxHash(name, version, this.geo.hashSeed) });
    });
    return out;
  }

  /**
   * do_split: moves the upper part by hash of the full leaf lblk (at most half of the block's
   * bytes, or half its entries when they are few and large) into a new leaf, and adds that
   * leaf to the index node `node` after the entry that led here, with the first moved hash
   * (its low bit set when the hash before it is equal: a collision continued).
   */
  private async splitLeaf(dir: Inode, idx: DirIndex, node: DxLevel, version: number, lblk: number, buf: Uint8Array): Promise<void> {
    const entries = this.liftEntries(buf, dir, lblk, version);
    // Only damage fills a leaf with fewer than two names (deleted entries too small to reuse); Linux's do_split says EFSCORRUPTED.
    if (entries.length < 2) throw corrupt(`directory inode ${dir.ino}, block ${lblk} is full with ${entries.length} entries in use`);
    const sorted = entries.map((e, i) => ({ e, i })).sort((a, b) => a.e.hash - b.e.hash || a.i - b.i).map((x) => x.e);
    let size = 0;
    let move = 0;
    let i = sorted.length - 1;
    for (; i >= 0; i--) {
      if (size + sorted[i].recLen / 2 > this.bs / 2) break;
      size += sorted[i].recLen;
      move++;
    }
    const split = i > 0 ? sorted.length - move : sorted.length >> 1;
    const moved = sorted.slice(split);
    const hash2 = moved[0].hash + (moved[0].hash === sorted[split - 1].hash ? 1 : 0);
    const movedSet = new Set(moved);
    const kept = entries.filter((e) => !movedSet.has(e));
    const newLblk = await this.grow(dir, idx);
    const newBuf = await this.cache.modify(idx.phys[newLblk]);
    packEntries(buf, 0, this.leafEnd, kept);
    packEntries(newBuf, 0, this.leafEnd, moved);
    this.seal(dir, lblk, buf);
    this.seal(dir, newLblk, newBuf);
    idx.room[lblk] = this.roomIn(buf, dir, lblk);
    idx.room[newLblk] = this.roomIn(newBuf, dir, newLblk);
    for (const e of moved) {
      const slot = idx.names.get(byteString(e.name));
      if (slot?.lblk === lblk) slot.lblk = newLblk;
    }
    const nodeBuf = await this.cache.modify(idx.phys[node.lblk]);
    const table = dxEntries(nodeBuf, node.countOffset);
    table.splice(node.at + 1, 0, { hash: hash2, block: newLblk });
    setDxEntries(nodeBuf, node.countOffset, table);
    this.sealNode(dir, nodeBuf, node.countOffset);
  }

  /**
   * Makes room in the index above a full leaf whose node is full: splits the highest full node
   * below one with room, half its entries into a new dx_node that its parent gains; or, when
   * every node up to the dx_root is full, moves the root's entries into a new dx_node one
   * level down — ENOSPC when the index already has MAX_INDIRECT_LEVELS levels below the root.
   */
  private async splitIndex(dir: Inode, idx: DirIndex, levels: DxLevel[]): Promise<void> {
    let f = levels.length - 1;
    while (f > 0 && levels[f - 1].hashes.length === levels[f - 1].limit) f--;
    const csum = this.geo.csumSeed !== null;
    if (f === 0 && levels.length - 1 >= MAX_INDIRECT_LEVELS) {
      throw new SysError('ENOSPC', `ext2: directory inode ${dir.ino} is full: its htree index has ${MAX_INDIRECT_LEVELS + 1} full levels, the most without large_dir`);
    }
    const newLblk = await this.grow(dir, idx);
    const newBuf = await this.cache.modify(idx.phys[newLblk]);
    initDxNode(newBuf, csum);
    const node = levels[f];
    const buf = await this.cache.modify(idx.phys[node.lblk]);
    const table = dxEntries(buf, node.countOffset);
    if (f === 0) {
      setDxEntries(newBuf, DX_NODE_COUNT, table);
      setDxEntries(buf, node.countOffset, [{ hash: 0, block: newLblk }]);
      setDxIndirectLevels(buf, levels.length);
    } else {
      const half = table.length >> 1;
      setDxEntries(newBuf, DX_NODE_COUNT, table.slice(half));
      setDxEntries(buf, node.countOffset, table.slice(0, half));
      const parent = levels[f - 1];
      const parentBuf = await this.cache.modify(idx.phys[parent.lblk]);
      const above = dxEntries(parentBuf, parent.countOffset);
      above.splice(parent.at + 1, 0, { hash: table[half].hash, block: newLblk });
      setDxEntries(parentBuf, parent.countOffset, above);
      this.sealNode(dir, parentBuf, parent.countOffset);
    }
    idx.room[newLblk] = 0;
    this.sealNode(dir, newBuf, DX_NODE_COUNT);
    this.sealNode(dir, buf, node.countOffset);
  }

  /** A changed index node's dx tail checksum, with metadata_csum. */
  private sealNode(dir: Inode, buf: Uint8Array, countOffset: number): void {
    const seed = this.dirSeed(dir);
    if (seed !== null) sealDxNode(seed, buf, countOffset);
  }

  /**
   * make_indexed_dir: the entries of a full one-block directory after '.' and '..' move to a
   * new block 1; block 0 becomes the dx_root (s_def_hash_version) pointing at it, the directory
   * gains INDEX_FL, and block 1 is split by hash at once, as Linux does.
   */
  private async makeIndexed(dir: Inode, idx: DirIndex): Promise<void> {
    const root = await this.cache.modify(idx.phys[0]);
    if (u16(root, ENTRY_REC_LEN) !== MIN_REC_LEN || !this.startsWithDots(root, dir)) {
      throw corrupt(`directory inode ${dir.ino}, block 0 does not start with '.' (12 bytes) and '..'`);
    }
    const csum = this.geo.csumSeed !== null;
    const version = dxHashVersion(this.defHashVersion, this.geo.hashUnsigned);
    const entries = this.liftEntries(root, dir, 0, version);
    const leaf = await this.grow(dir, idx);
    const leafBuf = await this.cache.modify(idx.phys[leaf]);
    packEntries(leafBuf, 0, this.leafEnd, entries);
    initDxRoot(root, this.defHashVersion, csum);
    setDxEntries(root, DX_ROOT_COUNT, [{ hash: 0, block: leaf }]);
    dir.flags |= INDEX_FL;
    dir.dirty = true;
    this.seal(dir, 0, root);
    this.seal(dir, leaf, leafBuf);
    idx.room[0] = 0;
    idx.room[leaf] = this.roomIn(leafBuf, dir, leaf);
    for (const [name, slot] of idx.names) if (slot.lblk === 0 && name !== '.' && name !== '..') slot.lblk = leaf;
    const rootLevel: DxLevel = { lblk: 0, countOffset: DX_ROOT_COUNT, limit: dxLimit(this.bs, DX_ROOT_COUNT, csum), hashes: [0], blocks: [leaf], at: 0 };
    await this.splitLeaf(dir, idx, rootLevel, version, leaf, leafBuf);
  }

  /** Whether block 0's first two entries are '.' and '..'. */
  private startsWithDots(buf: Uint8Array, dir: Inode): boolean {
    let dots = 0;
    this.scan(buf, dir, 0, (e) => {
      if (e.ino === 0 || !isDots(buf, e) || e.nameLen !== dots + 1) return true;
      return ++dots === 2;
    });
    return dots === 2;
  }

  /** Removes the entry `name`, merging its room into the entry before it. */
  async remove(dir: Inode, name: string, now: number): Promise<void> {
    const { buf, lblk, off, prev } = await this.entry(dir, name);
    if (prev < 0) setU32(buf, off + ENTRY_INODE, 0);
    else setU16(buf, prev + ENTRY_REC_LEN, u16(buf, prev + ENTRY_REC_LEN) + u16(buf, off + ENTRY_REC_LEN));
    const idx = await this.index(dir);
    idx.room[lblk] = this.roomIn(buf, dir, lblk);
    this.seal(dir, lblk, buf);
    idx.names.delete(name);
    this.indexedNames--;
    this.changed(dir, now);
  }

  /** Points the existing entry `name` at another inode (rename over a target, a moved directory's '..'). */
  async retarget(dir: Inode, name: string, node: Inode, now: number): Promise<void> {
    const { buf, lblk, off, slot } = await this.entry(dir, name);
    setU32(buf, off + ENTRY_INODE, node.ino);
    if (this.geo.filetype) buf[off + ENTRY_FILE_TYPE] = typeCode(node.mode);
    this.seal(dir, lblk, buf);
    slot.ino = node.ino;
    slot.type = this.geo.filetype ? typeCode(node.mode) : FT_UNKNOWN;
    this.changed(dir, now);
  }

  /** Fills a new directory's first block with '.' and '..' (and, with metadata_csum, the dirent tail). */
  initialize(buf: Uint8Array, dir: Inode, parent: number): void {
    writeDotEntries(buf.subarray(0, this.leafEnd), dir.ino, parent, this.geo.filetype ? typeCode(S_IFDIR) : FT_UNKNOWN);
    this.seal(dir, 0, buf);
  }

  /** Forgets a directory's index (it was freed). */
  forget(ino: number): void {
    const idx = this.indexes.get(ino);
    if (!idx) return;
    this.indexes.delete(ino);
    this.indexedNames -= idx.names.size;
  }

  /** Forgets every index (after a rollback they may describe undone changes). */
  clear(): void {
    this.indexes.clear();
    this.indexedNames = 0;
  }

  /** Appends an empty leaf block (with its dirent tail under metadata_csum) to the directory; returns its logical block. */
  private async grow(dir: Inode, idx: DirIndex): Promise<number> {
    if (dir.size + this.bs > MAX_DIR_SIZE) throw new SysError('ENOSPC', `ext2: directory inode ${dir.ino} cannot grow any more`);
    const lblk = idx.phys.length;
    const { block } = await this.map.map(dir, lblk, idx.phys[lblk - 1] + 1);
    const buf = this.cache.fresh(block);
    writeEmptyBlock(buf.subarray(0, this.leafEnd));
    this.seal(dir, lblk, buf);
    idx.phys.push(block);
    idx.room.push(this.leafEnd);
    dir.size += this.bs;
    return lblk;
  }

  /**
   * A change to a directory's entries: new times. A directory with INDEX_FL on a file system
   * without dir_index (which e2fsck reports) was changed as a linear one and loses the flag.
   */
  private changed(dir: Inode, now: number): void {
    dir.mtime = dir.ctime = now;
    if (!this.geo.dirIndex) dir.flags &= ~INDEX_FL;
    dir.dirty = true;
  }
}
