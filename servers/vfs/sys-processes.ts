// The syscalls of client processes: spawn and exit, getpid, umask, and the current directory
// (chdir, getcwd).

import { S_IRWXUGO, SysError } from '../../kernel/api.js';
import { MAY_EXEC, requireAccess } from './access.js';
import type { Vfs } from './context.js';
import type { VfsHandlers } from './ops.js';
import { PATH_MAX, find, isDir, pathBytes } from './namei.js';
import { releaseFile } from './sys-files.js';

export function processCalls(vfs: Vfs): VfsHandlers<'spawn' | 'exit' | 'getpid' | 'umask' | 'chdir' | 'getcwd'> {
  const { procs } = vfs;
  return {
    async spawn({ pid, uid, gid, groups, callDeadlineMs, maxFds }) {
      vfs.pipes.callDeadline(callDeadlineMs);
      await vfs.keeper.processChanged(procs.spawn(pid, { uid, gid, groups }, maxFds), callDeadlineMs);
    },
    async exit(a) {
      const pr = procs.get(a.pid);
      procs.remove(a.pid);
      await vfs.keeper.exited(a.pid);
      vfs.pipes.releaseProcess(a.pid);
      for (const f of pr.fds) if (f) await releaseFile(vfs, f).catch(() => {});
    },
    getpid: (a) => procs.get(a.pid).pid,
    async umask(a) {
      const pr = procs.get(a.pid);
      const old = pr.umask;
      pr.umask = a.mask & S_IRWXUGO;
      await vfs.keeper.processChanged(pr);
      return old;
    },
    async chdir(a) {
      const pr = procs.get(a.pid);
      const f = await find(vfs, pr, a.path);
      if (!isDir(f.attr)) throw new SysError('ENOTDIR', `chdir ${a.path}: not a directory`);
      requireAccess(pr, f.attr!, MAY_EXEC, `chdir ${a.path}`);
      pr.cwd = f.node;
      pr.cwdPath = f.path;
      pr.cwdGone = false;
      await vfs.keeper.processChanged(pr);
    },
    getcwd(a) {
      const cwd = '/' + procs.get(a.pid).cwdPath.join('/');
      // As Linux's getcwd(2): a cwd reached by relative steps may be longer than any path
      // argument can be; it is refused rather than returned.
      if (pathBytes(cwd) >= PATH_MAX) throw new SysError('ENAMETOOLONG', `getcwd: the current directory's path is longer than ${PATH_MAX - 1} bytes`);
      return cwd;
    },
  };
}
