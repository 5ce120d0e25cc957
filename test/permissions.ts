// Ownership and mode rules as Linux has them (pjdfstest's chown, chmod, open, truncate, rename,
// utimensat and access cases, each checked against Linux on a host tmpfs): one table of cases,
// run under every policy on tmpfs and on ext2. Each case makes a file as root, acts on it as
// one of a few users, and checks the errno and what stat says was stored.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import {
  F_OK, ID_UNCHANGED, NGROUPS_MAX, O_RDONLY, O_TRUNC, O_WRONLY, R_OK, UTIME_NOW, UTIME_OMIT, W_OK, X_OK, boot,
  type Kernel, type Proc, type Stat,
} from '../kernel/index.js';
import { fsckClean, mkImage, tempDir } from './lib/e2fs.js';
import { errnoOf } from './lib/errno.js';
import { ALL_POLICIES, policyName } from './lib/policies.js';

/** The users a case acts as. `member` is in group 1000 by its supplementary groups only. */
const USERS = {
  root: { uid: 0, gid: 0 },
  owner: { uid: 1000, gid: 1000, groups: [2000] },
  member: { uid: 3001, gid: 3001, groups: [1000] },
  other: { uid: 3000, gid: 3000 },
  nobody: { uid: 65534, gid: 65534 },
};
type User = keyof typeof USERS;
type Users = Record<User, Proc>;

/** The file a case acts on, made by root: a regular file (default), a directory or a symlink to a regular file. */
interface FileSpec {
  type?: 'file' | 'dir' | 'symlink';
  mode: number;
  uid?: number;
  gid?: number;
  /** A regular file's content (default 'data'). */
  data?: string;
}

/** Where a case runs: its own directory (0777, root's) and the file in it. */
interface Place {
  dir: string;
  path: string;
  users: Users;
}

interface Case {
  name: string;
  file: FileSpec;
  /** The directory's mode, when not 0777. */
  dirMode?: number;
  as: User;
  act: (p: Proc, at: Place) => Promise<unknown>;
  /** 'ok' or the errno. */
  errno: string;
  /** What lstat of the file says afterwards: ids, permission bits (mode & 0o7777), size. */
  after?: { uid?: number; gid?: number; mode?: number; size?: number };
  /** A check of the times, given lstat before and after the act. */
  times?: (before: Stat, after: Stat) => boolean;
}

/** Times every case's file starts with, in ms since the epoch (whole seconds, as ext2 keeps them). */
const OLD = 5_000_000;

async function writeTo(p: Proc, path: string, data: string): Promise<void> {
  const fd = await p.open(path, O_WRONLY);
  try {
    await p.write(fd, data);
  } finally {
    await p.close(fd);
  }
}

/** Runs fn on an fd of `path` opened with `flags`, and closes it. */
async function withFd<T>(p: Proc, path: string, flags: number, fn: (fd: number) => Promise<T>): Promise<T> {
  const fd = await p.open(path, flags);
  try {
    return await fn(fd);
  } finally {
    await p.close(fd);
  }
}

const cases: Case[] = [];
const add = (c: Case) => cases.push(c);
const reg = (mode: number, uid = 0, gid = 0): FileSpec => ({ mode, uid, gid });

