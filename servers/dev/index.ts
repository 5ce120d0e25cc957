// dev: the device-node file system mounted at /dev — null, zero, random (bytes from the host's
// generator through hyp) and console (text to the host's console through hyp). The set of
// nodes is fixed; their modes and times can change, per mount.
//
// Restart story: dev keeps nothing. A new incarnation hands out new mount ids; vfs meets ENODEV
// and mounts it again, with the nodes' modes and times as at boot, and open fds on devices go
// on working (the nodes' handles never change).

import {
  S_IALLUGO, FS_OPS, FsInstances, NAME_MAX, S_IFCHR, S_IFDIR, SysError, defineComponent, fileTypeOf,
  type Attr, type Context, type FsOps, type Handle, type Handlers, type WalkResult,
} from '../../kernel/api.js';

interface Device {
  name: string;
  /** Linux's major and minor numbers, so ls shows the familiar ones. */
  major: number;
  minor: number;
  read(ctx: Context, length: number): Uint8Array;
  write(ctx: Context, data: Uint8Array): number;
}

const RANDOM_CHUNK = 65536;
const decoder = new TextDecoder();

const DEVICES: Device[] = [
  { name: 'null', major: 1, minor: 3, read: () => new Uint8Array(0), write: (_, d) => d.length },
  { name: 'zero', major: 1, minor: 5, read: (_, n) => new Uint8Array(n), write: (_, d) => d.length },
  {
    name: 'random', major: 1, minor: 8,
    read(ctx, n) {
      const out = new Uint8Array(n);
      for (let at = 0; at < n; at += RANDOM_CHUNK) out.set(ctx.hyp.random(Math.min(RANDOM_CHUNK, n - at)), at);
      return out;
    },
    write: (_, d) => d.length,
  },
  {
    name: 'console', major: 5, minor: 1,
    read: () => new Uint8Array(0),
    write(ctx, d) {
      ctx.hyp.consoleWrite(decoder.decode(d));
      return d.length;
    },
  },
];

const ROOT_INO = 1;
/** Device i has inode i + 2. */
const deviceOf = (ino: number): Device | undefined => DEVICES[ino - 2];

class DevInstance {
  readonly attrs = new Map<number, Attr>();

  constructor(now: number) {
    const base = { gen: 1, uid: 0, gid: 0, size: 0, blocks: 0, blksize: 4096, atime: now, mtime: now, ctime: now };
    this.attrs.set(ROOT_INO, { ...base, ino: ROOT_INO, mode: S_IFDIR | 0o755, nlink: 2, rdev: 0 });
    DEVICES.forEach((d, i) => {
      const mode = S_IFCHR | (d.name === 'console' ? 0o600 : 0o666);
      this.attrs.set(i + 2, { ...base, ino: i + 2, mode, nlink: 1, rdev: d.major * 256 + d.minor });
    });
  }

  get(h: Handle): Attr {
    const a = this.attrs.get(h.ino);
    if (!a || a.gen !== h.gen) throw new SysError('ESTALE', `dev: no node ${h.ino}`);
    return a;
  }

  walk(dir: Handle, names: string[]): WalkResult {
    const result: WalkResult = { start: { ...this.get(dir) }, steps: [] };
    let at = dir.ino;
    for (const name of names) {
      if (at !== ROOT_INO) {
        result.error = { errno: 'ENOTDIR', message: `dev: '${name}' is looked up in a device` };
        break;
      }
      if (name === '..') break; // the root: the vfs crosses to the parent mount
      const index = DEVICES.findIndex((d) => d.name === name);
      if (name !== '.' && index < 0) {
        result.error = { errno: 'ENOENT', message: `dev: no device '${name}'` };
        break;
      }
      const ino = name === '.' ? ROOT_INO : index + 2;
      at = ino;
      result.steps.push({ handle: { ino, gen: 1 }, attr: { ...this.attrs.get(ino)! } });
    }
    return result;
  }
}

