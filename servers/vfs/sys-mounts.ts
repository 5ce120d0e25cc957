// The syscalls on mounts: mount, unmount, the list of mounts, statfs, sync, and unmountAll at
// halt. A mount lives through mounted → unmounting → gone (mounts.ts).

import { SysError, type MountInfo } from '../../kernel/api.js';
import type { Vfs } from './context.js';
import type { VfsHandlers } from './ops.js';
import { FILESYSTEMS } from './fs-requests.js';
import { isMountRoot, requireNotMountRoot, type Mount, type Vnode } from './mounts.js';
import { find, isDir } from './namei.js';
import type { ProcEntry } from './procs.js';
import { ReplayLog } from './replay.js';

/** What mount is asked: file system `fstype` (from `source`, for one on a device) at `target`. */
export interface MountRequest {
  target: string;
  fstype: string;
  source?: string;
  readonly?: boolean;
  /** The passphrase of an image that is a LUKS container: the file system's option `key`. */
  key?: Uint8Array;
  /** The partition of the disk image `source` to mount (its number, from 1): the file system's option `partition`. */
  partition?: number;
}

/**
 * Mounts what `a` asks for process pr (root only), on a directory or, first of all, at '/'.
 * Resolves to the mount point as vfs resolved it (absolute, no '..' or symlinks).
 */
export async function mountFs(vfs: Vfs, pr: ProcEntry, a: MountRequest): Promise<string> {
  const what = `mount ${a.target}`;
  if (pr.uid !== 0) throw new SysError('EPERM', `${what}: only root may mount`);
  if (!(FILESYSTEMS as readonly string[]).includes(a.fstype)) {
    throw new SysError('ENODEV', `${what}: unknown file-system type '${a.fstype}' (known: ${FILESYSTEMS.join(', ')})`);
  }
  let covered: Vnode | null = null;
  let target = '/';
  if (vfs.mounts.root) {
    const f = await find(vfs, pr, a.target);
    if (!isDir(f.attr)) throw new SysError('ENOTDIR', `${what}: not a directory`);
    requireNotMountRoot(f.node!, what);
    covered = f.node;
    target = '/' + f.path.join('/');
  } else if (a.target !== '/') {
    throw new SysError('ENOENT', `${what}: nothing is mounted at / yet`);
  }
  // The target names the instance, so mounting again after a restart finds the same one.
  // It keeps the key too (vfs's memory, and its kept record), to mount again after a restart.
  const args = { source: a.source, options: { instance: target, ...(a.readonly ? { readonly: true } : {}), ...(a.key ? { key: a.key } : {}), ...(a.partition !== undefined ? { partition: a.partition } : {}) } };
  const r = await vfs.client.mount(a.fstype, args);
  if (covered) {
    // The mount it goes on was unmounted meanwhile: undone (the caller walks its path again).
    await vfs.recovery.enter(covered.mnt, what).catch(async (err) => {
      await vfs.client.unmount(a.fstype, r.fsid).catch(() => {});
      throw err;
    });
  }
  Object.assign(args.options, r.remount); // what the file system wants to be told if it must mount this again
  vfs.mounts.add({
    fs: a.fstype, fsid: r.fsid, root: r.root, covered, target,
    source: a.source ?? a.fstype, ...(a.partition !== undefined ? { partition: a.partition } : {}), readonly: r.readonly || a.readonly === true, args,
    ...(r.readonlyWhy !== undefined && a.readonly !== true ? { readonlyWhy: r.readonlyWhy } : {}),
    log: r.persistent && !r.readonly ? new ReplayLog() : null,
  });
  return target;
}

/**
 * Unmounts m: mounted → unmounting → gone. While it is unmounting nothing mounts it again
 * (a remount already under way finishes first) and new ops wait. With `refuse`, the ops
 * already sent are answered first (one may have opened a file), then `refuse` may still
 * refuse (EBUSY), which leaves m mounted; without (at halt), nothing waits for them: the file
 * system serves them before the unmount anyway. Resolves once the file system has committed
 * and let go of its device; if that fails, m stays.
 */
