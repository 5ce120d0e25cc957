// The process table: each client process's credentials, umask, cwd and file descriptors.

import { SysError } from '../../kernel/api.js';
import type { Vnode } from './mounts.js';
import type { Pipe } from './pipes.js';

/** An open file description: shared by every fd that refers to it. */
export interface OpenFile {
  /** The file; null for an end of a pipe made by pipe(), which has no name in any file system. */
  node: Vnode | null;
  /** For a pipe or an open FIFO: the pipe object it reads or writes (which end: by flags). */
  pipe?: Pipe;
  flags: number;
  offset: number;
  refs: number;
  isDir: boolean;
  /** Serialises offset-using calls on this description. */
  queue: Promise<unknown>;
  /** Written since its last fsync. */
  unsynced: boolean;
  /** Its file system restarted while it was unsynced: the next fsync must report EIO. */
  lost: boolean;
  /**
   * SetidWatch's count of set-id grants when this file was last seen with no set-id bit a
   * write could take away (setid.ts); absent when not known.
   */
  setidFreeAt?: number;
}

/**
 * An open file description as open or pipe() makes it: one reference, offset 0, nothing
 * written yet. `node` null (with `pipe`) for an end of a pipe made by pipe().
 */
export function newOpenFile(node: Vnode | null, flags: number, o: { pipe?: Pipe; isDir?: boolean } = {}): OpenFile {
  return { node, pipe: o.pipe, flags, offset: 0, refs: 1, isDir: o.isDir ?? false, queue: Promise.resolve(), unsynced: false, lost: false };
}

/** Who a process is, as vfs checks it: user, group, and supplementary groups. */
export interface Cred {
  uid: number;
  gid: number;
  groups: ReadonlySet<number>;
}

/** Credentials as spawn gives them and vfs keeps them for its restart. */
export interface CredRecord {
  uid: number;
  gid: number;
  groups: readonly number[];
}

export interface ProcEntry extends Cred {
  pid: number;
  umask: number;
  /** Null until something is mounted at '/'. */
  cwd: Vnode | null;
  /** The names leading from '/' to cwd, as the walk that reached it found them. */
  cwdPath: string[];
  /**
   * The current directory was not found again when vfs restarted (it was removed meanwhile):
   * a relative path is ENOENT until the next chdir, as in a removed directory.
   */
  cwdGone?: boolean;
  fds: (OpenFile | undefined)[];
  /** How many fds it may have open (its RLIMIT_NOFILE): at most MAX_FDS. */
  maxFds: number;
}

/** The most fds any process may have open, and a process's limit unless spawn gives a lower one. */
export const MAX_FDS = 1024;
/** The umask a process starts with. */
const DEFAULT_UMASK = 0o022;

/** A process as it starts: the default umask, no cwd yet (the root), no open files. */
export function newProc(pid: number, cred: CredRecord, maxFds = MAX_FDS): ProcEntry {
  return { pid, uid: cred.uid, gid: cred.gid, groups: new Set(cred.groups), umask: DEFAULT_UMASK, cwd: null, cwdPath: [], fds: [], maxFds: Math.min(maxFds, MAX_FDS) };
}

/** Root's credentials: what vfs acts as for itself. */
export const ROOT: CredRecord = Object.freeze({ uid: 0, gid: 0, groups: Object.freeze([]) });

export class ProcTable {
  private readonly procs = new Map<number, ProcEntry>();

  /** A new process; maxFds: its fd limit (MAX_FDS at most, and by default). */
  spawn(pid: number, cred: CredRecord, maxFds = MAX_FDS): ProcEntry {
    if (this.procs.has(pid)) throw new SysError('EEXIST', `vfs: process ${pid} exists`);
    const p = newProc(pid, cred, maxFds);
    this.procs.set(pid, p);
    return p;
  }

  get(pid: number): ProcEntry {
    const p = this.procs.get(pid);
    if (!p) throw new SysError('ESRCH', `vfs: no process ${pid}`);
    return p;
  }

  remove(pid: number): void {
    this.procs.delete(pid);
  }

  all(): IterableIterator<ProcEntry> {
    return this.procs.values();
  }

  file(p: ProcEntry, fd: number): OpenFile {
    const f = p.fds[fd];
    if (!f) throw new SysError('EBADF', `fd ${fd} is not open`);
    return f;
  }

  /** Puts file at the lowest free fd of p; EMFILE when all its maxFds are taken. */
  install(p: ProcEntry, file: OpenFile): number {
    let fd = p.fds.findIndex((f) => !f); // findIndex, unlike indexOf, also visits the holes dup2 leaves
    if (fd < 0) fd = p.fds.length;
    if (fd >= p.maxFds) throw new SysError('EMFILE', `process ${p.pid} has ${p.maxFds} files open, its limit`);
    p.fds[fd] = file;
    return fd;
  }
}
