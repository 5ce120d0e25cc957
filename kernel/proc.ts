// A client process: the context (pid, credentials, fds and cwd held by vfs) through which a
// program issues syscalls. Every method is one syscall to vfs, except the few convenience
// calls at the end, which are made of syscalls. Failures are SysErrors with POSIX errnos.
//
// Who makes a call is never an argument: the core binds each process's syscall function to its
// pid, keeps it out of reach (a private field), and accepts through it only the client syscalls
// below, with their own arguments and nothing that names a process or credentials.

import { SysError } from '../ipc/errno.js';
import {
  MAX_IO, O_APPEND, O_CREAT, O_EXCL, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY, S_IFDIR, S_IFMT,
  type DirEntry, type FileType, type MountInfo, type Stat, type StatFs,
} from './api.js';
import { byteString, bytesOf, fromByteString, toByteString } from './names.js';

export interface Credentials {
  uid: number;
  gid: number;
}

/** A process's way into the core: one syscall by name; the core knows which process it is for. */
export type SyscallFn = (op: string, args: Record<string, unknown>) => Promise<unknown>;

/**
 * The syscalls a client process can make, each with the names of its arguments. The caller's
 * pid is not among them: the core adds it. Ops of vfs that are not here (spawn, unmountAll)
 * serve only the core.
 */
export const CLIENT_SYSCALLS: Readonly<Record<string, readonly string[]>> = Object.freeze({
  exit: [], getpid: [], umask: ['mask'],
  open: ['path', 'flags', 'mode'], close: ['fd'],
  read: ['fd', 'length'], write: ['fd', 'data'],
  pread: ['fd', 'length', 'offset'], pwrite: ['fd', 'data', 'offset'], lseek: ['fd', 'offset', 'whence'],
  stat: ['path'], lstat: ['path'], fstat: ['fd'],
  mkdir: ['path', 'mode'], rmdir: ['path'], readdir: ['path'], unlink: ['path'],
  rename: ['from', 'to'], link: ['existing', 'path'], symlink: ['target', 'path'], readlink: ['path'],
  truncate: ['path', 'length'], ftruncate: ['fd', 'length'], fsync: ['fd'], sync: [],
  // uid and gid of chown are the file's new owner, not the caller's identity.
  chmod: ['path', 'mode'], chown: ['path', 'uid', 'gid'], utimes: ['path', 'atime', 'mtime', 'nofollow'],
  statfs: ['path'], chdir: ['path'], getcwd: [],
  mount: ['target', 'fstype', 'source', 'readonly'], unmount: ['target'], mounts: [],
});

/** Argument names that would say who is calling: refused with a sentence of their own. */
const IDENTITY_FIELDS = new Set(['pid', 'uid', 'gid', 'cred']);

/**
 * Checks a call at the syscall boundary: `op` must be a client syscall and `args` an object
 * holding only that syscall's arguments (their types are checked by vfs). Returns a plain copy
 * of them, taken once, so that what was checked is what is sent. Throws a SysError: ENOSYS for
 * an op a client cannot make, EINVAL for an argument that names a process or credentials, or
 * any other argument the syscall does not take.
 */
export function clientArgs(op: string, args: unknown): Record<string, unknown> {
  if (!Object.hasOwn(CLIENT_SYSCALLS, op)) throw new SysError('ENOSYS', `'${op}' is not a syscall a client process can make`);
  if (args === null || typeof args !== 'object' || Array.isArray(args)) throw new SysError('EINVAL', `${op}: the arguments must be an object`);
  const copy: Record<string, unknown> = { ...args };
  const takes = CLIENT_SYSCALLS[op];
  for (const name of Object.keys(copy)) {
    if (takes.includes(name)) continue;
    if (IDENTITY_FIELDS.has(name)) {
      throw new SysError('EINVAL', `${op}: '${name}' is not an argument: a process's identity comes from the process making the call`);
    }
    throw new SysError('EINVAL', `${op}: unknown argument '${name}'`);
  }
  return copy;
}

/**
 * A path or name as a client gives it: its bytes, or a JS string taken as UTF-8 in which a lone
 * surrogate U+DC80–U+DCFF stands for the byte 0x80–0xFF (see kernel/names.ts).
 */
export type ClientPath = string | Uint8Array;