// --- chown: -1 / ID_UNCHANGED, root, the owner and its groups, set-id bits
for (const id of [-1, ID_UNCHANGED]) {
  add({ name: `root chown(${id}, ${id}) changes no id`, file: reg(0o644, 1000, 1000), as: 'root', act: (p, { path }) => p.chown(path, id, id), errno: 'ok', after: { uid: 1000, gid: 1000, mode: 0o644 } });
  add({ name: `owner chown(${id}, ${id}) changes no id`, file: reg(0o644, 1000, 1000), as: 'owner', act: (p, { path }) => p.chown(path, id, id), errno: 'ok', after: { uid: 1000, gid: 1000 } });
}
add({ name: 'root gives a file away', file: reg(0o644, 1000, 1000), as: 'root', act: (p, { path }) => p.chown(path, 5, 6), errno: 'ok', after: { uid: 5, gid: 6 } });
add({ name: 'root chown of uid only', file: reg(0o644, 1000, 1000), as: 'root', act: (p, { path }) => p.chown(path, 5, -1), errno: 'ok', after: { uid: 5, gid: 1000 } });
add({ name: 'root chown takes S_ISUID and group-executable S_ISGID away', file: reg(0o6755), as: 'root', act: (p, { path }) => p.chown(path, 5, -1), errno: 'ok', after: { uid: 5, mode: 0o755 } });
add({ name: 'root chown(-1, -1) takes them away too', file: reg(0o6755), as: 'root', act: (p, { path }) => p.chown(path, -1, -1), errno: 'ok', after: { uid: 0, mode: 0o755 } });
add({ name: 'root chown keeps S_ISGID without group-execute', file: reg(0o6745), as: 'root', act: (p, { path }) => p.chown(path, -1, 5), errno: 'ok', after: { gid: 5, mode: 0o2745 } });
add({ name: 'chown keeps set-id bits of a directory', file: { type: 'dir', mode: 0o7755 }, as: 'root', act: (p, { path }) => p.chown(path, 5, 5), errno: 'ok', after: { uid: 5, mode: 0o7755 } });
add({ name: 'owner chowns to its own gid', file: reg(0o644, 1000, 0), as: 'owner', act: (p, { path }) => p.chown(path, 1000, 1000), errno: 'ok', after: { uid: 1000, gid: 1000 } });
add({ name: 'owner chowns to a supplementary group', file: reg(0o644, 1000, 1000), as: 'owner', act: (p, { path }) => p.chown(path, -1, 2000), errno: 'ok', after: { gid: 2000 } });
add({ name: 'owner chowns to the file\'s group it is not in', file: reg(0o644, 1000, 0), as: 'owner', act: (p, { path }) => p.chown(path, 1000, 0), errno: 'ok', after: { gid: 0 } });
add({ name: 'owner chowns to a group it is not in', file: reg(0o644, 1000, 1000), as: 'owner', act: (p, { path }) => p.chown(path, -1, 3000), errno: 'EPERM', after: { gid: 1000 } });
add({ name: 'owner gives its file away', file: reg(0o644, 1000, 1000), as: 'owner', act: (p, { path }) => p.chown(path, 2000, -1), errno: 'EPERM', after: { uid: 1000 } });
add({ name: 'owner chown takes S_ISUID and S_ISGID away', file: reg(0o6755, 1000, 1000), as: 'owner', act: (p, { path }) => p.chown(path, -1, 2000), errno: 'ok', after: { gid: 2000, mode: 0o755 } });
add({ name: 'owner chown keeps S_ISGID without group-execute in its group', file: reg(0o6745, 1000, 2000), as: 'owner', act: (p, { path }) => p.chown(path, -1, -1), errno: 'ok', after: { mode: 0o2745 } });
add({ name: 'owner chown takes S_ISGID without group-execute away outside the group', file: reg(0o6745, 1000, 0), as: 'owner', act: (p, { path }) => p.chown(path, -1, -1), errno: 'ok', after: { gid: 0, mode: 0o745 } });
add({ name: 'owner chown refused keeps the set-id bits', file: reg(0o6755, 1000, 1000), as: 'owner', act: (p, { path }) => p.chown(path, -1, 3000), errno: 'EPERM', after: { mode: 0o6755 } });
add({ name: 'another user chown(-1, -1) of a plain file', file: reg(0o644), as: 'other', act: (p, { path }) => p.chown(path, -1, -1), errno: 'ok', after: { uid: 0, mode: 0o644 } });
add({ name: 'another user chown(-1, -1) of a set-id file', file: reg(0o6755), as: 'other', act: (p, { path }) => p.chown(path, -1, -1), errno: 'EPERM', after: { mode: 0o6755 } });
add({ name: 'another user chown to the same uid', file: reg(0o644), as: 'other', act: (p, { path }) => p.chown(path, 0, -1), errno: 'EPERM' });
add({ name: 'another user chown to the same gid', file: reg(0o644), as: 'other', act: (p, { path }) => p.chown(path, -1, 0), errno: 'EPERM' });
add({ name: 'lchown changes the symlink, not its target', file: { type: 'symlink', mode: 0o644 }, as: 'root', act: (p, { path }) => p.lchown(path, 7, 8), errno: 'ok', after: { uid: 7, gid: 8 } });
add({ name: 'chown through a symlink changes its target', file: { type: 'symlink', mode: 0o644 }, as: 'root', act: async (p, { path, dir }) => {
  await p.chown(path, 7, 8);
  const s = await p.stat(`${dir}/target`);
  if (s.uid !== 7 || s.gid !== 8) throw new Error(`target is ${s.uid}:${s.gid}`);
}, errno: 'ok', after: { uid: 0, gid: 0 } });
add({ name: 'fchown by the owner on an O_RDONLY fd', file: reg(0o644, 1000, 1000), as: 'owner', act: (p, { path }) => withFd(p, path, O_RDONLY, (fd) => p.fchown(fd, -1, 2000)), errno: 'ok', after: { gid: 2000 } });
add({ name: 'fchown of an fd that is not open', file: reg(0o644), as: 'root', act: (p) => p.fchown(99, 1, 1), errno: 'EBADF', after: { uid: 0 } });

