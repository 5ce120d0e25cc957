// vfs: the namespace and the syscalls. It owns the mount table, each client process's fd
// table, offsets and cwd, and does the permission checks; file systems below it serve
// stateless ops on handles, so one can restart under open files.
//
// Its restart story. vfs is essential (the kernel panics if it cannot be restarted). A restart
// loses what it held: fd tables and offsets, the mount table, the replay logs. It keeps the
// client processes (credentials, umask, the names of the cwd) and the mounts itself (ctx.keep,
// restart.ts), and the new incarnation makes them again and walks to each cwd again; mounting
// by mount point finds the same file-system instances, content and all. Open fds are gone
// (EBADF); a cwd that is gone leaves relative paths ENOENT. Pipes and FIFO connections live in vfs
// alone (pipes.ts), so they are gone too: their fds are EBADF like the others, their buffered
// bytes are lost, and nothing tries to make them again (a FIFO's next open makes a new pipe).
// The other story, a file system restarting under vfs, is recovery.ts's: vfs mounts it again
// and replays (an open FIFO on it goes on: its pipe is vfs's).
//
// The parts, as MINIX's vfs is cut: ops.ts (the syscall table), fs-requests.ts (the only
// calls to file systems), recovery.ts, access.ts (permission policy), namei.ts (path walk),
// mounts.ts and procs.ts (the tables), pipes.ts (pipe objects, for pipe() and FIFOs), and one
// file per family of syscalls (sys-*.ts), sys-batch.ts running a batch of the others.

import { defineComponent, type Context } from '../../kernel/api.js';
import { emptyVfs } from './context.js';
import { FILESYSTEMS } from './fs-requests.js';
import { VFS_OPS, WALKS_A_PATH, type VfsOp } from './ops.js';
import { handleStale } from './recovery.js';
import { attrCalls } from './sys-attrs.js';
import { batchCall } from './sys-batch.js';
import { fdCalls } from './sys-fds.js';
import { fileCalls } from './sys-files.js';
import { mountCalls } from './sys-mounts.js';
import { nameCalls } from './sys-names.js';
import { processCalls } from './sys-processes.js';

export default defineComponent({
  name: 'vfs',
  description: 'namespace, mounts, path walk, fd tables: the syscalls',
  requires: FILESYSTEMS,
  ops: VFS_OPS,
  essential: true, // it serves every syscall: without it there is no kernel to speak of
  init: {
    fresh: (ctx) => serve(ctx),
    restart: (ctx, { kept, keptLost }) => {
      if (keptLost) ctx.hyp.log('warn', `vfs: ${keptLost}; no process or mount could be made again`);
      return serve(ctx, kept);
    },
  },
});

/**
 * The handlers of an incarnation of vfs: a fresh one has no processes and no mounts; a
 * reincarnation makes again the ones an earlier incarnation kept (restart.ts).
 */
async function serve(ctx: Context, kept?: ReadonlyMap<string, unknown>) {
  const vfs = emptyVfs(ctx);
  if (kept) await vfs.keeper.remake(vfs, kept);
  const handlers = {
    ...processCalls(vfs),
    ...fileCalls(vfs),
    ...fdCalls(vfs),
    ...nameCalls(vfs),
    ...attrCalls(vfs),
    ...mountCalls(vfs),
  } satisfies { [K in Exclude<VfsOp, 'batch'>]: (a: never) => unknown };
  const guarded = handleStale(handlers, WALKS_A_PATH, vfs.mounts);
  return { ...guarded, ...batchCall(guarded) };
}
