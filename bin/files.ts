// Views of a file tree behind one interface — the rumpus kernel (through a client process), one
// image mounted in it, and the host (through node:fs) — so cp copies in any direction with one
// code path.

import * as fs from 'node:fs';
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
  /** Sets the file's mode (permission and set-id bits) and, when given, its times (ms since the epoch). */
  setAttrs(mode: number, times?: { atime: number; mtime: number }): Promise<void>;
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
  /**
   * Starts reading a file that openRead would be asked for soon (`size`: what lstat said of it),
   * where the tree can read it meanwhile and hold nothing open: the kernel's reads a file that
   * one batch takes whole. Its Reader, or undefined where the tree does not read that file ahead
   * (then openRead reads it). Absent on trees that never read ahead.
   */
  readAhead?(path: string, size: number): Promise<Reader> | undefined;
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
  // A file that one read can take (less than MAX_IO) is read whole in one batch (open, a read of
  // a byte more than its size, close): its bytes, or null when it turns out larger (it grew since
  // lstat) or batches are refused; then it is read as any other.
  const readsWhole = (size: number) => batches && size < MAX_IO;
  const readWhole = (path: string, size: number) => p.readSmallFile(at(path), size + 1).catch(unlessNoBatches);
  const open = async (path: string): Promise<Reader> => {
    const fd = await p.open(at(path), O_RDONLY);
    return { read: p.sequentialReader(fd), close: () => p.close(fd) };
  };
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
      const whole = size !== undefined && readsWhole(size) ? await readWhole(path, size) : null;
      return whole ? bytesReader(whole) : await open(path);
    },
    readAhead(path, size) {
      if (!readsWhole(size)) return undefined;
      return readWhole(path, size).then((whole) => (whole ? bytesReader(whole) : openAtFirstRead(() => open(path))));
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
        async setAttrs(mode, times) {
          await p.fchmod(fd, mode);
          if (times) await p.futimes(fd, times.atime, times.mtime);
        },
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

/** A Reader that opens its file (`open`) at its first read, so that until then it holds nothing open. */
function openAtFirstRead(open: () => Promise<Reader>): Reader {
  let opened: Promise<Reader> | undefined;
  return {
    read: async (n) => (await (opened ??= open())).read(n),
    // An open that failed was reported by the read that made it: there is nothing to close.
    close: async () => (await opened?.catch(() => undefined))?.close(),
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

/** What fn gave, or its host error as a SysError naming path. */
function host<T>(path: string, fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (err) {
    return Promise.reject(fromHostError(err, path));
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

/**
 * Flags of the host's open(2): a file opened to read or write never waits (a FIFO put where a
 * file was lstat'ed fails with ENXIO or reads empty, rather than stopping the copy, and the
 * kernel with it, until another process opens it); a regular file ignores O_NONBLOCK.
 */
const HOST_READ = fs.constants.O_RDONLY | fs.constants.O_NONBLOCK;
const HOST_WRITE = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC | fs.constants.O_NONBLOCK;

/**
 * The host's tree through node:fs. Paths are in client form: names that are not UTF-8 reach the
 * host as their exact bytes. Its calls are node:fs's synchronous ones: a copy makes them one after
 * another anyway, and each asynchronous one adds a hop through libuv's thread pool and back
 * (about 30 µs here), which made 5 calls per file cost 290–325 µs against 160–210 µs.
 */
export function hostTree(): FileTree {
  const info = (s: import('node:fs').Stats): FileInfo => ({
    type: s.isDirectory() ? 'dir' : s.isSymbolicLink() ? 'lnk' : s.isFile() ? 'reg' : s.isFIFO() ? 'fifo'
      : s.isSocket() ? 'sock' : s.isCharacterDevice() ? 'chr' : 'blk',
    mode: s.mode & S_IALLUGO, size: s.size, uid: s.uid, gid: s.gid, atime: s.atimeMs, mtime: s.mtimeMs, rdev: s.rdev,
  });
  return {
    lstat: (path) => host(path, () => info(fs.lstatSync(hostPath(path)))),
    stat: (path) => host(path, () => info(fs.statSync(hostPath(path)))),
    readdir: (path) => host(path, () => fs.readdirSync(hostPath(path), { encoding: 'buffer' }).map(fromHostBytes)),
    mkdir: (path, mode) => host(path, () => fs.mkdirSync(hostPath(path), mode)).then(() => {}),
    openRead: (path) => host(path, () => {
      const fd = fs.openSync(hostPath(path), HOST_READ);
      return {
        read: (n) => host(path, () => {
          const buf = new Uint8Array(n);
          return buf.subarray(0, fs.readSync(fd, buf, 0, n, null));
        }),
        close: () => host(path, () => fs.closeSync(fd)),
      };
    }),
    openWrite: (path, mode) => host(path, () => {
      const fd = fs.openSync(hostPath(path), HOST_WRITE, mode);
      return {
        pwrite: (data, offset) => host(path, () => {
          for (let at = 0; at < data.length; ) at += fs.writeSync(fd, data, at, data.length - at, offset + at);
        }),
        truncate: (size) => host(path, () => fs.ftruncateSync(fd, size)),
        setAttrs: (mode, times) => host(path, () => {
          fs.fchmodSync(fd, mode);
          if (times) fs.futimesSync(fd, hostTime(times.atime), hostTime(times.mtime));
        }),
        close: () => host(path, () => fs.closeSync(fd)),
      };
    }),
    readlink: (path) => host(path, () => fromHostBytes(fs.readlinkSync(hostPath(path), { encoding: 'buffer' }))),
    symlink: (target, path) => host(path, () => fs.symlinkSync(hostPath(target), hostPath(path))),
    chmod: (path, mode) => host(path, () => fs.chmodSync(hostPath(path), mode)),
    utimes: (path, atime, mtime) => host(path, () => fs.utimesSync(hostPath(path), hostTime(atime), hostTime(mtime))),
    lutimes: (path, atime, mtime) => host(path, () => fs.lutimesSync(hostPath(path), hostTime(atime), hostTime(mtime))),
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
 * Copies one regular file: its bytes (all-zero chunks become holes), then its mode and, with
 * `preserveTimes`, its times, as `info` (what lstat said of the source) gives them. An error
 * reading the source is marked (failedReading); `readAhead`, the source's Reader when its tree
 * started reading it ahead (FileTree.readAhead). The bytes copied.
 */
export async function copyFile(from: FileTree, src: string, to: FileTree, dst: string, info: FileInfo, preserveTimes: boolean, readAhead?: Promise<Reader>): Promise<number> {
  const r = await reading(readAhead ?? from.openRead(src, info.size));
  try {
    const w = await to.openWrite(dst, info.mode);
    try {
      let offset = 0;
      let written = 0;
      for (;;) {
        const chunk = await reading(r.read(CHUNK));
        if (chunk.length === 0) break;
        if (!allZero(chunk)) {
          await w.pwrite(chunk, offset);
          written = offset + chunk.length;
        }
        offset += chunk.length;
      }
      // openWrite truncated the file: only a hole at its end is left to make.
      if (offset > written) await w.truncate(offset);
      // After the last write: a write takes set-id bits away and sets the modification time.
      await w.setAttrs(info.mode, preserveTimes ? info : undefined);
      return offset;
    } finally {
      await w.close();
    }
  } finally {
    await r.close();
  }
}
