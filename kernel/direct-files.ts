// Direct file reads and writes: the data path that skips vfs (issue 13; Fuchsia's file channel,
// MINIX's grants). When a client opens a regular file, vfs answers the core with a grant for
// it — which file system serves it, the instance (fsid), the file's handle, and whether the fd
// may read and write directly. The core keeps the grant under the process and the fd, out of the
// client's reach, and serves that fd's pread (pwrite) with one call to the file system's `read`
// (`write`): one boundary (core → file system) instead of two (core → vfs → file system). vfs
// stays the owner of names, permissions, the fd table and offsets; the grant carries only what
// its open checked.
//
// Writes. vfs must see a write to keep its promises: the fsync that follows a restart which lost
// unsynced data fails with EIO (it marks the open file unsynced), sync does likewise for the
// mount, a write by anyone but root takes the set-id bits away, and a file system that keeps its
// data on a device gets a replay log of what it was sent. So vfs grants writes only on a file
// system with no replay log (tmpfs) and for a file with no set-id bit, and the first pwrite after
// each sync point goes through vfs all the same: the fd's grant is armed by it, and disarmed by
// every fsync of its process, every sync, and every chmod that sets a set-id bit. The direct
// writes in between are covered by what that first write told vfs, until the next sync point,
// which passes through vfs.
//
// A grant ends with its fd: close, dup2 over it, exit. It is good only while neither vfs nor the
// file system has restarted since it was given (a restart may give files new handles, or lose
// the fd): each grant holds both domains' generations, and a pread whose grant is no longer
// good goes through vfs, which knows how to recover, and the fd reads through vfs from then on.
// Nor is it kept when the process sent a call that ends fds (close, dup2, exit, a batch of
// them) while its open was under way: vfs may have run that call after the open made the fd,
// ending it before the core heard of it (a close of the fd, a dup2 over it, the exit).
// A read may move the file's atime, a write its size and times, so the files used directly are
// told to vfs, which drops their cached attributes, before the next syscall reaches it (vfs's
// name-cache.ts).

import { SysError } from '../ipc/errno.js';
import type { Handle } from './api.js';
import type { BatchEntry } from './batch.js';
import { isPlainObject } from './validate.js';

/** A file the core may use straight from its file system: what vfs's open grants. */
export interface FileGrant {
  /** The file-system component serving it. */
  fs: string;
  /** The instance of that file system (vfs's Mount.fsid). */
  fsid: number;
  h: Handle;
  /** Its pread may go directly (open for reading). */
  read: boolean;
  /** Its pwrite may go directly, once armed (open for writing, on a file system with no replay log, no set-id bit). */
  write: boolean;
}

/** vfs's open answer when the core asked for a grant (VFS_OPS.open with `grant`). */
export interface GrantedOpen {
  fd: number;
  /** Null when the fd is not used directly: a pipe, a directory, a device. */
  grant: FileGrant | null;
}

/** A grant as the core holds it: with the generations of vfs's and the file system's domains when it was asked for. */
export interface Held extends FileGrant {
  vfsGeneration: number;
  fsGeneration: number;
  /** A pwrite through vfs since the last sync point: the next ones may go directly. */
  armed: boolean;
}

/** An open sent to vfs and not yet answered (DirectFiles.opening): what decides whether its grant is kept. */
export interface Opening {
  readonly pid: number;
  /** Domain launches when it was sent (Domains.launches). */
  readonly launches: number;
  /** Whether its process sent a call that ends fds since (ENDS_AN_FD, a batch of them, exit). */
  fdsEnded: boolean;
}

/** Whether a value is a FileGrant (as vfs's usedDirectly takes them from the core). */
export function isFileGrant(v: unknown): v is FileGrant {
  if (!isPlainObject(v) || typeof v.fs !== 'string' || !Number.isSafeInteger(v.fsid)) return false;
  const h = v.h;
  return isPlainObject(h) && Number.isSafeInteger(h.ino) && Number.isSafeInteger(h.gen);
}

/** FileGrants given as the usedDirectly op's `files`: EINVAL for anything else. */
export function checkFileGrants(files: unknown): FileGrant[] {
  if (!Array.isArray(files) || !files.every(isFileGrant)) throw new SysError('EINVAL', 'usedDirectly: files must be an array of file grants {fs, fsid, h}');
  return files;
}

/** The ops that end an fd: close (fd), dup2 (newfd, which it replaces). */
const ENDS_AN_FD: Readonly<Record<string, 'fd' | 'newfd'>> = { close: 'fd', dup2: 'newfd' };

/** The set-id bits, S_ISUID | S_ISGID: a chmod that sets one disarms every write grant. */
const SETID_BITS = 0o6000;

/**
 * The grants of every client process, by pid and fd, and the files read directly since vfs was
 * last told. `generation(component)` is the launch count of the domain a component lives in.
 */
export class DirectFiles {
  private readonly byProc = new Map<number, Map<number, Held>>();
  /** Per process, its opens under way. */
  private readonly openings = new Map<number, Set<Opening>>();
  private readonly usedSinceTold = new Map<string, FileGrant>();

  /**
   * @param generation  the launch count of the domain a component lives in
   * @param launches  the launches of every domain, counted together (Domains.launches)
   */
  constructor(
    private readonly generation: (component: string) => number,
    private readonly launches: () => number,
  ) {}

