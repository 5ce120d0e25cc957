// The syscalls on a file's attributes: stat and lstat; chmod, chown and utimes by path (lchown
// and lutimes of a symlink itself) and by fd (fchmod, fchown, futimes: on an fd of any access
// mode, as Linux); truncate; access.

import { F_OK, R_OK, S_IALLUGO, SysError, UTIME_NOW, UTIME_OMIT, W_OK, X_OK, type Attr } from '../../kernel/api.js';
import {
  MAY_WRITE, chmodMode, chownChanges, modeAfterWrite, requireAccess, requireOwner, requireTimesSettable,
  requireWritableMount, writeChangesFs,
} from './access.js';
import type { FromProc, Vfs } from './context.js';
import type { VfsHandlers } from './ops.js';
import { statOf, type Vnode } from './mounts.js';
import { find, isDir } from './namei.js';
import type { ProcEntry } from './procs.js';

/** The furthest a Date reaches from the epoch, in ms: utimes refuses a time beyond it (EINVAL). */
const MAX_TIME = 8.64e15;

/** A time utimes is given, as the file system is to store it: undefined leaves it as it is. */
function timeToSet(t: number, now: number): number | undefined {
  return t === UTIME_OMIT ? undefined : t === UTIME_NOW ? now : t;
}

/**
 * EINVAL for a time that is neither UTIME_NOW, UTIME_OMIT nor a Date's (as Linux's for a bad
 * tv_nsec, before it looks for the file).
 */
function requireTimes(a: { atime: number; mtime: number }, what: string): void {
  for (const t of [a.atime, a.mtime]) {
    if (t !== UTIME_NOW && t !== UTIME_OMIT && Math.abs(t) > MAX_TIME) throw new SysError('EINVAL', `${what}: ${t} is no time`);
  }
}

export function attrCalls(vfs: Vfs): VfsHandlers<
  'stat' | 'lstat' | 'chmod' | 'fchmod' | 'chown' | 'lchown' | 'fchown' | 'utimes' | 'futimes' | 'truncate' | 'access'
> {
  const { fs, procs } = vfs;

  /**
   * The calling process, and the vnode and attributes of its open file `fd` (EBADF; EINVAL for
   * a pipe made by pipe(), which has no file behind it).
   */
  async function byFd(a: FromProc & { fd: number }, what: string): Promise<{ pr: ProcEntry; node: Vnode; attr: Attr }> {
    const pr = procs.get(a.pid);
    const { node } = procs.file(pr, a.fd);
    if (!node) throw new SysError('EINVAL', `${what}: fd ${a.fd} is a pipe`);
    return { pr, node, attr: await fs.getattr(node) };
  }

  async function chmod(pr: ProcEntry, node: Vnode, attr: Attr, mode: number, what: string): Promise<void> {
    requireWritableMount(node, what);
    requireOwner(pr, attr, what);
    const stored = chmodMode(pr, attr, mode & S_IALLUGO);
    vfs.setid.chmodding(stored);
    await fs.setattr(node, { mode: stored });
  }

  async function chown(pr: ProcEntry, node: Vnode, attr: Attr, uid: number, gid: number, what: string): Promise<void> {
    requireWritableMount(node, what);
    await fs.setattr(node, chownChanges(pr, attr, uid, gid, what));
  }

  /** Both times UTIME_OMIT changes nothing, not even ctime, and is not checked: Linux returns before it looks. */
  const nothingToSet = (a: { atime: number; mtime: number }) => a.atime === UTIME_OMIT && a.mtime === UTIME_OMIT;

  async function utimes(pr: ProcEntry, node: Vnode, attr: Attr, atime: number, mtime: number, what: string): Promise<void> {
    requireWritableMount(node, what);
    requireTimesSettable(pr, attr, atime, mtime, what);
    const now = vfs.ctx.hyp.clockRealtime();
    await fs.setattr(node, { atime: timeToSet(atime, now), mtime: timeToSet(mtime, now) });
  }

  return {
    async stat(a) {
      const f = await find(vfs, procs.get(a.pid), a.path);
      return statOf(f.node!, f.attr!);
    },
    async lstat(a) {
      const f = await find(vfs, procs.get(a.pid), a.path, false);
      return statOf(f.node!, f.attr!);
    },
    async chmod(a) {
      const pr = procs.get(a.pid);
      const f = await find(vfs, pr, a.path);
      await chmod(pr, f.node!, f.attr!, a.mode, `chmod ${a.path}`);
    },
    async fchmod(a) {
      const what = `fchmod ${a.fd}`;
      const { pr, node, attr } = await byFd(a, what);
      await chmod(pr, node, attr, a.mode, what);
    },
    async chown(a) {
      const pr = procs.get(a.pid);
      const f = await find(vfs, pr, a.path);
      await chown(pr, f.node!, f.attr!, a.uid, a.gid, `chown ${a.path}`);
    },
    async lchown(a) {
      const pr = procs.get(a.pid);
      const f = await find(vfs, pr, a.path, false);
      await chown(pr, f.node!, f.attr!, a.uid, a.gid, `lchown ${a.path}`);
    },
    async fchown(a) {
      const what = `fchown ${a.fd}`;
      const { pr, node, attr } = await byFd(a, what);
      await chown(pr, node, attr, a.uid, a.gid, what);
    },
    async utimes(a) {
      if (nothingToSet(a)) return;
      requireTimes(a, `utimes ${a.path}`);
      const pr = procs.get(a.pid);
      const f = await find(vfs, pr, a.path, !a.nofollow);
      await utimes(pr, f.node!, f.attr!, a.atime, a.mtime, `utimes ${a.path}`);
    },
    async futimes(a) {
      if (nothingToSet(a)) return;
      const what = `futimes ${a.fd}`;
      requireTimes(a, what);
      const { pr, node, attr } = await byFd(a, what);
      await utimes(pr, node, attr, a.atime, a.mtime, what);
    },
    async truncate(a) {
      const pr = procs.get(a.pid);
      const what = `truncate ${a.path}`;
      const f = await find(vfs, pr, a.path);
      if (isDir(f.attr)) throw new SysError('EISDIR', `${what}: is a directory`);
      requireWritableMount(f.node!, what);
      requireAccess(pr, f.attr!, MAY_WRITE, what);
      // Linux takes the set-id bits away even when the size stays.
      await fs.setattr(f.node!, { size: a.length, mode: modeAfterWrite(pr, f.attr!) });
    },
    async access(a) {
      const what = `access ${a.path}`;
      if (a.mode & ~(R_OK | W_OK | X_OK)) throw new SysError('EINVAL', `${what}: mode ${a.mode} has bits other than R_OK, W_OK and X_OK`);
      const pr = procs.get(a.pid);
      const f = await find(vfs, pr, a.path);
      if (a.mode === F_OK) return;
      if (a.mode & W_OK && writeChangesFs(f.attr!)) requireWritableMount(f.node!, what);
      requireAccess(pr, f.attr!, a.mode, what); // R_OK, W_OK, X_OK are MAY_READ, MAY_WRITE, MAY_EXEC
    },
  };
}
