// The syscalls that make fds without a path: pipe, and dup and dup2, which give an open file
// description one more fd (sharing its offset and flags, as POSIX says). And the core's call
// at the start of a halt, which ends the waits on pipes so that no call holds the halt up.

import { O_RDONLY, O_WRONLY, SysError } from '../../kernel/api.js';
import type { Vfs } from './context.js';
import type { VfsHandlers } from './ops.js';
import { newOpenFile } from './procs.js';
import { releaseFile } from './sys-files.js';

export function fdCalls(vfs: Vfs): VfsHandlers<'pipe' | 'dup' | 'dup2' | 'halting'> {
  const { procs } = vfs;
  return {
    async pipe(a) {
      const pr = procs.get(a.pid);
      const pipe = vfs.pipes.make({ uid: pr.uid, gid: pr.gid, time: vfs.ctx.hyp.clockRealtime() });
      const ends = [newOpenFile(null, O_RDONLY, { pipe }), newOpenFile(null, O_WRONLY, { pipe })];
      for (const e of ends) await e.pipe!.open(a.pid, e.flags, false, false); // a pipe's open never waits
      const fds: number[] = [];
      try {
        for (const e of ends) fds.push(procs.install(pr, e));
      } catch (err) {
        for (const fd of fds) pr.fds[fd] = undefined;
        for (const e of ends) await releaseFile(vfs, e);
        throw err;
      }
      return fds;
    },
    dup(a) {
      const pr = procs.get(a.pid);
      const file = procs.file(pr, a.fd);
      const fd = procs.install(pr, file);
      file.refs++;
      return fd;
    },
    async dup2(a) {
      const pr = procs.get(a.pid);
      const file = procs.file(pr, a.fd);
      if (a.newfd >= pr.maxFds) throw new SysError('EBADF', `dup2: fd ${a.newfd} is beyond the last one process ${pr.pid} may have (${pr.maxFds - 1})`);
      if (a.newfd === a.fd) return a.newfd;
      const replaced = pr.fds[a.newfd];
      pr.fds[a.newfd] = file;
      file.refs++;
      // As Linux: what newfd referred to is closed, and an error in closing it is not reported.
      if (replaced) await releaseFile(vfs, replaced).catch(() => {});
      return a.newfd;
    },
    halting() {
      vfs.pipes.halt();
    },
  };
}
