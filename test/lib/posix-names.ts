// The cases of the syscalls that make, remove and rename names — mkdir, rmdir, unlink, link,
// symlink, rename (pjdfstest's 00 and 08–24 files of each) — beyond the path errors every path
// syscall shares (posix-paths.ts): link counts, times of the directory and the file, sticky
// directories, '.' and '..', renames into a subdirectory or over a non-empty directory, EXDEV
// between mounts, and the set-group-ID directory that hands its group down.

import { O_CREAT, O_EXCL, O_RDONLY, O_RDWR, O_WRONLY } from '../../kernel/index.js';
import { G1, G2, P, R, RAW, U1, U2, USER, X, dir, file, hardlink, symlink, type Case, type Setup } from './posix-case.js';

const mkdir: Case[] = [
  {
    name: 'mkdir: makes a directory with the mode less the umask, owned by the caller', as: USER, umask: 0o022,
    setup: [dir('w', { mode: 0o777 })], steps: [['mkdir', P('w/d'), 0o777]], expect: 'OK',
    after: [{ path: 'w/d', type: 'dir', mode: 0o755, uid: U1, gid: G1, nlink: 2 }],
  },
  {
    name: 'mkdir: umask 0 keeps the mode', umask: 0, steps: [['mkdir', P('d'), 0o777]], expect: 'OK',
    after: [{ path: 'd', mode: 0o777 }],
  },
  {
    name: 'mkdir: umask 077', umask: 0o077, steps: [['mkdir', P('d'), 0o777]], expect: 'OK',
    after: [{ path: 'd', mode: 0o700 }],
  },
  {
    name: 'mkdir: the sticky bit is kept', umask: 0, steps: [['mkdir', P('d'), 0o1777]], expect: 'OK',
    after: [{ path: 'd', mode: 0o1777 }],
  },
  {
    name: 'mkdir: set-user-ID and set-group-ID in the mode are dropped', umask: 0, steps: [['mkdir', P('d'), 0o6755]], expect: 'OK',
    after: [{ path: 'd', mode: 0o755 }],
  },
  {
    name: "mkdir: raises the parent's link count and changes its mtime and ctime", setup: [dir('p')],
    steps: [['mkdir', P('p/d'), 0o755]], expect: 'OK',
    after: [{ path: 'p', nlink: 3, mtime: 'changed', ctime: 'changed' }],
  },
  {
    name: 'mkdir: a name followed by / is made', steps: [['mkdir', P('d/'), 0o755]], expect: 'OK',
    after: [{ path: 'd', type: 'dir' }],
  },
  { name: 'mkdir: EEXIST for a file', setup: [file('f')], steps: [['mkdir', P('f'), 0o755]], expect: 'EEXIST' },
  { name: 'mkdir: EEXIST for a directory', setup: [dir('d')], steps: [['mkdir', P('d'), 0o755]], expect: 'EEXIST' },
  { name: 'mkdir: EEXIST for a dangling symlink', setup: [symlink('l', 'nowhere')], steps: [['mkdir', P('l'), 0o755]], expect: 'EEXIST' },
  { name: "mkdir: EEXIST for '.'", steps: [['mkdir', P('.'), 0o755]], expect: 'EEXIST' },
  { name: "mkdir: EEXIST for '..'", setup: [dir('d')], steps: [['mkdir', P('d/..'), 0o755]], expect: 'EEXIST' },
  {
    name: "mkdir: in a set-group-ID directory the new one takes the directory's group and its set-group-ID bit", as: USER, umask: 0o022,
    setup: [dir('p', { mode: 0o2777, gid: G2 })], steps: [['mkdir', P('p/d'), 0o755]], expect: 'OK',
    after: [{ path: 'p/d', mode: 0o2755, uid: U1, gid: G2 }],
  },
];

