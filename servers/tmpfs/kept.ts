// How a named tmpfs instance is kept across tmpfs's own restart (Keep, in kernel/api.ts), and
// rebuilt — checked — from what was kept. A change re-records only what it touched, so a write
// to a big file costs its pages, not the file. Records of instance number k:
//   `k`                  the instance: its name, limits, next inode number and generation, bytes charged
//   `k/i/<ino>`          an inode's attributes (and a symlink's target)
//   `k/d/<dir>/<name>`   a directory entry: the inode it names
//   `k/p/<ino>/<index>`  a page of a file's content (PAGE bytes)
// Open counts are not kept: they are vfs's, which opens its files again after the restart; a
// file removed while open is therefore not kept.

import { S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK, isByteString, type Handle, type Keep } from '../../kernel/api.js';
import { DirEntries } from './entries.js';
import { PAGE, Tmpfs, checkName, entryCost, inodeCost, type Inode, type TmpfsChanges, type TmpfsLimits, type TmpfsState } from './tmpfs.js';

interface InstanceRecord extends TmpfsLimits {
  name: string;
  root: Handle;
  nextIno: number;
  nextGen: number;
  usedBytes: number;
}

type InodeRecord = Pick<Inode, 'gen' | 'mode' | 'uid' | 'gid' | 'nlink' | 'size' | 'atime' | 'mtime' | 'ctime' | 'rdev' | 'parent' | 'target'>;

/** Records the changes of one named instance in `keep`, once per op (flush()). */
export class InstanceKeeper implements TmpfsChanges {
  /** Record key → how to read its value now (undefined: the record goes). */
  private readonly dirty = new Map<string, () => unknown>();
  private t!: Tmpfs;

  constructor(private readonly keep: Keep, readonly id: number, readonly name: string) {}

  /** The instance whose changes this records (made with this as its TmpfsChanges). */
  attach(t: Tmpfs): Tmpfs {
    this.t = t;
    return t;
  }

  inode(ino: number): void {
    this.dirty.set(`${this.id}/i/${ino}`, () => inodeRecord(this.t.inode(ino)));
  }

  entry(dir: number, name: string): void {
    this.dirty.set(`${this.id}/d/${dir}/${name}`, () => this.t.inode(dir)?.entries?.get(name));
  }

  page(ino: number, index: number): void {
    this.dirty.set(`${this.id}/p/${ino}/${index}`, () => this.t.inode(ino)?.pages?.get(index));
  }

  /** Puts what changed since the last flush, with the instance record, as one put. */
  flush(): void {
    if (this.dirty.size === 0) return;
    const records: [string, unknown][] = [...this.dirty].map(([key, value]) => [key, value()]);
    const record: InstanceRecord = { name: this.name, root: this.t.root, ...this.t.limits, ...this.t.counters() };
    records.push([String(this.id), record]);
    this.dirty.clear();
    this.keep.put(records);
  }

  /** Removes every record of the instance (it was unmounted). */
  forget(): void {
    const keys = [String(this.id)];
    for (const node of this.t.allInodes()) {
      const ino = node.ino;
      keys.push(`${this.id}/i/${ino}`);
      for (const index of node.pages?.keys() ?? []) keys.push(`${this.id}/p/${ino}/${index}`);
      for (const { name } of node.entries?.list(0, Number.MAX_SAFE_INTEGER).entries ?? []) keys.push(`${this.id}/d/${ino}/${name}`);
    }
    this.dirty.clear();
    this.keep.put(keys.map((k) => [k, undefined]));
  }
}

function inodeRecord(node: Readonly<Inode> | undefined): InodeRecord | undefined {
  if (!node) return undefined;
  const { gen, mode, uid, gid, nlink, size, atime, mtime, ctime, rdev, parent, target } = node;
  return { gen, mode, uid, gid, nlink, size, atime, mtime, ctime, rdev, parent, target };
}

/** One kept instance, as its records were grouped by restore(). */
interface KeptInstance {
  id: number;
  record: unknown;
  keys: string[];
  inodes: Map<number, unknown>;
  entries: [dir: number, name: string, ino: number][];
  pages: [ino: number, index: number, bytes: unknown][];
}

/** Kept records grouped by instance; keys that belong to none are in `stray`. */
export function groupKept(kept: ReadonlyMap<string, unknown>): { instances: KeptInstance[]; stray: string[] } {
  const byId = new Map<number, KeptInstance>();
  const stray: string[] = [];
  const of = (id: number) => {
    let g = byId.get(id);
    if (!g) byId.set(id, (g = { id, record: undefined, keys: [], inodes: new Map(), entries: [], pages: [] }));
    return g;
  };
  for (const [key, value] of kept) {
    const m = /^(\d+)(?:\/([idp])\/(\d+)(?:\/(.*))?)?$/s.exec(key);
    if (!m) {
      stray.push(key);
      continue;
    }
    const g = of(Number(m[1]));
    g.keys.push(key);
    const n = Number(m[3]);
    if (m[2] === undefined) g.record = value;
    else if (m[2] === 'i' && m[4] === undefined) g.inodes.set(n, value);
    else if (m[2] === 'd' && m[4] !== undefined) g.entries.push([n, m[4], value as number]);
    else if (m[2] === 'p' && m[4] !== undefined && /^\d+$/.test(m[4])) g.pages.push([n, Number(m[4]), value]);
    else stray.push(key);
  }
  return { instances: [...byId.values()], stray };
}

const uint = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;
const time = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

