// htree directory indexes (Documentation/filesystems/ext4/directory.rst, "Hash Tree
// Directories"; fs/ext4/namei.c dx_probe and ext4_htree_next_block; fs/ext4/hash.c): a name's
// hash picks, through the dx_root in block 0 and at most one level of dx_nodes, the one leaf
// block that holds it (and the following leaves while a hash collision continues there). Every
// node is checked before use — dx_root_info, limit exactly what the block holds, count within
// it, hashes in order, blocks inside the directory, the dx tail checksum with metadata_csum —
// and damage is EUCLEAN naming the directory: a lookup never falls back to a linear scan.
// The write side here is the nodes' layout (a new dx_root or dx_node, entries, dx tail); how
// a directory's leaves and nodes split is dir.ts's.

import { setU16, setU32, u16, u32 } from './bytes.js';
import { dxNodeChecksum } from './csum.js';
import { corrupt } from './errors.js';

/** dx_root_info.hash_version values, and their unsigned-char variants (+3, by s_flags). */
export const DX_HASH_LEGACY = 0;
export const DX_HASH_HALF_MD4 = 1;
export const DX_HASH_TEA = 2;
const UNSIGNED = 3;

/** Levels of index below the root without large_dir (ext4_dir_htree_level): indirect_levels < 2. */
export const MAX_INDIRECT_LEVELS = 1;
const DX_ROOT_INFO = 0x18;
const DX_INFO_LENGTH = 8;
/** An index entry: hash u32, block u32 (the first entry's hash field holds limit and count). */
const DX_ENTRY = 8;
/** struct dx_tail: dt_reserved, dt_checksum. */
const DX_TAIL = 8;

/** The 128-bit default seed of fs/ext4/hash.c, used when s_hash_seed is all zeros. */
const DEFAULT_SEED = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];

const rol = (x: number, s: number) => ((x << s) | (x >>> (32 - s))) >>> 0;

/** str2hashbuf_signed/_unsigned: a name's bytes packed into `num` words, padded with its length. */
function str2hashbuf(msg: Uint8Array, from: number, num: number, signed: boolean): number[] {
  const out: number[] = [];
  let len = msg.length - from;
  let pad = (len | (len << 8)) >>> 0;
  pad = (pad | (pad << 16)) >>> 0;
  let val = pad;
  if (len > num * 4) len = num * 4;
  for (let i = 0; i < len; i++) {
    const c = signed ? (msg[from + i] << 24) >> 24 : msg[from + i];
    val = (c + ((val << 8) >>> 0)) >>> 0;
    if (i % 4 === 3) {
      out.push(val);
      val = pad;
    }
  }
  if (out.length < num) out.push(val);
  while (out.length < num) out.push(pad);
  return out;
}

const K2 = 0x5a827999;
const K3 = 0x6ed9eba1;

function halfMd4Transform(buf: number[], x: number[]): void {
  let [a, b, c, d] = buf;
  const F = (x: number, y: number, z: number) => z ^ (x & (y ^ z));
  const G = (x: number, y: number, z: number) => ((x & y) + ((x ^ y) & z)) >>> 0;
  const H = (x: number, y: number, z: number) => x ^ y ^ z;
  type Fn = (x: number, y: number, z: number) => number;
  const r = (f: Fn, w: number, p: number, q: number, s: number, v: number, sh: number) => rol((w + f(p, q, s) + v) >>> 0, sh);
  for (const [f, k, order, shifts] of [
    [F, 0, [0, 1, 2, 3, 4, 5, 6, 7], [3, 7, 11, 19]],
    [G, K2, [1, 3, 5, 7, 0, 2, 4, 6], [3, 5, 9, 13]],
    [H, K3, [3, 7, 2, 6, 1, 5, 0, 4], [3, 9, 11, 15]],
  ] as [Fn, number, number[], number[]][]) {
    for (let i = 0; i < 8; i += 4) {
      a = r(f, a, b, c, d, (x[order[i]] + k) >>> 0, shifts[0]);
      d = r(f, d, a, b, c, (x[order[i + 1]] + k) >>> 0, shifts[1]);
      c = r(f, c, d, a, b, (x[order[i + 2]] + k) >>> 0, shifts[2]);
      b = r(f, b, c, d, a, (x[order[i + 3]] + k) >>> 0, shifts[3]);
    }
  }
  buf[0] = (buf[0] + a) >>> 0;
  buf[1] = (buf[1] + b) >>> 0;
  buf[2] = (buf[2] + c) >>> 0;
  buf[3] = (buf[3] + d) >>> 0;
}