async function unmountMount(vfs: Vfs, m: Mount, refuse?: () => void): Promise<void> {
  if (m.state !== 'mounted') throw new SysError('EBUSY', `unmount ${m.target}: already being unmounted`);
  m.state = 'unmounting';
  let settle!: () => void;
  m.settled = new Promise((resolve) => (settle = resolve));
  try {
    await vfs.recovery.remountUnderWay(m)?.catch(() => {});
    if (refuse) {
      while (m.inflight.size > 0) await Promise.allSettled([...m.inflight]);
      refuse();
    }
    try {
      await vfs.client.unmount(m.fs, m.fsid);
    } catch (err) {
      if (!(err instanceof SysError && err.errno === 'ENODEV')) throw err;
      // Its file system restarted: mounted again (so that the replay log goes back) to unmount.
      await vfs.recovery.remount(m);
      await vfs.client.unmount(m.fs, m.fsid);
    }
    vfs.mounts.remove(m);
    vfs.fs.forget(m);
    await vfs.keeper.unmounted(m.target);
    for (const q of vfs.procs.all()) if (q.cwd?.mnt === m) q.cwd = null;
  } finally {
    if (m.state === 'unmounting') m.state = 'mounted';
    m.settled = null;
    settle();
  }
}

export function mountCalls(vfs: Vfs): VfsHandlers<'mount' | 'unmount' | 'mounts' | 'statfs' | 'sync' | 'unmountAll'> {
  const { mounts, procs, recovery } = vfs;
  return {
    async mount({ pid, target, fstype, source, readonly, key, partition }) {
      const resolved = await mountFs(vfs, procs.get(pid), { target, fstype, source, readonly, key, partition });
      await vfs.keeper.mounted({ target: resolved, fstype, source, readonly, key, partition });
    },
    async unmount(a) {
      const pr = procs.get(a.pid);
      const what = `unmount ${a.target}`;
      if (pr.uid !== 0) throw new SysError('EPERM', `${what}: only root may unmount`);
      const f = await find(vfs, pr, a.target);
      const m = f.node!.mnt;
      if (!isMountRoot(f.node!)) throw new SysError('EINVAL', `${what}: not a mount point`);
      await unmountMount(vfs, m, () => {
        const busy =
          mounts.childrenOf(m).length > 0 ||
          [...procs.all()].some((q) => q.cwd?.mnt === m || q.fds.some((file) => file?.node?.mnt === m));
        if (busy) throw new SysError('EBUSY', `${what}: in use`);
      });
    },
    mounts(a): MountInfo[] {
      procs.get(a.pid);
      return mounts.all().map((m) => ({ target: m.target, fstype: m.fs, source: m.source, ...(m.partition !== undefined ? { partition: m.partition } : {}), readonly: m.readonly, dev: m.id }));
    },
    async statfs(a) {
      const f = await find(vfs, procs.get(a.pid), a.path);
      const s = await vfs.fs.statfs(f.node!.mnt);
      return { ...s, readonly: s.readonly || f.node!.mnt.readonly };
    },
    async sync(a) {
      procs.get(a.pid);
      const lost: string[] = [];
      for (const m of [...mounts.all()]) {
        if (m.state !== 'mounted') continue; // an unmount under way commits it
        await recovery.syncMount(m);
        if (m.lost) lost.push(m.target);
        m.unsynced = m.lost = false;
      }
      if (lost.length) throw new SysError('EIO', `sync: changes to ${lost.join(', ')} made before their file system restarted were lost`);
    },
    async unmountAll() {
      recovery.halting = true;
      vfs.pipes.halt();
      for (const m of [...mounts.all()].reverse()) {
        await recovery.enter(m, 'unmount').catch(() => {}); // an unmount under way ends first
        if (m.state === 'gone') continue;
        await unmountMount(vfs, m).catch((err) => {
          vfs.ctx.hyp.log('warn', `unmount ${m.target}: ${(err as Error).message}`);
          mounts.remove(m);
        });
      }
    },
  };
}
