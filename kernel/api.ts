// The component API: everything a server under servers/ may import from the kernel. A server
// exports one ComponentDef; the kernel loads it into some domain, validates every request
// against the op's declared arguments, and hands it a Context. Nothing here says which domain
// that is — a driver is written once and runs under every policy.

import type { Hyp } from './hyp.js';
import { SysError } from '../ipc/errno.js';
import { op, type ArgsOf, type CallArgs, type CallResult, type Handlers, type OpName, type OpSpec, type ResultOf } from './ops.js';

export { SysError, strerror, type Errno } from '../ipc/errno.js';
export { MAX_IO, handOver } from '../ipc/frame.js';
export type { Argon2Params, Argon2Type, DigestName, Hyp, HostFile, LogLevel } from './hyp.js';
export {
  CIPHERS, KDF_HASHES, KDF_LIMITS, checkCipher, checkCipherUnits, checkDerivedLength, checkKdf, type Argon2Kdf, type Kdf,
  type Pbkdf2Kdf,
} from './cipher-params.js';
export {
  op, type ArgSpec, type ArgType, type ArgsOf, type CallArgs, type CallResult, type Components, type Handlers, type OpName,
  type OpSpec, type ResultOf,
} from './ops.js';
export { FsInstances, firstFsid } from './fs-instances.js';
export { BlockUnit, type BlockDevice, type BlockWrite } from './block-unit.js';
export { checkCommit, checkRequest, checkWritable, type UnitBounds } from './block-requests.js';
export { byteString, bytesOf, isByteString } from './names.js';
export { validateOp } from './validate.js';
export { checkFileGrants, type FileGrant, type GrantedOpen } from './direct-files.js';
export { FD_ARGS, failedOutcome, fdOfProblem, isFdOf, type BatchEntry, type BatchOutcome, type FdOf } from './batch.js';

/**
 * What a reincarnation is told: which incarnation it is and what the core kept for it.
 * (MINIX's SEF hands init_restart the same, and DS holds the state a server published.)
 */
export interface RestartInfo {
  /** Which restart this is: 1 at the first, and one more at each try after (a failed try counts). */
  generation: number;
  /**
   * The records this component put in its Keep before it failed, as they passed the core's
   * integrity check: key → value (copies; the component owns them). Empty when none were kept.
   */
  kept: ReadonlyMap<string, unknown>;
  /** Why kept records were found damaged and dropped, whole (then `kept` is empty); else absent. */
  keptLost?: string;
}

/**
 * State a component keeps across its own restarts, where a crash of its domain cannot take it
 * (MINIX's DS): the core holds it and hands it back, checked, to `init.restart` as
 * RestartInfo.kept. Records persist across incarnations until the component removes them.
 * Where they live depends on the domain, which the component never knows:
 * - a thread domain writes them into shared memory the core holds: put records are safe from a
 *   crash, a hang or a leak of the domain as soon as put() returns;
 * - a process domain buffers them and ships them to the core at commit(), and on its own within
 *   a short while (kernel/keep-stores.ts): what was committed survives a crash;
 * - in the kernel's own thread nothing is kept: a component there never restarts without the
 *   kernel panicking.
 * A store has a size bound (KEEP_MAX_BYTES in kernel/keep.ts); one that outgrows it is dropped
 * whole at the next restart (keptLost says so), never served in part.
 */
export interface Keep {
  /**
   * Sets records, key → value (plain data and Uint8Arrays, as op arguments; undefined removes
   * the key). The records of one call are kept all together or not at all, so a call can carry
   * one consistent change. Values are copied: the caller may change them afterwards.
   */
  put(records: Iterable<readonly [string, unknown]>): void;
  /** A sync point: resolves once every record put so far would survive a crash of this component's domain. */
  commit(): Promise<void>;
  /**
   * True while every put survives a crash of this component's domain as soon as it returns,
   * without a commit; false when only what was committed is sure to (or nothing is kept).
   */
  readonly immediate: boolean;
}

