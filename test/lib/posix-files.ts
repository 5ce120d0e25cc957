// The cases of open (its flags: O_CREAT, O_EXCL, O_TRUNC, O_DIRECTORY, O_NOFOLLOW, O_APPEND, the
// access modes), mknod and mkfifo, FIFOs and pipes, dup and dup2, EBADF for every fd call, the
// umask and the cwd — beyond the path errors of posix-paths.ts (pjdfstest's open, mknod and mkfifo
// files, with Linux's answers where it allows several, checked on this host, Linux 6.18).

import {
  O_APPEND, O_CREAT, O_DIRECTORY, O_EXCL, O_NOFOLLOW, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY,
  S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK,
} from '../../kernel/index.js';
import {
  BADFD, G1, G2, O_NONBLOCK, P, R, U1, USER, dir, fifo, file, node, symlink, type Case, type Setup,
} from './posix-case.js';

const inW: Setup = dir('w', { mode: 0o777 });

const open: Case[] = [
  {
    name: "open: O_CREAT makes a file with the mode less the umask, owned by the caller; the directory's mtime changes", as: USER, umask: 0o022,
    setup: [inW], steps: [['open', P('w/f'), O_WRONLY | O_CREAT, 0o777]], expect: 'OK',
    after: [{ path: 'w/f', type: 'reg', mode: 0o755, uid: U1, gid: G1, size: 0, nlink: 1 }, { path: 'w', mtime: 'changed', ctime: 'changed' }],
  },
  { name: 'open: O_CREAT with umask 0', umask: 0, steps: [['open', P('f'), O_WRONLY | O_CREAT, 0o666]], expect: 'OK', after: [{ path: 'f', mode: 0o666 }] },
  { name: 'open: O_CREAT with umask 077', umask: 0o077, steps: [['open', P('f'), O_WRONLY | O_CREAT, 0o666]], expect: 'OK', after: [{ path: 'f', mode: 0o600 }] },
  { name: 'open: O_CREAT keeps set-user-ID in the mode', umask: 0, steps: [['open', P('f'), O_WRONLY | O_CREAT, 0o4755]], expect: 'OK', after: [{ path: 'f', mode: 0o4755 }] },
  {
    name: 'open: O_CREAT|O_RDWR of a file of mode 0 gives a working fd', umask: 0,
    steps: [['open', P('f'), O_RDWR | O_CREAT, 0], ['write', R(0), 'ok'], ['pread', R(0), 2, 0]], expect: 'OK', returns: 'ok',
    after: [{ path: 'f', mode: 0 }],
  },
  {
    name: 'open: O_CREAT of an existing file opens it as it is', setup: [file('f', { data: 'abc', mode: 0o600 })],
    steps: [['open', P('f'), O_WRONLY | O_CREAT, 0o777]], expect: 'OK', after: [{ path: 'f', data: 'abc', mode: 0o600, mtime: 'same' }],
  },
  { name: 'open: EEXIST for O_CREAT|O_EXCL of an existing file', setup: [file('f')], steps: [['open', P('f'), O_WRONLY | O_CREAT | O_EXCL, 0o644]], expect: 'EEXIST' },
  { name: 'open: EEXIST for O_CREAT|O_EXCL of a directory', setup: [dir('d')], steps: [['open', P('d'), O_RDONLY | O_CREAT | O_EXCL, 0o644]], expect: 'EEXIST' },
  { name: 'open: EEXIST for O_CREAT|O_EXCL of a dangling symlink', setup: [symlink('l', 'nowhere')], steps: [['open', P('l'), O_WRONLY | O_CREAT | O_EXCL, 0o644]], expect: 'EEXIST' },
  {
    name: "open: O_CREAT through a dangling symlink makes its target", setup: [symlink('l', 't')],
    steps: [['open', P('l'), O_WRONLY | O_CREAT, 0o644]], expect: 'OK', after: [{ path: 't', type: 'reg' }, { path: 'l', type: 'lnk' }],
  },
  {
    name: 'open: O_CREAT in a set-group-ID directory gives the file its group', as: USER, umask: 0o022,
    setup: [dir('p', { mode: 0o2777, gid: G2 })], steps: [['open', P('p/f'), O_WRONLY | O_CREAT, 0o644]], expect: 'OK',
    after: [{ path: 'p/f', gid: G2, uid: U1 }],
  },
  { name: "open: EISDIR for O_CREAT of a name followed by '/'", steps: [['open', P('f/'), O_WRONLY | O_CREAT, 0o644]], expect: 'EISDIR' },
  {
    name: 'open: O_TRUNC empties a file; its mtime and ctime change', setup: [file('f', { data: 'abcdef' })],
    steps: [['open', P('f'), O_WRONLY | O_TRUNC]], expect: 'OK', after: [{ path: 'f', size: 0, mtime: 'changed', ctime: 'changed' }],
  },
  {
    name: 'open: O_RDONLY|O_TRUNC with write permission empties the file', as: USER, setup: [file('f', { data: 'abc', mode: 0o666 })],
    steps: [['open', P('f'), O_RDONLY | O_TRUNC]], expect: 'OK', after: [{ path: 'f', size: 0 }],
  },
  { name: 'open: EACCES for O_RDONLY|O_TRUNC without write permission', as: USER, setup: [file('f', { data: 'abc', mode: 0o644 })], steps: [['open', P('f'), O_RDONLY | O_TRUNC]], expect: 'EACCES' },
  { name: 'open: EACCES for O_WRONLY|O_TRUNC without write permission', as: USER, setup: [file('f', { data: 'abc', mode: 0o644 })], steps: [['open', P('f'), O_WRONLY | O_TRUNC]], expect: 'EACCES' },
  {
    name: 'open: O_CREAT|O_TRUNC of an existing file empties it', setup: [file('f', { data: 'abc' })],
    steps: [['open', P('f'), O_WRONLY | O_CREAT | O_TRUNC, 0o644]], expect: 'OK', after: [{ path: 'f', size: 0 }],
  },
  { name: 'open: EACCES for O_RDONLY without read permission', as: USER, setup: [file('f', { mode: 0o600 })], steps: [['open', P('f'), O_RDONLY]], expect: 'EACCES' },
  { name: 'open: EACCES for O_WRONLY without write permission', as: USER, setup: [file('f', { mode: 0o644 })], steps: [['open', P('f'), O_WRONLY]], expect: 'EACCES' },
  { name: 'open: EACCES for O_RDWR with only read permission', as: USER, setup: [file('f', { mode: 0o644 })], steps: [['open', P('f'), O_RDWR]], expect: 'EACCES' },
  { name: 'open: EACCES for O_RDWR with only write permission', as: USER, setup: [file('f', { mode: 0o622 })], steps: [['open', P('f'), O_RDWR]], expect: 'EACCES' },
  { name: "open: EACCES for the owner when the owner's class lacks read", as: USER, setup: [file('f', { mode: 0o244, uid: U1 })], steps: [['open', P('f'), O_RDONLY]], expect: 'EACCES' },
  { name: 'open: O_RDWR through the group class', as: USER, setup: [file('f', { mode: 0o060, gid: G1 })], steps: [['open', P('f'), O_RDWR]], expect: 'OK' },
  { name: 'open: O_RDONLY through a supplementary group', as: { ...USER, groups: [G2] }, setup: [file('f', { mode: 0o040, gid: G2 })], steps: [['open', P('f'), O_RDONLY]], expect: 'OK' },
  { name: 'open: EACCES for O_RDONLY when only another group may read', as: USER, setup: [file('f', { mode: 0o040, gid: G2 })], steps: [['open', P('f'), O_RDONLY]], expect: 'EACCES' },
  { name: 'open: root opens a file of mode 0 for reading and writing', setup: [file('f', { mode: 0 })], steps: [['open', P('f'), O_RDWR]], expect: 'OK' },
  { name: 'open: a directory for reading', setup: [dir('d')], steps: [['open', P('d'), O_RDONLY]], expect: 'OK' },
  { name: 'open: EISDIR for a directory O_WRONLY', setup: [dir('d')], steps: [['open', P('d'), O_WRONLY]], expect: 'EISDIR' },
  { name: 'open: EISDIR for a directory O_RDWR', setup: [dir('d')], steps: [['open', P('d'), O_RDWR]], expect: 'EISDIR' },
  { name: 'open: EISDIR for a directory O_RDONLY|O_TRUNC', setup: [dir('d')], steps: [['open', P('d'), O_RDONLY | O_TRUNC]], expect: 'EISDIR' },
  { name: 'open: EISDIR for a directory O_CREAT', setup: [dir('d')], steps: [['open', P('d'), O_RDONLY | O_CREAT, 0o644]], expect: 'EISDIR' },
  { name: 'open: EACCES for a directory without read permission', as: USER, setup: [dir('d', { mode: 0o711 })], steps: [['open', P('d'), O_RDONLY]], expect: 'EACCES' },
  { name: 'open: O_DIRECTORY of a directory', setup: [dir('d')], steps: [['open', P('d'), O_RDONLY | O_DIRECTORY]], expect: 'OK' },
  { name: 'open: ENOTDIR for O_DIRECTORY of a file', setup: [file('f')], steps: [['open', P('f'), O_RDONLY | O_DIRECTORY]], expect: 'ENOTDIR' },
  { name: 'open: O_DIRECTORY through a symlink to a directory', setup: [dir('d'), symlink('l', 'd')], steps: [['open', P('l'), O_RDONLY | O_DIRECTORY]], expect: 'OK' },
  { name: 'open: EINVAL for O_CREAT|O_DIRECTORY of a new name', steps: [['open', P('n'), O_RDONLY | O_CREAT | O_DIRECTORY, 0o755]], expect: 'EINVAL' },
  { name: 'open: EINVAL for O_CREAT|O_DIRECTORY of a directory', setup: [dir('d')], steps: [['open', P('d'), O_RDONLY | O_CREAT | O_DIRECTORY, 0o755]], expect: 'EINVAL' },
  { name: 'open: ELOOP for O_NOFOLLOW of a symlink', setup: [file('f'), symlink('l', 'f')], steps: [['open', P('l'), O_RDONLY | O_NOFOLLOW]], expect: 'ELOOP' },
  { name: 'open: O_NOFOLLOW of a file', setup: [file('f')], steps: [['open', P('f'), O_RDONLY | O_NOFOLLOW]], expect: 'OK' },
  { name: 'open: O_NOFOLLOW follows symlinks on the way', setup: [dir('d'), file('d/f'), symlink('l', 'd')], steps: [['open', P('l/f'), O_RDONLY | O_NOFOLLOW]], expect: 'OK' },
  { name: 'open: O_CREAT|O_EXCL|O_NOFOLLOW of a new name', steps: [['open', P('n'), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o644]], expect: 'OK' },
  {
    name: 'open: O_APPEND writes at the end whatever the offset', setup: [file('f', { data: 'abc' })],
    steps: [['open', P('f'), O_WRONLY | O_APPEND], ['lseek', R(0), 0, 0], ['write', R(0), 'de']], expect: 'OK', after: [{ path: 'f', data: 'abcde' }],
  },
  {
    name: 'open: a file past 2 GiB is written and read at its offset', setup: [file('f')],
    steps: [['open', P('f'), O_RDWR], ['pwrite', R(0), 'far', 2 ** 31 + 5], ['pread', R(0), 10, 2 ** 31 + 4]], expect: 'OK', returns: '\0far',
    after: [{ path: 'f', size: 2 ** 31 + 8 }],
  },
  { name: 'open: ENXIO for a socket node', setup: [node('sock', 's')], steps: [['open', P('s'), O_RDONLY]], expect: 'ENXIO' },
  { name: 'write: EBADF for an fd open only for reading', setup: [file('f')], steps: [['open', P('f'), O_RDONLY], ['write', R(0), 'x']], expect: 'EBADF' },
  { name: 'read: EBADF for an fd open only for writing', setup: [file('f', { data: 'x' })], steps: [['open', P('f'), O_WRONLY], ['read', R(0), 1]], expect: 'EBADF' },
  { name: 'read: EISDIR for a directory', setup: [dir('d')], steps: [['open', P('d'), O_RDONLY], ['read', R(0), 1]], expect: 'EISDIR' },
];

