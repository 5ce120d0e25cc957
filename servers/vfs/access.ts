// Permission policy: who may do what to a file, by its mode bits and owners, as POSIX says.
// Each check throws the errno a syscall fails with (EACCES, EPERM, EROFS) and a message that
// begins with `what`, the syscall and its path.

import { S_IFDIR, S_IFMT, S_ISVTX, SysError, type Attr } from '../../kernel/api.js';
import type { Vnode } from './mounts.js';
import type { Found } from './namei.js';
import type { ProcEntry } from './procs.js';

/** What a caller may want of a file, as Linux's fs.h names the bits: or them together. */
export const MAY_EXEC = 1; // on a directory: search it
export const MAY_WRITE = 2;
export const MAY_READ = 4;

/** Execute for owner, group or other. */
const S_IXUGO = 0o111;

/**
 * Whether process p may do `want` (MAY_READ | MAY_WRITE | MAY_EXEC) to a file with attributes
 * a: by the owner's bits if p owns it, else the group's if p is in its group, else the others'.
 * Root may do anything, except execute a non-directory that has no execute bit at all.
 */
export function permits(p: ProcEntry, a: Attr, want: number): boolean {
  if (p.uid === 0) return !(want & MAY_EXEC) || (a.mode & S_IFMT) === S_IFDIR || (a.mode & S_IXUGO) !== 0;
  const bits = p.uid === a.uid ? (a.mode >> 6) & 7 : p.gid === a.gid ? (a.mode >> 3) & 7 : a.mode & 7;
  return (bits & want) === want;
}

/** EACCES unless p may do `want` to a file with attributes a (see permits). */
export function requireAccess(p: ProcEntry, a: Attr, want: number, what: string): void {
  if (!permits(p, a, want)) throw new SysError('EACCES', `${what}: permission denied`);
}

/** EPERM unless p is root or owns the file (what chmod and utimes ask). */
export function requireOwner(p: ProcEntry, a: Attr, what: string): void {
  if (p.uid !== 0 && p.uid !== a.uid) throw new SysError('EPERM', `${what}: not the owner`);
}

/** EROFS when v is on a read-only mount. */
export function requireWritableMount(v: Vnode, what: string): void {
  if (v.mnt.readonly) throw new SysError('EROFS', `${what}: read-only file system`);
}

/** The directory a new or removed name lives in must be writable and searchable, on a writable mount. */
export function requireNameChangeable(p: ProcEntry, f: Found, what: string): void {
  requireAccess(p, f.parentAttr!, MAY_WRITE | MAY_EXEC, what);
  requireWritableMount(f.parent!, what);
}

/** In a sticky directory only root, the owner of the entry or the owner of the directory may remove it. */
export function requireStickyAllows(p: ProcEntry, f: Found, what: string): void {
  if (p.uid !== 0 && f.parentAttr!.mode & S_ISVTX && p.uid !== f.parentAttr!.uid && p.uid !== f.attr!.uid) {
    throw new SysError('EPERM', `${what}: sticky directory`);
  }
}
