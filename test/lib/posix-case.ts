// The shape of one case of the POSIX conformance suite (test/posix.ts), modeled on pjdfstest's
// checks: who runs it, what root makes first inside the case's own fresh directory, the syscalls
// it makes, the errno (or 'OK') Linux gives, and what stat shows afterwards. Cases are plain
// data; test/lib/posix-runner.ts carries them out.

/** An errno name as the kernel reports it ('EACCES', …), or 'OK' for success. */
export type Outcome = 'OK' | `E${string}`;

/** Credentials a case runs with; groups are supplementary groups (common.md's `groups`). */
export interface Cred {
  uid: number;
  gid: number;
  groups?: number[];
}

/** The unprivileged users and groups the cases use (pjdfstest's 65534, 65533, …). */
export const U1 = 65534;
export const U2 = 65533;
export const G1 = 65534;
export const G2 = 65533;
export const G3 = 65532;
/** User U1 in group G1: the usual unprivileged caller. */
export const USER: Cred = { uid: U1, gid: G1 };

/**
 * The API common.md fixes and other engineers are adding; defined here with the agreed values
 * until kernel/index.ts exports them. Times are milliseconds since the epoch, and these two lie
 * beyond any valid Date.
 */
export const UTIME_NOW = Number.MAX_SAFE_INTEGER;
export const UTIME_OMIT = Number.MAX_SAFE_INTEGER - 1;
export const F_OK = 0;
export const X_OK = 1;
export const W_OK = 2;
export const R_OK = 4;
export const O_NONBLOCK = 0o4000;

/** Longest name (bytes) and path (bytes, with its NUL) on Linux. */
export const NAME_MAX = 255;
export const PATH_MAX = 4096;

/**
 * A syscall argument as a case gives it:
 * - `{ path }`: a path inside the case's directory ('' is the directory itself);
 * - `{ other }`: a path inside the case's directory on another mount (for EXDEV);
 * - `{ deep }`: an absolute path of exactly `deep` bytes made of nested directories (see Deep);
 * - `{ result, index? }`: what step `result` of this case returned (element `index` of an array);
 * - `{ badFd: true }`: a descriptor number the process has not opened;
 * - `{ raw }`: like `{ path }`, given as bytes (one char per byte) and passed as a Uint8Array;
 * - anything else goes to the call as it is.
 */
export type Arg =
  | { path: string }
  | { other: string }
  | { deep: number }
  | { result: number; index?: number }
  | { badFd: true }
  | { raw: string }
  | string | number | boolean;

export const P = (path: string): Arg => ({ path });
export const X = (other: string): Arg => ({ other });
export const DEEP = (bytes: number): Arg => ({ deep: bytes });
export const R = (result: number, index?: number): Arg => (index === undefined ? { result } : { result, index });
export const BADFD: Arg = { badFd: true };
export const RAW = (raw: string): Arg => ({ raw });

/** One syscall: a Proc method's name and its arguments. */
export type Step = readonly [string, ...Arg[]];

/** File types of setup entries. */
export type EntryKind = 'dir' | 'file' | 'symlink' | 'link' | 'fifo' | 'chr' | 'blk' | 'sock';

/**
 * Something root makes before the case runs, in order: a directory, file, symlink (`to` is its
 * target), hard link (`to` names the existing file), FIFO or device node, at `path` inside the
 * case's directory (or the other mount's, with `other`). chown comes before chmod, so that the
 * mode given is the mode kept. `deep` makes the directories of a DEEP path of that many bytes
 * (and a file at its end with `deepFile`).
 */
export interface Entry {
  kind: EntryKind;
  path: string;
  mode?: number;
  uid?: number;
  gid?: number;
  to?: string;
  data?: string;
  other?: boolean;
}

/** Directories of a DEEP path of `bytes` bytes, and whether a file sits at its end. */
export interface Deep {
  deep: number;
  deepFile?: boolean;
}

export type Setup = Entry | Deep;

type Owner = { mode?: number; uid?: number; gid?: number; other?: boolean };
export const dir = (path: string, o: Owner = {}): Entry => ({ kind: 'dir', path, mode: 0o755, ...o });
export const file = (path: string, o: Owner & { data?: string } = {}): Entry => ({ kind: 'file', path, mode: 0o644, ...o });
export const symlink = (path: string, to: string, o: { other?: boolean } = {}): Entry => ({ kind: 'symlink', path, to, ...o });
export const hardlink = (path: string, to: string): Entry => ({ kind: 'link', path, to });
export const fifo = (path: string, o: Owner = {}): Entry => ({ kind: 'fifo', path, mode: 0o644, ...o });
export const node = (kind: 'chr' | 'blk' | 'sock', path: string, o: Owner = {}): Entry => ({ kind, path, mode: 0o644, ...o });
export const deepDirs = (bytes: number, withFile = false): Deep => ({ deep: bytes, deepFile: withFile });

/** A time field after the op: moved on from what it was after setup, left alone, or a value (ms). */
export type TimeCheck = 'changed' | 'same' | number;

/**
 * What (l)stat shows of one path after the case's steps (with `follow`, stat; else lstat).
 * `exists: false` expects ENOENT. mode is the permission bits (07777); type as FileType.
 */
export interface Check {
  path: string;
  /** Where setup made what is now at `path` (after a rename), for the time checks. */
  was?: string;
  other?: boolean;
  follow?: boolean;
  exists?: boolean;
  type?: 'reg' | 'dir' | 'lnk' | 'chr' | 'blk' | 'fifo' | 'sock';
  mode?: number;
  uid?: number;
  gid?: number;
  nlink?: number;
  size?: number;
  rdev?: number;
  /** The file's content, one char per byte. */
  data?: string;
  /** The names readdir lists, in any order. */
  entries?: string[];
  /** The bytes of the names readdir lists (its entries' `raw`), one char per byte, in any order. */
  rawEntries?: string[];
  /** What readlink gives. */
  target?: string;
  atime?: TimeCheck;
  mtime?: TimeCheck;
  ctime?: TimeCheck;
}

export interface Case {
  /** Unique: 'syscall: what it checks'. */
  name: string;
  /** Who makes the steps (root by default). */
  as?: Cred;
  /** The umask of the process making the steps (set first when given). */
  umask?: number;
  setup?: Setup[];
  steps: Step[];
  /** Parts of the API the case needs that no Proc method names (see FEATURES in posix-runner.ts). */
  needs?: string[];
  /**
   * The steps before the failing one change the case's entries (so the check that a failed call
   * changed nothing does not apply).
   */
  priorStepsChange?: boolean;
  /** The first failing step's errno, or 'OK' when every step succeeds. */
  expect: Outcome;
  /** What the last step returned (partially matched: only the fields given; bytes as text). */
  returns?: unknown;
  after?: Check[];
}
