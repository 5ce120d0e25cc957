// Path resolution. The vfs sends a file system all the names it has left in one walk request;
// the file system resolves as many as it can and stops at a symlink, at '..' from its own root,
// or at a name that fails. The vfs then replays the steps in order — checking search
// permission, crossing into mounts, following symlinks — and sends the rest on, so a path
// inside one file system costs one round trip however deep it is.

import { NAME_MAX, S_IFDIR, S_IFLNK, S_IFMT, SysError, isByteString, type Attr, type Errno } from '../../kernel/api.js';
import { MAY_EXEC, permits } from './access.js';
import type { FsRequests } from './fs-requests.js';
import type { MountTable, Vnode } from './mounts.js';
import type { ProcEntry } from './procs.js';

export const PATH_MAX = 4096;
/** Symbolic links followed in one lookup before ELOOP, as Linux's MAXSYMLINKS. */
export const MAX_SYMLINKS = 40;

export interface LookupOptions {
  /** Follow a symlink in the final position (stat) or not (lstat, unlink). */
  follow: boolean;
  /** A missing final name is not an error: the result has node null (create, mkdir). */
  allowMissing?: boolean;
  /**
   * The path names a directory entry to make, remove or rename (mkdir, mknod, symlink, link's
   * new name, unlink, rmdir, rename): as Linux looks such a last component up in its parent, a
   * final symlink is the entry itself, never followed, not even before a trailing slash. A
   * trailing slash on an existing entry that is not a directory is then ENOTDIR, or, with
   * allowMissing, left to the caller (which makes a name: EEXIST).
   */
  entry?: boolean;
}

export interface Found {
  /** The directory holding the final name; null when the path names '/' or the cwd itself. */
  parent: Vnode | null;
  parentAttr: Attr | null;
  /** The final name; null as for parent. */
  name: string | null;
  /** What the path names; null when it does not exist (allowMissing). */
  node: Vnode | null;
  attr: Attr | null;
  /** The path ended in '/' or '/.': what it names must be a directory. */
  mustBeDir: boolean;
  /** The path's last component was '.'. */
  endsWithDot: boolean;
  /** Names from '/' to what the path names, for getcwd. */
  path: string[];
}

/** What a lookup needs: the mount table, and the file systems' ops (through recovery). */
export interface NameiEnv {
  readonly mounts: MountTable;
  readonly fs: FsRequests;
}

export const isDir = (a: Attr | null) => a !== null && (a.mode & S_IFMT) === S_IFDIR;
const isLink = (a: Attr) => (a.mode & S_IFMT) === S_IFLNK;

/** Splits a path into names, dropping empty ones and '.'. */
function split(path: string): string[] {
  return path.split('/').filter((n) => n !== '' && n !== '.');
}

/** A path's length in bytes, as PATH_MAX counts it: paths are byte strings, one char per byte. */
export const pathBytes = (path: string): number => path.length;

/**
 * A path argument: ENOENT when empty, ENAMETOOLONG at PATH_MAX bytes or more. A name longer than
 * NAME_MAX is ENAMETOOLONG when the walk reaches it (as on Linux: after a missing directory
 * before it, ENOENT; in a directory the caller may not search, EACCES).
 */
export function checkPath(path: string): void {
  if (path === '') throw new SysError('ENOENT', 'the empty path names nothing');
  if (pathBytes(path) >= PATH_MAX) throw new SysError('ENAMETOOLONG', `a path of more than ${PATH_MAX - 1} bytes`);
}

/** The arguments of syscalls that carry a path or a name (symlink's target, mount's target). */
const PATH_ARGS = new Set(['path', 'from', 'to', 'existing', 'target']);

/**
 * EINVAL for a path argument (path, rename's and link's, a symlink's target, a mount's target)
 * that is not a byte string (the client's Proc makes it one: a char above 0xFF is no byte), and
 * for a NUL in any text argument — those, a mount's source or type: a POSIX name is a byte string
 * NUL cannot be part of. Checked where paths enter vfs, so every file system below sees the same.
 */
export function refuseBadText(op: string, args: Record<string, unknown>): void {
  for (const [key, v] of Object.entries(args)) {
    if (typeof v !== 'string') continue;
    if (v.includes('\0')) throw new SysError('EINVAL', `${op}: argument '${key}' holds a NUL byte`);
    if (PATH_ARGS.has(key) && !isByteString(v)) {
      throw new SysError('EINVAL', `${op}: argument '${key}' is not a byte string (a char above 0xFF): paths reach vfs as bytes`);
    }
  }
}

const tooLong = (name: string) => name.length > NAME_MAX;

function searchable(p: ProcEntry, dir: Attr, path: string): void {
  if (!permits(p, dir, MAY_EXEC)) throw new SysError('EACCES', `${path}: search permission denied on a directory on the way`);
}

/**
 * Resolves `path` for process p: what it names, the directory holding its last name, and the
 * names from '/' (see Found). Fails with the errno a syscall reports (ENOENT, ENOTDIR, EACCES,
 * ELOOP, ENAMETOOLONG, …) and a message that begins with the path.
 */
