// ext2: the second extended file system, on a blk device. One component serves any number of
// mounts (each an image attached through blk, or through cgd for an image that is a LUKS
// container: the mount option `key` is its passphrase), and makes new file systems with mkfs. An image
// is claimed from the start of its mount until its unmount has committed and detached it from
// blk: an unmount returns only then, and a mount of the same image meanwhile waits for it.
//
// Restart story: ext2 keeps nothing — it is stateless on handles (inode number + generation),
// and what is durable is on the image. A new incarnation hands out mount ids past the old one's,
// so vfs meets ENODEV, mounts each image again (taking over the old incarnation's claim in blk
// as the same holder) and replays what it sent since the last sync. Its device attaches the
// image again when blk (or cgd) restarted (device.ts).

import { FS_OPS, FsInstances, SysError, defineComponent, instanceOps, op, type Context, type Handlers } from '../../kernel/api.js';
import { Ext2 } from './fs.js';
import { mkfs, type MkfsResult } from './mkfs.js';

/** The ops of ext2: the file-system protocol, and mkfs. */
const EXT2_OPS = {
  ...FS_OPS,
  /**
   * Writes a new file system over a host image of `size` bytes, or with `key` inside the LUKS
   * container the image is (its payload, or `size` bytes of it).
   */
  mkfs: op<MkfsResult>()({
    args: {
      source: 'string', size: 'uint?', key: 'bytes?', blockSize: 'uint?', inodes: 'uint?', inodeRatio: 'uint?', inodeSize: 'uint?',
      label: 'string?', uuid: 'string?', time: 'uint?', revision: 'uint?', type: 'string?', hashSeed: 'string?', journalSize: 'uint?',
    },
    idempotent: false,
  }),
};

declare module '../../kernel/ops.js' {
  interface Components {
    ext2: typeof EXT2_OPS;
  }
}

export default defineComponent({
  name: 'ext2',
  description: 'ext2 file system (revisions 0 and 1) on blk devices',
  requires: ['blk', 'cgd'],
  ops: EXT2_OPS,
  init: {
    fresh: (ctx) => serve(ctx, 0),
    restart: (ctx, { generation }) => serve(ctx, generation),
  },
});

/** The handlers of incarnation `generation` (0 at boot): a fresh table of mounts. */
function serve(ctx: Context, generation: number): Handlers<typeof EXT2_OPS> {
  /** Mounts, each named by the vfs with its mount point. */
  const mounts = new FsInstances<Ext2>('ext2', generation);
  /** Images mounted, being mounted or being unmounted: one writer per image. */
  const busy = new Set<string>();
  /** Images being unmounted → the unmount. */
  const detaching = new Map<string, Promise<void>>();
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
    async mount({ source, options = {} }) {
      if (!source) throw new SysError('EINVAL', 'ext2: mount needs a source (an image path)');
      // The vfs mounting again, after it restarted, what it had mounted: the same instance.
      const name = typeof options.instance === 'string' ? options.instance : undefined;
      const again = name === undefined ? undefined : mounts.named(name, (m) => m.source === source);
      if (again) return { fsid: again.fsid, root: again.instance.root, readonly: again.instance.readonly };
      await claim(source);
      try {
        const stateBefore = typeof options.stateBefore === 'number' ? options.stateBefore : undefined;
        const holder = name === undefined ? undefined : `the mount at ${name}`;
        if (options.key !== undefined && !(options.key instanceof Uint8Array)) throw new SysError('EINVAL', 'ext2: mount option key must be bytes (a Uint8Array)');
        const m = await Ext2.mount(ctx, source, { readonly: options.readonly === true, stateBefore, holder, key: options.key });
        const fsid = mounts.add(m, name);
        // For the vfs to give back if this driver restarts and it must mount the image again.
        return { fsid, root: m.root, readonly: m.readonly, persistent: true, remount: { stateBefore: m.stateAtMount } };
      } catch (err) {
        busy.delete(source);
        throw err;
      }
    },
    async unmount({ fsid }) {
      await unmount(mounts.remove(fsid));
    },
    ...instanceOps(mounts.get),
    async mkfs(args) {
      await claim(args.source);
      try {
        return await mkfs(ctx, args);
      } finally {
        busy.delete(args.source);
      }
    },
    async stop() {
      for (const [fsid, m] of mounts.entries()) {
        mounts.remove(fsid);
        await unmount(m).catch((err) => ctx.hyp.log('warn', `ext2: unmount ${m.source} at stop: ${(err as Error).message}`));
      }
      await Promise.allSettled([...detaching.values()]); // unmounts under way
    },
  };
}