export interface Context {
  /** This component's name. */
  readonly name: string;
  /**
   * Calls an op of a component this one declared in `requires`; anything else fails with
   * EPERM. Arguments and results are copied across domain boundaries: a callee must not keep
   * or change a Uint8Array it was given, a caller must not change one it got back.
   */
  call<C extends string, O extends OpName<C>>(component: C, op: O, args: CallArgs<C, O>): Promise<CallResult<C, O>>;
  /** The host, reached only through hypercalls. */
  readonly hyp: Hyp;
  /** State this component keeps across its own restarts (see Keep). */
  readonly keep: Keep;
  /**
   * A number that changes whenever `component` (one this one requires) may have restarted
   * since it was last read: the channel to it was lost or made again. Reading it costs no
   * call. It never changes for a component that restarts only together with this one. What
   * this one remembers of the other's state (vfs's name cache) is worth keeping only while it
   * stays the same.
   */
  restarts(component: string): number;
}

export interface ComponentDef<Ops extends Record<string, OpSpec> = Record<string, OpSpec>> {
  /** Unique name: lower-case letters and digits, e.g. 'blk', 'ext2'. */
  name: string;
  /** One line for `rumpus ps` and the docs. */
  description: string;
  /** Components this one may call; the core builds a channel for each and nothing else. */
  requires: readonly string[];
  ops: Ops;
  /**
   * True when the kernel cannot go on without this component: once it has failed and cannot
   * be restarted any more, the kernel panics. Default false.
   */
  essential?: boolean;
  /**
   * True when every op's result depends only on its arguments: the component keeps no state
   * between calls (its init builds nothing a call changes), requires nothing, and every op is
   * idempotent. Only a pure component may be placed in a pool domain, whose workers each run a
   * copy of it and may serve any call, and retry one whose worker died (kernel/domain-pool.ts).
   * Default false.
   */
  pure?: boolean;
  /**
   * How the component starts, as MINIX's SEF init callbacks: `fresh` at boot, `restart` in a
   * reincarnation after a failure (`fresh` when there is none). Each runs in the component's
   * domain, builds its state and returns its handlers; the components it requires have
   * started. One that throws fails this start, as a crash during init does: the supervisor
   * counts it and tries again.
   */
  init: {
    fresh(ctx: Context): Handlers<Ops> | Promise<Handlers<Ops>>;
    restart?(ctx: Context, info: RestartInfo): Handlers<Ops> | Promise<Handlers<Ops>>;
  };
}

/** Declares a component with its op table typed; a plain identity at run time. */
export function defineComponent<Ops extends Record<string, OpSpec>>(def: ComponentDef<Ops>): ComponentDef<Ops> {
  return def;
}

/** What a block device (blk, cgd) answers about a unit from attach and info. Sizes in bytes. */
export interface UnitInfo {
  unit: number;
  /** The host path, or 'ram'. */
  source: string;
  size: number;
  /** The alignment of every offset and length. */
  sectorSize: number;
  sectors: number;
  readonly: boolean;
}

/**
 * The ops every block device (blk, cgd) serves on a unit it attached, with the same arguments
 * and errors, so that a file system can sit on either: ENXIO for a unit it does not know (it
 * restarted: attach again), EINVAL for a request misaligned or past the end, EROFS for a write
 * to a read-only unit. Each device adds its own attach.
 */