/** One entry of a directory as readdir gives it to a client. */
export interface ReaddirEntry {
  /** The name in client form: lossless (it names the same entry in a path), for display as well. */
  name: string;
  /** The exact bytes of the name. */
  raw: Uint8Array;
  ino: number;
  type: FileType;
}

/**
 * The arguments, by name, that carry a path or a name (symlink's target, mount's target): the
 * client gives them as ClientPaths, vfs takes them as byte strings.
 */
const PATH_ARGS = ['path', 'from', 'to', 'existing', 'target'] as const;

/**
 * The arguments of a call as they go to vfs: each path argument a byte string (a string or a
 * Uint8Array converted; anything else left for vfs to refuse). Throws EINVAL as toByteString.
 */
function pathsAsBytes(op: string, args: Record<string, unknown>): Record<string, unknown> {
  const out = { ...args };
  for (const key of PATH_ARGS) {
    const v = out[key];
    if (typeof v !== 'string' && !(v instanceof Uint8Array)) continue;
    try {
      out[key] = toByteString(v);
    } catch (err) {
      throw err instanceof SysError ? new SysError(err.errno, `${op}: argument '${key}': ${err.message}`) : err;
    }
  }
  return out;
}

/** A SysError as a client reads it: names in its message (byte strings) in client form, so café reads as café. */
function clientError(err: unknown): unknown {
  if (!(err instanceof SysError)) return err;
  const message = fromByteString(err.message);
  return message === err.message ? err : new SysError(err.errno, message);
}

/** Node-style flag strings, for convenience: 'r', 'r+', 'w', 'w+', 'wx', 'a', 'a+', 'ax'. */
const FLAG_STRINGS: Record<string, number> = {
  r: O_RDONLY,
  'r+': O_RDWR,
  w: O_WRONLY | O_CREAT | O_TRUNC,
  'w+': O_RDWR | O_CREAT | O_TRUNC,
  wx: O_WRONLY | O_CREAT | O_EXCL,
  'wx+': O_RDWR | O_CREAT | O_EXCL,
  a: O_WRONLY | O_CREAT | O_APPEND,
  'a+': O_RDWR | O_CREAT | O_APPEND,
  ax: O_WRONLY | O_CREAT | O_APPEND | O_EXCL,
};

export const SEEK_SET = 0;
export const SEEK_CUR = 1;
export const SEEK_END = 2;

const encoder = new TextEncoder();

function bytes(data: Uint8Array | string): Uint8Array {
  return typeof data === 'string' ? encoder.encode(data) : data;
}

/**
 * Write data as sent: a string as its UTF-8 bytes, and at most MAX_IO bytes of it, so that a larger
 * write writes that much and returns a short count (as Linux's does past MAX_RW_COUNT). What is not
 * a Uint8Array goes as it is, for the syscall layer to refuse.
 */
function writeData(data: Uint8Array | string): Uint8Array {
  const b = bytes(data);
  return b instanceof Uint8Array && b.byteLength > MAX_IO ? b.subarray(0, MAX_IO) : b;
}

/**
 * A client process. Its pid and credentials are frozen copies, for display: the core decides
 * who a call is from by the process the call came through, never by these.
 */
export class Proc {
  readonly pid: number;
  readonly cred: Readonly<Credentials>;
  readonly #sys: SyscallFn;

  /** @param sys  the core's syscall entry, already bound to this process */
  constructor(pid: number, cred: Credentials, sys: SyscallFn) {
    this.pid = pid;
    this.cred = Object.freeze({ uid: cred.uid, gid: cred.gid });
    this.#sys = sys;
    Object.freeze(this);
  }

  /**
   * One syscall of this process, through the core's boundary (which checks op and arguments):
   * the one place where path arguments become byte strings and error messages come back in
   * client form.
   */
  private async sys(op: string, args: Record<string, unknown>): Promise<unknown> {
    try {
      return await this.#sys(op, pathsAsBytes(op, args));
    } catch (err) {
      throw clientError(err);
    }
  }

