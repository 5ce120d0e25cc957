// cp's engine: copies a file, a symlink or (recursively) a tree from one FileTree to another —
// kernel to kernel, host to image, image to host, image to image — keeping modes, and mtimes
// when asked.

import { SysError, strerror } from '../kernel/index.js';
import { copyFile, usableNames, type FileTree } from './files.js';

export interface CopyOptions {
  recursive: boolean;
  /** Keep modification and access times (modes are always kept). */
  preserveTimes: boolean;
  /** Called for each problem, with the path as its tree shows it; the copy goes on with the next file. */
  report(path: string, err: SysError): void;
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
  const one = async (s: string, d: string, depth: number): Promise<void> => {
    if (depth > 256) return fail(from, s, new SysError('ELOOP', 'the tree is more than 256 directories deep'));
    let info;
    try {
      info = await from.lstat(s);
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
        for (const name of usableNames(from.show(s), names, report)) await one(join(s, name), join(d, name), depth + 1);
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
        await attempt(to, d, async () => {
          await copyFile(from, s, to, d, info.mode);
          await to.chmod(d, info.mode);
          if (opts.preserveTimes) await to.utimes(d, info.atime, info.mtime);
        });
        return;
      default:
        fail(from, s, new SysError('ENOTSUP', `cannot copy a ${info.type} special file`));
    }
  };
  await one(src, dst, 0);
  return ok;
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
export async function copyOperands(sources: Place[], dest: Place, opts: Omit<CopyOptions, 'report'>, err: (text: string) => void): Promise<number> {
  const destIsDir = await dest.tree.stat(dest.path).then((info) => info.type === 'dir', () => false);
  if (sources.length > 1 && !destIsDir) {
    err(`cp: target '${dest.tree.show(dest.path)}' is not a directory\n`);
    return 1;
  }
  let status = 0;
  for (const src of sources) {
    const to = destIsDir ? join(dest.path, basename(src.path)) : dest.path;
    const ok = await copyTree(src.tree, src.path, dest.tree, to, { ...opts, report: (path, e) => err(`cp: ${path}: ${strerror(e.errno)}\n`) });
    if (!ok) status = 1;
  }
  return status;
}