export const BLOCK_OPS = {
  detach: op<void>()({ args: { unit: 'uint' }, idempotent: false }),
  info: op<UnitInfo>()({ args: { unit: 'uint' }, idempotent: true }),
  /** Reads `length` bytes at byte `offset`, both multiples of the sector size. */
  read: op<Uint8Array>()({ args: { unit: 'uint', offset: 'uint', length: 'uint' }, idempotent: true }),
  /** Writes data at byte `offset`; offset and length multiples of the sector size. */
  write: op<void>()({ args: { unit: 'uint', offset: 'uint', data: 'bytes' }, idempotent: true }),
  /** Makes every completed write durable. */
  flush: op<void>()({ args: { unit: 'uint' }, idempotent: true }),
  /**
   * A file system's sync point: writes [{offset, data}, …] (each aligned) atomically and
   * durably, before answering. Every write is checked before the first one is applied.
   */
  commit: op<void>()({ args: { unit: 'uint', writes: 'any' }, idempotent: true }),
} as const satisfies Record<string, OpSpec>;

/** A file's identity inside one file system: inode number and generation (NFS-style). */
export interface Handle {
  ino: number;
  gen: number;
}

/** File types as they appear in mode bits (S_IFMT). */
export const S_IFMT = 0o170000;
export const S_IFSOCK = 0o140000;
export const S_IFLNK = 0o120000;
export const S_IFREG = 0o100000;
export const S_IFBLK = 0o060000;
export const S_IFDIR = 0o040000;
export const S_IFCHR = 0o020000;
export const S_IFIFO = 0o010000;
/** Permission bits beside rwx: set-user-ID, set-group-ID and sticky (restricted deletion). */
export const S_ISUID = 0o4000;
export const S_ISGID = 0o2000;
export const S_ISVTX = 0o1000;
/** rwx for owner, group and other: what a umask can take away. */
export const S_IRWXUGO = 0o777;
/** Every bit of a mode but the type: what chmod may set (Linux's include/linux/stat.h). */
export const S_IALLUGO = 0o7777;

export type FileType = 'reg' | 'dir' | 'lnk' | 'chr' | 'blk' | 'fifo' | 'sock';

export function fileTypeOf(mode: number): FileType {
  switch (mode & S_IFMT) {
    case S_IFDIR: return 'dir';
    case S_IFLNK: return 'lnk';
    case S_IFCHR: return 'chr';
    case S_IFBLK: return 'blk';
    case S_IFIFO: return 'fifo';
    case S_IFSOCK: return 'sock';
    default: return 'reg';
  }
}

/** Attributes a file system reports for a file. Times are milliseconds since the epoch. */
export interface Attr {
  ino: number;
  gen: number;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  size: number;
  /** Space used, in 512-byte units. */
  blocks: number;
  blksize: number;
  rdev: number;
  atime: number;
  mtime: number;
  ctime: number;
}

/** One entry of a directory as a file system lists it. */
export interface DirEntry {
  /** A byte string (see kernel/names.ts), as every name inside the kernel. */
  name: string;
  ino: number;
  type: FileType;
}

export interface StatFs {
  fstype: string;
  bsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
  namemax: number;
  readonly: boolean;
}

/** One resolved name of a walk: the handle reached and its attributes. */
export interface WalkStep {
  handle: Handle;
  attr: Attr;
}

/**
 * Result of a file system's walk op: the attributes of the starting directory, then one step
 * per name resolved. The walk stops early — after a symlink, before '..' at the file system's
 * root, or at the first name that fails (with its errno and message in `error`).
 */
export interface WalkResult {
  start: Attr;
  steps: WalkStep[];
  error?: { errno: string; message: string };
}

/** Longest name of one directory entry, in bytes. */
export const NAME_MAX = 255;

/**
 * Why `name` cannot be the name of a directory entry — it is empty, '.' or '..' (the names a
 * directory has for itself and its parent), or holds '/' or NUL — or null when it can be.
 * Whatever lists names (vfs readdir, the CLI) refuses to pass such a name on as a path component.
 */
export function entryNameFault(name: string): string | null {
  if (name === '') return 'is empty';
  if (name === '.' || name === '..') return `is '${name}'`;
  if (name.includes('/')) return "holds '/'";
  if (name.includes('\0')) return 'holds NUL';
  return null;
}

