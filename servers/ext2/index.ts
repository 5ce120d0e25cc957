// ext2: the second extended file system, on a blk device. One component serves any number of
// mounts (each an image attached through blk), and makes new file systems with mkfs. An image
// is claimed from the start of its mount until its unmount has committed and detached it from
// blk: an unmount returns only then, and a mount of the same image meanwhile waits for it.

import { FS_OPS, SysError, defineComponent, firstFsid, instanceOps, type Context } from '../../kernel/api.js';
import { Ext2 } from './fs.js';
import { mkfs, type MkfsArgs } from './mkfs.js';

export default defineComponent({
  name: 'ext2',
  description: 'ext2 file system (revisions 0 and 1) on blk devices',
  requires: ['blk'],
  ops: {
    ...FS_OPS,
    /** Writes a new file system over a host image of `size` bytes. → {blocks, inodes, blockSize, inodeSize, groups, uuid} */
    mkfs: {
      args: {
        source: 'string', size: 'uint', blockSize: 'uint?', inodes: 'uint?', inodeRatio: 'uint?', inodeSize: 'uint?',
        label: 'string?', uuid: 'string?', time: 'uint?', revision: 'uint?',
      },
      idempotent: false,
    },
  },
  init: {
    fresh: (ctx) => serve(ctx, 0),
    restart: (ctx, { generation }) => serve(ctx, generation),
  },
});

/** The handlers of incarnation `generation` (0 at boot): a fresh table of mounts. */
function serve(ctx: Context, generation: number) {
  const mounts = new Map<number, Ext2>();
  /** The name the vfs gave each mount (its mount point). */
  const instances = new WeakMap<Ext2, unknown>();
  /** Images mounted, being mounted or being unmounted: one writer per image. */
  const busy = new Set<string>();
  /** Images being unmounted → the unmount. */
  const detaching = new Map<string, Promise<void>>();
  let nextFsid = firstFsid(generation);
  const fs = (fsid: number): Ext2 => {
    const m = mounts.get(fsid);
    if (!m) throw new SysError('ENODEV', `ext2: no mounted file system ${fsid}`);
    return m;
  };
  /** Claims an image, once an unmount of it under way has let go of it. */
  const claim = async (source: string) => {
    await detaching.get(source)?.catch(() => {});
    if (busy.has(source)) throw new SysError('EBUSY', `ext2: ${source} is already mounted`);
    busy.add(source);
  };
  /** Unmounts m; its claim is given up only once its device is detached (else it stays). */
  const unmount = (m: Ext2): Promise<void> => {
    const done = m.unmount().finally(() => {
      detaching.delete(m.source);
      if (m.detached) busy.delete(m.source);
    });
    detaching.set(m.source, done);
    return done;
  };

  return {
    async mount({ source, options = {} }: { source?: string; options?: { readonly?: unknown; stateBefore?: unknown; instance?: unknown } }) {
      if (!source) throw new SysError('EINVAL', 'ext2: mount needs a source (an image path)');
      // The vfs mounting again, after it restarted, what it had mounted: the same instance.
      const again = options.instance !== undefined && [...mounts].find(([, m]) => m.source === source && instances.get(m) === options.instance);
      if (again) return { fsid: again[0], root: again[1].root, readonly: again[1].readonly };
      await claim(source);
      try {
        const stateBefore = typeof options.stateBefore === 'number' ? options.stateBefore : undefined;
        const holder = typeof options.instance === 'string' ? `the mount at ${options.instance}` : undefined;
        const m = await Ext2.mount(ctx, source, options.readonly === true, stateBefore, holder);
        const fsid = nextFsid++;
        mounts.set(fsid, m);
        instances.set(m, options.instance);
        // For the vfs to give back if this driver restarts and it must mount the image again.
        return { fsid, root: m.root, readonly: m.readonly, persistent: true, remount: { stateBefore: m.stateAtMount } };
      } catch (err) {
        busy.delete(source);
        throw err;
      }
    },
    async unmount({ fsid }: { fsid: number }) {
      const m = fs(fsid);
      mounts.delete(fsid);
      await unmount(m);
    },
    ...instanceOps(fs),
    async mkfs(args: MkfsArgs) {
      await claim(args.source);
      try {
        return await mkfs(ctx, args);
      } finally {
        busy.delete(args.source);
      }
    },
    async stop() {
      for (const [fsid, m] of mounts) {
        mounts.delete(fsid);
        await unmount(m).catch((err) => ctx.hyp.log('warn', `ext2: unmount ${m.source} at stop: ${(err as Error).message}`));
      }
      await Promise.allSettled([...detaching.values()]); // unmounts under way
    },
  };
}
