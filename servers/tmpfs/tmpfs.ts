// One tmpfs instance: a tree of inodes in memory. Regular files keep their bytes in 4 KiB
// pages, allocated on first write, so holes cost nothing and `blocks` counts what is stored.
// Everything a client can make the instance hold is charged to its limits (see COST): a
// change that would pass them fails with ENOSPC before it changes anything, and a write that
// runs out of space part of the way writes a prefix and says how long it is.

import {
  S_IALLUGO, NAME_MAX, S_IFBLK, S_IFCHR, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK, SysError, fileTypeOf, handOver, isByteString, mknodTypeFault,
  type Attr, type DirPage, type FsArgs, type FsInstance, type WriteResult, type Handle, type StatFs, type WalkResult, type WalkStep,
} from '../../kernel/api.js';
import { DirEntries } from './entries.js';

export const PAGE = 4096;
/** Largest file size: 16 TiB. */
const MAX_FILE = 2 ** 44;

/**
 * What an instance charges against its byte limit, in bytes: the one place these costs are
 * set. They are at least what V8 spends on the objects (measured on Node 20 with 100,000 of
 * each: a directory's inode ≈ 520 heap bytes, a file's ≈ 430, an entry with an 8-byte name
 * ≈ 125), so that the byte limit bounds the memory a client can make the instance hold:
 * - a page of file content: PAGE;
 * - an inode: `inode` (its record in the inode table, a file's page map or a directory's
 *   entry lists), plus, for a symbolic link, the bytes of its target;
 * - a directory entry: `entry` (its slot in the name map and the readdir order), plus the
 *   bytes of its name.
 * Names and targets are byte strings (one char per byte) and count their bytes, their length,
 * which is what V8 takes for such a (one-byte) string.
 * Inodes are also counted against the inode limit, one each.
 */
export const COST = { inode: 576, entry: 128 } as const;

export interface Inode {
  ino: number;
  gen: number;
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  size: number;
  atime: number;
  mtime: number;
  ctime: number;
  rdev: number;
  /** Open file descriptions referring to it: an unlinked inode lives until they close. */
  opens: number;
  pages?: Map<number, Uint8Array>;
  entries?: DirEntries;
  parent?: number;
  target?: string;
}

/**
 * Told of each change by what it touched — an inode's attributes, a directory entry, a page of
 * a file — so that what keeps the instance across a restart (./kept.ts) records only that.
 * Inode numbers; a name is an entry's name in directory `dir`.
 */
export interface TmpfsChanges {
  inode(ino: number): void;
  entry(dir: number, name: string): void;
  page(ino: number, index: number): void;
}

const UNWATCHED: TmpfsChanges = { inode() {}, entry() {}, page() {} };

/** Everything an instance is, as ./kept.ts rebuilds it after a restart (checked). */
export interface TmpfsState {
  inodes: Map<number, Inode>;
  root: Handle;
  nextIno: number;
  nextGen: number;
  usedBytes: number;
}

export interface TmpfsLimits {
  /** Bytes the instance may hold: file content, inodes, names and symlink targets, as COST charges them. */
  maxBytes: number;
  /** Inodes the instance may hold, the root and removed files still open included. */
  maxInodes: number;
}

/** What a directory entry called `name` costs. */
export const entryCost = (name: string): number => COST.entry + name.length;

/** What an inode is charged against the byte limit: COST.inode, its pages, a symlink's target. */
export function inodeCost(node: Readonly<Inode>): number {
  return COST.inode + (node.pages?.size ?? 0) * PAGE + (node.target === undefined ? 0 : node.size);
}

/** Refuses a name that cannot be a directory entry's; a name is a byte string, its length its byte count. */
export function checkName(name: string): void {
  if (name === '' || name === '.' || name === '..' || name.includes('/') || !isByteString(name)) {
    throw new SysError('EINVAL', `'${name}' cannot be a directory entry's name`);
  }
  if (name.length > NAME_MAX) throw new SysError('ENAMETOOLONG', `a name is longer than ${NAME_MAX} bytes`);
}

