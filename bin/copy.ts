// cp's engine: copies a file, a symlink or (recursively) a tree from one FileTree to another —
// kernel to kernel, host to kernel, kernel to host — keeping modes, and mtimes when asked.

import { SysError } from '../kernel/index.js';
import { copyFile, type FileTree } from './files.js';

export interface CopyOptions {
  recursive: boolean;
  /** Keep modification and access times (modes are always kept). */
  preserveTimes: boolean;
  /** Called for each problem; the copy goes on with the next file. */
  report(path: string, err: SysError): void;
}

function join(dir: string, name: string): string {
  return dir.endsWith('/') ? dir + name : `${dir}/${name}`;
}

/** Copies src to dst (dst is the new name, not a directory to copy into). True when all went well. */
export async function copyTree(from: FileTree, src: string, to: FileTree, dst: string, opts: CopyOptions): Promise<boolean> {
  let ok = true;
  const attempt = async (path: string, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (err) {
      if (!(err instanceof SysError)) throw err;
      opts.report(path, err);
      ok = false;
    }
  };
  const one = async (s: string, d: string, depth: number): Promise<void> => {
    if (depth > 256) {
      opts.report(s, new SysError('ELOOP', 'the tree is more than 256 directories deep'));
      ok = false;
      return;
    }
    let info;
    try {
      info = await from.lstat(s);
    } catch (err) {
      if (!(err instanceof SysError)) throw err;
      opts.report(s, err);
      ok = false;
      return;
    }
    switch (info.type) {
      case 'dir': {
        if (!opts.recursive) {
          opts.report(s, new SysError('EISDIR', `-r not specified; omitting directory`));
          ok = false;
          return;
        }
        let made = false;
        await attempt(d, async () => {
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
        await attempt(s, async () => {
          names = await from.readdir(s);
        });
        for (const name of names) await one(join(s, name), join(d, name), depth + 1);
        await attempt(d, async () => {
          await to.chmod(d, info.mode);
          if (opts.preserveTimes) await to.utimes(d, info.atime, info.mtime);
        });
        return;
      }
      case 'lnk':
        await attempt(d, async () => {
          await to.symlink(await from.readlink(s), d);
          if (opts.preserveTimes) await to.lutimes(d, info.atime, info.mtime);
        });
        return;
      case 'reg':
        await attempt(d, async () => {
          await copyFile(from, s, to, d, info.mode);
          await to.chmod(d, info.mode);
          if (opts.preserveTimes) await to.utimes(d, info.atime, info.mtime);
        });
        return;
      default:
        opts.report(s, new SysError('ENOTSUP', `cannot copy a ${info.type} special file`));
        ok = false;
    }
  };
  await one(src, dst, 0);
  return ok;
}