function teaTransform(buf: number[], x: number[]): void {
  let sum = 0;
  let b0 = buf[0];
  let b1 = buf[1];
  for (let n = 0; n < 16; n++) {
    sum = (sum + 0x9e3779b9) >>> 0;
    b0 = (b0 + ((((b1 << 4) >>> 0) + x[0]) ^ (b1 + sum) ^ ((b1 >>> 5) + x[1]))) >>> 0;
    b1 = (b1 + ((((b0 << 4) >>> 0) + x[2]) ^ (b0 + sum) ^ ((b0 >>> 5) + x[3]))) >>> 0;
  }
  buf[0] = (buf[0] + b0) >>> 0;
  buf[1] = (buf[1] + b1) >>> 0;
}

function legacyHash(name: Uint8Array, signed: boolean): number {
  let hash0 = 0x12a3fe2d;
  let hash1 = 0x37abe8f9;
  for (const byte of name) {
    const c = signed ? (byte << 24) >> 24 : byte;
    let hash = (hash1 + ((hash0 ^ Math.imul(c, 7152373)) >>> 0)) >>> 0;
    if (hash & 0x80000000) hash = (hash - 0x7fffffff) >>> 0;
    hash1 = hash0;
    hash0 = hash;
  }
  return (hash0 << 1) >>> 0;
}

/**
 * The major hash of a name under hash version `version` (DX_HASH_*, plus 3 for the unsigned
 * variants) and the 16-byte s_hash_seed, as ext4fs_dirhash computes it, low bit cleared.
 * Unknown versions throw (the caller checks the root's hash_version first).
 */
export function dxHash(name: Uint8Array, version: number, seed: Uint8Array): number {
  const signed = version < UNSIGNED;
  let hash: number;
  if (version % UNSIGNED === DX_HASH_LEGACY) {
    hash = legacyHash(name, signed);
  } else {
    const words = [0, 1, 2, 3].map((i) => u32(seed, i * 4));
    const buf = words.some((w) => w !== 0) ? words : [...DEFAULT_SEED];
    const half = version % UNSIGNED === DX_HASH_HALF_MD4;
    const step = half ? 32 : 16;
    for (let at = 0; at < name.length; at += step) {
      const x = str2hashbuf(name, at, half ? 8 : 4, signed);
      if (half) halfMd4Transform(buf, x);
      else teaTransform(buf, x);
    }
    hash = half ? buf[1] : buf[0];
  }
  hash = (hash & ~1) >>> 0;
  return hash === 0xfffffffe ? 0xfffffffc : hash;
}

/** dxHash's `version` for a dx_root's hash version (DX_HASH_*) and s_flags' unsigned-char hashing. */
export function dxHashVersion(rootVersion: number, unsigned: boolean): number {
  return rootVersion + (unsigned ? UNSIGNED : 0);
}

/** Offset of the dx_root's limit/count header: behind '.', '..' and the 8-byte dx_root_info. */
export const DX_ROOT_COUNT = DX_ROOT_INFO + DX_INFO_LENGTH;
/** Offset of a dx_node's limit/count header: behind its fake dirent (inode 0, rec_len the whole block). */
export const DX_NODE_COUNT = 8;

/**
 * Entries a node of a `bs`-byte block holds (dx_root_limit, dx_node_limit in fs/ext4/namei.c):
 * the bytes after its limit/count header at `countOffset`, less the dx_tail with metadata_csum.
 */
export function dxLimit(bs: number, countOffset: number, csum: boolean): number {
  return Math.floor((bs - countOffset - (csum ? DX_TAIL : 0)) / DX_ENTRY);
}

