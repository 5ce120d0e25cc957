// ext2: the second extended file system, on a blk device. One component serves any number of
// mounts (each an image attached through blk), and makes new file systems with mkfs.

import { FS_OPS, SysError, defineComponent, firstFsid, type Handle } from '../../kernel/api.js';
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
  start(ctx, info) {
    const mounts = new Map<number, Ext2>();
    /** The name the vfs gave each mount (its mount point). */
    const instances = new WeakMap<Ext2, unknown>();
    /** Images mounted or being mounted: one writer per image. */
    const busy = new Set<string>();
    let nextFsid = firstFsid(info);
    const fs = (fsid: number): Ext2 => {
      const m = mounts.get(fsid);
      if (!m) throw new SysError('ENODEV', `ext2: no mounted file system ${fsid}`);
      return m;
    };
    const claim = (source: string) => {
      if (busy.has(source)) throw new SysError('EBUSY', `ext2: ${source} is already mounted`);
      busy.add(source);
    };
    type A = { fsid: number; h: Handle; dir: Handle; name: string };
    type Creds = { mode: number; uid: number; gid: number };

    return {
      async mount({ source, options = {} }: { source?: string; options?: { readonly?: unknown; stateBefore?: unknown; instance?: unknown } }) {
        if (!source) throw new SysError('EINVAL', 'ext2: mount needs a source (an image path)');
        // The vfs mounting again, after it restarted, what it had mounted: the same instance.
        const again = options.instance !== undefined && [...mounts].find(([, m]) => m.source === source && instances.get(m) === options.instance);
        if (again) return { fsid: again[0], root: again[1].root, readonly: again[1].readonly };
        claim(source);
        try {
          const stateBefore = typeof options.stateBefore === 'number' ? options.stateBefore : undefined;
          const m = await Ext2.mount(ctx, source, options.readonly === true, stateBefore);
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
        busy.delete(m.source);
        await m.unmount();
      },
      statfs: ({ fsid }: A) => fs(fsid).statfs(),
      walk: ({ fsid, dir, names }: A & { names: string[] }) => fs(fsid).walk(dir, names),
      getattr: ({ fsid, h }: A) => fs(fsid).getattr(h),
      setattr: ({ fsid, h, ...rest }: { fsid: number; h: Handle } & Parameters<Ext2['setattr']>[1]) => fs(fsid).setattr(h, rest),
      create: ({ fsid, dir, name, mode, uid, gid, excl }: A & Creds & { excl: boolean }) => fs(fsid).create(dir, name, mode, uid, gid, excl),
      mkdir: ({ fsid, dir, name, mode, uid, gid }: A & Creds) => fs(fsid).mkdir(dir, name, mode, uid, gid),
      symlink: ({ fsid, dir, name, target, uid, gid }: A & Creds & { target: string }) => fs(fsid).symlink(dir, name, target, uid, gid),
      link: ({ fsid, h, dir, name }: A) => fs(fsid).link(h, dir, name),
      unlink: ({ fsid, dir, name }: A) => fs(fsid).unlink(dir, name),
      rmdir: ({ fsid, dir, name }: A) => fs(fsid).rmdir(dir, name),
      rename: ({ fsid, sdir, sname, ddir, dname }: { fsid: number; sdir: Handle; sname: string; ddir: Handle; dname: string }) =>
        fs(fsid).rename(sdir, sname, ddir, dname),
      readlink: ({ fsid, h }: A) => fs(fsid).readlink(h),
      readdir: ({ fsid, h, cookie, count }: A & { cookie: number; count: number }) => fs(fsid).readdir(h, cookie, count),
      read: ({ fsid, h, offset, length }: A & { offset: number; length: number }) => fs(fsid).read(h, offset, length),
      write: ({ fsid, h, offset, data }: A & { offset: number; data: Uint8Array }) => fs(fsid).write(h, offset, data),
      append: ({ fsid, h, data }: A & { data: Uint8Array }) => fs(fsid).write(h, null, data),
      open: ({ fsid, h }: A) => fs(fsid).open(h),
      close: ({ fsid, h }: A) => fs(fsid).close(h),
      // A commit writes every change, not only this file's: the vfs may forget what it kept.
      fsync: async ({ fsid, h }: A) => {
        await fs(fsid).fsync(h);
        return { everything: true };
      },
      sync: ({ fsid }: A) => fs(fsid).sync(),
      async mkfs(args: MkfsArgs) {
        claim(args.source);
        try {
          return await mkfs(ctx, args);
        } finally {
          busy.delete(args.source);
        }
      },
      async stop() {
        for (const [fsid, m] of mounts) {
          mounts.delete(fsid);
          await m.unmount().catch((err) => ctx.hyp.log('warn', `ext2: unmount ${m.source} at stop: ${(err as Error).message}`));
        }
      },
    };
  },
});