const rmdir: Case[] = [
  {
    name: "rmdir: removes an empty directory, lowers the parent's link count, changes its mtime and ctime",
    setup: [dir('p'), dir('p/d')], steps: [['rmdir', P('p/d')]], expect: 'OK',
    after: [{ path: 'p/d', exists: false }, { path: 'p', nlink: 2, mtime: 'changed', ctime: 'changed' }],
  },
  { name: 'rmdir: ENOTEMPTY with a file in it', setup: [dir('d'), file('d/f')], steps: [['rmdir', P('d')]], expect: 'ENOTEMPTY' },
  { name: 'rmdir: ENOTEMPTY with a directory in it', setup: [dir('d'), dir('d/e')], steps: [['rmdir', P('d')]], expect: 'ENOTEMPTY' },
  { name: 'rmdir: ENOTEMPTY with a symlink in it', setup: [dir('d'), symlink('d/l', 'x')], steps: [['rmdir', P('d')]], expect: 'ENOTEMPTY' },
  {
    name: 'rmdir: a directory emptied by unlink can be removed', setup: [dir('d'), file('d/f')],
    steps: [['unlink', P('d/f')], ['rmdir', P('d')]], expect: 'OK', after: [{ path: 'd', exists: false }],
  },
  { name: 'rmdir: ENOTDIR for a file', setup: [file('f')], steps: [['rmdir', P('f')]], expect: 'ENOTDIR' },
  { name: 'rmdir: ENOTDIR for a symlink to a directory', setup: [dir('d'), symlink('l', 'd')], steps: [['rmdir', P('l')]], expect: 'ENOTDIR' },
  { name: "rmdir: EINVAL for a path ending in '.'", setup: [dir('d'), dir('d/e')], steps: [['rmdir', P('d/e/.')]], expect: 'EINVAL' },
  { name: "rmdir: ENOTEMPTY for a path ending in '..'", setup: [dir('d'), dir('d/e')], steps: [['rmdir', P('d/e/..')]], expect: 'ENOTEMPTY' },
  {
    name: 'rmdir: EBUSY for a mount point', steps: [['rmdir', '/tmp']], expect: 'EBUSY',
  },
  {
    name: 'rmdir: a name followed by / is removed', setup: [dir('d')], steps: [['rmdir', P('d/')]], expect: 'OK',
    after: [{ path: 'd', exists: false }],
  },
];

const unlink: Case[] = [
  {
    name: "unlink: removes a file and changes the directory's mtime and ctime", setup: [dir('p'), file('p/f')],
    steps: [['unlink', P('p/f')]], expect: 'OK',
    after: [{ path: 'p/f', exists: false }, { path: 'p', mtime: 'changed', ctime: 'changed', nlink: 2 }],
  },
  {
    name: 'unlink: removes a symlink, not its target', setup: [file('f'), symlink('l', 'f')], steps: [['unlink', P('l')]], expect: 'OK',
    after: [{ path: 'l', exists: false }, { path: 'f', type: 'reg' }],
  },
  {
    name: "unlink: of one of two names lowers the link count and changes the file's ctime", setup: [file('f'), hardlink('g', 'f')],
    steps: [['unlink', P('g')]], expect: 'OK', after: [{ path: 'f', nlink: 1, ctime: 'changed' }, { path: 'g', exists: false }],
  },
  { name: 'unlink: EISDIR for a directory', setup: [dir('d')], steps: [['unlink', P('d')]], expect: 'EISDIR' },
  {
    name: 'unlink: an open file lives on until it is closed', setup: [file('f', { data: 'abc' })],
    steps: [['open', P('f'), O_RDWR], ['unlink', P('f')], ['pwrite', R(0), 'xyz', 3], ['pread', R(0), 10, 0]],
    expect: 'OK', returns: 'abcxyz', after: [{ path: 'f', exists: false }],
  },
  {
    name: 'unlink: fstat of an open file after unlink shows no links', setup: [file('f')],
    steps: [['open', P('f'), O_RDONLY], ['unlink', P('f')], ['fstat', R(0)]], expect: 'OK', returns: { nlink: 0 },
  },
];

