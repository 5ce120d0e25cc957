// Views of a file tree behind one interface — the rumpus kernel (through a client process), one
// image mounted in it, and the host (through node:fs) — so cp copies in any direction with one
// code path.

import * as fs from 'node:fs/promises';
import {
  MAX_BATCH_OPS, MAX_IO, O_CREAT, O_RDONLY, O_TRUNC, O_WRONLY, S_IALLUGO, SysError, byteString, bytesOf, entryNameFault, fileTypeOf, fromByteString, fromHostError,
  quoteName, toByteString, type FileType, type Proc, type Stat,
} from '../kernel/index.js';

export interface FileInfo {
  type: FileType;
  mode: number;
  size: number;
  uid: number;
  gid: number;
  atime: number;
  mtime: number;
  /** A device node's number (makedev); 0 or absent for other files. */
  rdev?: number;
}

export interface Reader {
  read(length: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

export interface Writer {
  pwrite(data: Uint8Array, offset: number): Promise<void>;
  truncate(size: number): Promise<void>;
  close(): Promise<void>;
}

export interface FileTree {
  lstat(path: string): Promise<FileInfo>;
  /**
   * lstat of many paths, each one's info or error in order, where the tree does it in fewer
   * calls than one each (the kernel's: batches); absent elsewhere. It may give fewer than asked
   * (the rest are for lstat), and fails whole only when the calls could not be made.
   */
  lstatMany?(paths: string[]): Promise<(FileInfo | SysError)[]>;
  stat(path: string): Promise<FileInfo>;
  readdir(path: string): Promise<string[]>;
  mkdir(path: string, mode: number): Promise<void>;
  /** Opens a file to read; `size`, what lstat said of it, lets a small file be read whole at once. */
  openRead(path: string, size?: number): Promise<Reader>;
  /** Creates or truncates a file. */
  openWrite(path: string, mode: number): Promise<Writer>;
  readlink(path: string): Promise<string>;
  symlink(target: string, path: string): Promise<void>;
  /**
   * Makes a FIFO or device node (mode: type and permissions; rdev: a device's number). Absent
   * where special files are not made: on the host, a copy makes only regular files,
   * directories and symlinks.
   */
  mknod?(path: string, mode: number, rdev: number): Promise<void>;
  chmod(path: string, mode: number): Promise<void>;
  utimes(path: string, atime: number, mtime: number): Promise<void>;
  /** Sets a symlink's own times. */
  lutimes(path: string, atime: number, mtime: number): Promise<void>;
  /** A path of this tree as messages name it. */
  show(path: string): string;
}

/** Where an image is mounted in the kernel, and what the user calls it. */
export interface ImageMount {
  root: string;
  image: string;
}

/** A path inside a mount ('/' for its root) as a kernel path: '/img0/photos' for '/photos' in '/img0'. */
export function pathUnder(root: string, path: string): string {
  return root === '/' ? path : root + path;
}

/**
 * The kernel's tree through a client process; with `mount`, the tree of that one image, its paths
 * taken from the image's root and shown as IMAGE:PATH.
 */
export function kernelTree(p: Proc, mount?: ImageMount): FileTree {
  const at = (path: string) => (mount ? pathUnder(mount.root, path) : path);
  // Batches are used until the kernel refuses them (ENOSYS: a rumpus serve, which does not
  // carry them); then every call is made alone.
  let batches = true;
  const unlessNoBatches = (err: unknown): null => {
    if (!(err instanceof SysError && err.errno === 'ENOSYS')) throw err;
    batches = false;
    return null;
  };
  const info = (s: Awaited<ReturnType<Proc['stat']>>): FileInfo => ({
    type: fileTypeOf(s.mode), mode: s.mode & S_IALLUGO, size: s.size, uid: s.uid, gid: s.gid, atime: s.atime, mtime: s.mtime, rdev: s.rdev,
  });
  return {
    lstat: async (path) => info(await p.lstat(at(path))),
    async lstatMany(paths) {
      const out: (FileInfo | SysError)[] = [];
      for (let i = 0; i < paths.length && batches; i += MAX_BATCH_OPS) {
        const batch = await p.batch(paths.slice(i, i + MAX_BATCH_OPS).map((path) => ({ op: 'lstat', args: { path: at(path) } }))).catch(unlessNoBatches);
        for (const r of batch ?? []) out.push(r.ok ? info(r.value as Stat) : r.error);
      }
      return out; // short when batches were refused: the rest are lstat'ed one by one
    },
    stat: async (path) => info(await p.stat(at(path))),
    readdir: async (path) => (await p.readdir(at(path))).map((e) => e.name),
    mkdir: (path, mode) => p.mkdir(at(path), mode),
    async openRead(path, size) {
      // A file that one read can take (less than MAX_IO) is read whole in one batch (open, a
      // read of a byte more than its size, close); one that turns out larger (it grew since
      // lstat) is read as any other.
      const whole = batches && size !== undefined && size < MAX_IO ? await p.readSmallFile(at(path), size + 1).catch(unlessNoBatches) : null;
      if (whole) return bytesReader(whole);
      const fd = await p.open(at(path), O_RDONLY);
      return { read: p.sequentialReader(fd), close: () => p.close(fd) };
    },
    async openWrite(path, mode) {
      const fd = await p.open(at(path), O_WRONLY | O_CREAT | O_TRUNC, mode);
      return {
        async pwrite(data, offset) {
          // A short count (a full file system, the largest file size) is made again for the
          // rest, which then fails with the errno that stopped it: never a silently short copy.
          for (let at = 0; at < data.length; ) {
            const n = await p.pwrite(fd, data.subarray(at), offset + at);
            if (n <= 0) throw new SysError('EIO', `pwrite ${path}: no bytes written`);
            at += n;
          }
        },
        truncate: (size) => p.ftruncate(fd, size),
        close: () => p.close(fd),
      };
    },
    readlink: (path) => p.readlink(at(path)),
    symlink: (target, path) => p.symlink(target, at(path)),
    mknod: (path, mode, rdev) => p.mknod(at(path), mode, rdev),
    chmod: (path, mode) => p.chmod(at(path), mode),
    utimes: (path, atime, mtime) => p.utimes(at(path), atime, mtime),
    lutimes: (path, atime, mtime) => p.lutimes(at(path), atime, mtime),
    show: (path) => (mount ? `${mount.image}:${path}` : path),
  };
}

/** A Reader of bytes read already: them, then the end of the file. */
function bytesReader(data: Uint8Array): Reader {
  let at = 0;
  return {
    read: async (n) => data.subarray(at, (at = Math.min(data.length, at + n))),
    close: async () => {},
  };
}

/**
 * The names of a directory listing that may become path components (`dir` is the directory as
 * messages show it). A name that cannot be a file name — empty, '.', '..', holding '/' or NUL,
 * whatever the file system that listed it says — or that is listed twice is left out and
 * reported ("IMAGE:/d: the entry \"a/b\" cannot be a file name") with an EUCLEAN error.
 */
export function usableNames(dir: string, names: string[], report: (shown: string, err: SysError) => void): string[] {
  const seen = new Set<string>();
  return names.filter((name) => {
    const why = entryNameFault(name) ? 'cannot be a file name' : seen.has(name) ? 'is listed twice' : null;
    seen.add(name);
    if (why) report(`${dir}: the entry ${quoteName(name)} ${why}`, new SysError('EUCLEAN', `the entry ${quoteName(name)} ${why}`));
    return why === null;
  });
}

async function host<T>(path: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw fromHostError(err, path);
  }
}

/**
 * A path in client form (see kernel/names.ts) as node:fs takes it: as it is when it is valid
 * UTF-16 (node:fs writes it as UTF-8, the same bytes), else its exact bytes, which a string
 * cannot carry to the host. EINVAL as toByteString for a lone surrogate that stands for no byte.
 */
function hostPath(path: string): string | Buffer {
  return path.isWellFormed() ? path : Buffer.from(bytesOf(toByteString(path)));
}

/** A name or path node:fs gave as bytes, in client form. */
const fromHostBytes = (b: Buffer): string => fromByteString(byteString(b));

/**
 * A time in ms since the epoch (to the microsecond) as fs.utimes takes it: a numeric string of
 * seconds. Node turns a negative number into the current time, and a Date keeps milliseconds
 * only; a numeric string keeps both a time before 1970 and its microseconds. libuv then cuts the
 * seconds, a double, to whole microseconds toward zero — and near today's times a double's
 * seconds are only good to a quarter of a microsecond, so an exact µs/1e6 lands on the one below
 * about half the time. Half a microsecond away from zero makes that cut land on the right one.
 */
const hostTime = (ms: number): string => {
  const us = Math.round(ms * 1000);
  return String((us + (us < 0 ? -0.5 : 0.5)) / 1e6);
};

/** The host's tree through node:fs. Paths are in client form: names that are not UTF-8 reach the host as their exact bytes. */
export function hostTree(): FileTree {
  const info = (s: import('node:fs').Stats): FileInfo => ({
    type: s.isDirectory() ? 'dir' : s.isSymbolicLink() ? 'lnk' : s.isFile() ? 'reg' : s.isFIFO() ? 'fifo'
      : s.isSocket() ? 'sock' : s.isCharacterDevice() ? 'chr' : 'blk',
    mode: s.mode & S_IALLUGO, size: s.size, uid: s.uid, gid: s.gid, atime: s.atimeMs, mtime: s.mtimeMs, rdev: s.rdev,
  });
  return {
    lstat: (path) => host(path, async () => info(await fs.lstat(hostPath(path)))),
    stat: (path) => host(path, async () => info(await fs.stat(hostPath(path)))),
    readdir: (path) => host(path, async () => (await fs.readdir(hostPath(path), { encoding: 'buffer' })).map(fromHostBytes)),
    mkdir: (path, mode) => host(path, () => fs.mkdir(hostPath(path), mode)),
    openRead: (path) => host(path, async () => {
      const fh = await fs.open(hostPath(path), 'r');
      return {
        async read(n) {
          const buf = new Uint8Array(n);
          const { bytesRead } = await fh.read(buf, 0, n, null);
          return buf.subarray(0, bytesRead);
        },
        close: () => fh.close(),
      };
    }),
    openWrite: (path, mode) => host(path, async () => {
      const fh = await fs.open(hostPath(path), 'w', mode);
      return {
        pwrite: async (data, offset) => void (await fh.write(data, 0, data.length, offset)),
        truncate: (size) => fh.truncate(size),
        close: () => fh.close(),
      };
    }),
    readlink: (path) => host(path, async () => fromHostBytes(await fs.readlink(hostPath(path), { encoding: 'buffer' }))),
    symlink: (target, path) => host(path, () => fs.symlink(hostPath(target), hostPath(path))),
    chmod: (path, mode) => host(path, () => fs.chmod(hostPath(path), mode)),
    utimes: (path, atime, mtime) => host(path, () => fs.utimes(hostPath(path), hostTime(atime), hostTime(mtime))),
    lutimes: (path, atime, mtime) => host(path, () => fs.lutimes(hostPath(path), hostTime(atime), hostTime(mtime))),
    show: (path) => path,
  };
}

const CHUNK = 1 << 20;

function allZero(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

/** Errors copyFile met reading its source, not writing its destination: a report names the source. */
const sourceFailures = new WeakSet<object>();

/** Whether copyFile threw `err` reading its source. */
export function failedReading(err: unknown): boolean {
  return typeof err === 'object' && err !== null && sourceFailures.has(err);
}

/** `p`, its rejection marked as the source's (failedReading). */
async function reading<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    if (typeof err === 'object' && err !== null) sourceFailures.add(err);
    throw err;
  }
}

/**
 * Copies one regular file's bytes; all-zero chunks become holes. `size` is what lstat said of
 * the source, if known. An error reading the source is marked (failedReading).
 */
export async function copyFile(from: FileTree, src: string, to: FileTree, dst: string, mode: number, size?: number): Promise<number> {
  const r = await reading(from.openRead(src, size));
  try {
    const w = await to.openWrite(dst, mode);
    try {
      let offset = 0;
      for (;;) {
        const chunk = await reading(r.read(CHUNK));
        if (chunk.length === 0) break;
        if (!allZero(chunk)) await w.pwrite(chunk, offset);
        offset += chunk.length;
      }
      await w.truncate(offset);
      return offset;
    } finally {
      await w.close();
    }
  } finally {
    await r.close();
  }
}