  /** Opens a file; flags are O_* bits or a Node-style string. Returns the new fd. */
  open(path: ClientPath, flags: number | string = O_RDONLY, mode = 0o666): Promise<number> {
    const f = typeof flags === 'string' ? FLAG_STRINGS[flags] : flags;
    if (f === undefined) return Promise.reject(new SysError('EINVAL', `open: unknown flags '${flags}'`));
    return this.sys('open', { path, flags: f, mode }) as Promise<number>;
  }
  close(fd: number): Promise<void> {
    return this.sys('close', { fd }) as Promise<void>;
  }
  /** Reads up to `length` bytes at the fd's offset; an empty result is the end of the file. */
  read(fd: number, length: number): Promise<Uint8Array> {
    return this.sys('read', { fd, length }) as Promise<Uint8Array>;
  }
  /**
   * Writes at the fd's offset (at the end with O_APPEND); returns the count written, which is
   * less than the data's length for more than MAX_IO bytes (or a full file system).
   */
  write(fd: number, data: Uint8Array | string): Promise<number> {
    return this.sys('write', { fd, data: writeData(data) }) as Promise<number>;
  }
  pread(fd: number, length: number, offset: number): Promise<Uint8Array> {
    return this.sys('pread', { fd, length, offset }) as Promise<Uint8Array>;
  }
  /** Writes at an offset, leaving the fd's offset alone; returns the count written, as write. */
  pwrite(fd: number, data: Uint8Array | string, offset: number): Promise<number> {
    return this.sys('pwrite', { fd, data: writeData(data), offset }) as Promise<number>;
  }
  /** Moves the fd's offset; whence is SEEK_SET, SEEK_CUR or SEEK_END. Returns the new offset. */
  lseek(fd: number, offset: number, whence = SEEK_SET): Promise<number> {
    return this.sys('lseek', { fd, offset, whence }) as Promise<number>;
  }
  stat(path: ClientPath): Promise<Stat> {
    return this.sys('stat', { path }) as Promise<Stat>;
  }
  /** Like stat, but a final symlink is reported itself. */
  lstat(path: ClientPath): Promise<Stat> {
    return this.sys('lstat', { path }) as Promise<Stat>;
  }
  fstat(fd: number): Promise<Stat> {
    return this.sys('fstat', { fd }) as Promise<Stat>;
  }
  /** Makes a directory; with `recursive`, its missing parents too, and no EEXIST for a directory. */
  async mkdir(path: ClientPath, options: number | { mode?: number; recursive?: boolean } = {}): Promise<void> {
    const { mode = 0o777, recursive = false } = typeof options === 'number' ? { mode: options } : options;
    if (!recursive) {
      await this.sys('mkdir', { path, mode });
      return;
    }
    // Split in client form, which '/' is the same byte in and which a Uint8Array goes to losslessly.
    const text = typeof path === 'string' ? path : fromByteString(byteString(path));
    const absolute = text.startsWith('/');
    const parts = text.split('/').filter(Boolean);
    for (let i = 1; i <= parts.length; i++) {
      const prefix = (absolute ? '/' : '') + parts.slice(0, i).join('/');
      try {
        await this.sys('mkdir', { path: prefix, mode });
      } catch (err) {
        if (!(err instanceof SysError) || err.errno !== 'EEXIST') throw err;
        const st = await this.stat(prefix);
        if ((st.mode & S_IFMT) !== S_IFDIR) throw new SysError('ENOTDIR', `mkdir ${prefix}: not a directory`);
      }
    }
  }
  rmdir(path: ClientPath): Promise<void> {
    return this.sys('rmdir', { path }) as Promise<void>;
  }
  /** The entries of a directory, without '.' and '..', in the file system's order. */
  async readdir(path: ClientPath): Promise<ReaddirEntry[]> {
    const entries = (await this.sys('readdir', { path })) as DirEntry[];
    return entries.map((e) => ({ name: fromByteString(e.name), raw: bytesOf(e.name), ino: e.ino, type: e.type }));
  }
  unlink(path: ClientPath): Promise<void> {
    return this.sys('unlink', { path }) as Promise<void>;
  }
  rename(from: ClientPath, to: ClientPath): Promise<void> {
    return this.sys('rename', { from, to }) as Promise<void>;
  }
  /** Makes `path` a new name (hard link) for `existing`. */
  link(existing: ClientPath, path: ClientPath): Promise<void> {
    return this.sys('link', { existing, path }) as Promise<void>;
  }
  /** Makes `path` a symbolic link whose content is `target`. */
  symlink(target: ClientPath, path: ClientPath): Promise<void> {
    return this.sys('symlink', { target, path }) as Promise<void>;
  }
  /** A symbolic link's target, in client form. */
  async readlink(path: ClientPath): Promise<string> {
    return fromByteString((await this.sys('readlink', { path })) as string);
  }
  truncate(path: ClientPath, length: number): Promise<void> {
    return this.sys('truncate', { path, length }) as Promise<void>;
  }
  ftruncate(fd: number, length: number): Promise<void> {
    return this.sys('ftruncate', { fd, length }) as Promise<void>;
  }
  fsync(fd: number): Promise<void> {
    return this.sys('fsync', { fd }) as Promise<void>;
  }
  /** Commits every mounted file system. */
  sync(): Promise<void> {
    return this.sys('sync', {}) as Promise<void>;
  }
  chmod(path: ClientPath, mode: number): Promise<void> {
    return this.sys('chmod', { path, mode }) as Promise<void>;
  }
  chown(path: ClientPath, uid: number, gid: number): Promise<void> {
    return this.sys('chown', { path, uid, gid }) as Promise<void>;
  }
  /** Sets access and modification times, in milliseconds since the epoch. */
  utimes(path: ClientPath, atime: number, mtime: number): Promise<void> {
    return this.sys('utimes', { path, atime, mtime }) as Promise<void>;
  }
  /** Like utimes, but a final symlink's own times are set. */
  lutimes(path: ClientPath, atime: number, mtime: number): Promise<void> {
    return this.sys('utimes', { path, atime, mtime, nofollow: true }) as Promise<void>;
  }
  statfs(path: ClientPath): Promise<StatFs> {
    return this.sys('statfs', { path }) as Promise<StatFs>;
  }
  chdir(path: ClientPath): Promise<void> {
    return this.sys('chdir', { path }) as Promise<void>;
  }
  /** The current directory's path, in client form. */
  async getcwd(): Promise<string> {
    return fromByteString((await this.sys('getcwd', {})) as string);
  }
  /** Mounts a file system (root only): fstype is its component, source an image for ext2. */
  mount(target: ClientPath, fstype: string, options: { source?: string; readonly?: boolean } = {}): Promise<void> {
    return this.sys('mount', { target, fstype, source: options.source, readonly: options.readonly }) as Promise<void>;
  }
  unmount(target: ClientPath): Promise<void> {
    return this.sys('unmount', { target }) as Promise<void>;
  }
  /** The mounts, each target in client form. */
  async mounts(): Promise<MountInfo[]> {
    const mounts = (await this.sys('mounts', {})) as MountInfo[];
    return mounts.map((m) => ({ ...m, target: fromByteString(m.target) }));
  }
  /** Sets the file-mode creation mask (its low 9 bits); returns the previous one. */
  umask(mask: number): Promise<number> {
    return this.sys('umask', { mask }) as Promise<number>;
  }
  /** The null syscall: a round trip to vfs that does no work. */
  getpid(): Promise<number> {
    return this.sys('getpid', {}) as Promise<number>;
  }
  /** Closes every fd; the process is gone afterwards. */
  exit(): Promise<void> {
    return this.sys('exit', {}) as Promise<void>;
  }

  // ---- made of syscalls ----------------------------------------------------------------

  /** A whole file's content. */
  async readFile(path: ClientPath): Promise<Uint8Array> {
    const fd = await this.open(path, O_RDONLY);
    try {
      const parts: Uint8Array[] = [];
      let total = 0;
      for (;;) {
        const chunk = await this.read(fd, 1 << 20);
        if (chunk.length === 0) break;
        parts.push(chunk);
        total += chunk.length;
      }
      const out = new Uint8Array(total);
      let at = 0;
      for (const p of parts) {
        out.set(p, at);
        at += p.length;
      }
      return out;
    } finally {
      await this.close(fd);
    }
  }

  /** Creates or replaces a file's content. */
  async writeFile(path: ClientPath, data: Uint8Array | string, mode = 0o666): Promise<void> {
    const fd = await this.open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    try {
      const b = bytes(data);
      for (let at = 0; at < b.length; at += 1 << 20) await this.write(fd, b.subarray(at, at + (1 << 20)));
    } finally {
      await this.close(fd);
    }
  }
}