/** A name as messages show it: quoted, with NUL and other control characters escaped. */
export function quoteName(name: string): string {
  return JSON.stringify(name);
}

/** What a file system's mount answers. */
export interface FsMountResult {
  fsid: number;
  root: Handle;
  readonly: boolean;
  /**
   * Why it is read-only though it was not asked to be (a feature it reads but does not write):
   * a phrase the vfs adds to each EROFS of the mount.
   */
  readonlyWhy?: string;
  /**
   * It keeps its data on a device: the vfs keeps what it sent since the last sync, to send
   * again if the file system restarts.
   */
  persistent?: boolean;
  /** Options to add when mounting the same again after a restart of the file system. */
  remount?: Record<string, unknown>;
  /**
   * Mounted again after the file system restarted, it is the same instance with every change
   * acknowledged before the restart (kept through ctx.keep): nothing was lost.
   */
  intact?: boolean;
}

/** A page of a directory's entries; `cookie` continues after the last one. */
export interface DirPage {
  entries: DirEntry[];
  cookie: number;
  eof: boolean;
}

/** What write and append answer: bytes written, and the offset after the last of them. */
export interface WriteResult {
  written: number;
  end: number;
}

/**
 * The op table every file system serves (tmpfs, dev, ext2, …), so the vfs can mount any of
 * them. Ops are stateless on handles: a file system can restart under open files. Names and
 * symlink targets, given and answered, are byte strings: one char per byte (kernel/names.ts);
 * a name's length is its byte count.
 *
 * Adding an op to the file-system protocol is one edit, here (its arguments and its result):
 * FsInstance, instanceOps and the vfs's typed calls follow from this table, and the compiler
 * then asks every file system for the new method.
 */
export const FS_OPS = {
  /** Mounts a new instance from a device path, with options. */
  mount: op<FsMountResult>()({ args: { source: 'string?', options: 'object?' }, idempotent: false }),
  /** Syncs and forgets an instance. */
  unmount: op<void>()({ args: { fsid: 'uint' }, idempotent: false }),
  statfs: op<StatFs>()({ args: { fsid: 'uint' }, idempotent: true }),
  /** Resolves names one after another from dir. */
  walk: op<WalkResult>()({ args: { fsid: 'uint', dir: 'handle', names: 'string[]' }, idempotent: true }),
  getattr: op<Attr>()({ args: { fsid: 'uint', h: 'handle' }, idempotent: true }),
  /** Changes what is given; `size` truncates or extends. */
  setattr: op<Attr>()({
    args: {
      fsid: 'uint', h: 'handle', mode: 'uint?', uid: 'uint?', gid: 'uint?', size: 'uint?',
      atime: 'number?', mtime: 'number?',
    },
    idempotent: true,
  }),
  /** Creates a regular file, or opens the existing one unless excl. */
  create: op<WalkStep>()({
    args: { fsid: 'uint', dir: 'handle', name: 'string', mode: 'uint', uid: 'uint', gid: 'uint', excl: 'boolean' },
    idempotent: false,
  }),
  mkdir: op<WalkStep>()({
    args: { fsid: 'uint', dir: 'handle', name: 'string', mode: 'uint', uid: 'uint', gid: 'uint' },
    idempotent: false,
  }),
  symlink: op<WalkStep>()({
    args: { fsid: 'uint', dir: 'handle', name: 'string', target: 'string', uid: 'uint', gid: 'uint' },
    idempotent: false,
  }),
  /**
   * Makes a special file (or an empty regular one): `mode` holds the type (S_IFIFO, S_IFCHR,
   * S_IFBLK, S_IFSOCK or S_IFREG) and the permission bits; `rdev` is the device number of a
   * character or block device (Linux's dev_t, see makedev), 0 for the others. EEXIST when the
   * name exists; a file system whose set of files is fixed refuses with EPERM.
   */
  mknod: op<WalkStep>()({
    args: { fsid: 'uint', dir: 'handle', name: 'string', mode: 'uint', rdev: 'uint', uid: 'uint', gid: 'uint' },
    idempotent: false,
  }),
  /** Adds a name for h in dir; answers h's attributes. */
  link: op<Attr>()({ args: { fsid: 'uint', h: 'handle', dir: 'handle', name: 'string' }, idempotent: false }),
  unlink: op<void>()({ args: { fsid: 'uint', dir: 'handle', name: 'string' }, idempotent: false }),
  rmdir: op<void>()({ args: { fsid: 'uint', dir: 'handle', name: 'string' }, idempotent: false }),
  rename: op<void>()({
    args: { fsid: 'uint', sdir: 'handle', sname: 'string', ddir: 'handle', dname: 'string' },
    idempotent: false,
  }),
  readlink: op<string>()({ args: { fsid: 'uint', h: 'handle' }, idempotent: true }),
  /** '.' and '..' are not listed. */
  readdir: op<DirPage>()({ args: { fsid: 'uint', h: 'handle', cookie: 'uint', count: 'uint' }, idempotent: true }),
  read: op<Uint8Array>()({ args: { fsid: 'uint', h: 'handle', offset: 'uint', length: 'uint' }, idempotent: true }),
  /** Writes at offset. */
  write: op<WriteResult>()({ args: { fsid: 'uint', h: 'handle', offset: 'uint', data: 'bytes' }, idempotent: true }),
  /** Writes at the end of the file, atomically with finding it. */
  append: op<WriteResult>()({ args: { fsid: 'uint', h: 'handle', data: 'bytes' }, idempotent: false }),
  /** An open file description now refers to h (unlinked files live until the last close). */
  open: op<void>()({ args: { fsid: 'uint', h: 'handle' }, idempotent: false }),
  close: op<void>()({ args: { fsid: 'uint', h: 'handle' }, idempotent: false }),
  /** Makes h durable; `everything` when it made every change of the instance durable. */
  fsync: op<{ everything: boolean } | void>()({ args: { fsid: 'uint', h: 'handle' }, idempotent: true }),
  sync: op<void>()({ args: { fsid: 'uint' }, idempotent: true }),
} as const satisfies Record<string, OpSpec>;