const mknod: Case[] = [
  {
    name: "mkfifo: makes a FIFO with the mode less the umask, owned by the caller; the directory's mtime changes", as: USER, umask: 0o022,
    setup: [inW], steps: [['mkfifo', P('w/p'), 0o666]], expect: 'OK',
    after: [{ path: 'w/p', type: 'fifo', mode: 0o644, uid: U1, gid: G1, size: 0 }, { path: 'w', mtime: 'changed', ctime: 'changed' }],
  },
  { name: 'mkfifo: umask 0 keeps the mode', umask: 0, steps: [['mkfifo', P('p'), 0o777]], expect: 'OK', after: [{ path: 'p', mode: 0o777 }] },
  { name: 'mkfifo: EEXIST for a file', setup: [file('f')], steps: [['mkfifo', P('f'), 0o644]], expect: 'EEXIST' },
  { name: 'mkfifo: EEXIST for a directory', setup: [dir('d')], steps: [['mkfifo', P('d'), 0o644]], expect: 'EEXIST' },
  { name: 'mkfifo: EEXIST for a dangling symlink', setup: [symlink('l', 'x')], steps: [['mkfifo', P('l'), 0o644]], expect: 'EEXIST' },
  { name: 'mkfifo: EEXIST for a FIFO', setup: [fifo('p')], steps: [['mkfifo', P('p'), 0o644]], expect: 'EEXIST' },
  { name: "mkfifo: ENOENT for a name followed by '/'", steps: [['mkfifo', P('p/'), 0o644]], expect: 'ENOENT' },
  { name: 'mkfifo: EINVAL for a mode that holds a directory type', steps: [['mkfifo', P('p'), 0o040644]], expect: 'EINVAL', after: [{ path: 'p', exists: false }] },
  {
    name: 'mknod: S_IFIFO makes a FIFO', umask: 0o022, steps: [['mknod', P('p'), S_IFIFO | 0o666, 0]], expect: 'OK',
    after: [{ path: 'p', type: 'fifo', mode: 0o644 }],
  },
  {
    name: 'mknod: S_IFREG makes an empty file', umask: 0, steps: [['mknod', P('f'), S_IFREG | 0o640, 0]], expect: 'OK',
    after: [{ path: 'f', type: 'reg', mode: 0o640, size: 0 }],
  },
  { name: 'mknod: no type bits make a regular file', umask: 0, steps: [['mknod', P('f'), 0o640, 0]], expect: 'OK', after: [{ path: 'f', type: 'reg' }] },
  {
    name: 'mknod: S_IFCHR by root makes a character device with its rdev', umask: 0, steps: [['mknod', P('c'), S_IFCHR | 0o620, 0x0103]], expect: 'OK',
    after: [{ path: 'c', type: 'chr', mode: 0o620, rdev: 0x0103 }],
  },
  {
    name: 'mknod: S_IFBLK by root makes a block device with its rdev', umask: 0, steps: [['mknod', P('b'), S_IFBLK | 0o660, 0x0701]], expect: 'OK',
    after: [{ path: 'b', type: 'blk', mode: 0o660, rdev: 0x0701 }],
  },
  { name: 'mknod: S_IFSOCK makes a socket node', umask: 0, steps: [['mknod', P('s'), S_IFSOCK | 0o755, 0]], expect: 'OK', after: [{ path: 's', type: 'sock', mode: 0o755 }] },
  { name: 'mknod: EPERM for S_IFCHR by another user', as: USER, setup: [inW], steps: [['mknod', P('w/c'), S_IFCHR | 0o644, 0x0103]], expect: 'EPERM' },
  { name: 'mknod: EPERM for S_IFBLK by another user', as: USER, setup: [inW], steps: [['mknod', P('w/b'), S_IFBLK | 0o644, 0x0701]], expect: 'EPERM' },
  { name: 'mknod: S_IFIFO by another user', as: USER, setup: [inW], steps: [['mknod', P('w/p'), S_IFIFO | 0o644, 0]], expect: 'OK', after: [{ path: 'w/p', uid: U1 }] },
  { name: 'mknod: S_IFSOCK by another user', as: USER, setup: [inW], steps: [['mknod', P('w/s'), S_IFSOCK | 0o644, 0]], expect: 'OK' },
  { name: 'mknod: EPERM for S_IFDIR', steps: [['mknod', P('d'), S_IFDIR | 0o755, 0]], expect: 'EPERM' },
  { name: 'mknod: EINVAL for S_IFLNK', steps: [['mknod', P('l'), S_IFLNK | 0o777, 0]], expect: 'EINVAL' },
  { name: 'mknod: EINVAL for a type that does not exist', steps: [['mknod', P('x'), S_IFMT | 0o644, 0]], expect: 'EINVAL' },
  { name: 'mknod: EEXIST for a file', setup: [file('f')], steps: [['mknod', P('f'), S_IFIFO | 0o644, 0]], expect: 'EEXIST' },
  { name: 'mknod: EEXIST for a dangling symlink', setup: [symlink('l', 'x')], steps: [['mknod', P('l'), S_IFCHR | 0o644, 1]], expect: 'EEXIST' },
  {
    name: 'unlink: removes a FIFO', setup: [fifo('p')], steps: [['unlink', P('p')]], expect: 'OK', after: [{ path: 'p', exists: false }],
  },
  {
    name: 'unlink: removes a device node', setup: [node('chr', 'c')], steps: [['unlink', P('c')]], expect: 'OK', after: [{ path: 'c', exists: false }],
  },
  {
    name: 'chmod: of a device node', setup: [node('blk', 'b')], steps: [['chmod', P('b'), 0o600]], expect: 'OK', after: [{ path: 'b', mode: 0o600, type: 'blk' }],
  },
  {
    name: 'rename: of a FIFO', setup: [fifo('p')], steps: [['rename', P('p'), P('q')]], expect: 'OK', after: [{ path: 'q', type: 'fifo' }, { path: 'p', exists: false }],
  },
  {
    name: 'link: to a socket node', setup: [node('sock', 's')], steps: [['link', P('s'), P('t')]], expect: 'OK', after: [{ path: 's', nlink: 2, type: 'sock' }],
  },
  {
    name: 'readdir: lists FIFOs and device nodes with their types', setup: [dir('d'), fifo('d/p'), node('chr', 'd/c'), node('blk', 'd/b'), node('sock', 'd/s')],
    steps: [['readdir', P('d')]], expect: 'OK', after: [{ path: 'd', entries: ['b', 'c', 'p', 's'] }],
  },
];

