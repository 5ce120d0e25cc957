// The syscalls on names: making and removing them (mkdir, rmdir, unlink, symlink, link, mknod),
// renaming, and reading them (readdir, readlink).

import {
  S_IALLUGO, S_IFBLK, S_IRWXUGO, S_ISVTX, S_IFCHR, S_IFLNK, S_IFMT, S_IFREG, SysError, entryNameFault, mknodTypeFault, quoteName, type DirEntry,
} from '../../kernel/api.js';
import { MAY_READ, MAY_WRITE, newInodeOwner, requireAccess, requireNameChangeable, requireStickyAllows } from './access.js';
import type { Vfs } from './context.js';
import type { VfsHandlers } from './ops.js';
import { requireNotMountRoot } from './mounts.js';
import { PATH_MAX, find, findEntry, findOrMissing, isDir, pathBytes } from './namei.js';

/** Entries asked of a file system at once by readdir. */
const READDIR_BATCH = 1024;

export function nameCalls(vfs: Vfs): VfsHandlers<'mkdir' | 'rmdir' | 'readdir' | 'unlink' | 'rename' | 'link' | 'symlink' | 'mknod' | 'readlink'> {
  const { fs, procs } = vfs;
  return {
    async mkdir(a) {
      const pr = procs.get(a.pid);
      const f = await findOrMissing(vfs, pr, a.path);
      if (f.node) throw new SysError('EEXIST', `mkdir ${a.path}: exists`);
      requireNameChangeable(pr, f, `mkdir ${a.path}`);
      const o = newInodeOwner(pr, f.parentAttr!, a.mode & (S_IRWXUGO | S_ISVTX) & ~pr.umask, true);
      await fs.mkdir(f.parent!, f.name!, o.mode, o.uid, o.gid);
    },
    async rmdir(a) {
      const pr = procs.get(a.pid);
      const f = await findEntry(vfs, pr, a.path);
      if (f.endsWithDot) throw new SysError('EINVAL', `rmdir ${a.path}: cannot remove '.'`);
      if (f.name === '..') throw new SysError('ENOTEMPTY', `rmdir ${a.path}: '..' is not empty`);
      if (!f.parent) throw new SysError('EBUSY', `rmdir ${a.path}: the root or the current directory`);
      if (!isDir(f.attr)) throw new SysError('ENOTDIR', `rmdir ${a.path}: not a directory`);
      requireNotMountRoot(f.node!, `rmdir ${a.path}`);
      requireNameChangeable(pr, f, `rmdir ${a.path}`);
      requireStickyAllows(pr, f, `rmdir ${a.path}`);
      await fs.rmdir(f.parent, f.name!);
    },
    async readdir(a) {
      const pr = procs.get(a.pid);
      const f = await find(vfs, pr, a.path);
      if (!isDir(f.attr)) throw new SysError('ENOTDIR', `readdir ${a.path}: not a directory`);
      requireAccess(pr, f.attr!, MAY_READ, `readdir ${a.path}`);
      const all: DirEntry[] = [];
      for (let cookie = 0; ;) {
        const r = await fs.readdir(f.node!, cookie, READDIR_BATCH);
        for (const e of r.entries) {
          const fault = entryNameFault(e.name);
          if (fault) throw new SysError('EUCLEAN', `readdir ${a.path}: the file system lists an entry named ${quoteName(e.name)}, which ${fault}`);
        }
        all.push(...r.entries);
        if (r.eof || r.entries.length === 0) break;
        cookie = r.cookie;
      }
      return all;
    },
    async unlink(a) {
      const pr = procs.get(a.pid);
      const f = await findEntry(vfs, pr, a.path);
      if (!f.parent || isDir(f.attr)) throw new SysError('EISDIR', `unlink ${a.path}: is a directory`);
      requireNameChangeable(pr, f, `unlink ${a.path}`);
      requireStickyAllows(pr, f, `unlink ${a.path}`);
      await fs.unlink(f.parent, f.name!);
    },
    async rename(a) {
      const pr = procs.get(a.pid);
      const what = `rename ${a.from} to ${a.to}`;
      const src = await findEntry(vfs, pr, a.from);
      const dst = await findOrMissing(vfs, pr, a.to);
      if (!src.parent || src.endsWithDot || src.name === '..' || !dst.parent || dst.endsWithDot || dst.name === '..') {
        throw new SysError('EBUSY', `${what}: cannot rename '.', '..' or '/'`); // as Linux's do_renameat2
      }
      if (src.parent.mnt !== dst.parent.mnt) throw new SysError('EXDEV', `${what}: across mounts`);
      requireNotMountRoot(src.node!, what);
      if (dst.node) requireNotMountRoot(dst.node, what);
      if (dst.mustBeDir && !isDir(src.attr)) throw new SysError('ENOTDIR', `${what}: not a directory`);
      requireNameChangeable(pr, src, what);
      requireNameChangeable(pr, dst, what);
      requireStickyAllows(pr, src, what);
      if (dst.node) requireStickyAllows(pr, dst, what);
      // A directory moved to another parent has its '..' rewritten: that is a write to it (as Linux).
      if (isDir(src.attr) && src.parent.h.ino !== dst.parent.h.ino) requireAccess(pr, src.attr!, MAY_WRITE, what);
      await fs.rename(src.parent, src.name!, dst.parent, dst.name!);
    },
    async link(a) {
      const pr = procs.get(a.pid);
      const what = `link ${a.existing} to ${a.path}`;
      const src = await find(vfs, pr, a.existing, false);
      if (isDir(src.attr)) throw new SysError('EPERM', `${what}: a directory cannot have another name`);
      const dst = await findOrMissing(vfs, pr, a.path);
      if (dst.node) throw new SysError('EEXIST', `${what}: exists`);
      if (dst.mustBeDir) throw new SysError('ENOENT', `${what}: a trailing slash names a directory`);
      if (src.node!.mnt !== dst.parent!.mnt) throw new SysError('EXDEV', `${what}: across mounts`);
      requireNameChangeable(pr, dst, what);
      await fs.link(src.node!, dst.parent!, dst.name!);
    },
    async symlink(a) {
      const pr = procs.get(a.pid);
      const what = `symlink ${a.path}`;
      if (a.target === '') throw new SysError('ENOENT', `${what}: empty target`);
      if (pathBytes(a.target) >= PATH_MAX) throw new SysError('ENAMETOOLONG', `${what}: a target of more than ${PATH_MAX - 1} bytes`);
      const f = await findOrMissing(vfs, pr, a.path);
      if (f.node) throw new SysError('EEXIST', `${what}: exists`);
      requireNameChangeable(pr, f, what);
      const o = newInodeOwner(pr, f.parentAttr!, 0, false);
      await fs.symlink(f.parent!, f.name!, a.target, o.uid, o.gid);
    },
    /**
     * As Linux's mknodat: the type is checked first (EPERM for a directory, else EINVAL), then the name (EEXIST) and the
     * directory (EACCES, EROFS); a device node needs root (EPERM). The umask applies; a device
     * number is kept for a device node only.
     */
    async mknod(a) {
      const pr = procs.get(a.pid);
      const what = `mknod ${a.path}`;
      const fault = mknodTypeFault(a.mode);
      if (fault) throw new SysError(fault.errno, `${what}: ${fault.message}`);
      if (a.rdev > 0xffffffff) throw new SysError('EINVAL', `${what}: device number ${a.rdev} does not fit in 32 bits`);
      const f = await findOrMissing(vfs, pr, a.path);
      if (f.node) throw new SysError('EEXIST', `${what}: exists`);
      if (f.mustBeDir) throw new SysError('ENOENT', `${what}: a trailing slash names a directory`);
      requireNameChangeable(pr, f, what);
      const type = a.mode & S_IFMT || S_IFREG;
      const device = type === S_IFCHR || type === S_IFBLK;
      if (device && pr.uid !== 0) throw new SysError('EPERM', `${what}: only root may make device nodes`);
      const o = newInodeOwner(pr, f.parentAttr!, a.mode & S_IALLUGO & ~pr.umask, false);
      await fs.mknod(f.parent!, f.name!, type | o.mode, device ? a.rdev : 0, o.uid, o.gid);
    },
    async readlink(a) {
      const f = await find(vfs, procs.get(a.pid), a.path, false);
      if ((f.attr!.mode & S_IFMT) !== S_IFLNK) throw new SysError('EINVAL', `readlink ${a.path}: not a symbolic link`);
      return fs.readlink(f.node!);
    },
  };
}