export type FsOps = typeof FS_OPS;

/** The FS_OPS an instance serves: all but mount and unmount, which the file system's table serves. */
export type FsInstanceOp = Exclude<keyof FsOps, 'mount' | 'unmount'>;

/** The arguments of an FS op as an instance gets them: those of the op but the fsid. */
export type FsArgs<O extends FsInstanceOp> = Omit<ArgsOf<FsOps[O]>, 'fsid'>;

/** What setattr may change. */
export type AttrChanges = Omit<FsArgs<'setattr'>, 'h'>;

/**
 * One mounted instance of a file system, with the FS_OPS (but mount and unmount) as methods
 * that take the op's arguments but the fsid: a file system that keeps a table of them gets
 * its op handlers from instanceOps().
 */
export type FsInstance = {
  [O in FsInstanceOp]: (args: FsArgs<O>) => ResultOf<FsOps[O]> | Promise<ResultOf<FsOps[O]>>;
};

/** The FS_OPS handlers (but mount and unmount) of a file system, each on the instance its fsid names. */
export function instanceOps(instance: (fsid: number) => FsInstance): Handlers<Pick<FsOps, FsInstanceOp>> {
  const handlers: Record<string, (a: { fsid: number }) => unknown> = {};
  for (const name of Object.keys(FS_OPS) as (keyof FsOps)[]) {
    if (name === 'mount' || name === 'unmount') continue;
    handlers[name] = ({ fsid, ...args }) => (instance(fsid)[name] as (a: object) => unknown)(args);
  }
  return handlers as unknown as Handlers<Pick<FsOps, FsInstanceOp>>; // built by name from FS_OPS, so it has each op
}