/** FIFOs opened without blocking (open/17), and data through them and through pipes. */
const pipes: Case[] = [
  { name: 'open: a FIFO O_RDONLY|O_NONBLOCK with no writer', setup: [fifo('p')], steps: [['open', P('p'), O_RDONLY | O_NONBLOCK]], expect: 'OK' },
  { name: 'open: ENXIO for a FIFO O_WRONLY|O_NONBLOCK with no reader', setup: [fifo('p')], steps: [['open', P('p'), O_WRONLY | O_NONBLOCK]], expect: 'ENXIO' },
  {
    name: 'open: a FIFO carries bytes from its writer to its reader', setup: [fifo('p')],
    steps: [['open', P('p'), O_RDONLY | O_NONBLOCK], ['open', P('p'), O_WRONLY | O_NONBLOCK], ['write', R(1), 'through'], ['read', R(0), 100]],
    expect: 'OK', returns: 'through',
  },
  {
    name: 'open: a FIFO reads end of file once its writer is closed', setup: [fifo('p')],
    steps: [['open', P('p'), O_RDONLY | O_NONBLOCK], ['open', P('p'), O_WRONLY | O_NONBLOCK], ['write', R(1), 'x'], ['close', R(1)], ['read', R(0), 10], ['read', R(0), 10]],
    expect: 'OK', returns: '',
  },
  {
    name: 'pipe: carries bytes from its write end to its read end',
    steps: [['pipe'], ['write', R(0, 1), 'abc'], ['read', R(0, 0), 3]], expect: 'OK', returns: 'abc',
  },
  { name: 'pipe: EBADF writing to the read end', steps: [['pipe'], ['write', R(0, 0), 'x']], expect: 'EBADF' },
  { name: 'pipe: EBADF reading from the write end', steps: [['pipe'], ['read', R(0, 1), 1]], expect: 'EBADF' },
  { name: 'pipe: fstat shows a FIFO', steps: [['pipe'], ['fstat', R(0, 0)]], expect: 'OK', returns: { mode: S_IFIFO | 0o600 } },
  { name: 'pipe: end of file once the write end is closed', steps: [['pipe'], ['close', R(0, 1)], ['read', R(0, 0), 5]], expect: 'OK', returns: '' },
  { name: 'pipe: EPIPE writing once the read end is closed', steps: [['pipe'], ['close', R(0, 0)], ['write', R(0, 1), 'x']], expect: 'EPIPE' },
  { name: 'pipe: ESPIPE for lseek', steps: [['pipe'], ['lseek', R(0, 0), 0, 0]], expect: 'ESPIPE' },
];

