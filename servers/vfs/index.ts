// vfs: the namespace and the syscalls. It owns the mount table, each client process's fd
// table, offsets and cwd, and does the permission checks; file systems below it serve
// stateless ops on handles, so one can restart under open files.

import {
  O_ACCMODE, O_APPEND, O_CREAT, O_DIRECTORY, O_EXCL, O_NOFOLLOW, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY,
  MAX_IO, S_IFLNK, S_IFMT, S_IFREG, SysError, defineComponent, handOver,
  type Attr, type Context, type DirEntry, type Handle, type MountInfo, type Stat, type StatFs, type WalkResult, type WalkStep,
} from '../../kernel/api.js';
import { entryNameFault, quoteName } from '../../kernel/api.js';
import { MountTable, type Mount, type Vnode } from './mounts.js';
import { PATH_MAX, checkPath, isDir, lookup, pathBytes, type Found, type NameiEnv } from './namei.js';
import { ProcTable, permits, type OpenFile, type ProcEntry } from './procs.js';
import { CHANGING_OPS, REPLAY_LIMIT, ReplayLog } from './replay.js';

/** File-system components vfs can mount: exactly the ones it requires. */
const FILESYSTEMS = ['tmpfs', 'dev', 'ext2'] as const;
const READDIR_BATCH = 1024;

/** The syscalls that walk a path: a stale handle sends them back to walk again. */
const WALKING_OPS = new Set([
  'open', 'stat', 'lstat', 'mkdir', 'rmdir', 'readdir', 'unlink', 'rename', 'link', 'symlink', 'readlink',
  'truncate', 'chmod', 'chown', 'utimes', 'statfs', 'chdir', 'mount', 'unmount',
]);

/**
 * EINVAL for a NUL in any text argument of a syscall — a path (both of rename's and link's), a
 * symlink's target, a mount's source or type: a POSIX name is a byte string NUL cannot be part of.
 * Checked here, where paths enter, so every file system below sees the same.
 */
function refuseNul(op: string, args: Record<string, unknown>): void {
  for (const [key, v] of Object.entries(args)) {
    if (typeof v === 'string' && v.includes('\0')) throw new SysError('EINVAL', `${op}: argument '${key}' holds a NUL byte`);
  }
}

const p = (extra: Record<string, string> = {}) => ({ pid: 'uint', ...extra }) as const;

const ops = {
  spawn: { args: { pid: 'uint', uid: 'uint', gid: 'uint' }, idempotent: false },
  exit: { args: p(), idempotent: false },
  getpid: { args: p(), idempotent: true },
  umask: { args: p({ mask: 'uint' }), idempotent: false },
  open: { args: p({ path: 'string', flags: 'uint', mode: 'uint' }), idempotent: false },
  close: { args: p({ fd: 'uint' }), idempotent: false },
  read: { args: p({ fd: 'uint', length: 'uint' }), idempotent: false },
  write: { args: p({ fd: 'uint', data: 'bytes' }), idempotent: false },
  pread: { args: p({ fd: 'uint', length: 'uint', offset: 'uint' }), idempotent: true },
  pwrite: { args: p({ fd: 'uint', data: 'bytes', offset: 'uint' }), idempotent: true },
  lseek: { args: p({ fd: 'uint', offset: 'int', whence: 'uint' }), idempotent: false },
  stat: { args: p({ path: 'string' }), idempotent: true },
  lstat: { args: p({ path: 'string' }), idempotent: true },
  fstat: { args: p({ fd: 'uint' }), idempotent: true },
  mkdir: { args: p({ path: 'string', mode: 'uint' }), idempotent: false },
  rmdir: { args: p({ path: 'string' }), idempotent: false },
  readdir: { args: p({ path: 'string' }), idempotent: true },
  unlink: { args: p({ path: 'string' }), idempotent: false },
  rename: { args: p({ from: 'string', to: 'string' }), idempotent: false },
  link: { args: p({ existing: 'string', path: 'string' }), idempotent: false },
  symlink: { args: p({ target: 'string', path: 'string' }), idempotent: false },
  readlink: { args: p({ path: 'string' }), idempotent: true },
  truncate: { args: p({ path: 'string', length: 'uint' }), idempotent: true },
  ftruncate: { args: p({ fd: 'uint', length: 'uint' }), idempotent: true },
  fsync: { args: p({ fd: 'uint' }), idempotent: true },
  sync: { args: p(), idempotent: true },
  chmod: { args: p({ path: 'string', mode: 'uint' }), idempotent: true },
  chown: { args: p({ path: 'string', uid: 'uint', gid: 'uint' }), idempotent: true },
  /** Sets times; with nofollow, of a final symlink itself (lutimes). */
  utimes: { args: p({ path: 'string', atime: 'number', mtime: 'number', nofollow: 'boolean?' }), idempotent: true },
  statfs: { args: p({ path: 'string' }), idempotent: true },
  chdir: { args: p({ path: 'string' }), idempotent: true },
  getcwd: { args: p(), idempotent: true },
  mount: { args: p({ target: 'string', fstype: 'string', source: 'string?', readonly: 'boolean?' }), idempotent: false },
  unmount: { args: p({ target: 'string' }), idempotent: false },
  mounts: { args: p(), idempotent: true },
  /** The core's last call at halt: unmount (and so sync) everything, innermost first. */
  unmountAll: { args: {}, idempotent: true },
} as const;