// --- chmod: owner or root; S_ISGID outside the group; S_ISVTX on files
add({ name: 'owner chmod 02755 outside the file\'s group drops S_ISGID', file: reg(0o644, 1000, 3000), as: 'owner', act: (p, { path }) => p.chmod(path, 0o2755), errno: 'ok', after: { mode: 0o755 } });
add({ name: 'owner chmod 06777 outside the file\'s group keeps S_ISUID', file: reg(0o644, 1000, 3000), as: 'owner', act: (p, { path }) => p.chmod(path, 0o6777), errno: 'ok', after: { mode: 0o4777 } });
add({ name: 'owner chmod 02755 in its own group', file: reg(0o644, 1000, 1000), as: 'owner', act: (p, { path }) => p.chmod(path, 0o2755), errno: 'ok', after: { mode: 0o2755 } });
add({ name: 'owner chmod 02755 in a supplementary group', file: reg(0o644, 1000, 2000), as: 'owner', act: (p, { path }) => p.chmod(path, 0o2755), errno: 'ok', after: { mode: 0o2755 } });
add({ name: 'root chmod 02755 in any group', file: reg(0o644, 1000, 3000), as: 'root', act: (p, { path }) => p.chmod(path, 0o2755), errno: 'ok', after: { mode: 0o2755 } });
add({ name: 'owner sets S_ISVTX on a regular file', file: reg(0o644, 1000, 1000), as: 'owner', act: (p, { path }) => p.chmod(path, 0o1755), errno: 'ok', after: { mode: 0o1755 } });
add({ name: 'owner chmod 03755 of a directory outside its group', file: { type: 'dir', mode: 0o755, uid: 1000, gid: 3000 }, as: 'owner', act: (p, { path }) => p.chmod(path, 0o3755), errno: 'ok', after: { mode: 0o1755 } });
add({ name: 'another user chmod', file: reg(0o644), as: 'other', act: (p, { path }) => p.chmod(path, 0o777), errno: 'EPERM', after: { mode: 0o644 } });
add({ name: 'fchmod by the owner on an O_RDONLY fd', file: reg(0o644, 1000, 3000), as: 'owner', act: (p, { path }) => withFd(p, path, O_RDONLY, (fd) => p.fchmod(fd, 0o2600)), errno: 'ok', after: { mode: 0o600 } });
add({ name: 'fchmod by another user', file: reg(0o644), as: 'other', act: (p, { path }) => withFd(p, path, O_RDONLY, (fd) => p.fchmod(fd, 0o600)), errno: 'EPERM', after: { mode: 0o644 } });
add({ name: 'fchmod of an fd that is not open', file: reg(0o644), as: 'root', act: (p) => p.fchmod(99, 0o600), errno: 'EBADF', after: { mode: 0o644 } });

