// cp's engine: copies a file, a symlink or (recursively) a tree from one FileTree to another —
// kernel to kernel, host to image, image to host, image to image — keeping modes, and mtimes
// when asked.

import { S_IFBLK, S_IFCHR, S_IFIFO, SysError, type FileType } from '../kernel/index.js';
import { problem } from './stdio.js';
import { copyFile, failedReading, usableNames, type FileInfo, type FileTree, type Reader } from './files.js';

export interface CopyOptions {
  recursive: boolean;
  /** Keep modification and access times (modes are always kept). */
  preserveTimes: boolean;
  /** Called for each problem, with the path as its tree shows it; the copy goes on with the next file. */
  report(path: string, err: SysError): void;
  /**
   * Called for each file not copied for what it is, with the path as its tree shows it and a
   * sentence why; without it, such a file is reported (ENOTSUP) with the sentence.
   */
  skipped?(path: string, why: string): void;
}

export function basename(path: string): string {
  const parts = path.split('/').filter(Boolean);
  return parts.length ? parts[parts.length - 1] : '/';
}

export function join(dir: string, name: string): string {
  return dir.endsWith('/') ? dir + name : `${dir}/${name}`;
}

/** Copies src to dst (dst is the new name, not a directory to copy into). True when all went well. */
export async function copyTree(from: FileTree, src: string, to: FileTree, dst: string, opts: CopyOptions): Promise<boolean> {
  let ok = true;
  const report = (shown: string, err: SysError) => {
    opts.report(shown, err);
    ok = false;
  };
  const fail = (tree: FileTree, path: string, err: SysError) => report(tree.show(path), err);
  const attempt = async (tree: FileTree, path: string, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (err) {
      if (!(err instanceof SysError)) throw err;
      fail(tree, path, err);
    }
  };
  /** Copies s to d; `known`: what an lstat of s gave already, if one was made; `ahead`: s read ahead. */
  const one = async (s: string, d: string, depth: number, known?: FileInfo | SysError, ahead?: Promise<Reader>): Promise<void> => {
    if (depth > 256) return fail(from, s, new SysError('ELOOP', 'the tree is more than 256 directories deep'));
    let info;
    try {
      if (known instanceof SysError) throw known;
      info = known ?? (await from.lstat(s));
    } catch (err) {
      if (!(err instanceof SysError)) throw err;
      return fail(from, s, err);
    }
    switch (info.type) {
      case 'dir': {
        if (!opts.recursive) return fail(from, s, new SysError('EISDIR', `-r not specified; omitting directory`));
        let made = false;
        await attempt(to, d, async () => {
          try {
            await to.mkdir(d, 0o700);
          } catch (err) {
            // An existing directory is merged into, as cp -r does.
            if (!(err instanceof SysError && err.errno === 'EEXIST' && (await to.stat(d)).type === 'dir')) throw err;
          }
          made = true;
        });
        if (!made) return;
        let names: string[] = [];
        await attempt(from, s, async () => {
          names = await from.readdir(s);
        });
        const usable = usableNames(from.show(s), names, report);
        const paths = usable.map((name) => join(s, name));
        // The entries' lstats at once where the tree can (a batch per 256 from the kernel);
        // if those calls fail, each entry's own lstat will say why.
        const infos = from.lstatMany ? await from.lstatMany(paths).catch((err: unknown) => {
          if (!(err instanceof SysError)) throw err;
          return [];
        }) : [];
        const take = readingAhead(from, paths, infos);
        for (const [i, name] of usable.entries()) await one(paths[i], join(d, name), depth + 1, infos[i], take(i));
        await attempt(to, d, async () => {
          await to.chmod(d, info.mode);
          if (opts.preserveTimes) await to.utimes(d, info.atime, info.mtime);
        });
        return;
      }
      case 'lnk':
        await attempt(to, d, async () => {
          await to.symlink(await from.readlink(s), d);
          if (opts.preserveTimes) await to.lutimes(d, info.atime, info.mtime);
        });
        return;
      case 'reg':
        try {
          await copyFile(from, s, to, d, info, opts.preserveTimes, ahead);
        } catch (err) {
          if (!(err instanceof SysError)) throw err;
          if (failedReading(err)) fail(from, s, err);
          else fail(to, d, err);
        }
        return;
      default:
        if (!(await copySpecial(from, s, info, to, d, opts))) ok = false;
    }
  };
  await one(src, dst, 0);
  return ok;
}

