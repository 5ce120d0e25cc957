// The syscalls on a file's attributes, by path: stat and lstat, chmod, chown, utimes, truncate.

import { S_IALLUGO, SysError } from '../../kernel/api.js';
import { MAY_WRITE, requireAccess, requireOwner, requireWritableMount } from './access.js';
import type { Vfs } from './context.js';
import type { VfsHandlers } from './ops.js';
import { statOf } from './mounts.js';
import { find, isDir } from './namei.js';

export function attrCalls(vfs: Vfs): VfsHandlers<'stat' | 'lstat' | 'chmod' | 'chown' | 'utimes' | 'truncate'> {
  const { fs, procs } = vfs;
  return {
    async stat(a) {
      const f = await find(vfs, procs.get(a.pid), a.path);
      return statOf(f.node!, f.attr!);
    },
    async lstat(a) {
      const f = await find(vfs, procs.get(a.pid), a.path, false);
      return statOf(f.node!, f.attr!);
    },
    async chmod(a) {
      const pr = procs.get(a.pid);
      const f = await find(vfs, pr, a.path);
      requireOwner(pr, f.attr!, `chmod ${a.path}`);
      requireWritableMount(f.node!, `chmod ${a.path}`);
      await fs.setattr(f.node!, { mode: a.mode & S_IALLUGO });
    },
    async chown(a) {
      const pr = procs.get(a.pid);
      const f = await find(vfs, pr, a.path);
      if (pr.uid !== 0) throw new SysError('EPERM', `chown ${a.path}: only root may change owners`);
      requireWritableMount(f.node!, `chown ${a.path}`);
      await fs.setattr(f.node!, { uid: a.uid, gid: a.gid });
    },
    async utimes(a) {
      const pr = procs.get(a.pid);
      const f = await find(vfs, pr, a.path, !a.nofollow);
      requireOwner(pr, f.attr!, `utimes ${a.path}`);
      requireWritableMount(f.node!, `utimes ${a.path}`);
      await fs.setattr(f.node!, { atime: a.atime, mtime: a.mtime });
    },
    async truncate(a) {
      const pr = procs.get(a.pid);
      const f = await find(vfs, pr, a.path);
      if (isDir(f.attr)) throw new SysError('EISDIR', `truncate ${a.path}: is a directory`);
      requireAccess(pr, f.attr!, MAY_WRITE, `truncate ${a.path}`);
      requireWritableMount(f.node!, `truncate ${a.path}`);
      await fs.setattr(f.node!, { size: a.length });
    },
  };
}