// --- writes take S_ISUID and S_ISGID away, but root's
const wrote = (p: Proc, { path }: Place) => writeTo(p, path, 'y');
add({ name: 'write by another user to root\'s 06777 file', file: reg(0o6777), as: 'nobody', act: wrote, errno: 'ok', after: { mode: 0o777 } });
add({ name: 'write by the owner', file: reg(0o6777, 1000, 1000), as: 'owner', act: wrote, errno: 'ok', after: { mode: 0o777 } });
add({ name: 'write by root keeps them', file: reg(0o6777, 1000, 1000), as: 'root', act: wrote, errno: 'ok', after: { mode: 0o6777 } });
add({ name: 'write by a member of the group keeps S_ISGID without group-execute', file: reg(0o6767, 0, 1000), as: 'member', act: wrote, errno: 'ok', after: { mode: 0o2767 } });
add({ name: 'write by an outsider takes S_ISGID without group-execute away', file: reg(0o2767, 0, 1000), as: 'nobody', act: wrote, errno: 'ok', after: { mode: 0o767 } });
add({ name: 'a write of no bytes keeps them', file: reg(0o6777), as: 'nobody', act: (p, { path }) => writeTo(p, path, ''), errno: 'ok', after: { mode: 0o6777 } });
add({ name: 'opening for writing keeps them', file: reg(0o6777), as: 'nobody', act: (p, { path }) => withFd(p, path, O_WRONLY, async () => {}), errno: 'ok', after: { mode: 0o6777 } });
add({ name: 'pwrite', file: reg(0o6777), as: 'nobody', act: (p, { path }) => withFd(p, path, O_WRONLY, (fd) => p.pwrite(fd, 'z', 10)), errno: 'ok', after: { mode: 0o777, size: 11 } });
add({ name: 'truncate to the same size', file: reg(0o6777), as: 'nobody', act: (p, { path }) => p.truncate(path, 4), errno: 'ok', after: { mode: 0o777, size: 4 } });
add({ name: 'truncate by root keeps them', file: reg(0o6777, 1000, 1000), as: 'root', act: (p, { path }) => p.truncate(path, 1), errno: 'ok', after: { mode: 0o6777, size: 1 } });
add({ name: 'ftruncate', file: reg(0o6777), as: 'nobody', act: (p, { path }) => withFd(p, path, O_WRONLY, (fd) => p.ftruncate(fd, 2)), errno: 'ok', after: { mode: 0o777, size: 2 } });
add({ name: 'open with O_TRUNC of an empty file', file: { mode: 0o6777, data: '' }, as: 'nobody', act: (p, { path }) => withFd(p, path, O_WRONLY | O_TRUNC, async () => {}), errno: 'ok', after: { mode: 0o777, size: 0 } });
add({ name: 'write after root set S_ISUID on the open file', file: reg(0o777), as: 'nobody', act: async (p, { path, users }) => {
  const fd = await p.open(path, O_WRONLY);
  try {
    await p.write(fd, 'a');
    await users.root.chmod(path, 0o4777);
    await p.write(fd, 'b');
  } finally {
    await p.close(fd);
  }
}, errno: 'ok', after: { mode: 0o777 } });
add({ name: 'write after root set S_ISGID by fchmod', file: reg(0o777), as: 'nobody', act: async (p, { path, users }) => {
  const fd = await p.open(path, O_WRONLY);
  try {
    await withFd(users.root, path, O_RDONLY, (rfd) => users.root.fchmod(rfd, 0o2777));
    await p.pwrite(fd, 'b', 0);
  } finally {
    await p.close(fd);
  }
}, errno: 'ok', after: { mode: 0o777 } });

// --- open(O_RDONLY | O_TRUNC) needs write permission, and truncates
add({ name: 'O_RDONLY|O_TRUNC without write permission', file: reg(0o644), as: 'nobody', act: (p, { path }) => withFd(p, path, O_RDONLY | O_TRUNC, async () => {}), errno: 'EACCES', after: { size: 4 } });
add({ name: 'O_RDONLY|O_TRUNC without read permission', file: reg(0o222), as: 'nobody', act: (p, { path }) => withFd(p, path, O_RDONLY | O_TRUNC, async () => {}), errno: 'EACCES', after: { size: 4 } });
add({ name: 'O_RDONLY|O_TRUNC with write permission truncates', file: reg(0o666), as: 'nobody', act: (p, { path }) => withFd(p, path, O_RDONLY | O_TRUNC, async () => {}), errno: 'ok', after: { size: 0 } });
add({ name: 'O_RDONLY|O_TRUNC by root of a 0000 file', file: reg(0o000), as: 'root', act: (p, { path }) => withFd(p, path, O_RDONLY | O_TRUNC, async () => {}), errno: 'ok', after: { size: 0 } });