/** One index node as dx_probe walks it: where it lies, its entries' hashes and blocks, and which entry was taken. */
export interface DxLevel {
  /** Logical block of the node: 0 for the dx_root. */
  lblk: number;
  /** DX_ROOT_COUNT or DX_NODE_COUNT. */
  countOffset: number;
  limit: number;
  /** Each entry's hash as stored (the low bit marks a collision continued), the first taken as 0. */
  hashes: number[];
  /** Each entry's logical block. */
  blocks: number[];
  at: number;
}

/** Where dx_probe leads a name: its hash, the hash version that made it, and the nodes from the dx_root down. */
export interface DxPath {
  /** The name's hash, low bit clear. */
  hash: number;
  /** DX_HASH_* of the dx_root, plus 3 for the unsigned variants: dxHash's `version`. */
  version: number;
  levels: DxLevel[];
}

/** What the htree walk needs of the directory. */
export interface DxDir {
  ino: number;
  /** Blocks of the directory (its size / block size). */
  blocks: number;
  /** The directory's inodeSeed with metadata_csum, else null. */
  csumSeed: number | null;
  /** Block lblk of the directory. */
  read(lblk: number): Promise<Uint8Array>;
}

function bad(dir: DxDir, lblk: number, what: string): Error {
  return corrupt(`directory inode ${dir.ino}'s htree: block ${lblk} ${what}`);
}

/**
 * EUCLEAN when a block dx_probe reached as a leaf is an index node — a dx_node's fake dirent
 * (inode 0, rec_len the whole block, name_len 0) followed by the limit a dx_node of this block
 * holds — as a dx_root claiming too few indirect levels makes it: writing a name there would
 * destroy the node.
 */
export function refuseNodeAsLeaf(dir: DxDir, buf: Uint8Array, lblk: number): void {
  const fake = u32(buf, 0) === 0 && u16(buf, 4) === buf.length && buf[6] === 0;
  if (fake && u16(buf, DX_NODE_COUNT) === dxLimit(buf.length, DX_NODE_COUNT, dir.csumSeed !== null)) {
    throw bad(dir, lblk, 'is an index node where a leaf should be (the dx_root counts too few indirect levels)');
  }
}

/**
 * Checks one node — limit exactly what the block holds, count within it, the dx tail checksum,
 * hashes in order, blocks inside the directory — and takes the last entry whose hash is at
 * most `hash`.
 */
function parseLevel(dir: DxDir, buf: Uint8Array, lblk: number, countOffset: number, hash: number): DxLevel {
  const limit = u16(buf, countOffset);
  const count = u16(buf, countOffset + 2);
  const want = dxLimit(buf.length, countOffset, dir.csumSeed !== null);
  if (limit !== want) throw bad(dir, lblk, `has limit ${limit}, where the block holds ${want} entries`);
  if (count < 1 || count > limit) throw bad(dir, lblk, `has count ${count}, outside 1–${limit}`);
  if (dir.csumSeed !== null) {
    const tail = countOffset + limit * DX_ENTRY;
    const sum = dxNodeChecksum(dir.csumSeed, buf, countOffset);
    if (u32(buf, tail + 4) !== sum) throw bad(dir, lblk, `has checksum 0x${u32(buf, tail + 4).toString(16)}, but its bytes give 0x${sum.toString(16)}`);
  }
  const hashes: number[] = [];
  const blocks: number[] = [];
  for (let i = 0; i < count; i++) {
    const at = countOffset + i * DX_ENTRY;
    const h = i === 0 ? 0 : u32(buf, at);
    const b = u32(buf, at + 4);
    if (i > 0 && h < hashes[i - 1]) throw bad(dir, lblk, `has entry ${i} with hash 0x${h.toString(16)} below the one before it`);
    if (b === 0 || b >= dir.blocks) throw bad(dir, lblk, `has entry ${i} pointing at block ${b}, outside 1–${dir.blocks - 1}`);
    hashes.push(h);
    blocks.push(b);
  }
  let lo = 0;
  let hi = count - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (hashes[mid] <= hash) lo = mid;
    else hi = mid - 1;
  }
  return { lblk, countOffset, limit, hashes, blocks, at: lo };
}