const dups: Case[] = [
  {
    name: 'dup: the copy shares the file offset', setup: [file('f', { data: 'abcdef' })],
    steps: [['open', P('f'), O_RDONLY], ['dup', R(0)], ['read', R(0), 2], ['read', R(1), 2]], expect: 'OK', returns: 'cd',
  },
  {
    name: 'dup: the file stays open when the first fd is closed', setup: [file('f', { data: 'abc' })],
    steps: [['open', P('f'), O_RDONLY], ['dup', R(0)], ['close', R(0)], ['read', R(1), 3]], expect: 'OK', returns: 'abc',
  },
  { name: 'dup: EBADF for an fd not open', steps: [['dup', BADFD]], expect: 'EBADF' },
  {
    name: 'dup2: onto an open fd closes it first', setup: [file('f', { data: 'from f' }), file('g', { data: 'from g' })],
    steps: [['open', P('f'), O_RDONLY], ['open', P('g'), O_RDONLY], ['dup2', R(0), R(1)], ['read', R(1), 6]], expect: 'OK', returns: 'from f',
  },
  {
    name: 'dup2: onto itself returns the fd, still open', setup: [file('f', { data: 'abc' })],
    steps: [['open', P('f'), O_RDONLY], ['dup2', R(0), R(0)], ['read', R(1), 3]], expect: 'OK', returns: 'abc',
  },
  {
    name: 'dup2: onto a free number', setup: [file('f', { data: 'abc' })],
    steps: [['open', P('f'), O_RDONLY], ['dup2', R(0), 100], ['read', 100, 3]], expect: 'OK', returns: 'abc',
  },
  { name: 'dup2: EBADF for an old fd not open', steps: [['dup2', BADFD, 5]], expect: 'EBADF' },
  { name: 'dup2: EBADF for a new fd past the limit of 1024', setup: [file('f')], steps: [['open', P('f'), O_RDONLY], ['dup2', R(0), 1024]], expect: 'EBADF' },
];