// --- rename: a directory moved to another parent needs write permission on it; sticky directories
const moved = (to: string) => (p: Proc, { dir, path }: Place) => p.rename(path, `${dir}/${to}`);
const other = async (p: Proc, { dir, path, users }: Place) => {
  await users.root.mkdir(`${dir}/elsewhere`, 0o777);
  await users.root.chmod(`${dir}/elsewhere`, 0o777);
  await p.rename(path, `${dir}/elsewhere/moved`);
};
add({ name: 'moving root\'s 0755 directory to another parent', file: { type: 'dir', mode: 0o755 }, as: 'nobody', act: other, errno: 'EACCES' });
add({ name: 'renaming root\'s 0755 directory in its parent', file: { type: 'dir', mode: 0o755 }, as: 'nobody', act: moved('renamed'), errno: 'ok' });
add({ name: 'moving one\'s own 0555 directory to another parent', file: { type: 'dir', mode: 0o555, uid: 65534, gid: 65534 }, as: 'nobody', act: other, errno: 'EACCES' });
add({ name: 'moving one\'s own 0755 directory to another parent', file: { type: 'dir', mode: 0o755, uid: 65534, gid: 65534 }, as: 'nobody', act: other, errno: 'ok' });
add({ name: 'root moves a 0555 directory to another parent', file: { type: 'dir', mode: 0o555 }, as: 'root', act: other, errno: 'ok' });
add({ name: 'moving root\'s regular 0644 file to another parent', file: reg(0o644), as: 'nobody', act: other, errno: 'ok' });
add({ name: 'sticky directory: renaming another user\'s file', file: reg(0o666), dirMode: 0o1777, as: 'nobody', act: moved('renamed'), errno: 'EPERM' });
add({ name: 'sticky directory: renaming one\'s own file', file: reg(0o644, 65534, 65534), dirMode: 0o1777, as: 'nobody', act: moved('renamed'), errno: 'ok' });
add({ name: 'sticky directory: moving another user\'s directory out', file: { type: 'dir', mode: 0o777 }, dirMode: 0o1777, as: 'nobody', act: other, errno: 'EPERM' });

// --- access: F_OK, R_OK, W_OK, X_OK; root; supplementary groups
const access = (mode: number) => (p: Proc, { path }: Place) => p.access(path, mode);
add({ name: 'access F_OK', file: reg(0o000), as: 'nobody', act: access(F_OK), errno: 'ok' });
add({ name: 'access F_OK of a missing file', file: reg(0o644), as: 'nobody', act: (p, { dir }) => p.access(`${dir}/missing`, F_OK), errno: 'ENOENT' });
add({ name: 'access with an unknown bit', file: reg(0o777), as: 'root', act: access(8), errno: 'EINVAL' });
add({ name: 'access R_OK|W_OK by root of a 0000 file', file: reg(0o000), as: 'root', act: access(R_OK | W_OK), errno: 'ok' });
add({ name: 'access X_OK by root of a 0000 file', file: reg(0o000), as: 'root', act: access(X_OK), errno: 'EACCES' });
add({ name: 'access X_OK by root of a 0010 file', file: reg(0o010), as: 'root', act: access(X_OK), errno: 'ok' });
add({ name: 'access X_OK by root of a 0000 directory', file: { type: 'dir', mode: 0o000 }, as: 'root', act: access(X_OK), errno: 'ok' });
add({ name: 'access R_OK by the owner of a 0400 file', file: reg(0o400, 1000, 1000), as: 'owner', act: access(R_OK), errno: 'ok' });
add({ name: 'access W_OK by the owner of a 0477 file', file: reg(0o477, 1000, 1000), as: 'owner', act: access(W_OK), errno: 'EACCES' });
add({ name: 'access R_OK by a member of the group (supplementary)', file: reg(0o640, 0, 1000), as: 'member', act: access(R_OK), errno: 'ok' });
add({ name: 'access W_OK by a member of the group (supplementary)', file: reg(0o640, 0, 1000), as: 'member', act: access(W_OK), errno: 'EACCES' });
add({ name: 'access R_OK by an outsider', file: reg(0o640, 0, 1000), as: 'other', act: access(R_OK), errno: 'EACCES' });
add({ name: 'access R_OK|X_OK through a symlink to a 0755 file', file: { type: 'symlink', mode: 0o755 }, as: 'nobody', act: access(R_OK | X_OK), errno: 'ok' });
add({ name: 'reading a 0640 file of a supplementary group', file: reg(0o640, 0, 2000), as: 'owner', act: (p, { path }) => p.readFile(path), errno: 'ok' });