async function readNode(dir: DxDir, lblk: number, hash: number): Promise<DxLevel> {
  const buf = await dir.read(lblk);
  if (u32(buf, 0) !== 0 || u16(buf, 4) !== buf.length) throw bad(dir, lblk, 'is not a dx_node (an empty entry spanning the block)');
  return parseLevel(dir, buf, lblk, DX_NODE_COUNT, hash);
}

/**
 * dx_probe: the dx_root (checked: '.' and '..' before it, a known hash version, dx_root_info
 * of 8 bytes, at most MAX_INDIRECT_LEVELS levels below it), the name's hash under its hash
 * version (`unsigned` from s_flags, `hashSeed` s_hash_seed), and the nodes down to the one
 * pointing at the name's leaf. Damage is EUCLEAN naming the directory and block.
 */
export async function dxProbe(dir: DxDir, name: Uint8Array, hashSeed: Uint8Array, unsigned: boolean): Promise<DxPath> {
  return probe(dir, unsigned, (version) => dxHash(name, version, hashSeed));
}

/** dxProbe for a hash rather than a name (`hash`, low bit clear): the nodes down to the leaf where that hash begins. */
export function dxProbeHash(dir: DxDir, hash: number, unsigned: boolean): Promise<DxPath> {
  return probe(dir, unsigned, () => hash);
}

async function probe(dir: DxDir, unsigned: boolean, hashOf: (version: number) => number): Promise<DxPath> {
  const root = await dir.read(0);
  const bs = root.length;
  if (u16(root, 4) !== 12 || u16(root, 12 + 4) !== bs - 12) throw bad(dir, 0, "does not hold '.' and '..' before the dx_root");
  const rootVersion = root[DX_ROOT_INFO + 4];
  const infoLength = root[DX_ROOT_INFO + 5];
  const indirect = root[DX_ROOT_INFO + 6];
  if (rootVersion > DX_HASH_TEA) throw bad(dir, 0, `has hash version ${rootVersion}, not one of 0 (legacy), 1 (half_md4), 2 (tea)`);
  if (infoLength !== DX_INFO_LENGTH) throw bad(dir, 0, `has dx_root_info length ${infoLength}, not ${DX_INFO_LENGTH}`);
  if (indirect > MAX_INDIRECT_LEVELS) throw bad(dir, 0, `has ${indirect} indirect levels, more than ${MAX_INDIRECT_LEVELS}`);
  const version = dxHashVersion(rootVersion, unsigned);
  const hash = hashOf(version);
  const levels = [parseLevel(dir, root, 0, DX_ROOT_COUNT, hash)];
  for (let l = 0; l < indirect; l++) levels.push(await readNode(dir, levels[l].blocks[levels[l].at], hash));
  return { hash, version, levels };
}

/**
 * ext4_htree_next_block: steps `path` (dxProbe's levels) to the next leaf in hash order, reading
 * the nodes below the level that moved. Returns the hash that leaf starts at as its index entry
 * holds it (the low bit set when it continues a collision of the leaf before); null after the
 * last leaf, or when `goOn` refuses that hash (nothing more is read then, and `path` is spent).
 */
export async function dxNextLeaf(dir: DxDir, path: DxLevel[], goOn: (start: number) => boolean = () => true): Promise<number | null> {
  let l = path.length - 1;
  while (l >= 0 && path[l].at + 1 >= path[l].hashes.length) l--;
  if (l < 0) return null;
  path[l].at++;
  const start = path[l].hashes[path[l].at];
  if (!goOn(start)) return null;
  for (let k = l + 1; k < path.length; k++) {
    path[k] = await readNode(dir, path[k - 1].blocks[path[k - 1].at], 0);
    path[k].at = 0;
  }
  return start;
}

