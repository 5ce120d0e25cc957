// vfs's own restart: the core hands the new incarnation the client processes and the mounts
// (the memo) and it makes them again. The file systems' instances outlived the old vfs, and
// each mount names its instance by its mount point, so mounting the same again finds the same
// one with all its content.

import type { Vfs } from './context.js';
import { MOUNT_POINT_MODE } from './mounts.js';
import { findOrMissing } from './namei.js';
import { DEFAULT_UMASK, type ProcEntry } from './procs.js';
import { mountFs, type MountRequest } from './sys-mounts.js';

/** What the core keeps for vfs across a restart. */
export interface VfsMemo {
  procs: { pid: number; uid: number; gid: number }[];
  mounts: MountRequest[];
}

/** Makes the processes and mounts of `memo` again in a vfs that has none. */
export async function remake(vfs: Vfs, memo: VfsMemo): Promise<void> {
  for (const q of memo.procs) vfs.procs.spawn(q.pid, q.uid, q.gid);
  const root: ProcEntry = { pid: 0, uid: 0, gid: 0, umask: DEFAULT_UMASK, cwd: null, cwdPath: [], fds: [] };
  for (const m of memo.mounts) {
    if (vfs.mounts.root) await mkdirs(vfs, root, m.target); // a file system that restarted empty lost it
    await mountFs(vfs, root, m);
  }
}

/** Makes a directory and its missing parents. */
async function mkdirs(vfs: Vfs, pr: ProcEntry, path: string): Promise<void> {
  let prefix = '';
  for (const name of path.split('/').filter(Boolean)) {
    prefix += `/${name}`;
    const f = await findOrMissing(vfs, pr, prefix, true);
    if (f.node) continue;
    await vfs.fs.mkdir(f.parent!, f.name!, MOUNT_POINT_MODE & ~pr.umask, pr.uid, pr.gid);
  }
}