export class Tmpfs implements FsInstance {
  private readonly inodes = new Map<number, Inode>();
  private nextIno = 2;
  private nextGen: number;
  /** Bytes charged, as COST says. */
  private usedBytes = 0;
  readonly root: Handle;

  /**
   * @param start where inode generations start — a random one, so the handles of a new
   *   instance never match those of an instance that was lost with a restart — or the state
   *   of an instance rebuilt after a restart (./kept.ts checked it)
   * @param changes told of every change (see TmpfsChanges)
   */
  constructor(
    private readonly now: () => number,
    readonly limits: TmpfsLimits,
    start: number | TmpfsState,
    private readonly changes: TmpfsChanges = UNWATCHED,
  ) {
    if (typeof start !== 'number') {
      this.inodes = start.inodes;
      this.nextIno = start.nextIno;
      this.nextGen = start.nextGen;
      this.usedBytes = start.usedBytes;
      this.root = start.root;
      return;
    }
    this.nextGen = start;
    this.charge(COST.inode, 1);
    const root = this.alloc(S_IFDIR | 0o755, 0, 0);
    root.entries = new DirEntries();
    root.parent = root.ino;
    root.nlink = 2;
    this.root = { ino: root.ino, gen: root.gen };
  }

  /** What ./kept.ts records: the inode numbered `ino`, if there is one (not to be changed). */
  inode(ino: number): Readonly<Inode> | undefined {
    return this.inodes.get(ino);
  }

  /** Every inode, for ./kept.ts (not to be changed). */
  allInodes(): Iterable<Readonly<Inode>> {
    return this.inodes.values();
  }

  /**
   * Frees every inode no entry names and no open file holds. After a rebuild from kept records
   * those are the files removed while open: vfs opens again only files that have names.
   */
  releaseUnnamed(): void {
    for (const node of [...this.inodes.values()]) this.release(node);
  }

  /** What ./kept.ts records besides inodes: the numbers the next inode gets, and the bytes charged. */
  counters(): { nextIno: number; nextGen: number; usedBytes: number } {
    return { nextIno: this.nextIno, nextGen: this.nextGen, usedBytes: this.usedBytes };
  }

  // ---- lookups ----------------------------------------------------------------------

  walk({ dir, names }: FsArgs<'walk'>): WalkResult {
    let cur = this.get(dir);
    const result: WalkResult = { start: this.attr(cur), steps: [] };
    for (const name of names) {
      if (!cur.entries) {
        result.error = { errno: 'ENOTDIR', message: `'${name}' is looked up in something that is not a directory` };
        break;
      }
      if (name === '..' && cur.ino === this.root.ino) break; // the vfs crosses to the parent mount
      const next = name === '.' ? cur.ino : name === '..' ? cur.parent! : cur.entries.get(name);
      if (next === undefined) {
        result.error = { errno: 'ENOENT', message: `no entry '${name}'` };
        break;
      }
      cur = this.inodes.get(next)!;
      result.steps.push(this.step(cur));
      if ((cur.mode & S_IFMT) === S_IFLNK) break;
    }
    return result;
  }

  getattr({ h }: FsArgs<'getattr'>): Attr {
    return this.attr(this.get(h));
  }

  readlink({ h }: FsArgs<'readlink'>): string {
    const node = this.get(h);
    if (node.target === undefined) throw new SysError('EINVAL', `inode ${h.ino} is not a symbolic link`);
    return node.target;
  }

  /** A cookie is where the last batch ended (0 to start): see DirEntries.list. */
  readdir({ h, cookie, count }: FsArgs<'readdir'>): DirPage {
    const dir = this.dir(h);
    const batch = dir.entries!.list(cookie, count);
    const entries = batch.entries.map(({ name, ino }) => ({ name, ino, type: fileTypeOf(this.inodes.get(ino)!.mode) }));
    this.touch(dir, 'a');
    return { entries, cookie: batch.cookie, eof: batch.eof };
  }