/**
 * The leaf blocks (logical) where `name` can be, in order: the one its hash leads to, then the
 * next ones while their starting hash continues a collision (hash | 1). `hashSeed` is
 * s_hash_seed, `unsigned` whether s_flags asks for unsigned-char hashing. Bounded by the
 * index's entries.
 */
export async function* dxLeaves(dir: DxDir, name: Uint8Array, hashSeed: Uint8Array, unsigned: boolean): AsyncGenerator<number> {
  const { hash, levels: path } = await dxProbe(dir, name, hashSeed, unsigned);
  for (;;) {
    const bottom = path[path.length - 1];
    yield bottom.blocks[bottom.at];
    // Go on only if the next leaf's hash continues the name's (a collision spilled into it).
    if ((await dxNextLeaf(dir, path, (start) => (start & ~1) >>> 0 === hash)) === null) return;
  }
}

// ---- writing (fs/ext4/namei.c make_indexed_dir, ext4_dx_add_entry) ---------------------------

/** One index entry: the least hash of what lies below it (the first entry's is implied 0), and the logical block. */
export interface DxEntry {
  hash: number;
  block: number;
}

/** A node's entries as stored (the node was checked by dxProbe). */
export function dxEntries(buf: Uint8Array, countOffset: number): DxEntry[] {
  const out: DxEntry[] = [];
  for (let i = 0, count = u16(buf, countOffset + 2); i < count; i++) {
    const at = countOffset + i * DX_ENTRY;
    out.push({ hash: i === 0 ? 0 : u32(buf, at), block: u32(buf, at + 4) });
  }
  return out;
}

/** Writes a node's count and entries, zeroing the slots past them up to its limit (which stays). */
export function setDxEntries(buf: Uint8Array, countOffset: number, entries: DxEntry[]): void {
  const limit = u16(buf, countOffset);
  if (entries.length > limit) throw new Error(`htree node: ${entries.length} entries, more than its limit ${limit}`);
  setU16(buf, countOffset + 2, entries.length);
  entries.forEach((e, i) => {
    const at = countOffset + i * DX_ENTRY;
    if (i > 0) setU32(buf, at, e.hash); // the first entry's hash field holds limit and count
    setU32(buf, at + 4, e.block);
  });
  buf.fill(0, countOffset + entries.length * DX_ENTRY, countOffset + limit * DX_ENTRY);
}

/**
 * Turns block 0 of a directory, whose first two entries are '.' (12 bytes) and '..', into a
 * dx_root: '..' runs to the end of the block, then dx_root_info (hash version `version`,
 * 0–2, info length 8, no indirect levels) and an empty table of dxLimit entries. The caller
 * sets the entries and seals it.
 */
export function initDxRoot(buf: Uint8Array, version: number, csum: boolean): void {
  setU16(buf, 12 + 4, buf.length - 12);
  buf.fill(0, DX_ROOT_INFO);
  buf[DX_ROOT_INFO + 4] = version;
  buf[DX_ROOT_INFO + 5] = DX_INFO_LENGTH;
  setU16(buf, DX_ROOT_COUNT, dxLimit(buf.length, DX_ROOT_COUNT, csum));
}

/** Fills a new dx_node: the fake dirent (inode 0, rec_len the whole block), an empty table of dxLimit entries. */
export function initDxNode(buf: Uint8Array, csum: boolean): void {
  buf.fill(0);
  setU16(buf, 4, buf.length);
  setU16(buf, DX_NODE_COUNT, dxLimit(buf.length, DX_NODE_COUNT, csum));
}

/** Sets the dx_root's indirect_levels. */
export function setDxIndirectLevels(root: Uint8Array, levels: number): void {
  root[DX_ROOT_INFO + 6] = levels;
}

/** Writes a node's struct dx_tail: dt_reserved 0 and dt_checksum, from the directory's inodeSeed. */
export function sealDxNode(inodeSeedValue: number, buf: Uint8Array, countOffset: number): void {
  const tail = countOffset + u16(buf, countOffset) * DX_ENTRY;
  setU32(buf, tail, 0);
  setU32(buf, tail + 4, dxNodeChecksum(inodeSeedValue, buf, countOffset));
}
