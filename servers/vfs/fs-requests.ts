// The only place vfs calls a file system, as MINIX's vfs/request.c: mount and unmount by
// component (FsClient), and one typed wrapper per op on a mount's files (FsRequests), with the
// argument and result types of kernel/api.ts's FS_OPS. FsRequests runs over a Send: the
// syscalls' goes through recovery (recovery.ts), which mounts again a file system that
// restarted; recovery's own goes straight to the file system.

import type {
  Attr, AttrChanges, Context, DirPage, FsArgs, FsInstanceOp, FsMountResult, FsOps, Handle, ResultOf, StatFs, WalkResult,
  WalkStep, WriteResult,
} from '../../kernel/api.js';
import { SysError } from '../../kernel/api.js';
import type { Mount, Vnode } from './mounts.js';
import type { NameAt, NameCache } from './name-cache.js';

/** File-system components vfs can mount: exactly the ones it requires. */
export const FILESYSTEMS = ['tmpfs', 'dev', 'ext2'] as const;

/** What a file system's mount op is given. */
export type MountArgs = { source?: string; options: Record<string, unknown> };

/** The FS ops on a mounted instance: all but mount and unmount. */
export type FsOp = FsInstanceOp;

/** Sends op to m's file system with args and m's fsid; resolves to its answer. */
export type Send = <O extends FsOp>(m: Mount, op: O, args: FsArgs<O>) => Promise<ResultOf<FsOps[O]>>;

/** Mounting and unmounting file systems, and the plain Send: every ctx.call vfs makes to one. */
export class FsClient {
  constructor(private readonly ctx: Context) {}

  /** Mounts a new instance of file system `fs` (or finds the one args.options.instance names). */
  mount(fs: string, args: MountArgs): Promise<FsMountResult> {
    return this.ctx.call(fs, 'mount', args) as Promise<FsMountResult>; // fs is any of FILESYSTEMS: all serve FS_OPS
  }

  /** Syncs and forgets instance `fsid` of file system `fs`. */
  async unmount(fs: string, fsid: number): Promise<void> {
    await this.ctx.call(fs, 'unmount', { fsid });
  }

  /** Sends an op straight to m's file system: no recovery (recovery itself uses it). */
  readonly send: Send = (m, op, args) => this.ctx.call(m.fs, op, { fsid: m.fsid, ...args }) as Promise<ResultOf<FsOps[typeof op]>>;
}

/**
 * The FS ops on a mount's files, typed, each sent with the Send given. A Vnode names the mount
 * and the handle; a new file's mode and owner are given as the file system stores them. With a
 * name cache (the syscalls' requests have one, recovery's not), walk and getattr answer from it
 * what they can, and every op that changes names or attributes keeps it right (name-cache.ts).
 */
export class FsRequests {
  constructor(readonly send: Send, private readonly cache?: NameCache) {}

  /** v was read or written without vfs (the core's direct path), which may have changed its attributes: its cached ones go. */
  usedElsewhere(v: Vnode): void {
    this.cache?.changed(v.mnt, [v.h]);
  }

  /** Forgets what the cache holds of m's files (it was unmounted, or mounted again). */
  forget(m: Mount): void {
    this.cache?.dropMount(m);
  }

  statfs(m: Mount): Promise<StatFs> {
    return this.request(m, 'statfs', {});
  }

  /** Makes everything of m durable. */
  sync(m: Mount): Promise<void> {
    return this.request(m, 'sync', {});
  }

  /** Resolves `names` one after another from dir, as far as they go (see WalkResult). */
  async walk(dir: Vnode, names: string[]): Promise<WalkResult> {
    const c = this.cache;
    if (!c) return this.request(dir.mnt, 'walk', { dir: dir.h, names });
    const known = c.walk(dir, names);
    if (known?.rest.length === 0) return { start: known.start, steps: known.steps };
    // The file system walks on from where the cache stopped.
    const from: Vnode = known ? { mnt: dir.mnt, h: known.from } : dir;
    const rest = known?.rest ?? names;
    const mark = c.mark(dir.mnt);
    const r = await this.request(dir.mnt, 'walk', { dir: from.h, names: rest });
    c.walked(from, rest, r, mark);
    if (!known) return r;
    return { start: known.start, steps: [...known.steps, ...r.steps], ...(r.error ? { error: r.error } : {}) };
  }

  async getattr(v: Vnode): Promise<Attr> {
    const c = this.cache;
    const known = c?.attr(v);
    if (known) return known;
    const mark = c?.mark(v.mnt);
    const a = await this.request(v.mnt, 'getattr', { h: v.h });
    if (mark !== undefined) c!.gotAttr(v, a, mark);
    return a;
  }

  /** Changes what `changes` holds; a size truncates or extends. */
  async setattr(v: Vnode, changes: AttrChanges): Promise<Attr> {
    const mark = this.cache?.mark(v.mnt);
    const a = await this.change(v.mnt, this.request(v.mnt, 'setattr', { h: v.h, ...changes }), [v.h]);
    if (mark !== undefined) this.cache!.gotAttr(v, a, mark + 1); // its own change counted
    return a;
  }

  /** Creates a regular file in dir, or finds the existing one unless excl (then EEXIST). */
  create(dir: Vnode, name: string, mode: number, uid: number, gid: number, excl: boolean): Promise<WalkStep> {
    return this.make(dir, name, this.request(dir.mnt, 'create', { dir: dir.h, name, mode, uid, gid, excl }));
  }

  mkdir(dir: Vnode, name: string, mode: number, uid: number, gid: number): Promise<WalkStep> {
    return this.make(dir, name, this.request(dir.mnt, 'mkdir', { dir: dir.h, name, mode, uid, gid }));
  }