  /** Blocks of PAGE bytes: what the byte limit allows, and what of it is not charged yet. */
  statfs(): StatFs {
    const free = Math.floor((this.limits.maxBytes - this.usedBytes) / PAGE);
    return {
      fstype: 'tmpfs', bsize: PAGE, blocks: Math.floor(this.limits.maxBytes / PAGE), bfree: free, bavail: free,
      files: this.limits.maxInodes, ffree: this.limits.maxInodes - this.inodes.size, namemax: NAME_MAX, readonly: false,
    };
  }

  // ---- changes to the tree ----------------------------------------------------------

  create({ dir: dirH, name, mode, uid, gid, excl }: FsArgs<'create'>): WalkStep {
    const dir = this.dir(dirH);
    const existing = dir.entries!.get(name);
    if (existing !== undefined) {
      if (excl) throw new SysError('EEXIST', `'${name}' exists`);
      return this.step(this.inodes.get(existing)!);
    }
    checkName(name);
    this.charge(COST.inode + entryCost(name), 1);
    return this.step(this.addEntry(dir, name, this.alloc(S_IFREG | (mode & S_IALLUGO), uid, gid)));
  }

  mkdir({ dir: dirH, name, mode, uid, gid }: FsArgs<'mkdir'>): WalkStep {
    const dir = this.dir(dirH);
    this.absent(dir, name);
    checkName(name);
    this.charge(COST.inode + entryCost(name), 1);
    const node = this.alloc(S_IFDIR | (mode & S_IALLUGO), uid, gid);
    node.entries = new DirEntries();
    node.parent = dir.ino;
    node.nlink = 1; // '.'; the entry in dir adds the other
    dir.nlink++; // its '..'
    return this.step(this.addEntry(dir, name, node));
  }

  symlink({ dir: dirH, name, target, uid, gid }: FsArgs<'symlink'>): WalkStep {
    const dir = this.dir(dirH);
    this.absent(dir, name);
    if (target === '') throw new SysError('ENOENT', 'a symbolic link cannot be empty');
    if (!isByteString(target)) throw new SysError('EINVAL', 'a symbolic link target is not a byte string');
    const size = target.length;
    if (size > 4095) throw new SysError('ENAMETOOLONG', 'symbolic link target longer than 4095 bytes');
    checkName(name);
    this.charge(COST.inode + size + entryCost(name), 1);
    const node = this.alloc(S_IFLNK | 0o777, uid, gid);
    node.target = target;
    node.size = size;
    return this.step(this.addEntry(dir, name, node));
  }

  /** A FIFO, device node or socket (kept as its type and rdev), or an empty regular file. */
  mknod({ dir: dirH, name, mode, rdev, uid, gid }: FsArgs<'mknod'>): WalkStep {
    const dir = this.dir(dirH);
    this.absent(dir, name);
    const fault = mknodTypeFault(mode);
    if (fault) throw new SysError(fault.errno, `tmpfs: mknod '${name}': ${fault.message}`);
    checkName(name);
    this.charge(COST.inode + entryCost(name), 1);
    const type = mode & S_IFMT || S_IFREG;
    const node = this.alloc(type | (mode & S_IALLUGO), uid, gid);
    if (type === S_IFCHR || type === S_IFBLK) node.rdev = rdev;
    return this.step(this.addEntry(dir, name, node));
  }

  link({ h, dir: dirH, name }: FsArgs<'link'>): Attr {
    const node = this.get(h);
    const dir = this.dir(dirH);
    if (node.entries) throw new SysError('EPERM', 'a directory cannot have another name');
    if (node.nlink === 0) throw new SysError('ENOENT', 'the file was removed');
    this.absent(dir, name);
    checkName(name);
    this.charge(entryCost(name));
    this.addEntry(dir, name, node);
    node.ctime = this.now();
    this.changes.inode(node.ino);
    return this.attr(node);
  }

  unlink({ dir: dirH, name }: FsArgs<'unlink'>): void {
    const dir = this.dir(dirH);
    const node = this.child(dir, name);
    if (node.entries) throw new SysError('EISDIR', `'${name}' is a directory`);
    this.unlinkEntry(dir, name, node);
  }

