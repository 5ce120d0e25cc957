// The syscalls on open files: open and close, reads and writes (at the file offset or at one
// given), lseek, fstat, ftruncate, fsync. An open file description (OpenFile) is shared by the
// fds that refer to it; calls that use its offset run one at a time. A pipe or an open FIFO
// reads and writes its pipe object (pipes.ts) and has no offset.

import {
  MAX_IO, O_ACCMODE, O_APPEND, O_CREAT, O_DIRECTORY, O_EXCL, O_NOFOLLOW, O_NONBLOCK, O_RDONLY, O_TRUNC, O_WRONLY,
  S_IALLUGO, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, SysError, checkFileGrants, handOver, type Attr, type FileGrant, type GrantedOpen, type Stat,
} from '../../kernel/api.js';
import { MAY_EXEC, MAY_READ, MAY_WRITE, modeAfterWrite, newInodeOwner, requireAccess, requireNameChangeable, requireWritableMount } from './access.js';
import type { FromProc, Vfs } from './context.js';
import type { VfsHandlers } from './ops.js';
import { statOf, type Vnode } from './mounts.js';
import { checkPath, find, isDir, lookup } from './namei.js';
import { newOpenFile, type OpenFile } from './procs.js';
import type { SetidWatch } from './setid.js';

/** lseek's whence: from the start, from the offset, from the end of the file. */
const SEEK_SET = 0;
const SEEK_CUR = 1;
const SEEK_END = 2;

/**
 * For open with O_CREAT: when the path's last name (not '.' or '..') is followed by '/', the
 * directory that name would be in, ending in '/'; null for any other path. Such an open is
 * EISDIR once that directory is found and searchable, whatever the name (as on Linux).
 */
function dirOfSlashedName(path: string): string | null {
  if (!path.endsWith('/')) return null;
  const stripped = path.replace(/\/+$/, '');
  const at = stripped.lastIndexOf('/');
  const last = stripped.slice(at + 1);
  if (last === '' || last === '.' || last === '..') return null;
  return at < 0 ? './' : stripped.slice(0, at + 1);
}

/** Drops one reference to an open file description; the last one closes its pipe end and its file. */
export async function releaseFile(vfs: Vfs, file: OpenFile): Promise<void> {
  if (--file.refs !== 0) return;
  file.pipe?.close(file.flags);
  if (file.node) await vfs.fs.close(file.node);
}

/** The file of a description that has an offset: ESPIPE for a pipe or FIFO. */
function seekable(file: OpenFile, fd: number, what: string): Vnode {
  if (file.pipe || !file.node) throw new SysError('ESPIPE', `${what}: fd ${fd} is a pipe or FIFO`);
  return file.node;
}

/** The file of a description, for a call a pipe or FIFO cannot take: EINVAL for one. */
function notPipe(file: OpenFile, fd: number, what: string): Vnode {
  if (file.pipe || !file.node) throw new SysError('EINVAL', `${what}: fd ${fd} is a pipe or FIFO`);
  return file.node;
}

/**
 * The grant of a new open file for the core's direct reads and writes (kernel/direct-files.ts):
 * for a regular file on a file system; null for anything else (its fd goes through vfs). It
 * reads directly when open for reading; it writes directly (once the core armed it) when open
 * for writing, on a file system with no replay log (what vfs keeps for a restart must see every
 * write) and with no set-id bit (a write must take them away: setid.ts).
 */
function grantOf(file: OpenFile, attr: Attr, setid: SetidWatch): FileGrant | null {
  const node = file.node;
  if (!node || file.pipe || (attr.mode & S_IFMT) !== S_IFREG) return null;
  const acc = file.flags & O_ACCMODE;
  const write = acc !== O_RDONLY && node.mnt.log === null && file.setidFreeAt === setid.now();
  return { fs: node.mnt.fs, fsid: node.mnt.fsid, h: node.h, read: acc !== O_WRONLY, write };
}

const nonblocking = (file: OpenFile) => (file.flags & O_NONBLOCK) !== 0;

/** fstat of a pipe made by pipe(): a FIFO of its maker's, on no mount (dev 0), as Linux's pipefs. */
function pipeStat(file: OpenFile): Stat {
  const { ino, owner } = file.pipe!;
  const t = owner?.time ?? 0;
  return {
    ino, gen: 0, mode: S_IFIFO | 0o600, nlink: 1, uid: owner?.uid ?? 0, gid: owner?.gid ?? 0, size: 0, blocks: 0,
    blksize: 4096, rdev: 0, atime: t, mtime: t, ctime: t, dev: 0,
  };
}