  symlink(dir: Vnode, name: string, target: string, uid: number, gid: number): Promise<WalkStep> {
    return this.make(dir, name, this.request(dir.mnt, 'symlink', { dir: dir.h, name, target, uid, gid }));
  }

  /** Makes a special file (type and permissions in mode; rdev for a device node) in dir. */
  mknod(dir: Vnode, name: string, mode: number, rdev: number, uid: number, gid: number): Promise<WalkStep> {
    return this.make(dir, name, this.request(dir.mnt, 'mknod', { dir: dir.h, name, mode, rdev, uid, gid }));
  }

  /** Adds the name `name` in dir for v (both on dir's mount); answers v's attributes. */
  async link(v: Vnode, dir: Vnode, name: string): Promise<Attr> {
    const mark = this.cache?.mark(dir.mnt);
    const a = await this.change(dir.mnt, this.request(dir.mnt, 'link', { h: v.h, dir: dir.h, name }), [v.h, dir.h], [[dir.h, name]]);
    if (mark !== undefined) this.cache!.gotAttr(v, a, mark + 1);
    return a;
  }

  unlink(dir: Vnode, name: string): Promise<void> {
    return this.remove(dir.mnt, this.request(dir.mnt, 'unlink', { dir: dir.h, name }), [dir.h], [[dir.h, name]]);
  }

  rmdir(dir: Vnode, name: string): Promise<void> {
    return this.remove(dir.mnt, this.request(dir.mnt, 'rmdir', { dir: dir.h, name }), [dir.h], [[dir.h, name]]);
  }

  /** Renames sname in sdir to dname in ddir (both on sdir's mount). */
  rename(sdir: Vnode, sname: string, ddir: Vnode, dname: string): Promise<void> {
    const req = this.request(sdir.mnt, 'rename', { sdir: sdir.h, sname, ddir: ddir.h, dname });
    return this.remove(sdir.mnt, req, [sdir.h, ddir.h], [[sdir.h, sname], [ddir.h, dname]]);
  }

  readlink(v: Vnode): Promise<string> {
    return this.request(v.mnt, 'readlink', { h: v.h });
  }

  /** Up to `count` entries of directory v from `cookie` (0: the first); '.' and '..' not listed. A readdir may move atime. */
  readdir(v: Vnode, cookie: number, count: number): Promise<DirPage> {
    return this.change(v.mnt, this.request(v.mnt, 'readdir', { h: v.h, cookie, count }), [v.h]);
  }

  /** Up to `length` bytes at `offset`; fewer at the end of the file. A read may move atime. */
  read(v: Vnode, offset: number, length: number): Promise<Uint8Array> {
    return this.change(v.mnt, this.request(v.mnt, 'read', { h: v.h, offset, length }), [v.h]);
  }

  write(v: Vnode, offset: number, data: Uint8Array): Promise<WriteResult> {
    return this.change(v.mnt, this.request(v.mnt, 'write', { h: v.h, offset, data }), [v.h]);
  }

  /** Writes at the end of the file, atomically with finding it. */
  append(v: Vnode, data: Uint8Array): Promise<WriteResult> {
    return this.change(v.mnt, this.request(v.mnt, 'append', { h: v.h, data }), [v.h]);
  }

  /** An open file description now refers to v (an unlinked file lives until its last close). */
  open(v: Vnode): Promise<void> {
    return this.request(v.mnt, 'open', { h: v.h });
  }

  /** The last close of a file with no name frees it. */
  close(v: Vnode): Promise<void> {
    return this.change(v.mnt, this.request(v.mnt, 'close', { h: v.h }), [v.h]);
  }

  /** Makes v durable; `everything` when that made every change of its mount durable. */
  fsync(v: Vnode): Promise<{ everything: boolean } | void> {
    return this.request(v.mnt, 'fsync', { h: v.h });
  }

  /**
   * A request that may change the attributes of `files` and the names `names` ([directory,
   * name]): once it is answered or failed, the cache drops them.
   */
  private async change<T>(m: Mount, req: Promise<T>, files: Handle[], names: NameAt[] = []): Promise<T> {
    try {
      return await req;
    } finally {
      this.cache?.changed(m, files, names);
    }
  }

  /** A request that makes `name` in dir: the new file is cached, unless another change came meanwhile. */
  private async make(dir: Vnode, name: string, req: Promise<WalkStep>): Promise<WalkStep> {
    const mark = this.cache?.mark(dir.mnt);
    const step = await this.change(dir.mnt, req, [dir.h], [[dir.h, name]]);
    if (mark !== undefined) this.cache!.made(dir, name, step, mark + 1);
    return step;
  }

  /**
   * A request that removes or replaces the names `removed` ([directory, name]) and changes the
   * attributes of `files`: the files those names held change too (their link count).
   */
  private async remove(m: Mount, req: Promise<void>, files: Handle[], removed: NameAt[]): Promise<void> {
    const before = this.cache?.held(m, removed);
    try {
      await req;
    } finally {
      this.cache?.changed(m, files, [], removed, before);
    }
  }

  private request<O extends FsOp>(m: Mount, op: O, args: FsArgs<O>): Promise<ResultOf<FsOps[O]>> {
    const sent = this.send(m, op, args);
    if (!this.cache) return sent;
    // A stale handle means the cache may hold what is gone: it forgets the mount.
    return sent.catch((err: unknown) => {
      if (err instanceof SysError && err.errno === 'ESTALE') this.cache!.dropMount(m);
      throw err;
    });
  }
}
