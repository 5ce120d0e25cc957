// ext2: the second extended file system, on a blk device. One component serves any number of
// mounts (each an image attached through blk, through dk for a partition of a disk image — the
// mount option `partition` is its number — or through cgd for an image that is a LUKS
// container: the mount option `key` is its passphrase), and makes new file systems with mkfs. An
// image (a path, or a path and a partition) is claimed from the start of its mount until its
// unmount has committed and detached it from blk: an unmount returns only then, and a mount of
// the same image meanwhile waits for it.
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
   * container the image is (its payload, or `size` bytes of it), or with `partition` in that
   * partition of the disk image (all of it, or its first `size` bytes).
   */
  mkfs: op<MkfsResult>()({
    args: {
      source: 'string', size: 'uint?', key: 'bytes?', partition: 'uint?', blockSize: 'uint?', inodes: 'uint?', inodeRatio: 'uint?', inodeSize: 'uint?',
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
  requires: ['blk', 'cgd', 'dk'],
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
  /** Images (claimKey) mounted, being mounted or being unmounted: one writer per image. */
  const busy = new Set<string>();
  /** Images (claimKey) being unmounted → the unmount. */
  const detaching = new Map<string, Promise<void>>();
  /** Each mount's image, as claimed. */
  const claimed = new Map<Ext2, string>();
  /** Claims an image (claimKey), once an unmount of it under way has let go of it. */
  const claim = async (image: string, shown: string) => {
    await detaching.get(image)?.catch(() => {});
    if (busy.has(image)) throw new SysError('EBUSY', `ext2: ${shown} is already mounted`);
    busy.add(image);
  };
  /** Unmounts m; its claim is given up only once its device is detached (else it stays). */
  const unmount = (m: Ext2): Promise<void> => {
    const image = claimed.get(m)!;
    const done = m.unmount().finally(() => {
      detaching.delete(image);
      if (m.detached) {
        busy.delete(image);
        claimed.delete(m);
      }
    });
    detaching.set(image, done);
    return done;
  };

  return {
    async mount({ source, options = {} }) {
      if (!source) throw new SysError('EINVAL', 'ext2: mount needs a source (an image path)');
      // The vfs mounting again, after it restarted, what it had mounted: the same instance.
      const name = typeof options.instance === 'string' ? options.instance : undefined;
      const again = name === undefined ? undefined : mounts.named(name, (m) => m.source === source);
      if (again) return { fsid: again.fsid, root: again.instance.root, readonly: again.instance.readonly };
      const partition = partitionOption(options.partition);
      const image = claimKey(source, partition);
      await claim(image, shownAs(source, partition));
      try {
        const stateBefore = typeof options.stateBefore === 'number' ? options.stateBefore : undefined;
        const holder = name === undefined ? undefined : `the mount at ${name}`;
        if (options.key !== undefined && !(options.key instanceof Uint8Array)) throw new SysError('EINVAL', 'ext2: mount option key must be bytes (a Uint8Array)');
        const m = await Ext2.mount(ctx, source, { readonly: options.readonly === true, stateBefore, holder, key: options.key, partition });
        claimed.set(m, image);
        const fsid = mounts.add(m, name);
        // For the vfs to give back if this driver restarts and it must mount the image again.
        return { fsid, root: m.root, readonly: m.readonly, ...(m.readOnlyReason ? { readonlyWhy: m.readOnlyReason } : {}), persistent: true, remount: { stateBefore: m.stateAtMount } };
      } catch (err) {
        busy.delete(image);
        throw err;
      }
    },
    async unmount({ fsid }) {
      await unmount(mounts.remove(fsid));
    },
    ...instanceOps(mounts.get),
    async mkfs(args) {
      const partition = partitionOption(args.partition);
      const image = claimKey(args.source, partition);
      await claim(image, shownAs(args.source, partition));
      try {
        return await mkfs(ctx, { ...args, partition });
      } finally {
        busy.delete(image);
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

/** What ext2 claims for a mount or mkfs: the image path, and the partition if one is named (NUL: in no path). */
function claimKey(source: string, partition: number | undefined): string {
  return partition === undefined ? source : `${source}\0${partition}`;
}

/** The image as messages name it: `disk.img`, or `disk.img@2` for a partition. */
function shownAs(source: string, partition: number | undefined): string {
  return partition === undefined ? source : `${source}@${partition}`;
}

/** The option `partition`: absent, or a partition number from 1. EINVAL else. */
function partitionOption(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  if (!Number.isSafeInteger(v) || (v as number) < 1) throw new SysError('EINVAL', `ext2: option partition must be a partition number from 1, not ${String(v)}`);
  return v as number;
}