/** Runs offset-using calls on one open file description one at a time. */
function serial<T>(file: OpenFile, fn: () => Promise<T>): Promise<T> {
  const run = file.queue.then(fn, fn);
  file.queue = run.catch(() => {});
  return run;
}

function requireReadable(file: OpenFile, fd: number): void {
  if ((file.flags & O_ACCMODE) === O_WRONLY) throw new SysError('EBADF', `fd ${fd} is not open for reading`);
  if (file.isDir) throw new SysError('EISDIR', `fd ${fd} is a directory`);
}

function requireWritable(file: OpenFile, fd: number): void {
  if ((file.flags & O_ACCMODE) === O_RDONLY) throw new SysError('EBADF', `fd ${fd} is not open for writing`);
}

export function fileCalls(vfs: Vfs): VfsHandlers<'open' | 'close' | 'read' | 'write' | 'pread' | 'pwrite' | 'lseek' | 'fstat' | 'ftruncate' | 'fsync' | 'usedDirectly'> {
  const { fs, procs } = vfs;
  /** The open file description behind fd `fd` of the calling process. */
  const fileOf = (a: FromProc & { fd: number }) => procs.file(procs.get(a.pid), a.fd);

  return {
    async open(a) {
      const pr = procs.get(a.pid);
      const setidAt = vfs.setid.now();
      const { flags } = a;
      const acc = flags & O_ACCMODE;
      if (acc === O_ACCMODE) throw new SysError('EINVAL', `open ${a.path}: flags ask for no access mode`);
      const create = (flags & O_CREAT) !== 0;
      // As Linux (since 6.4): O_CREAT makes a regular file, O_DIRECTORY wants a directory.
      if (create && flags & O_DIRECTORY) throw new SysError('EINVAL', `open ${a.path}: O_CREAT and O_DIRECTORY together`);
      const excl = create && (flags & O_EXCL) !== 0;
      const slashedIn = create ? dirOfSlashedName(a.path) : null;
      if (slashedIn !== null) {
        checkPath(a.path);
        requireAccess(pr, (await find(vfs, pr, slashedIn)).attr!, MAY_EXEC, `open ${a.path}`);
        throw new SysError('EISDIR', `open ${a.path}: O_CREAT of a name followed by '/'`);
      }
      const f = await lookup(vfs, pr, a.path, { follow: !(flags & O_NOFOLLOW) && !excl, allowMissing: create });
      let node: Vnode;
      let attr: Attr;
      if (f.node) {
        node = f.node;
        attr = f.attr!;
        if (excl) throw new SysError('EEXIST', `open ${a.path}: exists`);
        if ((attr.mode & S_IFMT) === S_IFLNK) throw new SysError('ELOOP', `open ${a.path}: a symbolic link (O_NOFOLLOW)`);
        if (flags & O_DIRECTORY && !isDir(attr)) throw new SysError('ENOTDIR', `open ${a.path}: not a directory`);
        // A directory is opened only to read it: not for writing, truncating or O_CREAT.
        if (isDir(attr) && (acc !== O_RDONLY || flags & (O_TRUNC | O_CREAT))) throw new SysError('EISDIR', `open ${a.path}: is a directory`);
        // O_TRUNC asks for write permission even with O_RDONLY, and truncates then too; a
        // read-only mount is EROFS before any EACCES (as Linux).
        const writes = acc !== O_RDONLY || flags & O_TRUNC;
        if (writes && (attr.mode & S_IFMT) === S_IFREG) requireWritableMount(node, `open ${a.path}`);
        if (acc !== O_WRONLY) requireAccess(pr, attr, MAY_READ, `open ${a.path}`);
        if (writes) requireAccess(pr, attr, MAY_WRITE, `open ${a.path}`);
        if (flags & O_TRUNC && (attr.mode & S_IFMT) === S_IFREG) {
          // A truncation takes the set-id bits away as a write does, even of an empty file.
          const mode = modeAfterWrite(pr, attr);
          if (attr.size > 0 || mode !== undefined) attr = await fs.setattr(node, { size: 0, mode });
        }
      } else {
        if (f.mustBeDir) throw new SysError('EISDIR', `open ${a.path}: cannot create a directory with open`);
        requireNameChangeable(pr, f, `open ${a.path}`);
        const o = newInodeOwner(pr, f.parentAttr!, a.mode & S_IALLUGO & ~pr.umask, false);
        const step = await fs.create(f.parent!, f.name!, o.mode, o.uid, o.gid, excl);
        node = { mnt: f.parent!.mnt, h: step.handle };
        attr = step.attr;
      }
      await fs.open(node);
      const pipe = (attr.mode & S_IFMT) === S_IFIFO ? vfs.pipes.fifo(node) : undefined;
      const file = newOpenFile(node, flags, { pipe, isDir: isDir(attr) });
      vfs.setid.seen(file, attr, setidAt);
      if (pipe) {
        try {
          await pipe.open(a.pid, flags, nonblocking(file), true);
        } catch (err) {
          await fs.close(node);
          throw err;
        }
      }
      let fd: number;
      try {
        fd = procs.install(pr, file);
      } catch (err) {
        await releaseFile(vfs, file);
        throw err;
      }
      return a.grant ? { fd, grant: grantOf(file, attr, vfs.setid) } satisfies GrantedOpen : fd;
    },
    async close(a) {
      const pr = procs.get(a.pid);
      const file = procs.file(pr, a.fd);
      pr.fds[a.fd] = undefined;
      await releaseFile(vfs, file);
    },
    read(a) {
      const file = fileOf(a);
      requireReadable(file, a.fd);
      if (file.pipe) return file.pipe.read(a.pid, Math.min(a.length, MAX_IO), nonblocking(file)).then(handOver);
      const node = file.node!;
      return serial(file, async () => {
        const data = await fs.read(node, file.offset, Math.min(a.length, MAX_IO));
        file.offset += data.length;
        return handOver(data);
      });
    },
    write(a) {
      const pr = procs.get(a.pid);
      const file = procs.file(pr, a.fd);
      requireWritable(file, a.fd);
      if (file.pipe) return file.pipe.write(a.pid, a.data, nonblocking(file));
      const node = file.node!;
      return serial(file, async () => {
        if (a.data.length === 0) return 0;
        await vfs.setid.beforeWrite(pr, file);
        const r = file.flags & O_APPEND ? await fs.append(node, a.data) : await fs.write(node, file.offset, a.data);
        file.offset = r.end;
        file.unsynced = true;
        return r.written;
      });
    },
    async pread(a) {
      const file = fileOf(a);
      requireReadable(file, a.fd);
      return handOver(await fs.read(seekable(file, a.fd, 'pread'), a.offset, Math.min(a.length, MAX_IO)));
    },
    async pwrite(a) {
      const pr = procs.get(a.pid);
      const file = procs.file(pr, a.fd);
      requireWritable(file, a.fd);
      const node = seekable(file, a.fd, 'pwrite');
      if (a.data.length === 0) return 0;
      await vfs.setid.beforeWrite(pr, file);
      const r = await fs.write(node, a.offset, a.data);
      file.unsynced = true;
      return r.written;
    },
    lseek(a) {
      const file = fileOf(a);
      const node = seekable(file, a.fd, 'lseek');
      return serial(file, async () => {
        let base: number;
        if (a.whence === SEEK_SET) base = 0;
        else if (a.whence === SEEK_CUR) base = file.offset;
        else if (a.whence === SEEK_END) base = (await fs.getattr(node)).size;
        else throw new SysError('EINVAL', `lseek: whence ${a.whence} is not SEEK_SET, SEEK_CUR or SEEK_END`);
        const to = base + a.offset;
        if (to < 0 || !Number.isSafeInteger(to)) throw new SysError('EINVAL', `lseek: offset ${to} is out of range`);
        file.offset = to;
        return to;
      });
    },
    async fstat(a) {
      const file = fileOf(a);
      if (!file.node) return pipeStat(file);
      return statOf(file.node, await fs.getattr(file.node));
    },
    async ftruncate(a) {
      const pr = procs.get(a.pid);
      const file = procs.file(pr, a.fd);
      const node = notPipe(file, a.fd, 'ftruncate');
      if ((file.flags & O_ACCMODE) === O_RDONLY || file.isDir) throw new SysError('EINVAL', `ftruncate: fd ${a.fd} is not open for writing`);
      await vfs.setid.beforeWrite(pr, file); // even when the size stays, as Linux
      await fs.setattr(node, { size: a.length });
      file.unsynced = true;
    },
    usedDirectly(a) {
      for (const g of checkFileGrants(a.files)) {
        for (const mnt of vfs.mounts.all()) if (mnt.fs === g.fs && mnt.fsid === g.fsid) fs.usedElsewhere({ mnt, h: g.h });
      }
    },
    async fsync(a) {
      const file = fileOf(a);
      const node = notPipe(file, a.fd, 'fsync');
      const mark = node.mnt.log?.mark();
      const r = await fs.fsync(node);
      if (r?.everything && mark !== undefined) node.mnt.log?.clearBefore(mark);
      const lost = file.lost;
      file.unsynced = file.lost = false;
      if (lost) throw new SysError('EIO', `fsync: data written to fd ${a.fd} before its file system (${node.mnt.fs}) restarted was lost`);
    },
  };
}
