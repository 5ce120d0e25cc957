// The syscalls vfs serves, and for each whether it walks a path. Every syscall names the client
// process it comes from (pid): the core sets it from the channel the call arrived on.

import type { ArgSpec, Handlers } from '../../kernel/api.js';

/** A syscall's arguments: the calling process (pid), then its own. */
const p = <const A extends Record<string, ArgSpec> = {}>(extra: A = {} as A) => ({ pid: 'uint', ...extra }) as { readonly pid: 'uint' } & A;

export const VFS_OPS = {
  /** A new client process with these credentials (groups: its supplementary groups), from the core. */
  /**
   * A client process; callDeadlineMs: the core's deadline for its calls to vfs (0: none);
   * maxFds: how many fds it may have open (default and most: MAX_FDS, servers/vfs/procs.ts).
   */
  spawn: { args: { pid: 'uint', uid: 'uint', gid: 'uint', groups: 'uint[]', callDeadlineMs: 'uint', maxFds: 'uint?' }, idempotent: false },
  exit: { args: p(), idempotent: false },
  getpid: { args: p(), idempotent: true },
  umask: { args: p({ mask: 'uint' }), idempotent: false },
  /**
   * Answers the new fd; asked with `grant` (by the core, never by a client), { fd, grant }: the
   * FileGrant by which the core may read and write the file straight from its file system (sys-files.ts).
   */
  open: { args: p({ path: 'string', flags: 'uint', mode: 'uint', grant: 'boolean?' }), idempotent: false },
  close: { args: p({ fd: 'uint' }), idempotent: false },
  read: { args: p({ fd: 'uint', length: 'uint' }), idempotent: false },
  write: { args: p({ fd: 'uint', data: 'bytes' }), idempotent: false },
  pread: { args: p({ fd: 'uint', length: 'uint', offset: 'uint' }), idempotent: true },
  pwrite: { args: p({ fd: 'uint', data: 'bytes', offset: 'uint' }), idempotent: true },
  lseek: { args: p({ fd: 'uint', offset: 'int', whence: 'uint' }), idempotent: false },
  stat: { args: p({ path: 'string' }), idempotent: true },
  lstat: { args: p({ path: 'string' }), idempotent: true },
  fstat: { args: p({ fd: 'uint' }), idempotent: true },
  mkdir: { args: p({ path: 'string', mode: 'uint' }), idempotent: false },
  rmdir: { args: p({ path: 'string' }), idempotent: false },
  readdir: { args: p({ path: 'string' }), idempotent: true },
  unlink: { args: p({ path: 'string' }), idempotent: false },
  rename: { args: p({ from: 'string', to: 'string' }), idempotent: false },
  link: { args: p({ existing: 'string', path: 'string' }), idempotent: false },
  symlink: { args: p({ target: 'string', path: 'string' }), idempotent: false },
  /** Makes a FIFO, device node, socket or empty regular file; mode holds the type (mkfifo is mknod of S_IFIFO). */
  mknod: { args: p({ path: 'string', mode: 'uint', rdev: 'uint' }), idempotent: false },
  /** Makes a pipe: answers [read fd, write fd]. */
  pipe: { args: p(), idempotent: false },
  dup: { args: p({ fd: 'uint' }), idempotent: false },
  dup2: { args: p({ fd: 'uint', newfd: 'uint' }), idempotent: false },
  readlink: { args: p({ path: 'string' }), idempotent: true },
  truncate: { args: p({ path: 'string', length: 'uint' }), idempotent: true },
  ftruncate: { args: p({ fd: 'uint', length: 'uint' }), idempotent: true },
  fsync: { args: p({ fd: 'uint' }), idempotent: true },
  sync: { args: p(), idempotent: true },
  chmod: { args: p({ path: 'string', mode: 'uint' }), idempotent: true },
  fchmod: { args: p({ fd: 'uint', mode: 'uint' }), idempotent: true },
  /** uid or gid ID_UNCHANGED (0xffffffff) leaves it as it is. */
  chown: { args: p({ path: 'string', uid: 'uint', gid: 'uint' }), idempotent: true },
  /** chown of a final symlink itself. */
  lchown: { args: p({ path: 'string', uid: 'uint', gid: 'uint' }), idempotent: true },
  fchown: { args: p({ fd: 'uint', uid: 'uint', gid: 'uint' }), idempotent: true },
  /** Sets times (UTIME_NOW, UTIME_OMIT or ms since the epoch); with nofollow, of a final symlink itself (lutimes). */
  utimes: { args: p({ path: 'string', atime: 'number', mtime: 'number', nofollow: 'boolean?' }), idempotent: true },
  futimes: { args: p({ fd: 'uint', atime: 'number', mtime: 'number' }), idempotent: true },
  /** Whether the caller may do mode (R_OK | W_OK | X_OK, or F_OK) to a file: nothing or the errno. */
  access: { args: p({ path: 'string', mode: 'uint' }), idempotent: true },
  statfs: { args: p({ path: 'string' }), idempotent: true },
  chdir: { args: p({ path: 'string' }), idempotent: true },
  getcwd: { args: p(), idempotent: true },
  /** key: the passphrase of an image that is a LUKS container, passed to the file system as options.key. */
  mount: { args: p({ target: 'string', fstype: 'string', source: 'string?', readonly: 'boolean?', key: 'bytes?', partition: 'uint?' }), idempotent: false },
  unmount: { args: p({ target: 'string' }), idempotent: false },
  mounts: { args: p(), idempotent: true },
  /**
   * Runs a client's ops in order and answers each one's outcome ({ value } or { errno, message }):
   * ops is what the core made of them, BatchEntry[] (kernel/batch.ts; servers/vfs/sys-batch.ts).
   * Not idempotent: what ran before a restart is not run again.
   */
  batch: { args: p({ ops: 'any' }), idempotent: false },
  /**
   * From the core: it read or wrote these files straight from their file systems (FileGrant[]),
   * which may have moved their atime, size or times, so their cached attributes go. Answers nothing.
   */
  usedDirectly: { args: { files: 'any' }, idempotent: true },
  /** The core's first call at halt: calls waiting on a pipe or FIFO end (EIO), and no wait begins any more. */
  halting: { args: {}, idempotent: true },
  /** The core's last call at halt: unmount (and so sync) everything, innermost first. */
  unmountAll: { args: {}, idempotent: true },
} as const;