export async function lookup(env: NameiEnv, p: ProcEntry, path: string, opts: LookupOptions): Promise<Found> {
  checkPath(path);
  const rootMount = env.mounts.root;
  if (!rootMount) throw new SysError('ENOENT', `${path}: nothing is mounted at /`);
  const root: Vnode = { mnt: rootMount, h: rootMount.root };

  const absolute = path.startsWith('/');
  if (!absolute && p.cwdGone) throw new SysError('ENOENT', `${path}: the current directory was lost when vfs restarted; change directory first`);
  let cur: Vnode = absolute || !p.cwd ? root : p.cwd;
  let curAttr: Attr | null = null;
  let stack = absolute ? [] : [...p.cwdPath];
  let pending = split(path);
  const endsWithDot = /(^|\/)\.$/.test(path);
  let mustBeDir = path.endsWith('/') || endsWithDot;
  let parent: Vnode | null = null;
  let parentAttr: Attr | null = null;
  let name: string | null = null;
  let links = 0;

  while (pending.length > 0) {
    // The file system is sent the names up to the first that is too long for any.
    const long = pending.findIndex(tooLong);
    const names = long < 0 ? pending : pending.slice(0, long);
    const res = await env.fs.walk(cur, names);
    let dir = cur;
    let dirAttr = res.start;
    let jumped = false;
    let consumed = 0;
    for (const step of res.steps) {
      const stepName = pending[consumed];
      searchable(p, dirAttr, path);
      consumed++;
      let node: Vnode = { mnt: cur.mnt, h: step.handle };
      let attr: Attr | null = step.attr;
      if (stepName === '..') stack.pop();
      else stack.push(stepName);
      parent = dir;
      parentAttr = dirAttr;
      name = stepName;

      const mounted = env.mounts.mountedOn(node);
      if (mounted) {
        node = { mnt: mounted, h: mounted.root };
        attr = null;
      } else if (isLink(attr) && (consumed < pending.length || opts.follow || (mustBeDir && !opts.entry))) {
        if (++links > MAX_SYMLINKS) throw new SysError('ELOOP', `${path}: more than ${MAX_SYMLINKS} symbolic links`);
        const target = await env.fs.readlink(node);
        stack.pop();
        if (target.endsWith('/') && consumed === pending.length) mustBeDir = true;
        pending = [...split(target), ...pending.slice(consumed)];
        consumed = 0;
        if (target.startsWith('/')) {
          cur = root;
          stack = [];
        } else {
          cur = dir;
        }
        curAttr = target.startsWith('/') ? null : dirAttr;
        jumped = true;
        break;
      }
      cur = node;
      curAttr = attr;
      if (mounted) {
        jumped = true;
        break;
      }
      dir = node;
      dirAttr = attr!;
    }
    pending = pending.slice(consumed);
    if (jumped || pending.length === 0) continue;

    if (res.error) {
      // Only a searchable directory may reveal whether a name exists in it.
      if (res.error.errno !== 'ENOTDIR') searchable(p, dirAttr, path);
      if (res.error.errno === 'ENOENT' && pending.length === 1 && opts.allowMissing) {
        return {
          parent: cur, parentAttr: dirAttr, name: pending[0], node: null, attr: null,
          mustBeDir, endsWithDot, path: [...stack, pending[0]],
        };
      }
      throw new SysError(res.error.errno as Errno, `${path}: ${res.error.message}`);
    }
    if (consumed === names.length) {
      // Stopped before a name longer than NAME_MAX: reached, it is looked up in what came before.
      if (!isDir(dirAttr)) throw new SysError('ENOTDIR', `${path}: a name is looked up in something that is not a directory`);
      searchable(p, dirAttr, path);
      throw new SysError('ENAMETOOLONG', `${path}: the name '${namePrefix(pending[0], 20)}…' is longer than ${NAME_MAX} bytes`);
    }
    if (pending[0] !== '..') throw new SysError('EIO', `${path}: the file system stopped a walk without a reason`);
    // '..' from the root of a mount: from the directory it covers, or nowhere above '/'.
    searchable(p, dirAttr, path);
    if (cur.mnt.covered) {
      cur = cur.mnt.covered;
      curAttr = null;
    } else {
      pending.shift();
      stack = [];
      parent = cur;
      parentAttr = dirAttr;
      name = '..';
      curAttr = dirAttr;
    }
  }

  if (curAttr === null) curAttr = await env.fs.getattr(cur);
  if (mustBeDir && !isDir(curAttr) && !(opts.entry && opts.allowMissing)) {
    throw new SysError(isLink(curAttr) && !opts.entry ? 'ELOOP' : 'ENOTDIR', `${path}: not a directory`);
  }
  return { parent, parentAttr, name, node: cur, attr: curAttr, mustBeDir, endsWithDot, path: stack };
}

/** The first bytes of a name, at most `max`, not cutting a UTF-8 sequence (for a message). */
function namePrefix(name: string, max: number): string {
  let end = Math.min(max, name.length);
  while (end > 0 && end < name.length && (name.charCodeAt(end) & 0xc0) === 0x80) end--; // a continuation byte
  return name.slice(0, end);
}

/** What an existing path names (following a final symlink unless `follow` is false). */
export function find(env: NameiEnv, p: ProcEntry, path: string, follow = true): Promise<Found> {
  return lookup(env, p, path, { follow });
}

/** The directory entry a path names, to remove or rename it: a final symlink is never followed (see LookupOptions.entry). */
export function findEntry(env: NameiEnv, p: ProcEntry, path: string): Promise<Found> {
  return lookup(env, p, path, { follow: false, entry: true });
}

/**
 * Like findEntry, but a missing final name is no error: node is null (for what makes a name);
 * an existing one, even before a trailing slash, is for the caller to refuse (EEXIST).
 */
export function findOrMissing(env: NameiEnv, p: ProcEntry, path: string): Promise<Found> {
  return lookup(env, p, path, { follow: false, allowMissing: true, entry: true });
}