/** A sticky directory 'sd' (root's, 01777) holding 'sd/x' of the given owner, kind given by make. */
function sticky(owner: number, make: (path: string, o: { uid: number; gid: number; mode: number }) => Setup, dirOwner = 0): Setup[] {
  return [dir('sd', { mode: 0o1777, uid: dirOwner }), make('sd/x', { uid: owner, gid: owner === 0 ? 0 : G1, mode: 0o777 })];
}
const stickyFile = (path: string, o: { uid: number; gid: number; mode: number }) => file(path, o);
const stickyDir = (path: string, o: { uid: number; gid: number; mode: number }) => dir(path, o);

/** In a sticky directory only root, the entry's owner or the directory's owner may remove or rename it. */
function stickyCases(): Case[] {
  const out: Case[] = [];
  const ops = [
    { what: 'unlink', make: stickyFile, steps: [['unlink', P('sd/x')]] as Case['steps'] },
    { what: 'rmdir', make: stickyDir, steps: [['rmdir', P('sd/x')]] as Case['steps'] },
    { what: 'rename (from)', make: stickyFile, steps: [['rename', P('sd/x'), P('sd/y')]] as Case['steps'] },
    { what: 'rename (from) of a directory', make: stickyDir, steps: [['rename', P('sd/x'), P('sd/y')]] as Case['steps'] },
  ];
  for (const o of ops) {
    out.push(
      { name: `${o.what}: EPERM in a sticky directory for another user's entry`, as: USER, setup: sticky(U2, o.make), steps: o.steps, expect: 'EPERM' },
      { name: `${o.what}: EPERM in a sticky directory for root's entry`, as: USER, setup: sticky(0, o.make), steps: o.steps, expect: 'EPERM' },
      { name: `${o.what}: the entry's owner may, in a sticky directory`, as: USER, setup: sticky(U1, o.make), steps: o.steps, expect: 'OK' },
      { name: `${o.what}: the sticky directory's owner may`, as: USER, setup: sticky(U2, o.make, U1), steps: o.steps, expect: 'OK' },
      { name: `${o.what}: root may, in a sticky directory`, setup: sticky(U2, o.make), steps: o.steps, expect: 'OK' },
    );
  }
  out.push(
    {
      name: "rename (to): EPERM over another user's file in a sticky directory", as: USER,
      setup: [...sticky(U2, stickyFile), file('sd/mine', { uid: U1, gid: G1 })], steps: [['rename', P('sd/mine'), P('sd/x')]], expect: 'EPERM',
    },
    {
      name: 'rename (to): over its own file in a sticky directory', as: USER,
      setup: [...sticky(U1, stickyFile), file('sd/mine', { uid: U1, gid: G1 })], steps: [['rename', P('sd/mine'), P('sd/x')]], expect: 'OK',
      after: [{ path: 'sd/mine', exists: false }, { path: 'sd/x', uid: U1 }],
    },
    {
      name: 'link: making a name in a sticky directory needs only write permission', as: USER,
      setup: [dir('sd', { mode: 0o1777 }), file('f', { uid: U1, gid: G1 })], steps: [['link', P('f'), P('sd/n')]], expect: 'OK',
    },
  );
  return out;
}