export type VfsOps = typeof VFS_OPS;
export type VfsOp = keyof VfsOps;

declare module '../../kernel/ops.js' {
  interface Components {
    vfs: VfsOps;
  }
}

/** The handlers of some of the syscalls, each with its arguments typed from VFS_OPS. */
export type VfsHandlers<K extends VfsOp> = Pick<Handlers<VfsOps>, K>;

/**
 * Whether each syscall walks a path, declared for every one (a new syscall does not compile
 * until it says). This decides two things (see recovery.ts and namei.ts):
 * - a syscall that walks a path takes its handles from that walk: when one turns out stale
 *   (ESTALE: removed, or its file system came back empty, between the walk and the op), the
 *   syscall is made again from a new walk. Its text arguments (paths, a symlink's target, a
 *   mount's source and type) are refused with EINVAL if they hold NUL, its paths (and symlink
 *   target) if they are not byte strings. No other syscall has a path argument.
 * - any other syscall takes its handle from an open file or the cwd, which no new walk can
 *   find again: a stale one means the file was lost with its file system, EIO.
 */
export const WALKS_A_PATH: { readonly [K in VfsOp]: boolean } = {
  spawn: false, exit: false, getpid: false, umask: false,
  open: true, close: false, read: false, write: false, pread: false, pwrite: false, lseek: false,
  stat: true, lstat: true, fstat: false,
  mkdir: true, rmdir: true, readdir: true, unlink: true, rename: true, link: true, symlink: true, readlink: true,
  mknod: true, pipe: false, dup: false, dup2: false,
  truncate: true, ftruncate: false, fsync: false, sync: false,
  chmod: true, fchmod: false, chown: true, lchown: true, fchown: false, utimes: true, futimes: false, access: true,
  statfs: true, chdir: true, getcwd: false,
  mount: true, unmount: true, mounts: false, batch: false, usedDirectly: false, halting: false, unmountAll: false,
};