  rmdir({ dir: dirH, name }: FsArgs<'rmdir'>): void {
    const dir = this.dir(dirH);
    const node = this.child(dir, name);
    if (!node.entries) throw new SysError('ENOTDIR', `'${name}' is not a directory`);
    if (node.entries.size > 0) throw new SysError('ENOTEMPTY', `'${name}' is not empty`);
    this.removeDir(dir, name, node);
    this.touch(dir, 'mc');
  }

  rename({ sdir: sdirH, sname, ddir: ddirH, dname }: FsArgs<'rename'>): void {
    const sdir = this.dir(sdirH);
    const ddir = this.dir(ddirH);
    checkName(dname);
    const node = this.child(sdir, sname);
    const victimIno = ddir.entries!.get(dname);
    if (victimIno === node.ino) return; // two names of one file: nothing to do
    if (node.entries) {
      // A directory may not move into itself or below itself.
      for (let at = ddir; ; at = this.inodes.get(at.parent!)!) {
        if (at.ino === node.ino) throw new SysError('EINVAL', `cannot move '${sname}' into itself`);
        if (at.ino === this.root.ino) break;
      }
    }
    const victim = victimIno === undefined ? undefined : this.inodes.get(victimIno)!;
    if (victim) {
      if (node.entries && !victim.entries) throw new SysError('ENOTDIR', `'${dname}' is not a directory`);
      if (!node.entries && victim.entries) throw new SysError('EISDIR', `'${dname}' is a directory`);
      if (victim.entries && victim.entries.size > 0) throw new SysError('ENOTEMPTY', `'${dname}' is not empty`);
    }
    // Charged before anything changes, net of the entries it removes: a rename on a full
    // instance to a name no longer than the old one works.
    this.charge(entryCost(dname), 0, entryCost(sname) + (victim ? entryCost(dname) : 0));
    if (victim?.entries) this.removeDir(ddir, dname, victim);
    else if (victim) this.unlinkEntry(ddir, dname, victim);
    sdir.entries!.delete(sname);
    this.usedBytes -= entryCost(sname);
    ddir.entries!.add(dname, node.ino);
    this.changes.entry(sdir.ino, sname);
    this.changes.entry(ddir.ino, dname);
    this.changes.inode(node.ino);
    if (node.entries && sdir !== ddir) {
      node.parent = ddir.ino;
      sdir.nlink--;
      ddir.nlink++;
    }
    node.ctime = this.now();
    this.touch(sdir, 'mc');
    this.touch(ddir, 'mc');
  }

  setattr({ h, ...a }: FsArgs<'setattr'>): Attr {
    const node = this.get(h);
    if (a.size !== undefined) {
      if (node.entries) throw new SysError('EISDIR', 'cannot truncate a directory');
      if (!node.pages) throw new SysError('EINVAL', 'only regular files can be truncated');
      this.resize(node, a.size);
      this.touch(node, 'mc');
    }
    if (a.mode !== undefined) node.mode = (node.mode & S_IFMT) | (a.mode & S_IALLUGO);
    if (a.uid !== undefined) node.uid = a.uid;
    if (a.gid !== undefined) node.gid = a.gid;
    if (a.atime !== undefined) node.atime = a.atime;
    if (a.mtime !== undefined) node.mtime = a.mtime;
    node.ctime = this.now();
    this.changes.inode(node.ino);
    return this.attr(node);
  }

  /** ENXIO for a device node or socket: no device or socket is behind a node on a tmpfs. */
  open({ h }: FsArgs<'open'>): void {
    const node = this.get(h);
    const type = node.mode & S_IFMT;
    if (type === S_IFCHR || type === S_IFBLK || type === S_IFSOCK) {
      throw new SysError('ENXIO', `tmpfs: inode ${node.ino} is a ${fileTypeOf(node.mode) === 'sock' ? 'socket' : 'device node'}, with nothing behind it to open`);
    }
    node.opens++;
  }

  close({ h }: FsArgs<'close'>): void {
    const node = this.inodes.get(h.ino);
    if (!node || node.gen !== h.gen || node.opens === 0) return;
    node.opens--;
    this.release(node);
  }