/** How far a directory's copy reads ahead of the file it writes: files, and their bytes in all. */
const READ_AHEAD_FILES = 8;
const READ_AHEAD_BYTES = 8 << 20;

/**
 * Reads a directory's regular files ahead of their copies where the tree can (FileTree.readAhead),
 * so that a kernel with threads reads the next files while this thread writes the last one:
 * up to READ_AHEAD_FILES entries past the one being copied, and READ_AHEAD_BYTES (by lstat's
 * sizes) unless that is one file. `infos[i]` is what lstat gave of `paths[i]`, if known. The
 * function returned is called with each entry's index in turn: that entry's Reader if it was
 * read ahead, else undefined. Readers read ahead hold nothing open, so one never taken leaks
 * nothing; a failed one fails when taken and used.
 */
function readingAhead(from: FileTree, paths: string[], infos: (FileInfo | SysError | undefined)[]): (i: number) => Promise<Reader> | undefined {
  if (!from.readAhead) return () => undefined;
  const started = new Map<number, { reader: Promise<Reader>; size: number }>();
  let next = 0;
  let bytes = 0;
  return (i) => {
    const mine = started.get(i);
    if (mine) {
      started.delete(i);
      bytes -= mine.size;
    }
    for (next = Math.max(next, i + 1); next < paths.length && next <= i + READ_AHEAD_FILES; next++) {
      const info = infos[next];
      if (!info || info instanceof SysError || info.type !== 'reg') continue;
      if (started.size > 0 && bytes + info.size > READ_AHEAD_BYTES) break;
      const reader = from.readAhead?.(paths[next], info.size);
      if (!reader) continue;
      reader.catch(() => {}); // its error is the copy's when it is taken
      started.set(next, { reader, size: info.size });
      bytes += info.size;
    }
    return mine?.reader;
  };
}

const SPECIAL_NAMES: Partial<Record<FileType, string>> = { fifo: 'a FIFO', chr: 'a character device', blk: 'a block device', sock: 'a socket' };
const SPECIAL_TYPES: Partial<Record<FileType, number>> = { fifo: S_IFIFO, chr: S_IFCHR, blk: S_IFBLK };

/**
 * Copies a special file: a FIFO or device node is made again with mknod (a device with its
 * number) where the tree makes them; a socket (which nothing can make from a file), or any of
 * them on the host, is skipped and said so. True when it was made.
 */
async function copySpecial(from: FileTree, src: string, info: FileInfo, to: FileTree, dst: string, opts: CopyOptions): Promise<boolean> {
  const type = SPECIAL_TYPES[info.type];
  const what = SPECIAL_NAMES[info.type] ?? `a file of type ${info.type}`;
  if (type === undefined || !to.mknod) {
    const where = to.mknod ? 'sockets are not copied' : 'only regular files, directories and symlinks are copied to the host';
    if (opts.skipped) opts.skipped(from.show(src), `${what}; ${where}`);
    else opts.report(from.show(src), new SysError('ENOTSUP', `${what}; ${where}`));
    return false;
  }
  try {
    await to.mknod(dst, type | info.mode, info.rdev ?? 0);
    await to.chmod(dst, info.mode); // as for the others: the mode itself, not less the umask
    if (opts.preserveTimes) await to.utimes(dst, info.atime, info.mtime);
    return true;
  } catch (err) {
    if (!(err instanceof SysError)) throw err;
    opts.report(to.show(dst), err);
    return false;
  }
}

/** A cp operand: a path and the tree it is in. */
export interface Place {
  tree: FileTree;
  path: string;
}

/**
 * cp(1) over any trees: copies each source to dest, or into dest when it is a directory, and
 * reports problems the POSIX way (`cp: PATH: strerror`). The exit status.
 */
export async function copyOperands(sources: Place[], dest: Place, opts: Omit<CopyOptions, 'report' | 'skipped'>, err: (text: string) => void): Promise<number> {
  const destIsDir = await dest.tree.stat(dest.path).then((info) => info.type === 'dir', () => false);
  if (sources.length > 1 && !destIsDir) {
    err(`cp: target '${dest.tree.show(dest.path)}' is not a directory\n`);
    return 1;
  }
  let status = 0;
  for (const src of sources) {
    const to = destIsDir ? join(dest.path, basename(src.path)) : dest.path;
    const ok = await copyTree(src.tree, src.path, dest.tree, to, {
      ...opts, report: (path, e) => err(`cp: ${path}: ${problem(e)}\n`), skipped: (path, why) => err(`cp: skipped ${path}: ${why}\n`),
    });
    if (!ok) status = 1;
  }
  return status;
}