// --- utimes, lutimes, futimes: UTIME_NOW and UTIME_OMIT
const times = (atime: number, mtime: number) => (p: Proc, { path }: Place) => p.utimes(path, atime, mtime);
const unchanged = (b: Stat, a: Stat) => a.atime === b.atime && a.mtime === b.mtime && a.ctime === b.ctime;
const isNow = (ms: number) => ms > Date.now() - 60_000;
add({ name: 'UTIME_NOW twice by another user with write permission', file: reg(0o666), as: 'other', act: times(UTIME_NOW, UTIME_NOW), errno: 'ok', times: (_, a) => isNow(a.atime) && isNow(a.mtime) });
add({ name: 'UTIME_NOW twice by another user without write permission', file: reg(0o644), as: 'other', act: times(UTIME_NOW, UTIME_NOW), errno: 'EACCES', times: unchanged });
add({ name: 'UTIME_NOW and UTIME_OMIT by another user with write permission', file: reg(0o666), as: 'other', act: times(UTIME_NOW, UTIME_OMIT), errno: 'EPERM', times: unchanged });
add({ name: 'given times by another user with write permission', file: reg(0o666), as: 'other', act: times(1_000_000, 2_000_000), errno: 'EPERM', times: unchanged });
add({ name: 'UTIME_OMIT twice changes nothing, not even ctime', file: reg(0o644), as: 'other', act: times(UTIME_OMIT, UTIME_OMIT), errno: 'ok', times: unchanged });
add({ name: 'given times by the owner of a 0444 file', file: reg(0o444, 1000, 1000), as: 'owner', act: times(1_000_000, 2_000_000), errno: 'ok', times: (_, a) => a.atime === 1_000_000 && a.mtime === 2_000_000 });
add({ name: 'UTIME_OMIT atime, given mtime', file: reg(0o644, 1000, 1000), as: 'owner', act: times(UTIME_OMIT, 2_000_000), errno: 'ok', times: (b, a) => a.atime === b.atime && a.mtime === 2_000_000 });
add({ name: 'UTIME_NOW mtime, UTIME_OMIT atime by root', file: reg(0o644, 1000, 1000), as: 'root', act: times(UTIME_OMIT, UTIME_NOW), errno: 'ok', times: (b, a) => a.atime === b.atime && isNow(a.mtime) });
add({ name: 'lutimes sets the symlink\'s own times', file: { type: 'symlink', mode: 0o644 }, as: 'root', act: (p, { path }) => p.lutimes(path, 1_000_000, 2_000_000), errno: 'ok', times: (_, a) => a.mtime === 2_000_000 });
add({ name: 'futimes by the owner on an O_RDONLY fd', file: reg(0o444, 1000, 1000), as: 'owner', act: (p, { path }) => withFd(p, path, O_RDONLY, (fd) => p.futimes(fd, 1_000_000, 2_000_000)), errno: 'ok', times: (_, a) => a.mtime === 2_000_000 });
add({ name: 'futimes by another user', file: reg(0o666), as: 'other', act: (p, { path }) => withFd(p, path, O_RDONLY, (fd) => p.futimes(fd, 1_000_000, 2_000_000)), errno: 'EPERM', times: unchanged });
add({ name: 'a time beyond any Date', file: reg(0o644), as: 'root', act: times(UTIME_NOW - 2, UTIME_OMIT), errno: 'EINVAL', times: unchanged });
add({ name: 'a time beyond any Date, of a missing file', file: reg(0o644), as: 'root', act: (p, { dir }) => p.utimes(`${dir}/missing`, 0, -UTIME_NOW), errno: 'EINVAL' });
add({ name: 'UTIME_OMIT twice, of a missing file (Linux does not look)', file: reg(0o644), as: 'root', act: (p, { dir }) => p.utimes(`${dir}/missing`, UTIME_OMIT, UTIME_OMIT), errno: 'ok' });
add({ name: 'futimes of an fd that is not open', file: reg(0o644), as: 'root', act: (p) => p.futimes(99, UTIME_NOW, UTIME_OMIT), errno: 'EBADF', times: unchanged });