const link: Case[] = [
  {
    name: "link: both names have two links; the file's ctime and the directory's mtime change", setup: [dir('p'), file('p/f', { data: 'abc' })],
    steps: [['link', P('p/f'), P('p/g')]], expect: 'OK',
    after: [{ path: 'p/f', nlink: 2, ctime: 'changed' }, { path: 'p/g', nlink: 2, data: 'abc' }, { path: 'p', mtime: 'changed', ctime: 'changed' }],
  },
  {
    name: 'link: a third name makes three links', setup: [file('f'), hardlink('g', 'f')], steps: [['link', P('g'), P('h')]], expect: 'OK',
    after: [{ path: 'f', nlink: 3 }],
  },
  { name: 'link: EPERM for a directory', setup: [dir('d')], steps: [['link', P('d'), P('n')]], expect: 'EPERM' },
  { name: 'link: EEXIST for an existing file', setup: [file('f'), file('g')], steps: [['link', P('f'), P('g')]], expect: 'EEXIST' },
  { name: 'link: EEXIST for an existing directory', setup: [file('f'), dir('d')], steps: [['link', P('f'), P('d')]], expect: 'EEXIST' },
  { name: 'link: EEXIST for a dangling symlink', setup: [file('f'), symlink('l', 'nowhere')], steps: [['link', P('f'), P('l')]], expect: 'EEXIST' },
  {
    name: 'link: of a symlink links the symlink itself', setup: [file('f'), symlink('l', 'f')], steps: [['link', P('l'), P('n')]], expect: 'OK',
    after: [{ path: 'n', type: 'lnk', nlink: 2 }, { path: 'f', nlink: 1 }],
  },
  { name: 'link: EXDEV to another mount', setup: [file('f')], steps: [['link', P('f'), X('n')]], expect: 'EXDEV' },
  { name: 'link: ENOENT for a missing source', steps: [['link', P('f'), P('n')]], expect: 'ENOENT' },
  {
    name: 'link: a name made by link survives unlink of the first', setup: [file('f', { data: 'kept' })],
    steps: [['link', P('f'), P('g')], ['unlink', P('f')]], expect: 'OK', after: [{ path: 'g', nlink: 1, data: 'kept' }],
  },
];

const symlinkCases: Case[] = [
  {
    name: "symlink: readlink gives the target; its size is the target's length; the directory's mtime changes", setup: [dir('p')],
    steps: [['symlink', 'some/where', P('p/l')]], expect: 'OK',
    after: [{ path: 'p/l', type: 'lnk', size: 10, target: 'some/where' }, { path: 'p', mtime: 'changed', ctime: 'changed' }],
  },
  {
    name: "symlink: owned by the caller", as: USER, setup: [dir('w', { mode: 0o777 })], steps: [['symlink', 'x', P('w/l')]], expect: 'OK',
    after: [{ path: 'w/l', uid: U1, gid: G1 }],
  },
  { name: 'symlink: ENOENT for an empty target', steps: [['symlink', '', P('l')]], expect: 'ENOENT' },
  { name: 'symlink: EEXIST for an existing file', setup: [file('f')], steps: [['symlink', 'x', P('f')]], expect: 'EEXIST' },
  { name: 'symlink: EEXIST for an existing directory', setup: [dir('d')], steps: [['symlink', 'x', P('d')]], expect: 'EEXIST' },
  { name: 'symlink: EEXIST for an existing symlink', setup: [symlink('l', 'a')], steps: [['symlink', 'x', P('l')]], expect: 'EEXIST' },
  {
    name: 'symlink: a target of 1000 bytes', steps: [['symlink', 't'.repeat(1000), P('l')]], expect: 'OK',
    after: [{ path: 'l', size: 1000, target: 't'.repeat(1000) }],
  },
  { name: 'symlink: ENAMETOOLONG for a target of 4096 bytes', steps: [['symlink', 't'.repeat(4096), P('l')]], expect: 'ENAMETOOLONG' },
  {
    name: 'symlink: a dangling symlink is made', steps: [['symlink', 'nowhere', P('l')]], expect: 'OK',
    after: [{ path: 'l', type: 'lnk' }, { path: 'l', follow: true, exists: false }],
  },
  {
    name: 'symlink: stat follows to a directory', setup: [dir('d'), symlink('l', 'd')], steps: [['stat', P('l')]], expect: 'OK',
    returns: { mode: 0o40755 },
  },
  {
    name: 'symlink: a relative target is resolved from the directory holding the link', setup: [dir('d'), file('d/f', { data: 'here' }), symlink('d/l', 'f')],
    steps: [['readFile', P('d/l')]], expect: 'OK', returns: 'here',
  },
  {
    name: "symlink: a target through '..'", setup: [dir('d'), file('f', { data: 'up' }), symlink('d/l', '../f')],
    steps: [['readFile', P('d/l')]], expect: 'OK', returns: 'up',
  },
  {
    name: 'symlink: a chain of 40 symlinks is followed', setup: [file('f', { data: 'end' }), ...chain(40)],
    steps: [['readFile', P('l1')]], expect: 'OK', returns: 'end',
  },
  { name: 'symlink: ELOOP for a chain of 41 symlinks', setup: [file('f'), ...chain(41)], steps: [['stat', P('l1')]], expect: 'ELOOP' },
  { name: 'symlink: ELOOP for a symlink to itself', setup: [symlink('l', 'l')], steps: [['stat', P('l')]], expect: 'ELOOP' },
  { name: 'readlink: EINVAL for a file', setup: [file('f')], steps: [['readlink', P('f')]], expect: 'EINVAL' },
  { name: 'readlink: EINVAL for a directory', setup: [dir('d')], steps: [['readlink', P('d')]], expect: 'EINVAL' },
];