  // ---- file content -----------------------------------------------------------------

  read({ h, offset, length }: FsArgs<'read'>): Uint8Array {
    const node = this.file(h);
    const end = Math.min(node.size, offset + length);
    if (end <= offset) return new Uint8Array(0);
    const out = new Uint8Array(end - offset);
    for (let at = offset; at < end; ) {
      const index = Math.floor(at / PAGE);
      const within = at - index * PAGE;
      const n = Math.min(PAGE - within, end - at);
      const page = node.pages!.get(index);
      if (page) out.set(page.subarray(within, within + n), at - offset);
      at += n;
    }
    this.touch(node, 'a');
    return handOver(out);
  }

  write({ h, offset, data }: FsArgs<'write'>): WriteResult {
    return this.writeAt(this.file(h), offset, data);
  }

  append({ h, data }: FsArgs<'append'>): WriteResult {
    const node = this.file(h);
    return this.writeAt(node, node.size, data);
  }

  /** Content lives only in memory: there is nothing to make durable, only the handle to check. */
  fsync({ h }: FsArgs<'fsync'>): void {
    this.get(h);
  }

  sync(): void {}

  // ---- internals --------------------------------------------------------------------

  /**
   * Writes data at start, page by page. When the instance fills up (or the file reaches
   * MAX_FILE) part of the way, what was written is a prefix of data and its length is
   * returned, as POSIX (and Linux's tmpfs) have it; when not even one byte fits, nothing
   * changes and the write fails with ENOSPC (EFBIG at MAX_FILE).
   */
  private writeAt(node: Inode, start: number, data: Uint8Array): WriteResult {
    if (data.length > 0 && start >= MAX_FILE) throw new SysError('EFBIG', `a file cannot grow past ${MAX_FILE} bytes`);
    const limit = Math.min(start + data.length, MAX_FILE);
    let at = start;
    while (at < limit) {
      const index = Math.floor(at / PAGE);
      const within = at - index * PAGE;
      const n = Math.min(PAGE - within, limit - at);
      let page = node.pages!.get(index);
      if (!page) {
        if (this.usedBytes + PAGE > this.limits.maxBytes) break;
        this.usedBytes += PAGE;
        page = new Uint8Array(PAGE);
        node.pages!.set(index, page);
      }
      page.set(data.subarray(at - start, at - start + n), within);
      this.changes.page(node.ino, index);
      at += n;
    }
    if (at === start && data.length > 0) throw new SysError('ENOSPC', 'the tmpfs is full');
    if (at > node.size) node.size = at;
    this.touch(node, 'mc');
    return { written: at - start, end: at };
  }

  /**
   * Fails with ENOSPC unless `bytes` (and `inodes` more inodes) fit in the limits, counting
   * `freeing` bytes that the same change releases right after; else charges `bytes`.
   */
  private charge(bytes: number, inodes = 0, freeing = 0): void {
    if (this.inodes.size + inodes > this.limits.maxInodes) throw new SysError('ENOSPC', 'the tmpfs has no free inodes');
    if (this.usedBytes + bytes - freeing > this.limits.maxBytes) throw new SysError('ENOSPC', 'the tmpfs is full');
    this.usedBytes += bytes;
  }

  /** A new inode, already charged (COST.inode, a symlink's target, one inode). */
  private alloc(mode: number, uid: number, gid: number): Inode {
    const t = this.now();
    const node: Inode = {
      ino: this.nextIno++, gen: this.nextGen++, mode, uid, gid, nlink: 0, size: 0,
      atime: t, mtime: t, ctime: t, rdev: 0, opens: 0,
    };
    if ((mode & S_IFMT) === S_IFREG) node.pages = new Map();
    this.inodes.set(node.ino, node);
    this.changes.inode(node.ino);
    return node;
  }

  /** Adds an entry, already charged (checked name, entryCost). */
  private addEntry(dir: Inode, name: string, node: Inode): Inode {
    dir.entries!.add(name, node.ino);
    node.nlink++;
    this.changes.entry(dir.ino, name);
    this.changes.inode(node.ino);
    this.touch(dir, 'mc');
    return node;
  }