/** Makes the case's file as root at at.path: content, then owner, then mode (a chown takes set-id bits away). */
async function makeFile(root: Proc, at: Place, f: FileSpec): Promise<void> {
  let path = at.path;
  if (f.type === 'dir') {
    await root.mkdir(path);
  } else {
    if (f.type === 'symlink') {
      await root.symlink('target', path);
      path = `${at.dir}/target`;
    }
    await root.writeFile(path, f.data ?? 'data');
  }
  await root.chown(path, f.uid ?? 0, f.gid ?? 0);
  await root.chmod(path, f.mode);
  await root.utimes(path, OLD, OLD);
}

/** What differs between the expected fields and lstat's, as text; empty when nothing does. */
function differences(want: NonNullable<Case['after']>, s: Stat): string[] {
  const got = { uid: s.uid, gid: s.gid, mode: s.mode & 0o7777, size: s.size };
  const show = (k: string, v: number) => (k === 'mode' ? `0${v.toString(8)}` : String(v));
  return Object.entries(want)
    .filter(([k, v]) => got[k as keyof typeof got] !== v)
    .map(([k, v]) => `${k} ${show(k, got[k as keyof typeof got])}, expected ${show(k, v)}`);
}

/** An ext2 image holding /f, a 0644 file of root's, for the read-only mount. */
function readOnlyImage(): string {
  const dir = tempDir('rumpus-perm-');
  mkdirSync(join(dir, 'tree'));
  writeFileSync(join(dir, 'tree', 'f'), 'data', { mode: 0o644 });
  mkImage(join(dir, 'ro.img'), { size: 1 << 20, from: join(dir, 'tree') });
  return join(dir, 'ro.img');
}

const images = tempDir('rumpus-perm-');
const roImage = readOnlyImage();

for (const policy of ALL_POLICIES) {
  t.test(policyName(policy), async (t) => {
    const img = join(images, `${ALL_POLICIES.indexOf(policy)}.img`);
    mkImage(img, { size: 8 << 20, blockSize: 1024 });
    const k = await boot({
      policy,
      mounts: [
        { target: '/', fstype: 'tmpfs' },
        { target: '/tmp', fstype: 'tmpfs' },
        { target: '/mnt', fstype: 'ext2', source: img },
        { target: '/ro', fstype: 'ext2', source: roImage, readonly: true },
      ],
    });
    try {
      await runCases(t, k);
    } finally {
      await k.halt();
    }
    const fsck = fsckClean(img);
    t.ok(fsck.clean, 'the ext2 image is clean afterwards', { report: fsck.report });
  });
}