/** Symlinks l1 → l2 → … → l<n> → f: n links to follow from l1. */
function chain(n: number): Setup[] {
  return Array.from({ length: n }, (_, i) => symlink(`l${i + 1}`, i + 1 === n ? 'f' : `l${i + 2}`));
}

const rename: Case[] = [
  {
    name: "rename: moves a file; its ctime and both directories' mtime change", setup: [dir('a'), dir('b'), file('a/f', { data: 'abc' })],
    steps: [['rename', P('a/f'), P('b/g')]], expect: 'OK',
    after: [
      { path: 'a/f', exists: false }, { path: 'b/g', was: 'a/f', data: 'abc', nlink: 1, ctime: 'changed', mtime: 'same' },
      { path: 'a', mtime: 'changed', ctime: 'changed' }, { path: 'b', mtime: 'changed', ctime: 'changed' },
    ],
  },
  {
    name: 'rename: replaces a file, whose other names lose a link', setup: [file('f', { data: 'new' }), file('t'), hardlink('t2', 't')],
    steps: [['rename', P('f'), P('t')]], expect: 'OK',
    after: [{ path: 'f', exists: false }, { path: 't', data: 'new', nlink: 1 }, { path: 't2', nlink: 1 }],
  },
  {
    name: "rename: a directory to another parent moves its '..': link counts follow", setup: [dir('a'), dir('b'), dir('a/d')],
    steps: [['rename', P('a/d'), P('b/d')]], expect: 'OK',
    after: [{ path: 'a', nlink: 2 }, { path: 'b', nlink: 3 }, { path: 'b/d', nlink: 2 }],
  },
  {
    name: "rename: a moved directory's '..' is its new parent", setup: [dir('a'), dir('b'), dir('a/d'), file('b/mark')],
    steps: [['rename', P('a/d'), P('b/d')], ['stat', P('b/d/../mark')]], expect: 'OK',
  },
  {
    name: 'rename: a directory over an empty directory', setup: [dir('d'), file('d/f'), dir('e')], steps: [['rename', P('d'), P('e')]], expect: 'OK',
    after: [{ path: 'd', exists: false }, { path: 'e', entries: ['f'] }],
  },
  { name: 'rename: ENOTEMPTY for a directory over a non-empty directory', setup: [dir('d'), dir('e'), file('e/f')], steps: [['rename', P('d'), P('e')]], expect: 'ENOTEMPTY' },
  { name: 'rename: EISDIR for a file over a directory', setup: [file('f'), dir('d')], steps: [['rename', P('f'), P('d')]], expect: 'EISDIR' },
  { name: 'rename: ENOTDIR for a directory over a file', setup: [dir('d'), file('f')], steps: [['rename', P('d'), P('f')]], expect: 'ENOTDIR' },
  { name: "rename: ENOTDIR for a directory to a file's name followed by /", setup: [dir('d'), file('f')], steps: [['rename', P('d'), P('f/')]], expect: 'ENOTDIR' },
  { name: 'rename: ENOTDIR for a file to a new name followed by /', setup: [file('f')], steps: [['rename', P('f'), P('n/')]], expect: 'ENOTDIR' },
  {
    name: 'rename: a directory to a new name followed by /', setup: [dir('d')], steps: [['rename', P('d'), P('n/')]], expect: 'OK',
    after: [{ path: 'n', type: 'dir' }],
  },
  { name: 'rename: EINVAL for a directory into its own subdirectory', setup: [dir('d'), dir('d/e')], steps: [['rename', P('d'), P('d/e/x')]], expect: 'EINVAL' },
  { name: 'rename: EINVAL for a directory into itself', setup: [dir('d')], steps: [['rename', P('d'), P('d/x')]], expect: 'EINVAL' },
  { name: "rename: EBUSY for a source ending in '.'", setup: [dir('d'), dir('d/e')], steps: [['rename', P('d/e/.'), P('x')]], expect: 'EBUSY' },
  { name: "rename: EBUSY for a source ending in '..'", setup: [dir('d'), dir('d/e')], steps: [['rename', P('d/e/..'), P('x')]], expect: 'EBUSY' },
  { name: "rename: EBUSY for a target ending in '.'", setup: [dir('d'), file('f')], steps: [['rename', P('f'), P('d/.')]], expect: 'EBUSY' },
  { name: "rename: EBUSY for a target ending in '..'", setup: [dir('c'), dir('d'), dir('d/e')], steps: [['rename', P('c'), P('d/e/..')]], expect: 'EBUSY' },
  {
    name: 'rename: a file to itself changes nothing', setup: [file('f', { data: 'same' })], steps: [['rename', P('f'), P('f')]], expect: 'OK',
    after: [{ path: 'f', data: 'same', nlink: 1 }],
  },
  {
    name: 'rename: a directory to itself changes nothing', setup: [dir('d'), file('d/f')], steps: [['rename', P('d'), P('d')]], expect: 'OK',
    after: [{ path: 'd', entries: ['f'] }],
  },
  {
    name: 'rename: between two names of one file changes nothing', setup: [file('f'), hardlink('g', 'f')], steps: [['rename', P('f'), P('g')]], expect: 'OK',
    after: [{ path: 'f', nlink: 2 }, { path: 'g', nlink: 2 }],
  },
  {
    name: 'rename: a symlink is renamed, not its target', setup: [file('f'), symlink('l', 'f')], steps: [['rename', P('l'), P('m')]], expect: 'OK',
    after: [{ path: 'm', type: 'lnk', target: 'f' }, { path: 'f', type: 'reg' }, { path: 'l', exists: false }],
  },
  { name: 'rename: ENOENT for a missing source', steps: [['rename', P('f'), P('g')]], expect: 'ENOENT' },
  { name: 'rename: EXDEV for a file to another mount', setup: [file('f')], steps: [['rename', P('f'), X('f')]], expect: 'EXDEV' },
  { name: 'rename: EXDEV for a directory to another mount', setup: [dir('d')], steps: [['rename', P('d'), X('d')]], expect: 'EXDEV' },
  { name: 'rename: EXDEV from another mount', setup: [file('f', { other: true })], steps: [['rename', X('f'), P('f')]], expect: 'EXDEV' },
  {
    name: 'rename: moving a directory to another parent needs write permission on it', as: USER,
    setup: [dir('a', { mode: 0o777 }), dir('b', { mode: 0o777 }), dir('a/d', { mode: 0o755 })], steps: [['rename', P('a/d'), P('b/d')]], expect: 'EACCES',
  },
  {
    name: 'rename: renaming a directory in its parent needs no write permission on it', as: USER,
    setup: [dir('a', { mode: 0o777 }), dir('a/d', { mode: 0o755 })], steps: [['rename', P('a/d'), P('a/e')]], expect: 'OK',
    after: [{ path: 'a/e', type: 'dir' }],
  },
  {
    name: 'rename: its owner moves a directory it may write to another parent', as: USER,
    setup: [dir('a', { mode: 0o777 }), dir('b', { mode: 0o777 }), dir('a/d', { mode: 0o755, uid: U1 })], steps: [['rename', P('a/d'), P('b/d')]], expect: 'OK',
  },
  {
    name: 'rename: EACCES moving its own directory without write permission on it to another parent', as: USER,
    setup: [dir('a', { mode: 0o777 }), dir('b', { mode: 0o777 }), dir('a/d', { mode: 0o555, uid: U1 })], steps: [['rename', P('a/d'), P('b/d')]], expect: 'EACCES',
  },
  {
    name: 'rename: moving a file to another parent needs no permission on the file', as: USER,
    setup: [dir('a', { mode: 0o777 }), dir('b', { mode: 0o777 }), file('a/f', { mode: 0o444 })], steps: [['rename', P('a/f'), P('b/f')]], expect: 'OK',
  },
  {
    name: 'rename: EACCES without write permission on the target directory', as: USER,
    setup: [dir('a', { mode: 0o777 }), dir('b', { mode: 0o755 }), file('a/f', { uid: U1 })], steps: [['rename', P('a/f'), P('b/f')]], expect: 'EACCES',
  },
];

