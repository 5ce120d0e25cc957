// The table of mounted instances every file system keeps, as MINIX's libfsdriver keeps it for
// each file server: a mount makes an instance and hands out its fsid, every later op names the
// instance by that fsid, an unmount takes it out. Fsids of different incarnations of a file
// system never meet (firstFsid), so a caller that holds one from before a restart gets ENODEV
// and mounts again, rather than reaching another instance that happens to have its number. An
// instance may also carry a name (the vfs names each mount by its mount point): mounting the
// same name again finds the same instance, as the vfs does after it restarted itself.

import { SysError } from '../ipc/errno.js';

/**
 * The first fsid a file system hands out in its incarnation `generation` (0 at boot). Ids of
 * different incarnations never meet, so the vfs, holding an id from before a restart, gets
 * ENODEV (and mounts again) rather than another mount that happens to have the same number.
 */
export function firstFsid(generation: number): number {
  return generation * 0x10000 + 1;
}

interface Entry<T> {
  instance: T;
  /** What the mount was named by (options.instance), if anything. */
  name?: string;
}

/** The mounted instances (of type T) of one incarnation of one file system, by fsid. */
export class FsInstances<T> {
  private readonly byFsid = new Map<number, Entry<T>>();
  private nextFsid: number;

  /**
   * @param fs the file system's name, as messages show it ('ext2')
   * @param generation this incarnation of the file system (0 at boot): its fsids start at
   *   firstFsid(generation)
   */
  constructor(private readonly fs: string, generation: number) {
    this.nextFsid = firstFsid(generation);
  }

  /** Adds a mounted instance under a new fsid, which it returns; `name` finds it again (named()). */
  add(instance: T, name?: string): number {
    const fsid = this.nextFsid++;
    this.byFsid.set(fsid, { instance, name });
    return fsid;
  }

  /**
   * The instance `fsid` names; ENODEV '<fs>: no mounted instance <fsid>' when there is none (it
   * was unmounted, or mounted by an earlier incarnation). A bound function: pass it as it is to
   * instanceOps().
   */
  readonly get = (fsid: number): T => this.entry(fsid).instance;

  /** The instance `fsid` names, or undefined when there is none. */
  find(fsid: number): T | undefined {
    return this.byFsid.get(fsid)?.instance;
  }

  /** The first instance (in mount order) mounted under `name` that `accept` accepts, with its fsid. */
  named(name: string, accept: (instance: T) => boolean = () => true): { fsid: number; instance: T } | undefined {
    for (const [fsid, e] of this.byFsid) if (e.name === name && accept(e.instance)) return { fsid, instance: e.instance };
    return undefined;
  }

  /** Takes the instance `fsid` names out of the table and returns it; ENODEV as get(). */
  remove(fsid: number): T {
    const { instance } = this.entry(fsid);
    this.byFsid.delete(fsid);
    return instance;
  }

  /** Every instance with its fsid, in mount order. Removing the current one while iterating is safe. */
  *entries(): IterableIterator<[number, T]> {
    for (const [fsid, e] of this.byFsid) yield [fsid, e.instance];
  }

  private entry(fsid: number): Entry<T> {
    const e = this.byFsid.get(fsid);
    if (!e) throw new SysError('ENODEV', `${this.fs}: no mounted instance ${fsid}`);
    return e;
  }
}
