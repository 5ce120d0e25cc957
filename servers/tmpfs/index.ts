// tmpfs: an in-memory file system. Each mount is an independent instance; its content lives
// only as long as the component does (a restart starts with empty instances, reported as such).

import { FS_OPS, SysError, defineComponent, firstFsid, instanceOps, type Context } from '../../kernel/api.js';
import { Tmpfs } from './tmpfs.js';

/** Default size of an instance: 1 GiB of content, a million inodes. */
const DEFAULT_BYTES = 1 << 30;
const DEFAULT_INODES = 1 << 20;

export default defineComponent({
  name: 'tmpfs',
  description: 'in-memory file system',
  requires: [],
  ops: FS_OPS,
  init: {
    fresh: (ctx) => serve(ctx, 0),
    restart: (ctx, { generation }) => serve(ctx, generation),
  },
});

/** The handlers of incarnation `generation` (0 at boot): a fresh table of mounts. */
function serve(ctx: Context, generation: number) {
  const instances = new Map<number, Tmpfs>();
  const byName = new Map<string, number>();
  let nextFsid = firstFsid(generation);
  const now = () => ctx.hyp.clockRealtime();
  const fs = (fsid: number): Tmpfs => {
    const t = instances.get(fsid);
    if (!t) throw new SysError('ENODEV', `tmpfs: no mounted instance ${fsid}`);
    return t;
  };

  return {
    mount({ options = {} }: { options?: { size?: unknown; inodes?: unknown; instance?: unknown } }) {
      // Mounting a named instance again (after the vfs restarted) gives back the same one.
      const named = typeof options.instance === 'string' ? byName.get(options.instance) : undefined;
      if (named !== undefined && instances.has(named)) return { fsid: named, root: instances.get(named)!.root, readonly: false };
      const size = options.size ?? DEFAULT_BYTES;
      const inodes = options.inodes ?? DEFAULT_INODES;
      if (!Number.isSafeInteger(size) || (size as number) < 4096) throw new SysError('EINVAL', 'tmpfs: option size must be an integer of at least 4096 bytes');
      if (!Number.isSafeInteger(inodes) || (inodes as number) < 1) throw new SysError('EINVAL', 'tmpfs: option inodes must be a positive integer');
      const fsid = nextFsid++;
      const random = ctx.hyp.random(4);
      const firstGeneration = ((random[0] << 23) | (random[1] << 15) | (random[2] << 7) | random[3]) >>> 0;
      const t = new Tmpfs(now, { maxBytes: size as number, maxInodes: inodes as number }, firstGeneration);
      instances.set(fsid, t);
      if (typeof options.instance === 'string') byName.set(options.instance, fsid);
      return { fsid, root: t.root, readonly: false };
    },
    unmount({ fsid }: { fsid: number }) {
      fs(fsid);
      instances.delete(fsid);
      for (const [name, id] of byName) if (id === fsid) byName.delete(name);
    },
    ...instanceOps(fs),
  };
}