  private unlinkEntry(dir: Inode, name: string, node: Inode): void {
    dir.entries!.delete(name);
    this.usedBytes -= entryCost(name);
    node.nlink--;
    node.ctime = this.now();
    this.changes.entry(dir.ino, name);
    this.changes.inode(node.ino);
    this.touch(dir, 'mc');
    this.release(node);
  }

  /** Removes the entry of an empty directory. */
  private removeDir(dir: Inode, name: string, node: Inode): void {
    dir.entries!.delete(name);
    this.usedBytes -= entryCost(name);
    dir.nlink--;
    node.nlink = 0;
    this.changes.entry(dir.ino, name);
    this.changes.inode(dir.ino);
    this.changes.inode(node.ino);
    this.release(node);
  }

  /** Frees an inode nobody names or holds open any more, and what it was charged. */
  private release(node: Inode): void {
    if (node.nlink > 0 || node.opens > 0) return;
    this.usedBytes -= inodeCost(node);
    this.inodes.delete(node.ino);
    this.changes.inode(node.ino);
    for (const index of node.pages?.keys() ?? []) this.changes.page(node.ino, index);
  }

  private resize(node: Inode, size: number): void {
    if (size > MAX_FILE) throw new SysError('EFBIG', `a file cannot grow past ${MAX_FILE} bytes`);
    if (size < node.size) {
      const keep = Math.ceil(size / PAGE);
      for (const index of [...node.pages!.keys()]) {
        if (index >= keep) {
          node.pages!.delete(index);
          this.usedBytes -= PAGE;
          this.changes.page(node.ino, index);
        }
      }
      const tail = size % PAGE;
      if (tail && node.pages!.has(keep - 1)) {
        node.pages!.get(keep - 1)!.fill(0, tail);
        this.changes.page(node.ino, keep - 1);
      }
    }
    node.size = size;
  }

  private touch(node: Inode, which: 'a' | 'mc'): void {
    const t = this.now();
    if (which === 'a') node.atime = t;
    else node.mtime = node.ctime = t;
    this.changes.inode(node.ino);
  }

  private get(h: Handle): Inode {
    const node = this.inodes.get(h.ino);
    // Not the generation: it starts at random (see the constructor), and vfs passes this sentence
    // on to the caller, which would then differ from run to run and from policy to policy.
    if (!node || node.gen !== h.gen) throw new SysError('ESTALE', `inode ${h.ino} no longer exists (its number may name a newer file)`);
    return node;
  }

  private dir(h: Handle): Inode {
    const node = this.get(h);
    if (!node.entries) throw new SysError('ENOTDIR', `inode ${h.ino} is not a directory`);
    return node;
  }

  private file(h: Handle): Inode {
    const node = this.get(h);
    if (node.entries) throw new SysError('EISDIR', `inode ${h.ino} is a directory`);
    if (!node.pages) throw new SysError('EINVAL', `inode ${h.ino} is not a regular file`);
    return node;
  }

  private child(dir: Inode, name: string): Inode {
    const ino = dir.entries!.get(name);
    if (ino === undefined) throw new SysError('ENOENT', `no entry '${name}'`);
    return this.inodes.get(ino)!;
  }

  private absent(dir: Inode, name: string): void {
    if (dir.entries!.has(name)) throw new SysError('EEXIST', `'${name}' exists`);
  }

  private step(node: Inode): WalkStep {
    return { handle: { ino: node.ino, gen: node.gen }, attr: this.attr(node) };
  }

  private attr(node: Inode): Attr {
    return {
      ino: node.ino, gen: node.gen, mode: node.mode, nlink: node.nlink, uid: node.uid, gid: node.gid,
      size: node.size, blocks: (node.pages?.size ?? 0) * (PAGE / 512), blksize: PAGE, rdev: node.rdev,
      atime: node.atime, mtime: node.mtime, ctime: node.ctime,
    };
  }
}
