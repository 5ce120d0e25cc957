// tmpfs: an in-memory file system. Each mount is an independent instance; its content lives
// only as long as the component does (a restart starts with empty instances, reported as such).

import { FS_OPS, SysError, defineComponent, firstFsid, type Handle } from '../../kernel/api.js';
import { Tmpfs } from './tmpfs.js';

/** Default size of an instance: 1 GiB of content, a million inodes. */
const DEFAULT_BYTES = 1 << 30;
const DEFAULT_INODES = 1 << 20;

export default defineComponent({
  name: 'tmpfs',
  description: 'in-memory file system',
  requires: [],
  ops: FS_OPS,
  start(ctx, info) {
    const instances = new Map<number, Tmpfs>();
    const byName = new Map<string, number>();
    let nextFsid = firstFsid(info);
    const now = () => ctx.hyp.clockRealtime();
    const fs = (fsid: number): Tmpfs => {
      const t = instances.get(fsid);
      if (!t) throw new SysError('ENODEV', `tmpfs: no mounted instance ${fsid}`);
      return t;
    };
    type A = { fsid: number; h: Handle; dir: Handle };

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
      statfs: ({ fsid }: A) => fs(fsid).statfs(),
      walk: ({ fsid, dir, names }: A & { names: string[] }) => fs(fsid).walk(dir, names),
      getattr: ({ fsid, h }: A) => fs(fsid).getattr(h),
      setattr: ({ fsid, h, ...rest }: { fsid: number; h: Handle } & Parameters<Tmpfs['setattr']>[1]) => fs(fsid).setattr(h, rest),
      create: ({ fsid, dir, name, mode, uid, gid, excl }: A & { name: string; mode: number; uid: number; gid: number; excl: boolean }) =>
        fs(fsid).create(dir, name, mode, uid, gid, excl),
      mkdir: ({ fsid, dir, name, mode, uid, gid }: A & { name: string; mode: number; uid: number; gid: number }) =>
        fs(fsid).mkdir(dir, name, mode, uid, gid),
      symlink: ({ fsid, dir, name, target, uid, gid }: A & { name: string; target: string; uid: number; gid: number }) =>
        fs(fsid).symlink(dir, name, target, uid, gid),
      link: ({ fsid, h, dir, name }: A & { name: string }) => fs(fsid).hardlink(h, dir, name),
      unlink: ({ fsid, dir, name }: A & { name: string }) => fs(fsid).unlink(dir, name),
      rmdir: ({ fsid, dir, name }: A & { name: string }) => fs(fsid).rmdir(dir, name),
      rename: ({ fsid, sdir, sname, ddir, dname }: { fsid: number; sdir: Handle; sname: string; ddir: Handle; dname: string }) =>
        fs(fsid).rename(sdir, sname, ddir, dname),
      readlink: ({ fsid, h }: A) => fs(fsid).readlink(h),
      readdir: ({ fsid, h, cookie, count }: A & { cookie: number; count: number }) => fs(fsid).readdir(h, cookie, count),
      read: ({ fsid, h, offset, length }: A & { offset: number; length: number }) => fs(fsid).read(h, offset, length),
      write: ({ fsid, h, offset, data }: A & { offset: number; data: Uint8Array }) => fs(fsid).write(h, offset, data),
      append: ({ fsid, h, data }: A & { data: Uint8Array }) => fs(fsid).write(h, 0, data, true),
      open: ({ fsid, h }: A) => fs(fsid).open(h),
      close: ({ fsid, h }: A) => fs(fsid).close(h),
      fsync: ({ fsid, h }: A) => void fs(fsid).getattr(h),
      sync: ({ fsid }: A) => void fs(fsid),
    };
  },
});
