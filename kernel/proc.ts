// A client process: the context (pid, credentials, fds and cwd held by vfs) through which a
// program issues syscalls. Every method is one syscall to vfs, except the few convenience
// calls at the end, which are made of syscalls. Failures are SysErrors with POSIX errnos.
//
// Who makes a call is never an argument: the core binds each process's syscall function to its
// pid, keeps it out of reach (a private field), and accepts through it only the client syscalls
// below, with their own arguments and nothing that names a process or credentials.

import { SysError } from '../ipc/errno.js';
import {
  F_OK, ID_UNCHANGED, MAX_IO, NGROUPS_MAX, O_APPEND, O_CREAT, O_EXCL, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY, S_IFDIR,
  S_IFIFO, S_IFMT,
  type DirEntry, type FileType, type MountInfo, type Stat, type StatFs,
} from './api.js';
import { failedOutcome, type BatchOutcome } from './batch.js';
import { byteString, bytesOf, fromByteString, toByteString } from './names.js';

/** Who a process is: its user, its group, and its supplementary groups (none by default). */
export interface Credentials {
  uid: number;
  gid: number;
  groups?: readonly number[];
}

/** Credentials as a process holds them: every field there, frozen. */
export type FullCredentials = Readonly<Required<Credentials>>;

/** Whether v is a uid or gid: an integer from 0 to 2^32-2 ((uid_t)-1 is no id). */
const isId = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0 && (v as number) < ID_UNCHANGED;

/**
 * Checks credentials given to spawn and completes them: uid and gid default to 0 (root), groups
 * to none. Each id must be an integer from 0 to 2^32-2, and there may be at most NGROUPS_MAX
 * groups; else EINVAL.
 */
export function fullCredentials(cred: Partial<Credentials>): FullCredentials {
  const { uid = 0, gid = 0, groups = [] } = cred;
  for (const [name, id] of [['uid', uid], ['gid', gid]] as const) {
    if (!isId(id)) throw new SysError('EINVAL', `spawn: ${name} must be an integer from 0 to ${ID_UNCHANGED - 1}, got ${String(id)}`);
  }
  if (!Array.isArray(groups)) throw new SysError('EINVAL', 'spawn: groups must be an array of gids');
  if (groups.length > NGROUPS_MAX) throw new SysError('EINVAL', `spawn: ${groups.length} groups, more than ${NGROUPS_MAX}`);
  const bad = groups.findIndex((g) => !isId(g));
  if (bad >= 0) throw new SysError('EINVAL', `spawn: each group must be an integer from 0 to ${ID_UNCHANGED - 1}, got ${String(groups[bad])}`);
  return Object.freeze({ uid, gid, groups: Object.freeze([...groups]) });
}

/** chown's id as sent: -1 is ID_UNCHANGED, as (uid_t)-1 is in C. */
const chownId = (id: number) => (id === -1 ? ID_UNCHANGED : id);

/** A process's way into the core: one syscall by name; the core knows which process it is for. */
export type SyscallFn = (op: string, args: Record<string, unknown>) => Promise<unknown>;

