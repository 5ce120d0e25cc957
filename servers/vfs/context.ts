// What one incarnation of vfs shares between its syscall families: the component's context,
// the mount and process tables, and the requests to file systems (through recovery).

import type { Context } from '../../kernel/api.js';
import { FsClient, FsRequests } from './fs-requests.js';
import { MountTable } from './mounts.js';
import { NameCache } from './name-cache.js';
import { PipeTable } from './pipes.js';
import type { NameiEnv } from './namei.js';
import { ProcTable } from './procs.js';
import { FsRecovery } from './recovery.js';
import { VfsKeeper } from './restart.js';
import { SetidWatch } from './setid.js';

export interface Vfs extends NameiEnv {
  readonly ctx: Context;
  readonly mounts: MountTable;
  readonly procs: ProcTable;
  /** The file systems' ops as the syscalls send them: through recovery, and the name cache. */
  readonly fs: FsRequests;
  /** Mounting and unmounting file systems. */
  readonly client: FsClient;
  readonly recovery: FsRecovery;
  /** What vfs keeps for its own restart: processes and mounts. */
  readonly keeper: VfsKeeper;
  /** Which open files may have set-id bits for a write to take away. */
  readonly setid: SetidWatch;
  /** The pipes and open FIFOs (never kept: they end with this incarnation). */
  readonly pipes: PipeTable;
}

/** A vfs with no processes and nothing mounted. */
export function emptyVfs(ctx: Context): Vfs {
  const mounts = new MountTable();
  const procs = new ProcTable();
  const client = new FsClient(ctx);
  const cache = new NameCache((component) => ctx.restarts(component), (v) => mounts.mountedOn(v) !== undefined);
  const recovery = new FsRecovery(ctx, client, mounts, procs, (m) => cache.dropMount(m));
  const fs = new FsRequests(recovery.send, cache);
  return {
    ctx, mounts, procs, client, recovery, fs, keeper: new VfsKeeper(ctx.keep), setid: new SetidWatch(fs),
    pipes: new PipeTable((ms) => ctx.hyp.sleep(ms)),
  };
}

/** The argument every syscall but unmountAll has: the client process it comes from. */
export interface FromProc {
  pid: number;
}