declare module '../../kernel/ops.js' {
  interface Components {
    dev: FsOps;
  }
}

export default defineComponent({
  name: 'dev',
  description: 'device nodes: null, zero, random, console',
  requires: [],
  ops: FS_OPS,
  init: {
    fresh: (ctx) => serve(ctx, 0),
    restart: (ctx, { generation }) => serve(ctx, generation),
  },
});

/** The handlers of incarnation `generation` (0 at boot): a fresh table of mounts. */
function serve(ctx: Context, generation: number): Handlers<FsOps> {
  const instances = new FsInstances<DevInstance>('dev', generation);
  const fs = instances.get;
  const device = (fsid: number, h: Handle): Device => {
    fs(fsid).get(h);
    const d = deviceOf(h.ino);
    if (!d) throw new SysError('EISDIR', 'dev: the root is a directory');
    return d;
  };
  const fixed = (): never => {
    throw new SysError('EPERM', 'dev: the set of device nodes is fixed');
  };
  const now = () => ctx.hyp.clockRealtime();
  return {
    mount() {
      const fsid = instances.add(new DevInstance(now()));
      return { fsid, root: { ino: ROOT_INO, gen: 1 }, readonly: false };
    },
    unmount({ fsid }) {
      instances.remove(fsid);
    },
    statfs: ({ fsid }) => {
      fs(fsid);
      return { fstype: 'dev', bsize: 4096, blocks: 0, bfree: 0, bavail: 0, files: DEVICES.length + 1, ffree: 0, namemax: NAME_MAX, readonly: false };
    },
    walk: ({ fsid, dir, names }) => fs(fsid).walk(dir, names),
    getattr: ({ fsid, h }) => ({ ...fs(fsid).get(h) }),
    setattr({ fsid, h, mode, uid, gid, atime, mtime }) {
      const a = fs(fsid).get(h);
      // A size change is what O_TRUNC asks of /dev/null: devices have no size, so it is a no-op.
      if (mode !== undefined) a.mode = (a.mode & ~S_IALLUGO) | (mode & S_IALLUGO);
      if (uid !== undefined) a.uid = uid;
      if (gid !== undefined) a.gid = gid;
      if (atime !== undefined) a.atime = atime;
      if (mtime !== undefined) a.mtime = mtime;
      a.ctime = now();
      return { ...a };
    },
    create: fixed, mkdir: fixed, symlink: fixed, mknod: fixed, link: fixed, unlink: fixed, rmdir: fixed, rename: fixed,
    readlink: ({ fsid, h }) => {
      fs(fsid).get(h);
      throw new SysError('EINVAL', 'dev: not a symbolic link');
    },
    readdir({ fsid, h, cookie, count }) {
      const a = fs(fsid).get(h);
      if (h.ino !== ROOT_INO) throw new SysError('ENOTDIR', 'dev: a device is not a directory');
      const slice = DEVICES.slice(cookie, cookie + Math.max(1, count));
      const entries = slice.map((d) => {
        const ino = DEVICES.indexOf(d) + 2;
        return { name: d.name, ino, type: fileTypeOf(fs(fsid).attrs.get(ino)!.mode) };
      });
      a.atime = now();
      return { entries, cookie: cookie + slice.length, eof: cookie + slice.length >= DEVICES.length };
    },
    read: ({ fsid, h, length }) => device(fsid, h).read(ctx, length),
    write({ fsid, h, offset, data }) {
      const written = device(fsid, h).write(ctx, data);
      return { written, end: offset + written };
    },
    append({ fsid, h, data }) {
      return { written: device(fsid, h).write(ctx, data), end: 0 };
    },
    open: ({ fsid, h }) => void fs(fsid).get(h),
    close: ({ fsid, h }) => void fs(fsid).get(h),
    fsync: ({ fsid, h }) => void fs(fsid).get(h),
    sync: ({ fsid }) => void fs(fsid),
  };
}