/** open(2) flags, with Linux's values. */
export const O_RDONLY = 0;
export const O_WRONLY = 1;
export const O_RDWR = 2;
export const O_ACCMODE = 3;
export const O_CREAT = 0o100;
export const O_EXCL = 0o200;
export const O_TRUNC = 0o1000;
export const O_APPEND = 0o2000;
export const O_DIRECTORY = 0o200000;
export const O_NOFOLLOW = 0o400000;
/** Never wait: opening a FIFO, or reading or writing a pipe, that would wait fails (or, for a FIFO's read end, opens) at once. */
export const O_NONBLOCK = 0o4000;

/** Bytes a pipe or FIFO holds before a writer waits (Linux's default pipe size). */
export const PIPE_SIZE = 64 * 1024;
/** Writes to a pipe of at most this many bytes are atomic: never interleaved with another writer's. */
export const PIPE_BUF = 4096;

/**
 * A device number (dev_t) from its major and minor numbers, as Linux's new_encode_dev and glibc's
 * makedev lay them out in 32 bits: minor's low 8 bits, then major's 12, then minor's upper 12.
 */
export function makedev(major: number, minor: number): number {
  return ((minor & 0xff) | ((major & 0xfff) << 8) | ((minor & 0xfff00) << 12)) >>> 0;
}

/** The major number of a device number made by makedev. */
export function major(dev: number): number {
  return (dev >>> 8) & 0xfff;
}

/** The minor number of a device number made by makedev. */
export function minor(dev: number): number {
  return (dev & 0xff) | ((dev >>> 12) & 0xfff00);
}

/**
 * Why mknod cannot make a file of `mode`'s type, as the error it fails with, or null when it
 * can: it makes FIFOs, character and block devices, sockets and regular files (type 0 means a
 * regular file). As Linux's may_mknod: a directory is EPERM, any other type EINVAL.
 */
export function mknodTypeFault(mode: number): SysError | null {
  switch (mode & S_IFMT) {
    case 0: case S_IFREG: case S_IFIFO: case S_IFCHR: case S_IFBLK: case S_IFSOCK: return null;
    case S_IFDIR: return new SysError('EPERM', 'mknod does not make directories (mkdir does)');
    case S_IFLNK: return new SysError('EINVAL', 'mknod does not make symbolic links (symlink does)');
    default: return new SysError('EINVAL', `file type 0o${(mode & S_IFMT).toString(8)} is not one POSIX knows`);
  }
}

/** access(2)'s mode, with Linux's values: the file exists (F_OK), or may be executed or searched, written, read (or them together). */
export const F_OK = 0;
export const X_OK = 1;
export const W_OK = 2;
export const R_OK = 4;

/**
 * utimes, lutimes and futimes take these for either time (as utimensat(2)'s tv_nsec values):
 * set it to the current time, or leave it as it is. Times are milliseconds since the epoch,
 * and both lie beyond any valid Date (8.64e15 ms), so neither can be a real time.
 */
export const UTIME_NOW = Number.MAX_SAFE_INTEGER;
export const UTIME_OMIT = Number.MAX_SAFE_INTEGER - 1;

/**
 * (uid_t)-1: as a uid or gid of chown, lchown or fchown, "leave it unchanged" (Proc's methods
 * also take -1 for it); never an id a file or a process can have.
 */
export const ID_UNCHANGED = 0xffffffff;
/** The most supplementary groups a process can have (Linux's NGROUPS_MAX). */
export const NGROUPS_MAX = 65536;

/** stat(2) as vfs reports it: a file system's Attr and the mount it lives on. */
export interface Stat extends Attr {
  /** The mount's number, in mount order from 1. */
  dev: number;
}

/** A mounted file system, as `mounts` and df list them. */
export interface MountInfo {
  target: string;
  fstype: string;
  source: string;
  /** The partition of the disk image `source` that is mounted, when one was named. */
  partition?: number;
  readonly: boolean;
  dev: number;
}