/** Every fd syscall fails with EBADF on a number not open, and on one closed. */
const badFds: Case[] = [
  ...([
    ['close'], ['read', 1], ['write', 'x'], ['pread', 1, 0], ['pwrite', 'x', 0], ['lseek', 0, 0], ['fstat'], ['fsync'],
  ] as const).map(([call, ...rest]): Case => ({ name: `${call}: EBADF for an fd not open`, steps: [[call, BADFD, ...rest]], expect: 'EBADF' })),
  { name: 'close: EBADF for an fd already closed', setup: [file('f')], steps: [['open', P('f'), O_RDONLY], ['close', R(0)], ['close', R(0)]], expect: 'EBADF' },
  { name: 'fstat: EBADF for an fd already closed', setup: [file('f')], steps: [['open', P('f'), O_RDONLY], ['close', R(0)], ['fstat', R(0)]], expect: 'EBADF' },
];

const processState: Case[] = [
  { name: 'umask: returns the previous mask', steps: [['umask', 0o027], ['umask', 0o022]], expect: 'OK', returns: 0o027 },
  { name: 'umask: keeps only the permission bits', steps: [['umask', 0o7777], ['umask', 0o022]], expect: 'OK', returns: 0o777 },
  {
    name: 'chdir: a relative path starts at the cwd', setup: [dir('d'), file('d/f', { data: 'rel' })],
    steps: [['chdir', P('d')], ['readFile', 'f']], expect: 'OK', returns: 'rel',
  },
  {
    name: "chdir: '..' from the cwd", setup: [dir('d'), file('f', { data: 'up' })],
    steps: [['chdir', P('d')], ['readFile', '../f']], expect: 'OK', returns: 'up',
  },
  { name: 'chdir: ENOTDIR for a file', setup: [file('f')], steps: [['chdir', P('f')]], expect: 'ENOTDIR' },
  { name: 'chdir: EACCES without search permission', as: USER, setup: [dir('d', { mode: 0o666 })], steps: [['chdir', P('d')]], expect: 'EACCES' },
  { name: 'readdir: EACCES without read permission', as: USER, setup: [dir('d', { mode: 0o333 })], steps: [['readdir', P('d')]], expect: 'EACCES' },
  { name: 'readdir: ENOTDIR for a file', setup: [file('f')], steps: [['readdir', P('f')]], expect: 'ENOTDIR' },
  {
    name: 'readdir: changes neither mtime nor ctime', setup: [dir('d'), file('d/f')], steps: [['readdir', P('d')]], expect: 'OK',
    after: [{ path: 'd', mtime: 'same', ctime: 'same', entries: ['f'] }],
  },
];

export const FILE_CASES: Case[] = [...open, ...mknod, ...pipes, ...dups, ...badFds, ...processState];
