// Permission policy: who may do what to a file, by its mode bits and owners, as Linux does it
// (each rule checked against Linux's own behaviour). Each check throws the errno a syscall
// fails with (EACCES, EPERM, EROFS) and a message that begins with `what`, the syscall and its
// path.

import {
  ID_UNCHANGED, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, S_ISGID, S_ISUID, S_ISVTX, SysError, UTIME_NOW, type Attr, type AttrChanges,
} from '../../kernel/api.js';
import type { Vnode } from './mounts.js';
import type { Found } from './namei.js';
import type { Cred } from './procs.js';

/** What a caller may want of a file, as Linux's fs.h names the bits: or them together. */
export const MAY_EXEC = 1; // on a directory: search it
export const MAY_WRITE = 2;
export const MAY_READ = 4;

/** Execute for owner, group or other. */
const S_IXUGO = 0o111;
const S_IXGRP = 0o010;

/** Whether p is in group gid: its own group or one of its supplementary groups. */
export function inGroup(p: Cred, gid: number): boolean {
  return p.gid === gid || p.groups.has(gid);
}

/**
 * Whether process p may do `want` (MAY_READ | MAY_WRITE | MAY_EXEC) to a file with attributes
 * a: by the owner's bits if p owns it, else the group's if p is in its group (inGroup), else
 * the others'. Root may do anything, except execute a non-directory that has no execute bit
 * at all.
 */
export function permits(p: Cred, a: Attr, want: number): boolean {
  if (p.uid === 0) return !(want & MAY_EXEC) || (a.mode & S_IFMT) === S_IFDIR || (a.mode & S_IXUGO) !== 0;
  const bits = p.uid === a.uid ? (a.mode >> 6) & 7 : inGroup(p, a.gid) ? (a.mode >> 3) & 7 : a.mode & 7;
  return (bits & want) === want;
}

/** EACCES unless p may do `want` to a file with attributes a (see permits). */
export function requireAccess(p: Cred, a: Attr, want: number, what: string): void {
  if (!permits(p, a, want)) throw new SysError('EACCES', `${what}: permission denied`);
}

/** EPERM unless p is root or owns the file (what chmod and utimes ask). */
export function requireOwner(p: Cred, a: Attr, what: string): void {
  if (p.uid !== 0 && p.uid !== a.uid) throw new SysError('EPERM', `${what}: not the owner`);
}

/** EROFS when v is on a read-only mount. */
export function requireWritableMount(v: Vnode, what: string): void {
  if (v.mnt.readonly) throw new SysError('EROFS', `${what}: read-only file system${v.mnt.readonlyWhy ? ` (${v.mnt.readonlyWhy})` : ''}`);
}

/**
 * Whether writing to a file with attributes a would change its file system: a regular file, a
 * directory or a symlink (Linux's sb_permission). Device nodes and FIFOs on a read-only mount
 * stay writable.
 */
export function writeChangesFs(a: Attr): boolean {
  const type = a.mode & S_IFMT;
  return type === S_IFREG || type === S_IFDIR || type === S_IFLNK;
}

/**
 * The directory a new or removed name lives in must be on a writable mount (EROFS, checked
 * first, as Linux does), and writable and searchable (EACCES).
 */
export function requireNameChangeable(p: Cred, f: Found, what: string): void {
  requireWritableMount(f.parent!, what);
  requireAccess(p, f.parentAttr!, MAY_WRITE | MAY_EXEC, what);
}

/** In a sticky directory only root, the owner of the entry or the owner of the directory may remove it. */
export function requireStickyAllows(p: Cred, f: Found, what: string): void {
  if (p.uid !== 0 && f.parentAttr!.mode & S_ISVTX && p.uid !== f.parentAttr!.uid && p.uid !== f.attr!.uid) {
    throw new SysError('EPERM', `${what}: sticky directory`);
  }
}

/**
 * The mode chmod stores when p asks for `mode` (its permission bits) on a file with attributes
 * a: S_ISGID is dropped, silently, when p is neither root nor in the file's group (Linux's
 * setattr_prepare). S_ISVTX is kept on any file, as Linux keeps it.
 */
export function chmodMode(p: Cred, a: Attr, mode: number): number {
  return p.uid !== 0 && !inGroup(p, a.gid) ? mode & ~S_ISGID : mode;
}

/**
 * The set-id bits of a file with attributes a that a change by p takes away (Linux's
 * should_remove_suid and setattr_should_drop_sgid): S_ISUID, and S_ISGID when the file is
 * group-executable or p is neither root nor in its group. S_ISGID without group-execute is the
 * mandatory-locking mark, and stays for root and the group's members.
 */