  /** Taken before an open of process `pid` is sent; given back with its answer to opened(), or to notOpened(). */
  opening(pid: number): Opening {
    const o: Opening = { pid, launches: this.launches(), fdsEnded: false };
    let under = this.openings.get(pid);
    if (!under) this.openings.set(pid, (under = new Set()));
    under.add(o);
    return o;
  }

  /**
   * Keeps what vfs answered to open `o`: the grant, with the generations of vfs's and the file
   * system's domains, unless a domain (re)started since it was sent — then the handle may be
   * stale already — or its process sent a call that ends fds meanwhile, which may have ended
   * this one: then the fd reads through vfs. Returns the fd.
   */
  opened(o: Opening, answer: GrantedOpen): number {
    this.notOpened(o);
    const g = answer.grant;
    if (g !== null && !o.fdsEnded && o.launches === this.launches()) {
      const held: Held = { ...g, vfsGeneration: this.generation('vfs'), fsGeneration: this.generation(g.fs), armed: false };
      let fds = this.byProc.get(o.pid);
      if (!fds) this.byProc.set(o.pid, (fds = new Map()));
      fds.set(answer.fd, held);
    }
    return answer.fd;
  }

  /** Open `o` is no longer under way (it failed, or opened() took its answer). */
  notOpened(o: Opening): void {
    const under = this.openings.get(o.pid);
    if (under?.delete(o) && under.size === 0) this.openings.delete(o.pid);
  }

  /** The grant of fd `fd` of process `pid`, if it has a good one; a grant no longer good is dropped. */
  grant(pid: number, fd: unknown): Held | undefined {
    const held = this.byProc.get(pid)?.get(fd as number);
    if (held === undefined) return undefined;
    if (this.good(held)) return held;
    this.drop(pid, fd as number);
    return undefined;
  }

  /** Whether neither vfs nor the grant's file system has restarted since it was given. */
  good(g: FileGrant): boolean {
    const held = g as Held;
    return held.vfsGeneration === this.generation('vfs') && held.fsGeneration === this.generation(held.fs);
  }

  /** Ends fd `fd`'s grant, if it has one. */
  drop(pid: number, fd: number): void {
    const fds = this.byProc.get(pid);
    if (!fds?.delete(fd)) return;
    if (fds.size === 0) this.byProc.delete(pid);
  }

  /**
   * Before a syscall of `pid` goes to vfs: ends the grants the call ends — the fd a close
   * closes, the one a dup2 replaces, each of those in a batch, every one at exit — and marks
   * the process's opens under way when it ends any fd (see opened()).
   */
  before(pid: number, op: string, args: Record<string, unknown>): void {
    if (this.byProc.size > 0) this.syncPoint(pid, op, args);
    if (!this.byProc.has(pid) && !this.openings.has(pid)) return; // nothing to end: the common case
    let ends = false;
    if (op === 'exit') {
      this.byProc.delete(pid);
      ends = true;
    } else if (op === 'batch') {
      // An op refused in the core (an exit or a batch among them) is sent only to fail in its place.
      for (const e of args.ops as BatchEntry[]) if (!e.refused && this.endsAnFd(pid, e.op, e.args)) ends = true;
    } else {
      ends = this.endsAnFd(pid, op, args);
    }
    if (ends) for (const o of this.openings.get(pid) ?? []) o.fdsEnded = true;
  }

  /**
   * Disarms the write grants a sync point ends (see the comment at the top): an fsync, the
   * process's; a sync, or a chmod that sets a set-id bit, everyone's; each op of a batch alike.
   */
  private syncPoint(pid: number, op: string, args: Record<string, unknown>): void {
    if (op === 'batch') {
      for (const e of args.ops as BatchEntry[]) if (!e.refused) this.syncPoint(pid, e.op, e.args);
    } else if (op === 'fsync') {
      for (const g of this.byProc.get(pid)?.values() ?? []) g.armed = false;
    } else if (op === 'sync' || ((op === 'chmod' || op === 'fchmod') && ((args.mode as number) & SETID_BITS) !== 0)) {
      for (const fds of this.byProc.values()) for (const g of fds.values()) g.armed = false;
    }
  }

  /** A pwrite of fd `fd` went through vfs and succeeded: its grant `g`, if still the fd's, is armed. */
  arm(pid: number, fd: number, g: Held): void {
    if (this.byProc.get(pid)?.get(fd) === g && this.good(g)) g.armed = true;
  }

  /** Whether `op` (a syscall alone or in a batch) ends an fd: a close, a dup2; ends its grant. */
  private endsAnFd(pid: number, op: string, args: Record<string, unknown>): boolean {
    if (!Object.hasOwn(ENDS_AN_FD, op)) return false;
    const fd = args[ENDS_AN_FD[op]];
    if (typeof fd === 'number') this.drop(pid, fd); // an FdOf in a batch names an fd the batch opened: no grant
    return true;
  }

  /** A direct read or write of `g` was made: vfs is to hear of it before its next syscall. */
  used(g: FileGrant): void {
    this.usedSinceTold.set(`${g.fs}/${g.fsid}/${g.h.ino}/${g.h.gen}`, { fs: g.fs, fsid: g.fsid, h: g.h, read: g.read, write: g.write });
  }

  /** The files used directly since the last call, for vfs's usedDirectly (null when none); forgets them. */
  takeUsed(): FileGrant[] | null {
    if (this.usedSinceTold.size === 0) return null;
    const files = [...this.usedSinceTold.values()];
    this.usedSinceTold.clear();
    return files;
  }
}