/** Every byte but '/' and NUL, in two names: those below 0x80 (less '/') and those from 0x80 up. */
const LOW_BYTES = Array.from({ length: 127 }, (_, i) => String.fromCharCode(i + 1)).filter((ch) => ch !== '/').join('');
const HIGH_BYTES = Array.from({ length: 128 }, (_, i) => String.fromCharCode(i + 128)).join('');
const NEW_FILE = [O_WRONLY | O_CREAT | O_EXCL, 0o644] as const;

/** Names are bytes (issue 12, part 1): any byte but '/' and NUL, counted as bytes against NAME_MAX. */
const byteNames: Case[] = [
  {
    name: 'names: two names that are not UTF-8 stay two', needs: ['byte names'], setup: [dir('d')],
    steps: [['open', RAW('d/caf\xe9'), ...NEW_FILE], ['open', RAW('d/caf\xe8'), ...NEW_FILE]], expect: 'OK',
    after: [{ path: 'd', rawEntries: ['caf\xe9', 'caf\xe8'] }],
  },
  {
    name: 'names: rmdir is ENOTEMPTY while one of two names that are not UTF-8 is left', needs: ['byte names'], setup: [dir('d')], priorStepsChange: true,
    steps: [['open', RAW('d/caf\xe9'), ...NEW_FILE], ['open', RAW('d/caf\xe8'), ...NEW_FILE], ['unlink', RAW('d/caf\xe9')], ['rmdir', P('d')]],
    expect: 'ENOTEMPTY', after: [{ path: 'd', rawEntries: ['caf\xe8'] }],
  },
  {
    name: "names: every byte but '/' and NUL makes a name that readdir and stat give back", needs: ['byte names'], setup: [dir('d')],
    steps: [['open', RAW(`d/${LOW_BYTES}`), ...NEW_FILE], ['open', RAW(`d/${HIGH_BYTES}`), ...NEW_FILE], ['stat', RAW(`d/${HIGH_BYTES}`)], ['stat', RAW(`d/${LOW_BYTES}`)]],
    expect: 'OK', after: [{ path: 'd', rawEntries: [LOW_BYTES, HIGH_BYTES] }],
  },
  {
    name: 'names: rename and link of a name that is not UTF-8', needs: ['byte names'], setup: [dir('d')],
    steps: [['open', RAW('d/\xff'), ...NEW_FILE], ['rename', RAW('d/\xff'), RAW('d/\xfe')], ['link', RAW('d/\xfe'), RAW('d/\x80')]], expect: 'OK',
    after: [{ path: 'd', rawEntries: ['\xfe', '\x80'] }],
  },
  { name: 'names: a name of 255 bytes that are not UTF-8', needs: ['byte names'], setup: [dir('d')], steps: [['mkdir', RAW(`d/${'\xff'.repeat(255)}`), 0o755]], expect: 'OK' },
  { name: 'names: ENAMETOOLONG for a name of 256 bytes that are not UTF-8', needs: ['byte names'], setup: [dir('d')], steps: [['mkdir', RAW(`d/${'\xff'.repeat(256)}`), 0o755]], expect: 'ENAMETOOLONG' },
  { name: 'names: a name of 85 three-byte characters (255 bytes)', steps: [['mkdir', P('\u20ac'.repeat(85)), 0o755]], expect: 'OK' },
  { name: 'names: ENAMETOOLONG for 86 three-byte characters (258 bytes)', steps: [['mkdir', P('\u20ac'.repeat(86)), 0o755]], expect: 'ENAMETOOLONG' },
];

