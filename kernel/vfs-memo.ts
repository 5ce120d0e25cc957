// TO BE REPLACED (issue 11, item 2): what vfs is told again when it restarts — the client
// processes alive and the mounts — which the core learns by watching vfs's syscalls. Once vfs
// saves that state itself through its context, delete this file and the lines of kernel.ts
// marked "vfs restart memo".

import type { MountInfo } from './api.js';
import type { MountSpec } from './boot-options.js';
import type { Credentials } from './proc.js';

/** What a restarted vfs is handed as `memo` (servers/vfs/index.ts reads it). */
export interface VfsMemo {
  procs: ({ pid: number } & Credentials)[];
  mounts: MountSpec[];
}

/** Calls an op of a component through the core (Kernel.call). */
type CoreCall = <T>(component: string, op: string, args: Record<string, unknown>) => Promise<T>;

export class VfsRestartMemo {
  /** The mounts made and not unmounted, with the targets vfs resolved them to. */
  private mounts: MountSpec[] = [];

  constructor(private readonly call: CoreCall) {}

  /** After the boot mounts, made by process `pid`: what they mounted, asked once at the end rather than after each. */
  async booted(mounts: readonly MountSpec[], pid: number): Promise<void> {
    const made = await this.call<MountInfo[]>('vfs', 'mounts', { pid });
    this.mounts = mounts.map((m, i) => ({ ...m, target: made[i].target }));
  }

  /** After client syscall `op` of process `pid` succeeded: a mount or an unmount changes the mounts. */
  async watch(op: string, args: Record<string, unknown>, pid: number): Promise<void> {
    if (op !== 'mount' && op !== 'unmount') return;
    const now = await this.call<MountInfo[]>('vfs', 'mounts', { pid });
    if (op === 'unmount') this.mounts = this.mounts.filter((m) => now.some((x) => x.target === m.target));
    else this.mounts.push({ ...(args as Omit<MountSpec, 'target'>), target: now[now.length - 1].target });
  }

  /** The memo for vfs's next incarnation, given the client processes alive. */
  memo(procs: ReadonlyMap<number, Readonly<Credentials>>): VfsMemo {
    return { procs: [...procs].map(([pid, cred]) => ({ pid, ...cred })), mounts: this.mounts };
  }
}