/**
 * Rebuilds a kept instance, checking before anything is served that it is one tmpfs could have
 * made: every entry names an inode of the instance, with a valid name, in a directory; link
 * counts match the entries; every directory has one parent and reaches the root; sizes match
 * the content (pages inside the file, symlink sizes their targets); inode numbers and
 * generations come before the next ones handed out, and no two generations are equal; the bytes
 * and inodes charged are what the instance holds, within its limits. Files no entry names any
 * more (removed while open) are let go. Throws a sentence saying what failed.
 */
export function rebuild(g: KeptInstance, now: () => number, keeper: InstanceKeeper): Tmpfs {
  const bad = (why: string): never => {
    throw new Error(why);
  };
  const r = g.record as Partial<InstanceRecord> | undefined;
  if (!r || typeof r.name !== 'string' || ![r.maxBytes, r.maxInodes, r.nextIno, r.nextGen, r.usedBytes].every(uint) || !r.root || !uint(r.root.ino) || !uint(r.root.gen)) {
    return bad('its instance record is missing or malformed');
  }
  const inodes = new Map<number, Inode>();
  const gens = new Set<number>();
  for (const [ino, raw] of g.inodes) {
    const x = raw as Partial<InodeRecord> | undefined;
    if (!x || ![x.gen, x.mode, x.uid, x.gid, x.nlink, x.size, x.rdev].every(uint) || ![x.atime, x.mtime, x.ctime].every(time)) bad(`inode ${ino}'s record is malformed`);
    const rec = x as InodeRecord;
    if (ino >= r.nextIno! || rec.gen >= r.nextGen! || gens.has(rec.gen)) bad(`inode ${ino} has a number or generation tmpfs did not hand out`);
    gens.add(rec.gen);
    const node: Inode = { ...rec, ino, opens: 0, parent: undefined, target: undefined };
    switch (rec.mode & S_IFMT) {
      case S_IFDIR:
        if (!uint(rec.parent)) bad(`directory ${ino} has no parent`);
        node.entries = new DirEntries();
        node.parent = rec.parent;
        break;
      case S_IFREG:
        node.pages = new Map();
        break;
      case S_IFLNK:
        if (typeof rec.target !== 'string' || rec.target === '' || !isByteString(rec.target) || rec.target.length !== rec.size || rec.size > 4095) bad(`symlink ${ino}'s target does not match its size`);
        node.target = rec.target;
        break;
      case S_IFCHR: case S_IFBLK: case S_IFIFO: case S_IFSOCK:
        // Special files hold no content; only device nodes have a device number.
        if (rec.size !== 0 || (rec.rdev !== 0 && (rec.mode & S_IFMT) !== S_IFCHR && (rec.mode & S_IFMT) !== S_IFBLK)) bad(`special file ${ino} has a size or a device number it cannot have`);
        break;
      default:
        bad(`inode ${ino} has a type tmpfs does not make`);
    }
    inodes.set(ino, node);
  }
  const root = inodes.get(r.root.ino);
  if (!root || root.gen !== r.root.gen || !root.entries || root.parent !== root.ino) bad('its root directory is missing or wrong');
  const links = new Map<number, number>();
  const subdirs = new Map<number, number>();
  let used = 0;
  for (const [dirIno, name, ino] of g.entries) {
    const dir = inodes.get(dirIno);
    const node = inodes.get(ino);
    if (!dir?.entries) bad(`an entry lies in ${dirIno}, which is not a directory`);
    if (!node) bad(`entry '${name}' names inode ${ino}, which does not exist`);
    try {
      checkName(name);
    } catch {
      bad(`an entry has a name that cannot be one`);
    }
    dir!.entries!.add(name, ino);
    links.set(ino, (links.get(ino) ?? 0) + 1);
    if (node!.entries) {
      if (node!.parent !== dirIno || links.get(ino)! > 1) bad(`directory ${ino} is named elsewhere than in its parent`);
      subdirs.set(dirIno, (subdirs.get(dirIno) ?? 0) + 1);
    }
    used += entryCost(name);
  }
  for (const [ino, index, bytes] of g.pages) {
    const node = inodes.get(ino);
    if (!node?.pages) bad(`a page belongs to ${ino}, which is not a regular file`);
    if (!(bytes instanceof Uint8Array) || bytes.length !== PAGE || index >= Math.ceil(node!.size / PAGE)) bad(`page ${index} of inode ${ino} does not fit the file`);
    node!.pages!.set(index, new Uint8Array(bytes as Uint8Array));
  }
  for (const node of inodes.values()) {
    const named = links.get(node.ino) ?? 0;
    if (node.entries) {
      const expected = named > 0 || node === root ? 2 + (subdirs.get(node.ino) ?? 0) : 0;
      if (node.nlink !== expected) bad(`directory ${node.ino} has ${node.nlink} links, not ${expected}`);
      for (let at = node, steps = 0; at !== root; at = inodes.get(at.parent!)!, steps++) {
        if (named === 0) break;
        if (!inodes.get(at.parent!)?.entries || steps > inodes.size) bad(`directory ${node.ino} does not reach the root`);
      }
    } else if (node.nlink !== named) bad(`inode ${node.ino} has ${node.nlink} links, but ${named} entries name it`);
    used += inodeCost(node);
  }
  if (used !== r.usedBytes || used > r.maxBytes! || inodes.size > r.maxInodes!) bad(`its charges (${r.usedBytes} bytes) do not match what it holds (${used} bytes) or its limits`);
  const state: TmpfsState = { inodes, root: r.root, nextIno: r.nextIno!, nextGen: r.nextGen!, usedBytes: used };
  const t = keeper.attach(new Tmpfs(now, { maxBytes: r.maxBytes!, maxInodes: r.maxInodes! }, state, keeper));
  t.releaseUnnamed();
  return t;
}