function setidDropped(p: Cred, a: Attr): number {
  let bits = a.mode & S_ISUID;
  if (a.mode & S_ISGID && (a.mode & S_IXGRP || (p.uid !== 0 && !inGroup(p, a.gid)))) bits |= S_ISGID;
  return bits;
}

/**
 * The permission bits a write (write, pwrite, truncate, open with O_TRUNC) by p leaves on a
 * file with attributes a, when it changes them: only for a regular file, and never for root
 * (who has Linux's CAP_FSETID); undefined when they stay as they are.
 */
export function modeAfterWrite(p: Cred, a: Attr): number | undefined {
  if (p.uid === 0 || (a.mode & S_IFMT) !== S_IFREG) return undefined;
  const drop = setidDropped(p, a);
  return drop ? a.mode & ~S_IFMT & ~drop : undefined;
}

/**
 * The permission bits and owner of a new inode that p makes in a directory with attributes
 * `dir`, as Linux's inode_init_owner and mode_strip_sgid give them. `mode` holds the permission
 * bits asked for, the umask already applied; `isDir` says whether it is a directory. The inode
 * is p's, in p's group — but in a set-group-ID directory in the directory's group, and a new
 * directory there is set-group-ID too; a group-executable set-group-ID file made there by a
 * caller neither root nor in that group loses S_ISGID. mkdir never gives S_ISUID or S_ISGID of
 * its own: the caller strips them first (vfs_prepare_mode).
 */
export function newInodeOwner(p: Cred, dir: Attr, mode: number, isDir: boolean): { mode: number; uid: number; gid: number } {
  if (!(dir.mode & S_ISGID)) return { mode, uid: p.uid, gid: p.gid };
  if (isDir) mode |= S_ISGID;
  else if ((mode & (S_ISGID | S_IXGRP)) === (S_ISGID | S_IXGRP) && p.uid !== 0 && !inGroup(p, dir.gid)) mode &= ~S_ISGID;
  return { mode, uid: p.uid, gid: dir.gid };
}

/** Whether an id given to chown is a real id rather than ID_UNCHANGED. */
const given = (id: number) => id !== ID_UNCHANGED;

/**
 * What chown(uid, gid) by p changes of a file with attributes a, checked as Linux checks it: an
 * id of ID_UNCHANGED is left as it is. Root may set any ids. Anyone else must own the file, may
 * give uid only as the file's own, and gid only as a group p is in or the file's own group;
 * else EPERM. Any chown of a non-directory, even of no id, takes away S_ISUID and S_ISGID as a
 * write does (setidDropped), for root too; when p does not own the file that is EPERM.
 * EINVAL for an id beyond 32 bits.
 */
export function chownChanges(p: Cred, a: Attr, uid: number, gid: number, what: string): AttrChanges {
  if (uid > ID_UNCHANGED || gid > ID_UNCHANGED) throw new SysError('EINVAL', `${what}: an id beyond 32 bits`);
  const drop = (a.mode & S_IFMT) === S_IFDIR ? 0 : setidDropped(p, a);
  const changes: AttrChanges = {
    uid: given(uid) ? uid : undefined,
    gid: given(gid) ? gid : undefined,
    mode: drop ? a.mode & ~S_IFMT & ~drop : undefined,
  };
  if (p.uid === 0) return changes;
  if (p.uid !== a.uid) {
    if (given(uid) || given(gid) || drop) throw new SysError('EPERM', `${what}: not the owner`);
  } else if (given(uid) && uid !== a.uid) {
    throw new SysError('EPERM', `${what}: only root may give a file to another user`);
  } else if (given(gid) && gid !== a.gid && !inGroup(p, gid)) {
    throw new SysError('EPERM', `${what}: not a member of group ${gid}`);
  }
  return changes;
}

/**
 * Checks that p may set the times of a file with attributes a to (atime, mtime), each a time
 * or UTIME_NOW or UTIME_OMIT, as Linux's utimensat: both UTIME_NOW needs root, the owner, or
 * write permission (EACCES); any given time, or UTIME_NOW with UTIME_OMIT, needs root or the
 * owner (EPERM).
 */
export function requireTimesSettable(p: Cred, a: Attr, atime: number, mtime: number, what: string): void {
  if (p.uid === 0 || p.uid === a.uid) return;
  if (atime === UTIME_NOW && mtime === UTIME_NOW) requireAccess(p, a, MAY_WRITE, what);
  else throw new SysError('EPERM', `${what}: only the owner may set a file's times to other than now`);
}