/**
 * A final symlink before a trailing slash, in the calls that make, remove or rename an entry:
 * Linux looks the last component up in its parent and never follows it there (a planted
 * dangling symlink must not redirect a mkdir or a rename). Each checked on this host.
 */
const trailingSlashOnSymlink: Case[] = [
  {
    name: "mkdir: EEXIST for a dangling symlink followed by '/' (its target is not made)", setup: [symlink('sl', 'target')],
    steps: [['mkdir', P('sl/'), 0o755]], expect: 'EEXIST', after: [{ path: 'target', exists: false }],
  },
  {
    name: "mkdir: EEXIST for a symlink to a directory followed by '/'", setup: [dir('d'), symlink('sl', 'd')],
    steps: [['mkdir', P('sl/'), 0o755]], expect: 'EEXIST',
  },
  { name: "mkdir: EEXIST for a regular file followed by '/'", setup: [file('f')], steps: [['mkdir', P('f/'), 0o755]], expect: 'EEXIST' },
  {
    name: "rename: ENOTDIR for a directory onto a dangling symlink followed by '/' (nothing moves to its target)",
    setup: [dir('d'), symlink('sl', 'target')], steps: [['rename', P('d'), P('sl/')]], expect: 'ENOTDIR',
    after: [{ path: 'target', exists: false }, { path: 'd', type: 'dir' }],
  },
  {
    name: "rmdir: ENOTDIR for a symlink to a directory followed by '/' (the directory stays)", setup: [dir('d'), symlink('sl', 'd')],
    steps: [['rmdir', P('sl/')]], expect: 'ENOTDIR', after: [{ path: 'd', type: 'dir' }],
  },
  {
    name: "unlink: ENOTDIR for a symlink to a directory followed by '/'", setup: [dir('d'), symlink('sl', 'd')],
    steps: [['unlink', P('sl/')]], expect: 'ENOTDIR', after: [{ path: 'sl', type: 'lnk' }],
  },
  {
    name: "rename: ENOTDIR for a symlink to a directory followed by '/' as the source", setup: [dir('d'), symlink('sl', 'd')],
    steps: [['rename', P('sl/'), P('x')]], expect: 'ENOTDIR', after: [{ path: 'sl', type: 'lnk' }],
  },
];

export const NAME_CASES: Case[] = [
  ...mkdir, ...rmdir, ...unlink, ...stickyCases(), ...link, ...symlinkCases, ...rename, ...trailingSlashOnSymlink, ...byteNames,
];