/**
 * The syscalls a client process can make, each with the names of its arguments. The caller's
 * pid is not among them: the core adds it. Ops of vfs that are not here (spawn, halting, unmountAll)
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
  mknod: ['path', 'mode', 'rdev'], pipe: [], dup: ['fd'], dup2: ['fd', 'newfd'],
  truncate: ['path', 'length'], ftruncate: ['fd', 'length'], fsync: ['fd'], sync: [],
  // uid and gid of chown are the file's new owner, not the caller's identity.
  chmod: ['path', 'mode'], chown: ['path', 'uid', 'gid'], lchown: ['path', 'uid', 'gid'],
  fchmod: ['fd', 'mode'], fchown: ['fd', 'uid', 'gid'],
  utimes: ['path', 'atime', 'mtime', 'nofollow'], futimes: ['fd', 'atime', 'mtime'], access: ['path', 'mode'],
  statfs: ['path'], chdir: ['path'], getcwd: [],
  mount: ['target', 'fstype', 'source', 'readonly', 'key', 'partition'], unmount: ['target'], mounts: [],
});

/** Argument names that would say who is calling: refused with a sentence of their own. */
const IDENTITY_FIELDS = new Set(['pid', 'uid', 'gid', 'groups', 'cred']);

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
  // for-in rather than Object.keys, which makes an array per call; hasOwn skips what for-in
  // would find on a prototype.
  for (const name in copy) {
    if (!Object.hasOwn(copy, name) || takes.includes(name)) continue;
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
const PATH_ARGS: readonly string[] = ['path', 'from', 'to', 'existing', 'target'];

/** Per client syscall, those of its arguments that are in PATH_ARGS (none for most: looked up once). */
const PATH_ARGS_OF: Readonly<Record<string, readonly string[]>> = Object.fromEntries(
  Object.entries(CLIENT_SYSCALLS).map(([op, takes]) => [op, takes.filter((a) => PATH_ARGS.includes(a))]),
);

/**
 * The arguments of a call as they go to vfs: each path argument a byte string (a string or a
 * Uint8Array converted; anything else left for vfs to refuse), in a copy; `args` themselves
 * when they hold no path. Throws EINVAL as toByteString.
 */
function pathsAsBytes(op: string, args: Record<string, unknown>): Record<string, unknown> {
  let out = args;
  const keys = Object.hasOwn(PATH_ARGS_OF, op) ? PATH_ARGS_OF[op] : PATH_ARGS;
  for (let i = 0; i < keys.length; i++) { // indexed: no iterator per call
    const key = keys[i];
    const v = args[key];
    if (typeof v !== 'string' && !(v instanceof Uint8Array)) continue;
    if (out === args) out = { ...args };
    try {
      out[key] = toByteString(v);
    } catch (err) {
      throw err instanceof SysError ? new SysError(err.errno, `${op}: argument '${key}': ${err.message}`) : err;
    }
  }
  return out;
}

/** A SysError as a client reads it: names in its message (byte strings) in client form, so café reads as café. */
export function clientError(err: unknown): unknown {
  if (!(err instanceof SysError)) return err;
  const message = fromByteString(err.message);
  return message === err.message ? err : new SysError(err.errno, message);
}

/**
 * The syscalls whose results a client takes in another form than vfs gives them: names (byte
 * strings) in client form, readdir's entries with their raw bytes. The others' are as they are.
 */
const CLIENT_FORM: Readonly<Record<string, (result: unknown) => unknown>> = {
  readdir: (entries) => (entries as DirEntry[]).map((e): ReaddirEntry => ({ name: fromByteString(e.name), raw: bytesOf(e.name), ino: e.ino, type: e.type })),
  readlink: (target) => fromByteString(target as string),
  getcwd: (path) => fromByteString(path as string),
  mounts: (mounts) => (mounts as MountInfo[]).map((m) => ({ ...m, target: fromByteString(m.target) })),
};

/** A syscall's result in client form (CLIENT_FORM). */
function inClientForm(op: string, result: unknown): unknown {
  return Object.hasOwn(CLIENT_FORM, op) ? CLIENT_FORM[op](result) : result;
}

/**
 * One op of a batch (Proc.batch): a client syscall but exit, with its arguments by name as
 * CLIENT_SYSCALLS lists them (paths as ClientPaths; no defaults: open takes flags and mode).
 * An fd or newfd argument may be { fdOf: i }: the fd that op i of the same batch (an earlier
 * open, dup or dup2) made.
 */
export interface BatchOp {
  op: string;
  args?: Record<string, unknown>;
  /** Run only if the op before it succeeded; else it fails with ECANCELED, and so do ops linked to it. */
  linked?: boolean;
}

/** What one op of a batch came to: its value (in client form, as the syscall's method gives it) or its error. */
export type BatchResult = { ok: true; value: unknown } | { ok: false; error: SysError };

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
  readonly cred: FullCredentials;
  readonly #sys: SyscallFn;

  /**
   * @param sys  the core's syscall entry, already bound to this process; it fails with errors
   *             in client form (clientError), and never throws
   */
  constructor(pid: number, cred: Credentials, sys: SyscallFn) {
    this.pid = pid;
    this.cred = Object.freeze({ uid: cred.uid, gid: cred.gid, groups: Object.freeze([...(cred.groups ?? [])]) });
    this.#sys = sys;
    Object.freeze(this);
  }

  /**
   * One syscall of this process, through the core's boundary (which checks op and arguments):
   * the one place where path arguments become byte strings and error messages come back in
   * client form.
   */
  private sys(op: string, args: Record<string, unknown>): Promise<unknown> {
    // Not an async function, and no catch() on what #sys gives (it fails in client form
    // already): a null syscall is little more than this and Kernel.syscall, each turn counts.
    try {
      return this.#sys(op, pathsAsBytes(op, args));
    } catch (err) {
      return Promise.reject(clientError(err));
    }
  }

  /**
   * A syscall that may wait on a pipe or FIFO (open, read, write): vfs answers such a wait with
   * EINTR after a while (servers/vfs/pipes.ts), and it is made again here, as SA_RESTART has
   * the kernel do. It ends when the call does anything else (EIO at exit or halt).
   */
  private async restarting(op: string, args: Record<string, unknown>): Promise<unknown> {
    for (;;) {
      try {
        return await this.sys(op, args);
      } catch (err) {
        if (!(err instanceof SysError && err.errno === 'EINTR')) throw err;
      }
    }
  }

  /** Opens a file; flags are O_* bits or a Node-style string. Returns the new fd. */
  open(path: ClientPath, flags: number | string = O_RDONLY, mode = 0o666): Promise<number> {
    const f = typeof flags === 'string' ? FLAG_STRINGS[flags] : flags;
    if (f === undefined) return Promise.reject(new SysError('EINVAL', `open: unknown flags '${flags}'`));
    return this.restarting('open', { path, flags: f, mode }) as Promise<number>;
  }
  close(fd: number): Promise<void> {
    return this.sys('close', { fd }) as Promise<void>;
  }
  /** Reads up to `length` bytes at the fd's offset; an empty result is the end of the file. */
  read(fd: number, length: number): Promise<Uint8Array> {
    return this.restarting('read', { fd, length }) as Promise<Uint8Array>;
  }
  /**
   * Writes at the fd's offset (at the end with O_APPEND); returns the count written. What a
   * short count leaves (a wait on a pipe whose slice ended) is written by another call, until
   * all is written or a call fails; the count so far is then returned (the failure itself when
   * nothing was written). So the count is short only where POSIX has it short: past MAX_IO
   * bytes, a full file system or the largest file size, a pipe whose last reader went, a full
   * pipe with O_NONBLOCK.
   */
  async write(fd: number, data: Uint8Array | string): Promise<number> {
    const d = writeData(data);
    if (!(d instanceof Uint8Array)) return (await this.sys('write', { fd, data: d })) as number; // refused by vfs
    let done = 0;
    for (;;) {
      let n: number;
      try {
        n = (await this.restarting('write', { fd, data: d.subarray(done) })) as number;
      } catch (err) {
        if (done > 0 && err instanceof SysError) return done;
        throw err;
      }
      done += n;
      if (done >= d.length || n === 0) return done;
    }
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
    return inClientForm('readdir', await this.sys('readdir', { path })) as ReaddirEntry[];
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
  /**
   * Makes a special file: `mode` holds the type (S_IFIFO, S_IFCHR, S_IFBLK, S_IFSOCK, or S_IFREG
   * or 0 for an empty regular file) and the permission bits (less the umask); `rdev` is a device
   * node's number (makedev). EINVAL for another type, EPERM for a device node unless root.
   */
  mknod(path: ClientPath, mode: number, rdev = 0): Promise<void> {
    return this.sys('mknod', { path, mode, rdev }) as Promise<void>;
  }
  /** Makes a FIFO (named pipe): mknod of S_IFIFO, as glibc's mkfifo is. */
  mkfifo(path: ClientPath, mode = 0o666): Promise<void> {
    return this.mknod(path, S_IFIFO | mode); // type bits in mode make no valid type: EINVAL, as glibc's
  }
  /**
   * Makes a pipe: resolves to [read fd, write fd] (see servers/vfs/pipes.ts: reads wait for
   * data or EOF, writes for room; EPIPE with no reader left; writes of up to PIPE_BUF bytes
   * are atomic). Its fds seek nothing (ESPIPE).
   */
  pipe(): Promise<[number, number]> {
    return this.sys('pipe', {}) as Promise<[number, number]>;
  }
  /** A new fd, the lowest free one, on the same open file description as `fd` (offset and flags shared). */
  dup(fd: number): Promise<number> {
    return this.sys('dup', { fd }) as Promise<number>;
  }
  /**
   * Makes `newfd` refer to `fd`'s open file description, closing what newfd referred to;
   * returns newfd (at once when it is fd). EBADF for a bad fd or a newfd beyond the last fd.
   */
  dup2(fd: number, newfd: number): Promise<number> {
    return this.sys('dup2', { fd, newfd }) as Promise<number>;
  }
  /** A symbolic link's target, in client form. */
  async readlink(path: ClientPath): Promise<string> {
    return inClientForm('readlink', await this.sys('readlink', { path })) as string;
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
  /** Sets the permission bits (mode & 0o7777); owner or root only (EPERM). */
  chmod(path: ClientPath, mode: number): Promise<void> {
    return this.sys('chmod', { path, mode }) as Promise<void>;
  }
  /** chmod of an open file (any access mode); EBADF for an fd that is not open. */
  fchmod(fd: number, mode: number): Promise<void> {
    return this.sys('fchmod', { fd, mode }) as Promise<void>;
  }
  /** Sets the owner and group; -1 (or ID_UNCHANGED) leaves either as it is. */
  chown(path: ClientPath, uid: number, gid: number): Promise<void> {
    return this.sys('chown', { path, uid: chownId(uid), gid: chownId(gid) }) as Promise<void>;
  }
  /** Like chown, but a final symlink's own owner and group are set. */
  lchown(path: ClientPath, uid: number, gid: number): Promise<void> {
    return this.sys('lchown', { path, uid: chownId(uid), gid: chownId(gid) }) as Promise<void>;
  }
  /** chown of an open file (any access mode); EBADF for an fd that is not open. */
  fchown(fd: number, uid: number, gid: number): Promise<void> {
    return this.sys('fchown', { fd, uid: chownId(uid), gid: chownId(gid) }) as Promise<void>;
  }
  /**
   * Sets access and modification times, in milliseconds since the epoch; either may be
   * UTIME_NOW (the current time) or UTIME_OMIT (left as it is).
   */
  utimes(path: ClientPath, atime: number, mtime: number): Promise<void> {
    return this.sys('utimes', { path, atime, mtime }) as Promise<void>;
  }
  /** Like utimes, but a final symlink's own times are set. */
  lutimes(path: ClientPath, atime: number, mtime: number): Promise<void> {
    return this.sys('utimes', { path, atime, mtime, nofollow: true }) as Promise<void>;
  }
  /** utimes of an open file (any access mode); EBADF for an fd that is not open. */
  futimes(fd: number, atime: number, mtime: number): Promise<void> {
    return this.sys('futimes', { fd, atime, mtime }) as Promise<void>;
  }
  /**
   * Whether this process may read (R_OK), write (W_OK), execute or search (X_OK) the file, or
   * them together; F_OK: whether it exists. Resolves when it may, else fails: EACCES, EROFS
   * (W_OK on a read-only mount), ENOENT…; EINVAL for other bits in mode.
   */
  access(path: ClientPath, mode: number = F_OK): Promise<void> {
    return this.sys('access', { path, mode }) as Promise<void>;
  }
  statfs(path: ClientPath): Promise<StatFs> {
    return this.sys('statfs', { path }) as Promise<StatFs>;
  }
  chdir(path: ClientPath): Promise<void> {
    return this.sys('chdir', { path }) as Promise<void>;
  }
  /** The current directory's path, in client form. */
  async getcwd(): Promise<string> {
    return inClientForm('getcwd', await this.sys('getcwd', {})) as string;
  }
  /**
   * Mounts a file system (root only): fstype is its component, source an image for ext2, key
   * the passphrase of an image that is a LUKS container (bytes, or text as its UTF-8 bytes),
   * partition the number (from 1) of the partition of a disk image to mount.
   */
  mount(target: ClientPath, fstype: string, options: { source?: string; readonly?: boolean; key?: Uint8Array | string; partition?: number } = {}): Promise<void> {
    const key = typeof options.key === 'string' ? new TextEncoder().encode(options.key) : options.key;
    return this.sys('mount', { target, fstype, source: options.source, readonly: options.readonly, key, partition: options.partition }) as Promise<void>;
  }
  unmount(target: ClientPath): Promise<void> {
    return this.sys('unmount', { target }) as Promise<void>;
  }
  /** The mounts, each target in client form. */
  async mounts(): Promise<MountInfo[]> {
    return inClientForm('mounts', await this.sys('mounts', {})) as MountInfo[];
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

  /**
   * Submits ops to run in order as one message, which crosses into vfs once (kernel/batch.ts),
   * and gives each op's outcome in order. One failing does not stop the others, except those
   * linked after it (ECANCELED). An op is checked as if it came alone: ENOSYS or EINVAL in its
   * place for one a client cannot make or arguments it does not take; EBADF for an { fdOf } whose
   * op failed. Ops that would wait on a pipe give EINTR rather than be made again. The batch
   * itself fails (nothing runs) with EINVAL past MAX_BATCH_OPS ops or MAX_BATCH_BYTES bytes,
   * for ops that are not { op, args, linked }, or for a path that is no name (as toByteString);
   * with EAGAIN when its ops would pass the limits on calls in flight.
   */
  async batch(ops: readonly BatchOp[]): Promise<BatchResult[]> {
    if (!Array.isArray(ops)) throw new SysError('EINVAL', 'batch: ops must be an array');
    const sent = ops.map((o, i) => {
      if (o === null || typeof o !== 'object' || o.args === null || typeof o.args !== 'object') return o; // the core's to refuse
      try {
        return { ...o, args: pathsAsBytes(o.op, o.args) };
      } catch (err) {
        throw err instanceof SysError ? new SysError(err.errno, `batch: op ${i}: ${err.message}`) : err;
      }
    });
    const outcomes = (await this.sys('batch', { ops: sent })) as BatchOutcome[];
    return outcomes.map((o, i): BatchResult => (failedOutcome(o)
      ? { ok: false, error: clientError(new SysError(o.errno, o.message)) as SysError }
      : { ok: true, value: inClientForm(ops[i].op, o.value) }));
  }

  // ---- made of syscalls ----------------------------------------------------------------

  /**
   * A small regular file's whole content, read with one batch (open, a read of up to `limit`
   * bytes, close): one crossing into vfs. Null when the file holds `limit` bytes or more (the
   * read was not short), so that more may follow; nothing stays open. Fails as open, read or
   * close would, the first of them that failed; `limit` is at most MAX_IO. Not for a FIFO,
   * whose open would wait and whose short read is no end: readFile does not use it, as it cannot
   * know the type before the open (a batch runs its ops whatever their values).
   */
  async readSmallFile(path: ClientPath, limit: number): Promise<Uint8Array | null> {
    const fd = { fdOf: 0 };
    const [opened, read, closed] = await this.batch([
      { op: 'open', args: { path, flags: O_RDONLY, mode: 0 } },
      { op: 'read', args: { fd, length: limit }, linked: true },
      { op: 'close', args: { fd } },
    ]);
    for (const r of [opened, read, closed]) if (!r.ok) throw r.error;
    const data = (read as { value: Uint8Array }).value;
    return data.length < limit ? data : null;
  }

  /**
   * Reads fd `fd` on from offset 0, each call of the function returned giving the next at most
   * `length` bytes (empty at the end): by pread at an offset of its own — so that an fd vfs
   * granted is read straight from its file system (kernel/direct-files.ts) — or, for a pipe or
   * FIFO (pread's ESPIPE), by read. For an fd its caller opened and shares with no one. Errors:
   * pread's and read's.
   */
  sequentialReader(fd: number): (length: number) => Promise<Uint8Array> {
    let offset = 0;
    let seekable = true;
    return async (length) => {
      if (seekable) {
        try {
          const chunk = await this.pread(fd, length, offset);
          offset += chunk.length;
          return chunk;
        } catch (err) {
          if (!(err instanceof SysError && err.errno === 'ESPIPE' && offset === 0)) throw err;
          seekable = false;
        }
      }
      return this.read(fd, length);
    };
  }

  /** A whole file's content. */
  async readFile(path: ClientPath): Promise<Uint8Array> {
    const fd = await this.open(path, O_RDONLY);
    try {
      const parts: Uint8Array[] = [];
      let total = 0;
      const next = this.sequentialReader(fd);
      for (;;) {
        const chunk = await next(1 << 20);
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
      await this.writeAll(fd, data);
    } finally {
      await this.close(fd);
    }
  }

  /**
   * Writes all of `data` at the fd's offset, a MiB at most per call, making the call again for
   * what a short count left. Fails as write does (ENOSPC, EFBIG, EPIPE, …) when a call writes
   * nothing; what was written before stays.
   */
  async writeAll(fd: number, data: Uint8Array | string): Promise<void> {
    const b = bytes(data);
    for (let at = 0; at < b.length; ) {
      const n = await this.write(fd, b.subarray(at, at + (1 << 20)));
      if (n <= 0) throw new SysError('EIO', `write: fd ${fd} took no bytes`);
      at += n;
    }
  }
}
