// The mount table: which file-system instance is mounted where, and which directory each one
// covers, so a path walk can cross into it. A mount lives through three states, one way only:
// mounted → unmounting → gone (an unmount that is refused goes back to mounted). Only a mounted
// mount is ever mounted again after its file system restarts.

import { SysError, type Attr, type Handle, type Stat } from '../../kernel/api.js';
import type { MountArgs } from './fs-requests.js';
import type { ReplayLog } from './replay.js';

/**
 * mounted: in service. unmounting: an unmount is under way; nothing mounts it again, new ops
 * wait for the outcome. gone: out of the table; its file system has let go of its device.
 */
export type MountState = 'mounted' | 'unmounting' | 'gone';

export interface Mount {
  /** Mount number, from 1 in mount order: what stat reports as dev. */
  id: number;
  /** The file-system component serving it. */
  fs: string;
  fsid: number;
  root: Handle;
  /** The directory it is mounted on, in the parent mount; null for the root mount. */
  covered: Vnode | null;
  target: string;
  source: string;
  /** The partition of the disk image `source` it is, if one was named. */
  partition?: number;
  readonly: boolean;
  /** Why the file system made it read-only when asked read-write (FsMountResult.readonlyWhy). */
  readonlyWhy?: string;
  /** What the file system's mount op was given: to mount it again after it restarts. */
  args: MountArgs;
  /** For a file system that keeps its data on a device: what it was sent since its last sync. */
  log: ReplayLog | null;
  /** Changed since its last sync. */
  unsynced: boolean;
  /** Its file system restarted while it was unsynced: the next sync must report EIO. */
  lost: boolean;
  state: MountState;
  /** Ops sent to its file system and not answered yet: an unmount lets them finish first. */
  inflight: Set<Promise<unknown>>;
  /** While unmounting: resolves when the unmount has succeeded or been refused. */
  settled: Promise<void> | null;
}

/** A file as vfs holds it: a mount and the handle its file system gave. */
export interface Vnode {
  mnt: Mount;
  h: Handle;
}

/** The mode of a mount point vfs makes again (one it lost with a file system, or vfs lost), before the umask. */
export const MOUNT_POINT_MODE = 0o755;

/** stat(2) of v, whose attributes are a: those, and the number of its mount as dev. */
export function statOf(v: Vnode, a: Attr): Stat {
  return { ...a, dev: v.mnt.id };
}

/** Whether v is the root of its mount. */
export function isMountRoot(v: Vnode): boolean {
  return v.h.ino === v.mnt.root.ino && v.h.gen === v.mnt.root.gen;
}

/** EBUSY when v is the root of a mount: it cannot be removed, renamed or mounted on. */
export function requireNotMountRoot(v: Vnode, what: string): void {
  if (isMountRoot(v)) throw new SysError('EBUSY', `${what}: a mount point`);
}

const key = (v: Vnode) => `${v.mnt.id}:${v.h.ino}`;

export class MountTable {
  private readonly list: Mount[] = [];
  private readonly byCovered = new Map<string, Mount>();
  private nextId = 1;

  get root(): Mount | undefined {
    return this.list[0];
  }

  all(): readonly Mount[] {
    return this.list;
  }

  /** The mount whose root covers v, if v is a mount point. */
  mountedOn(v: Vnode): Mount | undefined {
    return this.byCovered.get(key(v));
  }

  add(m: Omit<Mount, 'id' | 'unsynced' | 'lost' | 'state' | 'inflight' | 'settled'>): Mount {
    const mount: Mount = { ...m, id: this.nextId++, unsynced: false, lost: false, state: 'mounted', inflight: new Set(), settled: null };
    this.list.push(mount);
    if (mount.covered) this.byCovered.set(key(mount.covered), mount);
    return mount;
  }

  /** Takes m out of the table, for good: it is gone. */
  remove(m: Mount): void {
    m.state = 'gone';
    const at = this.list.indexOf(m);
    if (at >= 0) this.list.splice(at, 1);
    if (m.covered) this.byCovered.delete(key(m.covered));
  }

  /** m now covers another directory (its old one is gone with a restarted file system). */
  recover(m: Mount, covered: Vnode): void {
    if (m.covered) this.byCovered.delete(key(m.covered));
    m.covered = covered;
    this.byCovered.set(key(covered), m);
  }

  /** Mounts whose covered directory lies in m. */
  childrenOf(m: Mount): Mount[] {
    return this.list.filter((c) => c.covered?.mnt === m);
  }
}