/** A file system's answer to mount. */
interface MountResult {
  fsid: number;
  root: Handle;
  readonly: boolean;
  /** Options to add when mounting the same again, after the file system restarted. */
  remount?: Record<string, unknown>;
  /** It keeps its data on a device: the vfs keeps a replay log of the changes since the last sync. */
  persistent?: boolean;
}

interface MountRequest {
  target: string;
  fstype: string;
  source?: string;
  readonly?: boolean;
}

/** What the core keeps for vfs across a restart. */
export interface VfsMemo {
  procs: { pid: number; uid: number; gid: number }[];
  mounts: MountRequest[];
}

/**
 * For open with O_CREAT: when the path's last name (not '.' or '..') is followed by '/', the
 * directory that name would be in, ending in '/'; null for any other path. Such an open is
 * EISDIR once that directory is found and searchable, whatever the name (as on Linux).
 */
function dirOfSlashedName(path: string): string | null {
  if (!path.endsWith('/')) return null;
  const stripped = path.replace(/\/+$/, '');
  const at = stripped.lastIndexOf('/');
  const last = stripped.slice(at + 1);
  if (last === '' || last === '.' || last === '..') return null;
  return at < 0 ? './' : stripped.slice(0, at + 1);
}

function stat(v: Vnode, a: Attr): Stat {
  return { ...a, dev: v.mnt.id };
}

export default defineComponent({
  name: 'vfs',
  description: 'namespace, mounts, path walk, fd tables: the syscalls',
  requires: FILESYSTEMS,
  ops,
  essential: true, // it serves every syscall: without it there is no kernel to speak of
  init: {
    fresh: (ctx) => serve(ctx, undefined),
    restart: (ctx, { memo }) => serve(ctx, memo as VfsMemo | undefined),
  },
});

/**
 * The handlers of an incarnation of vfs: a fresh one has no processes and no mounts; a
 * reincarnation is given the ones the core kept (`memo`) and makes them again.
 */