/** Every case, on tmpfs and on ext2, and the read-only mount's. */
async function runCases(t: Test, k: Kernel): Promise<void> {
  const users = {} as Users;
  for (const [name, cred] of Object.entries(USERS)) users[name as User] = name === 'root' ? k.init : await k.spawn(cred);
  const root = users.root;

  for (const [fs, base] of [['tmpfs', '/tmp/perm'], ['ext2', '/mnt/perm']] as const) {
    await root.mkdir(base);
    for (const [i, c] of cases.entries()) {
      const dir = `${base}/${i}`;
      await root.mkdir(dir);
      await root.chmod(dir, c.dirMode ?? 0o777);
      const at: Place = { dir, path: `${dir}/f`, users };
      await makeFile(root, at, c.file);
      const before = await root.lstat(at.path);
      const got = await errnoOf(c.act(users[c.as], at));
      const name = `${fs}: ${c.name}`;
      t.equal(got, c.errno, name);
      if (c.after || c.times) {
        const st = await root.lstat(at.path).catch(() => null);
        if (!st) continue; // renamed away: the errno says all
        if (c.after) t.same(differences(c.after, st), [], `${name}: as stored`);
        if (c.times) t.ok(c.times(before, st), `${name}: times`);
      }
    }
  }

  // A read-only mount: EROFS for what would change it, nothing for what would not.
  const { nobody } = users;
  const ro: [string, () => Promise<unknown>, string][] = [
    ['access W_OK', () => nobody.access('/ro/f', W_OK), 'EROFS'],
    ['access W_OK of the directory', () => nobody.access('/ro', W_OK), 'EROFS'],
    ['access R_OK', () => nobody.access('/ro/f', R_OK), 'ok'],
    ['chmod by root', () => root.chmod('/ro/f', 0o600), 'EROFS'],
    ['chmod by another user', () => nobody.chmod('/ro/f', 0o600), 'EROFS'],
    ['chown by another user', () => nobody.chown('/ro/f', 1, 1), 'EROFS'],
    ['utimes UTIME_NOW by another user', () => nobody.utimes('/ro/f', UTIME_NOW, UTIME_NOW), 'EROFS'],
    ['utimes UTIME_OMIT twice', () => root.utimes('/ro/f', UTIME_OMIT, UTIME_OMIT), 'ok'],
    ['truncate by another user', () => nobody.truncate('/ro/f', 0), 'EROFS'],
    ['O_RDONLY|O_TRUNC', () => withFd(root, '/ro/f', O_RDONLY | O_TRUNC, async () => {}), 'EROFS'],
    ['O_WRONLY by another user, before EACCES', () => withFd(nobody, '/ro/f', O_WRONLY, async () => {}), 'EROFS'],
    ['O_RDONLY by another user', () => withFd(nobody, '/ro/f', O_RDONLY, async () => {}), 'ok'],
    ['unlink by another user, before EACCES', () => nobody.unlink('/ro/f'), 'EROFS'],
    ['mkdir by another user, before EACCES', () => nobody.mkdir('/ro/d'), 'EROFS'],
    ['rename by another user, before EACCES', () => nobody.rename('/ro/f', '/ro/g'), 'EROFS'],
  ];
  for (const [what, call, errno] of ro) t.equal(await errnoOf(call()), errno, `read-only ext2: ${what}`);
  const st = await root.stat('/ro/f');
  t.same([st.mode & 0o7777, st.uid, st.size], [0o644, 0, 4], 'read-only ext2: the file is as it was');
}

t.test('spawn checks and keeps supplementary groups', async (t) => {
  const k = await boot({ policy: 'monolithic' });
  t.teardown(() => k.halt());
  const p = await k.spawn({ uid: 5, gid: 6, groups: [7, 8] });
  t.same(p.cred, { uid: 5, gid: 6, groups: [7, 8] }, 'the credentials, groups included');
  t.ok(Object.isFrozen(p.cred.groups), 'groups are frozen');
  t.same((await k.spawn({ uid: 5, gid: 6 })).cred.groups, [], 'no groups by default');
  t.equal((await k.spawn({ uid: 5, gid: 6, groups: Array.from({ length: NGROUPS_MAX }, (_, i) => i) })).cred.groups.length, NGROUPS_MAX, `${NGROUPS_MAX} groups are allowed`);
  const refused: [string, object][] = [
    ['a group of (gid_t)-1', { groups: [ID_UNCHANGED] }],
    ['a negative group', { groups: [-1] }],
    ['a fractional group', { groups: [1.5] }],
    ['a hole in groups', { groups: [1, , 2] }], // eslint-disable-line no-sparse-arrays
    ['groups that are not an array', { groups: 7 }],
    [`${NGROUPS_MAX + 1} groups`, { groups: Array.from({ length: NGROUPS_MAX + 1 }, (_, i) => i) }],
    ['a uid of (uid_t)-1', { uid: ID_UNCHANGED }],
    ['a negative gid', { gid: -1 }],
  ];
  for (const [what, cred] of refused) t.equal(await errnoOf(k.spawn(cred)), 'EINVAL', what);
  t.equal(await errnoOf(p.chown('/tmp', 2 ** 32, 0)), 'EINVAL', 'a chown id beyond 32 bits');
  const sys = (p as unknown as { sys(op: string, a: object): Promise<unknown> }).sys.bind(p);
  t.equal(await errnoOf(sys('getpid', { groups: [0] })), 'EINVAL', 'groups are no syscall argument');
});