async function serve(ctx: Context, memo: VfsMemo | undefined) {
  const mounts = new MountTable();
  const procs = new ProcTable();
  /**
   * An op of a mount's file system. A file system that answers ENODEV no longer knows the
   * mount: it restarted. A mount still mounted is made again — same instance for a file system
   * that keeps its data on a device, an empty one for tmpfs — and the op is tried once more.
   * An op on a mount being unmounted waits for the outcome; on one that is gone it fails with
   * ESTALE (a path-based syscall then walks its path again, see the end of start()).
   */
  const fs = async <T>(v: Vnode | Mount, op: string, args: Record<string, unknown> = {}): Promise<T> => {
    const mnt = 'mnt' in v ? v.mnt : v;
    if (halting) throw new SysError('EIO', `${op}: the kernel is halting`);
    if (mnt.state !== 'mounted') await enter(mnt, op); // the common case takes no extra turn
    let result: T;
    try {
      result = await send<T>(mnt, op, args);
    } catch (err) {
      if (!(err instanceof SysError && err.errno === 'ENODEV')) throw err;
      await enter(mnt, op); // an unmount under way decides first: gone, or still mounted
      await remount(mnt);
      await enter(mnt, op);
      if (mnt.log) args = mnt.log.mapArgs(args); // a file made again has a new handle
      result = await send<T>(mnt, op, args);
    }
    if (CHANGING_OPS.has(op)) {
      mnt.unsynced = true;
      mnt.log?.record(op, args, result);
      // An unmount under way commits everything anyway.
      if (mnt.log && mnt.log.bytes > REPLAY_LIMIT && mnt.state === 'mounted') await syncMount(mnt);
    }
    return result;
  };
  /** unmountAll() began: no op reaches a file system any more, none is retried. */
  let halting = false;
  /** Waits while m is being unmounted; ESTALE if it is gone. */
  const enter = async (m: Mount, op: string): Promise<void> => {
    while (m.settled) await m.settled;
    if (m.state === 'gone') throw new SysError('ESTALE', `${op}: ${m.target} was unmounted while the call was under way`);
  };
  /** Sends an op to m's file system, counted in m.inflight until it is answered. */
  const send = <T>(m: Mount, op: string, args: Record<string, unknown>): Promise<T> => {
    const sent = ctx.call<T>(m.fs, op, { fsid: m.fsid, ...args });
    m.inflight.add(sent);
    const done = () => m.inflight.delete(sent);
    sent.then(done, done);
    return sent;
  };
  /** Makes a mount durable; its replay log is then empty. */
  const syncMount = async (m: Mount): Promise<void> => {
    await fs(m, 'sync');
    m.log?.clear();
  };
  const remounting = new Map<Mount, Promise<void>>();
  const remount = (m: Mount): Promise<void> => {
    let p = remounting.get(m);
    if (!p) {
      p = mountAgain(m).finally(() => remounting.delete(m));
      remounting.set(m, p);
    }
    return p;
  };
  const mountAgain = async (m: Mount): Promise<void> => {
    const r = await ctx.call<MountResult>(m.fs, 'mount', m.args);
    const fresh = r.root.ino !== m.root.ino || r.root.gen !== m.root.gen;
    m.fsid = r.fsid;
    m.root = r.root;
    ctx.hyp.log('warn', `${m.target}: ${m.fs} restarted; mounted again${fresh ? ' (its content was lost)' : ''}`);
    const files = new Set<OpenFile>();
    for (const q of procs.all()) {
      for (const f of q.fds) if (f?.node.mnt === m) files.add(f);
      if (fresh && q.cwd?.mnt === m) q.cwd = null;
    }
    if (!(m.log && (await replay(m, files)))) {
      // What was written and not yet synced died with the old incarnation: the next fsync of
      // those files, and the next sync, must say so rather than succeed on the new one.
      if (m.unsynced) m.lost = true;
      for (const f of files) if (f.unsynced) f.lost = true;
    }
    for (const f of files) await ctx.call(m.fs, 'open', { fsid: m.fsid, h: f.node.h }).catch(() => {});
    if (fresh) for (const child of mounts.childrenOf(m)) await coverAgain(m, child);
  };
  /** Sends a restarted file system what its predecessor took with it; true when all went back. */
  const replay = async (m: Mount, files: Set<OpenFile>): Promise<boolean> => {
    const log = m.log!;
    if (log.empty) return true;
    try {
      await log.replay((op, args) => ctx.call(m.fs, op, { fsid: m.fsid, ...args }));
    } catch (err) {
      ctx.hyp.log('warn', `${m.target}: replaying the changes since its last sync failed: ${(err as Error).message}`);
      log.clear();
      return false;
    }
    for (const f of files) f.node = { mnt: m, h: log.map(f.node.h) };
    for (const q of procs.all()) if (q.cwd?.mnt === m) q.cwd = { mnt: m, h: log.map(q.cwd.h) };
    for (const child of mounts.childrenOf(m)) mounts.recover(child, { mnt: m, h: log.map(child.covered!.h) });
    return true;
  };
  /** Makes a child mount's directory again in a file system that came back empty. */
  const coverAgain = async (m: Mount, child: Mount) => {
    const names = child.target.slice(m.target.length).split('/').filter(Boolean);
    let h = m.root;
    for (const name of names) {
      const w = await ctx.call<WalkResult>(m.fs, 'walk', { fsid: m.fsid, dir: h, names: [name] });
      h = w.steps.length
        ? w.steps[0].handle
        : (await ctx.call<WalkStep>(m.fs, 'mkdir', { fsid: m.fsid, dir: h, name, mode: 0o755, uid: 0, gid: 0 })).handle;
    }
    mounts.recover(child, { mnt: m, h });
  };
  /**
   * Unmounts m: mounted → unmounting → gone. While it is unmounting nothing mounts it again
   * (a remount already under way finishes first) and new ops wait. With `refuse`, the ops
   * already sent are answered first (one may have opened a file), then `refuse` may still
   * refuse (EBUSY), which leaves m mounted; without (at halt), nothing waits for them: the file
   * system serves them before the unmount anyway. Resolves once the file system has committed
   * and let go of its device; if that fails, m stays.
   */
  const unmountMount = async (m: Mount, refuse?: () => void): Promise<void> => {
    if (m.state !== 'mounted') throw new SysError('EBUSY', `unmount ${m.target}: already being unmounted`);
    m.state = 'unmounting';
    let settle!: () => void;
    m.settled = new Promise((resolve) => (settle = resolve));
    try {
      await remounting.get(m)?.catch(() => {});
      if (refuse) {
        while (m.inflight.size > 0) await Promise.allSettled([...m.inflight]);
        refuse();
      }
      try {
        await ctx.call(m.fs, 'unmount', { fsid: m.fsid });
      } catch (err) {
        if (!(err instanceof SysError && err.errno === 'ENODEV')) throw err;
        // Its file system restarted: mounted again (so that the replay log goes back) to unmount.
        await remount(m);
        await ctx.call(m.fs, 'unmount', { fsid: m.fsid });
      }
      mounts.remove(m);
      for (const q of procs.all()) if (q.cwd?.mnt === m) q.cwd = null;
    } finally {
      if (m.state === 'unmounting') m.state = 'mounted';
      m.settled = null;
      settle();
    }
  };
  const env: NameiEnv = { mounts, fs: (v, op, args) => fs(v, op, args) };
  const find = (proc: ProcEntry, path: string, follow = true) => lookup(env, proc, path, { follow });
  const findOrMissing = (proc: ProcEntry, path: string, follow = false) => lookup(env, proc, path, { follow, allowMissing: true });

  const deny = (proc: ProcEntry, a: Attr, want: number, what: string) => {
    if (!permits(proc, a, want)) throw new SysError('EACCES', `${what}: permission denied`);
  };
  const writableMount = (v: Vnode, what: string) => {
    if (v.mnt.readonly) throw new SysError('EROFS', `${what}: read-only file system`);
  };
  const owner = (proc: ProcEntry, a: Attr, what: string) => {
    if (proc.uid !== 0 && proc.uid !== a.uid) throw new SysError('EPERM', `${what}: not the owner`);
  };
  /** The directory a new or removed name lives in must be writable and searchable. */
  const changeDir = (proc: ProcEntry, f: Found, what: string) => {
    deny(proc, f.parentAttr!, 3, what);
    writableMount(f.parent!, what);
  };
  /** In a sticky directory only the owner of the entry or of the directory may remove it. */
  const sticky = (proc: ProcEntry, f: Found, what: string) => {
    if (proc.uid !== 0 && f.parentAttr!.mode & 0o1000 && proc.uid !== f.parentAttr!.uid && proc.uid !== f.attr!.uid) {
      throw new SysError('EPERM', `${what}: sticky directory`);
    }
  };
  const notMountRoot = (v: Vnode, what: string) => {
    if (mounts.isMountRoot(v)) throw new SysError('EBUSY', `${what}: a mount point`);
  };

  const release = async (file: OpenFile) => {
    if (--file.refs === 0) await fs(file.node, 'close', { h: file.node.h });
  };
  /** Runs offset-using calls on one open file description one at a time. */
  const serial = <T>(file: OpenFile, fn: () => Promise<T>): Promise<T> => {
    const run = file.queue.then(fn, fn);
    file.queue = run.catch(() => {});
    return run;
  };
  const readable = (file: OpenFile, fd: number) => {
    if ((file.flags & O_ACCMODE) === O_WRONLY) throw new SysError('EBADF', `fd ${fd} is not open for reading`);
    if (file.isDir) throw new SysError('EISDIR', `fd ${fd} is a directory`);
  };
  const writable = (file: OpenFile, fd: number) => {
    if ((file.flags & O_ACCMODE) === O_RDONLY) throw new SysError('EBADF', `fd ${fd} is not open for writing`);
  };

  type P = { pid: number };
  const proc = (a: P) => procs.get(a.pid);

  const mount = async (pr: ProcEntry, a: MountRequest): Promise<void> => {
    const what = `mount ${a.target}`;
    if (pr.uid !== 0) throw new SysError('EPERM', `${what}: only root may mount`);
    if (!(FILESYSTEMS as readonly string[]).includes(a.fstype)) {
      throw new SysError('ENODEV', `${what}: unknown file-system type '${a.fstype}' (known: ${FILESYSTEMS.join(', ')})`);
    }
    let covered: Vnode | null = null;
    let target = '/';
    if (mounts.root) {
      const f = await find(pr, a.target);
      if (!isDir(f.attr)) throw new SysError('ENOTDIR', `${what}: not a directory`);
      notMountRoot(f.node!, what);
      covered = f.node;
      target = '/' + f.path.join('/');
    } else if (a.target !== '/') {
      throw new SysError('ENOENT', `${what}: nothing is mounted at / yet`);
    }
    // The target names the instance, so mounting again after a restart finds the same one.
    const args = { source: a.source, options: { instance: target, ...(a.readonly ? { readonly: true } : {}) } };
    const r = await ctx.call<MountResult>(a.fstype, 'mount', args);
    if (covered) {
      // The mount it goes on was unmounted meanwhile: undone (the caller walks its path again).
      await enter(covered.mnt, what).catch(async (err) => {
        await ctx.call(a.fstype, 'unmount', { fsid: r.fsid }).catch(() => {});
        throw err;
      });
    }
    Object.assign(args.options, r.remount); // what the file system wants to be told if it must mount this again
    mounts.add({
      fs: a.fstype, fsid: r.fsid, root: r.root, covered, target,
      source: a.source ?? a.fstype, readonly: r.readonly || a.readonly === true, args,
      log: r.persistent && !r.readonly ? new ReplayLog() : null,
    });
  };

  /** Makes a directory and its missing parents. */
  const mkdirs = async (pr: ProcEntry, path: string): Promise<void> => {
    let prefix = '';
    for (const name of path.split('/').filter(Boolean)) {
      prefix += `/${name}`;
      const f = await findOrMissing(pr, prefix, true);
      if (f.node) continue;
      await fs(f.parent!, 'mkdir', { dir: f.parent!.h, name: f.name, mode: 0o755 & ~pr.umask, uid: pr.uid, gid: pr.gid });
    }
  };

  // A reincarnation: the core kept the client processes and the mounts; make them again.
  // The file systems' instances outlived the old vfs, so their content is all still there.
  if (memo) {
    for (const q of memo.procs) procs.spawn(q.pid, q.uid, q.gid);
    const root: ProcEntry = { pid: 0, uid: 0, gid: 0, umask: 0o022, cwd: null, cwdPath: [], fds: [] };
    for (const m of memo.mounts) {
      if (mounts.root) await mkdirs(root, m.target); // a file system that restarted empty lost it
      await mount(root, m);
    }
  }

  const handlers = {
    spawn({ pid, uid, gid }: { pid: number; uid: number; gid: number }) {
      procs.spawn(pid, uid, gid);
    },
    async exit(a: P) {
      const pr = proc(a);
      procs.remove(a.pid);
      for (const f of pr.fds) if (f) await release(f).catch(() => {});
    },
    getpid: (a: P) => proc(a).pid,
    umask(a: P & { mask: number }) {
      const pr = proc(a);
      const old = pr.umask;
      pr.umask = a.mask & 0o777;
      return old;
    },

    async open(a: P & { path: string; flags: number; mode: number }) {
      const pr = proc(a);
      const { flags } = a;
      const acc = flags & O_ACCMODE;
      if (acc === O_ACCMODE) throw new SysError('EINVAL', `open ${a.path}: flags ask for no access mode`);
      const create = (flags & O_CREAT) !== 0;
      // As Linux (since 6.4): O_CREAT makes a regular file, O_DIRECTORY wants a directory.
      if (create && flags & O_DIRECTORY) throw new SysError('EINVAL', `open ${a.path}: O_CREAT and O_DIRECTORY together`);
      const excl = create && (flags & O_EXCL) !== 0;
      const slashedIn = create ? dirOfSlashedName(a.path) : null;
      if (slashedIn !== null) {
        checkPath(a.path);
        deny(pr, (await find(pr, slashedIn)).attr!, 1, `open ${a.path}`);
        throw new SysError('EISDIR', `open ${a.path}: O_CREAT of a name followed by '/'`);
      }
      const f = await lookup(env, pr, a.path, { follow: !(flags & O_NOFOLLOW) && !excl, allowMissing: create });
      let node: Vnode;
      let attr: Attr;
      if (f.node) {
        node = f.node;
        attr = f.attr!;
        if (excl) throw new SysError('EEXIST', `open ${a.path}: exists`);
        if ((attr.mode & S_IFMT) === S_IFLNK) throw new SysError('ELOOP', `open ${a.path}: a symbolic link (O_NOFOLLOW)`);
        if (flags & O_DIRECTORY && !isDir(attr)) throw new SysError('ENOTDIR', `open ${a.path}: not a directory`);
        // A directory is opened only to read it: not for writing, truncating or O_CREAT.
        if (isDir(attr) && (acc !== O_RDONLY || flags & (O_TRUNC | O_CREAT))) throw new SysError('EISDIR', `open ${a.path}: is a directory`);
        if (acc !== O_WRONLY) deny(pr, attr, 4, `open ${a.path}`);
        if (acc !== O_RDONLY) {
          deny(pr, attr, 2, `open ${a.path}`);
          if ((attr.mode & S_IFMT) === S_IFREG) writableMount(node, `open ${a.path}`);
        }
        if (flags & O_TRUNC && acc !== O_RDONLY && (attr.mode & S_IFMT) === S_IFREG && attr.size > 0) {
          attr = await fs<Attr>(node, 'setattr', { h: node.h, size: 0 });
        }
      } else {
        if (f.mustBeDir) throw new SysError('EISDIR', `open ${a.path}: cannot create a directory with open`);
        changeDir(pr, f, `open ${a.path}`);
        const step = await fs<WalkStep>(f.parent!, 'create', {
          dir: f.parent!.h, name: f.name, mode: a.mode & 0o7777 & ~pr.umask, uid: pr.uid, gid: pr.gid, excl,
        });
        node = { mnt: f.parent!.mnt, h: step.handle };
        attr = step.attr;
      }
      await fs(node, 'open', { h: node.h });
      const file: OpenFile = { node, flags, offset: 0, refs: 1, isDir: isDir(attr), queue: Promise.resolve(), unsynced: false, lost: false };
      try {
        return procs.install(pr, file);
      } catch (err) {
        await release(file);
        throw err;
      }
    },
    async close(a: P & { fd: number }) {
      const pr = proc(a);
      const file = procs.file(pr, a.fd);
      pr.fds[a.fd] = undefined;
      await release(file);
    },
    read(a: P & { fd: number; length: number }) {
      const file = procs.file(proc(a), a.fd);
      readable(file, a.fd);
      return serial(file, async () => {
        const data = await fs<Uint8Array>(file.node, 'read', { h: file.node.h, offset: file.offset, length: Math.min(a.length, MAX_IO) });
        file.offset += data.length;
        return handOver(data);
      });
    },
    write(a: P & { fd: number; data: Uint8Array }) {
      const file = procs.file(proc(a), a.fd);
      writable(file, a.fd);
      return serial(file, async () => {
        if (a.data.length === 0) return 0;
        const r = file.flags & O_APPEND
          ? await fs<{ written: number; end: number }>(file.node, 'append', { h: file.node.h, data: a.data })
          : await fs<{ written: number; end: number }>(file.node, 'write', { h: file.node.h, offset: file.offset, data: a.data });
        file.offset = r.end;
        file.unsynced = true;
        return r.written;
      });
    },
    async pread(a: P & { fd: number; length: number; offset: number }) {
      const file = procs.file(proc(a), a.fd);
      readable(file, a.fd);
      return handOver(await fs<Uint8Array>(file.node, 'read', { h: file.node.h, offset: a.offset, length: Math.min(a.length, MAX_IO) }));
    },
    async pwrite(a: P & { fd: number; data: Uint8Array; offset: number }) {
      const file = procs.file(proc(a), a.fd);
      writable(file, a.fd);
      if (a.data.length === 0) return 0;
      const r = await fs<{ written: number }>(file.node, 'write', { h: file.node.h, offset: a.offset, data: a.data });
      file.unsynced = true;
      return r.written;
    },
    lseek(a: P & { fd: number; offset: number; whence: number }) {
      const file = procs.file(proc(a), a.fd);
      return serial(file, async () => {
        let base: number;
        if (a.whence === 0) base = 0;
        else if (a.whence === 1) base = file.offset;
        else if (a.whence === 2) base = (await fs<Attr>(file.node, 'getattr', { h: file.node.h })).size;
        else throw new SysError('EINVAL', `lseek: whence ${a.whence} is not SEEK_SET, SEEK_CUR or SEEK_END`);
        const to = base + a.offset;
        if (to < 0 || !Number.isSafeInteger(to)) throw new SysError('EINVAL', `lseek: offset ${to} is out of range`);
        file.offset = to;
        return to;
      });
    },

    async stat(a: P & { path: string }) {
      const f = await find(proc(a), a.path);
      return stat(f.node!, f.attr!);
    },
    async lstat(a: P & { path: string }) {
      const f = await find(proc(a), a.path, false);
      return stat(f.node!, f.attr!);
    },
    async fstat(a: P & { fd: number }) {
      const file = procs.file(proc(a), a.fd);
      return stat(file.node, await fs<Attr>(file.node, 'getattr', { h: file.node.h }));
    },

    async mkdir(a: P & { path: string; mode: number }) {
      const pr = proc(a);
      const f = await findOrMissing(pr, a.path);
      if (f.node) throw new SysError('EEXIST', `mkdir ${a.path}: exists`);
      changeDir(pr, f, `mkdir ${a.path}`);
      await fs(f.parent!, 'mkdir', { dir: f.parent!.h, name: f.name, mode: a.mode & 0o7777 & ~pr.umask, uid: pr.uid, gid: pr.gid });
    },
    async rmdir(a: P & { path: string }) {
      const pr = proc(a);
      const f = await find(pr, a.path, false);
      if (f.endsWithDot) throw new SysError('EINVAL', `rmdir ${a.path}: cannot remove '.'`);
      if (f.name === '..') throw new SysError('ENOTEMPTY', `rmdir ${a.path}: '..' is not empty`);
      if (!f.parent) throw new SysError('EBUSY', `rmdir ${a.path}: the root or the current directory`);
      if (!isDir(f.attr)) throw new SysError('ENOTDIR', `rmdir ${a.path}: not a directory`);
      notMountRoot(f.node!, `rmdir ${a.path}`);
      changeDir(pr, f, `rmdir ${a.path}`);
      sticky(pr, f, `rmdir ${a.path}`);
      await fs(f.parent, 'rmdir', { dir: f.parent.h, name: f.name });
    },
    async readdir(a: P & { path: string }) {
      const pr = proc(a);
      const f = await find(pr, a.path);
      if (!isDir(f.attr)) throw new SysError('ENOTDIR', `readdir ${a.path}: not a directory`);
      deny(pr, f.attr!, 4, `readdir ${a.path}`);
      const all: DirEntry[] = [];
      for (let cookie = 0; ;) {
        const r = await fs<{ entries: DirEntry[]; cookie: number; eof: boolean }>(f.node!, 'readdir', { h: f.node!.h, cookie, count: READDIR_BATCH });
        for (const e of r.entries) {
          const fault = entryNameFault(e.name);
          if (fault) throw new SysError('EUCLEAN', `readdir ${a.path}: the file system lists an entry named ${quoteName(e.name)}, which ${fault}`);
        }
        all.push(...r.entries);
        if (r.eof || r.entries.length === 0) break;
        cookie = r.cookie;
      }
      return all;
    },
    async unlink(a: P & { path: string }) {
      const pr = proc(a);
      const f = await find(pr, a.path, false);
      if (!f.parent || isDir(f.attr)) throw new SysError('EISDIR', `unlink ${a.path}: is a directory`);
      changeDir(pr, f, `unlink ${a.path}`);
      sticky(pr, f, `unlink ${a.path}`);
      await fs(f.parent, 'unlink', { dir: f.parent.h, name: f.name });
    },
    async rename(a: P & { from: string; to: string }) {
      const pr = proc(a);
      const what = `rename ${a.from} to ${a.to}`;
      const src = await find(pr, a.from, false);
      const dst = await findOrMissing(pr, a.to);
      if (!src.parent || src.endsWithDot || src.name === '..' || !dst.parent || dst.endsWithDot || dst.name === '..') {
        throw new SysError(!src.parent || !dst.parent ? 'EBUSY' : 'EINVAL', `${what}: cannot rename '.', '..' or '/'`);
      }
      if (src.parent.mnt !== dst.parent.mnt) throw new SysError('EXDEV', `${what}: across mounts`);
      notMountRoot(src.node!, what);
      if (dst.node) notMountRoot(dst.node, what);
      if (dst.mustBeDir && !isDir(src.attr)) throw new SysError('ENOTDIR', `${what}: not a directory`);
      changeDir(pr, src, what);
      changeDir(pr, dst, what);
      sticky(pr, src, what);
      if (dst.node) sticky(pr, dst, what);
      await fs(src.parent, 'rename', { sdir: src.parent.h, sname: src.name, ddir: dst.parent.h, dname: dst.name });
    },
    async link(a: P & { existing: string; path: string }) {
      const pr = proc(a);
      const what = `link ${a.existing} to ${a.path}`;
      const src = await find(pr, a.existing, false);
      if (isDir(src.attr)) throw new SysError('EPERM', `${what}: a directory cannot have another name`);
      const dst = await findOrMissing(pr, a.path);
      if (dst.node) throw new SysError('EEXIST', `${what}: exists`);
      if (dst.mustBeDir) throw new SysError('ENOENT', `${what}: a trailing slash names a directory`);
      if (src.node!.mnt !== dst.parent!.mnt) throw new SysError('EXDEV', `${what}: across mounts`);
      changeDir(pr, dst, what);
      await fs(dst.parent!, 'link', { h: src.node!.h, dir: dst.parent!.h, name: dst.name });
    },
    async symlink(a: P & { target: string; path: string }) {
      const pr = proc(a);
      const what = `symlink ${a.path}`;
      if (a.target === '') throw new SysError('ENOENT', `${what}: empty target`);
      if (pathBytes(a.target) >= PATH_MAX) throw new SysError('ENAMETOOLONG', `${what}: a target of more than ${PATH_MAX - 1} bytes`);
      const f = await findOrMissing(pr, a.path);
      if (f.node) throw new SysError('EEXIST', `${what}: exists`);
      changeDir(pr, f, what);
      await fs(f.parent!, 'symlink', { dir: f.parent!.h, name: f.name, target: a.target, uid: pr.uid, gid: pr.gid });
    },
    async readlink(a: P & { path: string }) {
      const f = await find(proc(a), a.path, false);
      if ((f.attr!.mode & S_IFMT) !== S_IFLNK) throw new SysError('EINVAL', `readlink ${a.path}: not a symbolic link`);
      return fs<string>(f.node!, 'readlink', { h: f.node!.h });
    },
    async truncate(a: P & { path: string; length: number }) {
      const pr = proc(a);
      const f = await find(pr, a.path);
      if (isDir(f.attr)) throw new SysError('EISDIR', `truncate ${a.path}: is a directory`);
      deny(pr, f.attr!, 2, `truncate ${a.path}`);
      writableMount(f.node!, `truncate ${a.path}`);
      await fs(f.node!, 'setattr', { h: f.node!.h, size: a.length });
    },
    async ftruncate(a: P & { fd: number; length: number }) {
      const file = procs.file(proc(a), a.fd);
      if ((file.flags & O_ACCMODE) === O_RDONLY || file.isDir) throw new SysError('EINVAL', `ftruncate: fd ${a.fd} is not open for writing`);
      await fs(file.node, 'setattr', { h: file.node.h, size: a.length });
      file.unsynced = true;
    },
    async fsync(a: P & { fd: number }) {
      const file = procs.file(proc(a), a.fd);
      const r = await fs<{ everything?: boolean } | undefined>(file.node, 'fsync', { h: file.node.h });
      if (r?.everything) file.node.mnt.log?.clear();
      const lost = file.lost;
      file.unsynced = file.lost = false;
      if (lost) throw new SysError('EIO', `fsync: data written to fd ${a.fd} before its file system (${file.node.mnt.fs}) restarted was lost`);
    },
    async sync(a: P) {
      proc(a);
      const lost: string[] = [];
      for (const m of [...mounts.all()]) {
        if (m.state !== 'mounted') continue; // an unmount under way commits it
        await syncMount(m);
        if (m.lost) lost.push(m.target);
        m.unsynced = m.lost = false;
      }
      if (lost.length) throw new SysError('EIO', `sync: changes to ${lost.join(', ')} made before their file system restarted were lost`);
    },
    async chmod(a: P & { path: string; mode: number }) {
      const pr = proc(a);
      const f = await find(pr, a.path);
      owner(pr, f.attr!, `chmod ${a.path}`);
      writableMount(f.node!, `chmod ${a.path}`);
      await fs(f.node!, 'setattr', { h: f.node!.h, mode: a.mode & 0o7777 });
    },
    async chown(a: P & { path: string; uid: number; gid: number }) {
      const pr = proc(a);
      const f = await find(pr, a.path);
      if (pr.uid !== 0) throw new SysError('EPERM', `chown ${a.path}: only root may change owners`);
      writableMount(f.node!, `chown ${a.path}`);
      await fs(f.node!, 'setattr', { h: f.node!.h, uid: a.uid, gid: a.gid });
    },
    async utimes(a: P & { path: string; atime: number; mtime: number; nofollow?: boolean }) {
      const pr = proc(a);
      const f = await find(pr, a.path, !a.nofollow);
      owner(pr, f.attr!, `utimes ${a.path}`);
      writableMount(f.node!, `utimes ${a.path}`);
      await fs(f.node!, 'setattr', { h: f.node!.h, atime: a.atime, mtime: a.mtime });
    },
    async statfs(a: P & { path: string }) {
      const f = await find(proc(a), a.path);
      const s = await fs<StatFs>(f.node!, 'statfs');
      return { ...s, readonly: s.readonly || f.node!.mnt.readonly };
    },
    async chdir(a: P & { path: string }) {
      const pr = proc(a);
      const f = await find(pr, a.path);
      if (!isDir(f.attr)) throw new SysError('ENOTDIR', `chdir ${a.path}: not a directory`);
      deny(pr, f.attr!, 1, `chdir ${a.path}`);
      pr.cwd = f.node;
      pr.cwdPath = f.path;
    },
    getcwd(a: P) {
      const cwd = '/' + proc(a).cwdPath.join('/');
      // As Linux's getcwd(2): a cwd reached by relative steps may be longer than any path
      // argument can be; it is refused rather than returned.
      if (pathBytes(cwd) >= PATH_MAX) throw new SysError('ENAMETOOLONG', `getcwd: the current directory's path is longer than ${PATH_MAX - 1} bytes`);
      return cwd;
    },

    mount: (a: P & MountRequest) => mount(proc(a), a),
    async unmount(a: P & { target: string }) {
      const pr = proc(a);
      const what = `unmount ${a.target}`;
      if (pr.uid !== 0) throw new SysError('EPERM', `${what}: only root may unmount`);
      const f = await find(pr, a.target);
      const m = f.node!.mnt;
      if (!mounts.isMountRoot(f.node!)) throw new SysError('EINVAL', `${what}: not a mount point`);
      await unmountMount(m, () => {
        const busy =
          mounts.childrenOf(m).length > 0 ||
          [...procs.all()].some((q) => q.cwd?.mnt === m || q.fds.some((file) => file?.node.mnt === m));
        if (busy) throw new SysError('EBUSY', `${what}: in use`);
      });
    },
    mounts(a: P): MountInfo[] {
      proc(a);
      return mounts.all().map((m) => ({ target: m.target, fstype: m.fs, source: m.source, readonly: m.readonly, dev: m.id }));
    },
    async unmountAll() {
      halting = true;
      for (const m of [...mounts.all()].reverse()) {
        await enter(m, 'unmount').catch(() => {}); // an unmount under way ends first
        if (m.state === 'gone') continue;
        await unmountMount(m).catch((err) => {
          ctx.hyp.log('warn', `unmount ${m.target}: ${(err as Error).message}`);
          mounts.remove(m);
        });
      }
    },
  };

  /**
   * A path syscall, made again from its walk when it meets a stale handle: what it walked to was
   * removed, or its file system came back empty after a restart, between the walk and the op (as
   * Linux walks again with LOOKUP_REVAL). A file system checks a call's handles before it changes
   * anything, so the op that met one changed nothing. A handle still stale after a walk per mount
   * and one more names something that is gone: ENOENT, as a walk that came later would say.
   */
  const walking = (op: string, handler: (a: unknown) => unknown) => async (a: Record<string, unknown>) => {
    refuseNul(op, a);
    for (let walks = 1; ; walks++) {
      try {
        return await handler(a);
      } catch (err) {
        if (!(err instanceof SysError && err.errno === 'ESTALE')) throw err;
        if (walks > mounts.all().length) throw new SysError('ENOENT', `${op}: removed while the call ran (${err.message})`);
      }
    }
  };
  /**
   * Any other syscall: a stale handle there is an open file (or cwd) whose object its file
   * system lost with a restart, which no new walk can find: EIO. ESTALE never reaches a client.
   */
  const staleIsLost = (op: string, handler: (a: unknown) => unknown) => (a: unknown) => {
    const result = handler(a);
    if (!(result instanceof Promise)) return result;
    return result.catch((err: unknown) => {
      if (err instanceof SysError && err.errno === 'ESTALE') throw new SysError('EIO', `${op}: its file was lost with its file system (${err.message})`);
      throw err;
    });
  };
  for (const op of Object.keys(ops) as (keyof typeof ops)[]) {
    const handler = handlers[op] as (a: unknown) => unknown;
    (handlers as Record<string, unknown>)[op] = WALKING_OPS.has(op) ? walking(op, handler) : staleIsLost(op, handler);
  }
  return handlers;
}
