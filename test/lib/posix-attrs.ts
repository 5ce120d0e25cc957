// The cases of the syscalls that change a file's attributes — chmod, fchmod, chown, lchown,
// fchown, utimes, lutimes, futimes, truncate, ftruncate — and access, beyond the path errors
// (posix-paths.ts): who may change what (EPERM), set-user-ID and set-group-ID rules (issue 12,
// part 2), -1 for "unchanged", UTIME_NOW and UTIME_OMIT, and which times each call changes.
// pjdfstest's chmod, chown, truncate, ftruncate and utimensat files, with Linux's answers where it
// allows several (checked on this host, Linux 6.18).

import { O_RDONLY, O_RDWR, O_WRONLY } from '../../kernel/index.js';
import {
  BADFD, F_OK, G1, G2, G3, P, R, R_OK, U1, U2, USER, UTIME_NOW, UTIME_OMIT, W_OK, X_OK,
  dir, fifo, file, symlink, type Case, type Setup,
} from './posix-case.js';

/** Times (ms since the epoch) the cases set: whole, fractional, before atime, far past 2038. */
const T1 = 1_234_567_890_000;
const T2 = 1_300_000_000_123;
const T_2100 = 4_102_444_800_000;

/** A file 'f' owned by USER (group G1) with the given mode and content. */
const mine = (mode = 0o644, o: { gid?: number; data?: string } = {}): Setup => file('f', { mode, uid: U1, gid: o.gid ?? G1, data: o.data });

const chmod: Case[] = [
  ...(['file', 'dir', 'fifo'] as const).map((kind): Case => ({
    name: `chmod: sets the mode of a ${kind}, changes its ctime and not its mtime`,
    setup: [kind === 'file' ? file('x') : kind === 'dir' ? dir('x') : fifo('x')], steps: [['chmod', P('x'), 0o111]], expect: 'OK',
    after: [{ path: 'x', mode: 0o111, ctime: 'changed', mtime: 'same' }],
  })),
  {
    name: 'chmod: through a symlink changes the target, not the link', setup: [file('f'), symlink('l', 'f')],
    steps: [['chmod', P('l'), 0o222]], expect: 'OK', after: [{ path: 'f', mode: 0o222 }, { path: 'l', type: 'lnk', mode: 0o777 }],
  },
  { name: 'chmod: every bit, by root', setup: [file('f')], steps: [['chmod', P('f'), 0o7777]], expect: 'OK', after: [{ path: 'f', mode: 0o7777 }] },
  { name: 'chmod: mode 0 on a directory', setup: [dir('d')], steps: [['chmod', P('d'), 0]], expect: 'OK', after: [{ path: 'd', mode: 0, type: 'dir' }] },
  {
    name: 'chmod: type bits in the mode leave the type alone', setup: [file('f')], steps: [['chmod', P('f'), 0o40755]], expect: 'OK',
    after: [{ path: 'f', type: 'reg', mode: 0o755 }],
  },
  { name: 'chmod: the owner may', as: USER, setup: [mine()], steps: [['chmod', P('f'), 0o642]], expect: 'OK', after: [{ path: 'f', mode: 0o642 }] },
  { name: "chmod: EPERM for root's file", as: USER, setup: [file('f', { mode: 0o666 })], steps: [['chmod', P('f'), 0o600]], expect: 'EPERM' },
  { name: "chmod: EPERM for another user's file", as: USER, setup: [file('f', { uid: U2, gid: G1, mode: 0o777 })], steps: [['chmod', P('f'), 0o600]], expect: 'EPERM' },
  {
    name: "chmod: EPERM through a symlink to a file the caller does not own", as: USER,
    setup: [file('f', { mode: 0o666 }), symlink('l', 'f')], steps: [['chmod', P('l'), 0o600]], expect: 'EPERM',
  },
  {
    name: 'chmod: the owner in the file\'s group sets set-group-ID', as: USER, setup: [mine()],
    steps: [['chmod', P('f'), 0o2755]], expect: 'OK', after: [{ path: 'f', mode: 0o2755 }],
  },
  {
    name: "chmod: set-group-ID is cleared when the owner is not in the file's group", as: USER, setup: [mine(0o644, { gid: G2 })],
    steps: [['chmod', P('f'), 0o2755]], expect: 'OK', after: [{ path: 'f', mode: 0o755 }],
  },
  {
    name: "chmod: set-group-ID is kept when the file's group is a supplementary group of the owner", as: { ...USER, groups: [G2] },
    setup: [mine(0o644, { gid: G2 })], steps: [['chmod', P('f'), 0o2755]], expect: 'OK', after: [{ path: 'f', mode: 0o2755 }],
  },
  {
    name: "chmod: root sets set-group-ID whatever the file's group", setup: [file('f', { gid: G2 })],
    steps: [['chmod', P('f'), 0o2755]], expect: 'OK', after: [{ path: 'f', mode: 0o2755 }],
  },
  { name: 'chmod: the owner sets set-user-ID', as: USER, setup: [mine()], steps: [['chmod', P('f'), 0o4755]], expect: 'OK', after: [{ path: 'f', mode: 0o4755 }] },
  {
    name: 'chmod: the owner sets the sticky bit on a file', as: USER, setup: [mine(0o640)],
    steps: [['chmod', P('f'), 0o1644]], expect: 'OK', after: [{ path: 'f', mode: 0o1644 }],
  },
  {
    name: 'chmod: the owner sets the sticky bit on a directory', as: USER, setup: [dir('d', { uid: U1, gid: G1 })],
    steps: [['chmod', P('d'), 0o1755]], expect: 'OK', after: [{ path: 'd', mode: 0o1755 }],
  },
  {
    name: 'fchmod: sets the mode through an fd open for reading', setup: [file('f')],
    steps: [['open', P('f'), O_RDONLY], ['fchmod', R(0), 0o600]], expect: 'OK', after: [{ path: 'f', mode: 0o600, ctime: 'changed' }],
  },
  {
    name: 'fchmod: EPERM for a file the caller does not own', as: USER, setup: [file('f', { mode: 0o666 })],
    steps: [['open', P('f'), O_RDWR], ['fchmod', R(0), 0o600]], expect: 'EPERM',
  },
  { name: 'fchmod: EBADF for an fd not open', steps: [['fchmod', BADFD, 0o600]], expect: 'EBADF' },
];

const chown: Case[] = [
  ...(['file', 'dir', 'fifo'] as const).map((kind): Case => ({
    name: `chown: root gives a ${kind} to any user and group and its ctime changes`,
    setup: [kind === 'file' ? file('x') : kind === 'dir' ? dir('x') : fifo('x')], steps: [['chown', P('x'), 123, 456]], expect: 'OK',
    after: [{ path: 'x', uid: 123, gid: 456, ctime: 'changed', mtime: 'same' }],
  })),
  {
    name: 'chown: through a symlink changes the target, not the link', setup: [file('f'), symlink('l', 'f')],
    steps: [['chown', P('l'), 123, 456]], expect: 'OK', after: [{ path: 'f', uid: 123, gid: 456 }, { path: 'l', uid: 0, gid: 0 }],
  },
  {
    name: 'lchown: changes the link, not its target', setup: [file('f'), symlink('l', 'f')],
    steps: [['lchown', P('l'), 123, 456]], expect: 'OK', after: [{ path: 'l', uid: 123, gid: 456 }, { path: 'f', uid: 0, gid: 0 }],
  },
  {
    name: 'lchown: of a file is chown', setup: [file('f')], steps: [['lchown', P('f'), 123, 456]], expect: 'OK',
    after: [{ path: 'f', uid: 123, gid: 456 }],
  },
  {
    name: 'chown: -1 and -1 leave both ids', setup: [file('f', { uid: 123, gid: 456 })], steps: [['chown', P('f'), -1, -1]], expect: 'OK',
    after: [{ path: 'f', uid: 123, gid: 456 }],
  },
  {
    name: 'chown: 4294967295 is -1', setup: [file('f', { uid: 123, gid: 456 })], steps: [['chown', P('f'), 4294967295, 4294967295]], expect: 'OK',
    after: [{ path: 'f', uid: 123, gid: 456 }],
  },
  {
    name: 'chown: -1 for the user changes only the group', setup: [file('f', { uid: 123, gid: 456 })], steps: [['chown', P('f'), -1, 789]], expect: 'OK',
    after: [{ path: 'f', uid: 123, gid: 789 }],
  },
  {
    name: 'chown: -1 for the group changes only the user', setup: [file('f', { uid: 123, gid: 456 })], steps: [['chown', P('f'), 789, -1]], expect: 'OK',
    after: [{ path: 'f', uid: 789, gid: 456 }],
  },
  {
    name: 'lchown: -1 and -1 leave both ids', setup: [symlink('l', 'x')], steps: [['lchown', P('l'), -1, -1]], expect: 'OK',
    after: [{ path: 'l', uid: 0, gid: 0 }],
  },
  {
    name: 'chown: the owner gives the file to its own group', as: USER, setup: [mine(0o644, { gid: G2 })],
    steps: [['chown', P('f'), -1, G1]], expect: 'OK', after: [{ path: 'f', uid: U1, gid: G1, ctime: 'changed' }],
  },
  {
    name: 'chown: the owner gives the file to a supplementary group', as: { ...USER, groups: [G2, G3] }, setup: [mine()],
    steps: [['chown', P('f'), -1, G3]], expect: 'OK', after: [{ path: 'f', uid: U1, gid: G3 }],
  },
  {
    name: 'chown: the owner names itself and a supplementary group', as: { ...USER, groups: [G2, G3] }, setup: [mine()],
    steps: [['chown', P('f'), U1, G2]], expect: 'OK', after: [{ path: 'f', uid: U1, gid: G2 }],
  },
  {
    name: 'chown: EPERM when the owner names a group it is not in', as: USER, setup: [mine()],
    steps: [['chown', P('f'), -1, G3]], expect: 'EPERM',
  },
  {
    name: 'chown: EPERM when the owner gives the file to another user', as: USER, setup: [mine()],
    steps: [['chown', P('f'), U2, -1]], expect: 'EPERM',
  },
  {
    name: 'chown: the owner may chown to itself (-1 and -1)', as: USER, setup: [mine()],
    steps: [['chown', P('f'), -1, -1]], expect: 'OK', after: [{ path: 'f', uid: U1, gid: G1 }],
  },
  {
    name: "chown: -1 and -1 by anyone on root's file succeeds and changes nothing", as: USER, setup: [file('f')],
    steps: [['chown', P('f'), -1, -1]], expect: 'OK', after: [{ path: 'f', uid: 0, gid: 0 }],
  },
  {
    name: "chown: EPERM for taking root's file", as: USER, setup: [file('f', { mode: 0o666 })],
    steps: [['chown', P('f'), U1, G1]], expect: 'EPERM',
  },
  {
    name: "chown: EPERM for changing the group of another user's file", as: { ...USER, groups: [G2] }, setup: [file('f', { uid: U2, gid: G1 })],
    steps: [['chown', P('f'), -1, G2]], expect: 'EPERM',
  },
  {
    name: 'chown: by the owner clears set-user-ID and set-group-ID of a file', as: USER, setup: [mine(0o6555, { gid: G2 })],
    steps: [['chown', P('f'), -1, G1]], expect: 'OK', after: [{ path: 'f', mode: 0o555, gid: G1 }],
  },
  {
    name: 'chown: by root clears set-user-ID and set-group-ID of a file', setup: [file('f', { mode: 0o6555, uid: U1, gid: G1 })],
    steps: [['chown', P('f'), U2, G2]], expect: 'OK', after: [{ path: 'f', mode: 0o555, uid: U2, gid: G2 }],
  },
  {
    name: 'chown: by the owner keeps set-user-ID and set-group-ID of a directory', as: USER, setup: [dir('d', { mode: 0o6755, uid: U1, gid: G2 })],
    steps: [['chown', P('d'), -1, G1]], expect: 'OK', after: [{ path: 'd', mode: 0o6755, gid: G1 }],
  },
  {
    name: 'fchown: root changes the owners through an fd', setup: [file('f')],
    steps: [['open', P('f'), O_RDONLY], ['fchown', R(0), 123, 456]], expect: 'OK', after: [{ path: 'f', uid: 123, gid: 456, ctime: 'changed' }],
  },
  {
    name: 'fchown: -1 and -1 leave both ids', setup: [file('f', { uid: 123, gid: 456 })],
    steps: [['open', P('f'), O_RDONLY], ['fchown', R(0), -1, -1]], expect: 'OK', after: [{ path: 'f', uid: 123, gid: 456 }],
  },
  {
    name: 'fchown: the owner gives the file to its own group', as: USER, setup: [mine(0o644, { gid: G2 })],
    steps: [['open', P('f'), O_RDONLY], ['fchown', R(0), -1, G1]], expect: 'OK', after: [{ path: 'f', gid: G1 }],
  },
  {
    name: 'fchown: EPERM for a file the caller does not own', as: USER, setup: [file('f', { mode: 0o666 })],
    steps: [['open', P('f'), O_RDWR], ['fchown', R(0), U1, G1]], expect: 'EPERM',
  },
  { name: 'fchown: EBADF for an fd not open', steps: [['fchown', BADFD, 0, 0]], expect: 'EBADF' },
];

const utimes: Case[] = [
  {
    name: 'utimes: sets both times; ctime changes', setup: [file('f')], steps: [['utimes', P('f'), T1, T2]], expect: 'OK',
    after: [{ path: 'f', atime: T1, mtime: T2, ctime: 'changed' }],
  },
  {
    name: 'utimes: mtime before atime', setup: [file('f')], steps: [['utimes', P('f'), T2, T1]], expect: 'OK',
    after: [{ path: 'f', atime: T2, mtime: T1 }],
  },
  {
    name: 'utimes: a time past 2038', setup: [file('f')], steps: [['utimes', P('f'), T_2100, T_2100]], expect: 'OK',
    after: [{ path: 'f', atime: T_2100, mtime: T_2100 }],
  },
  {
    name: 'utimes: of a directory', setup: [dir('d')], steps: [['utimes', P('d'), T1, T2]], expect: 'OK',
    after: [{ path: 'd', atime: T1, mtime: T2 }],
  },
  {
    name: 'utimes: through a symlink sets the target\'s times', setup: [file('f'), symlink('l', 'f')], steps: [['utimes', P('l'), T1, T2]], expect: 'OK',
    after: [{ path: 'f', atime: T1, mtime: T2 }, { path: 'l', mtime: 'same' }],
  },
  {
    name: "lutimes: sets the link's own times", setup: [file('f'), symlink('l', 'f')], steps: [['lutimes', P('l'), T1, T2]], expect: 'OK',
    after: [{ path: 'l', atime: T1, mtime: T2 }, { path: 'f', mtime: 'same' }],
  },
  { name: 'utimes: the owner sets any times', as: USER, setup: [mine(0o444)], steps: [['utimes', P('f'), T1, T2]], expect: 'OK', after: [{ path: 'f', mtime: T2 }] },
  { name: 'utimes: EPERM for times set by another user, even one that may write', as: USER, setup: [file('f', { mode: 0o666 })], steps: [['utimes', P('f'), T1, T2]], expect: 'EPERM' },
  { name: 'utimes: EPERM for times set by another user that may not write', as: USER, setup: [file('f')], steps: [['utimes', P('f'), T1, T2]], expect: 'EPERM' },
  {
    name: 'utimes: UTIME_NOW for both by another user that may write', as: USER, setup: [file('f', { mode: 0o666 })],
    steps: [['utimes', P('f'), UTIME_NOW, UTIME_NOW]], expect: 'OK', after: [{ path: 'f', mtime: 'changed', atime: 'changed', ctime: 'changed' }],
  },
  {
    name: 'utimes: EACCES for UTIME_NOW for both by another user that may not write', as: USER, setup: [file('f')],
    steps: [['utimes', P('f'), UTIME_NOW, UTIME_NOW]], expect: 'EACCES',
  },
  {
    name: 'utimes: EPERM for UTIME_NOW with UTIME_OMIT by another user that may write', as: USER, setup: [file('f', { mode: 0o666 })],
    steps: [['utimes', P('f'), UTIME_NOW, UTIME_OMIT]], expect: 'EPERM',
  },
  {
    name: 'utimes: UTIME_NOW for both by the owner', as: USER, setup: [mine(0o444)],
    steps: [['utimes', P('f'), UTIME_NOW, UTIME_NOW]], expect: 'OK', after: [{ path: 'f', mtime: 'changed' }],
  },
  {
    name: 'utimes: UTIME_OMIT for both changes nothing, for anyone', as: USER, setup: [file('f', { mode: 0o600 })],
    steps: [['utimes', P('f'), UTIME_OMIT, UTIME_OMIT]], expect: 'OK', after: [{ path: 'f', atime: 'same', mtime: 'same', ctime: 'same' }],
  },
  {
    name: 'utimes: UTIME_OMIT for atime sets only mtime', setup: [file('f')], steps: [['utimes', P('f'), UTIME_OMIT, T2]], expect: 'OK',
    after: [{ path: 'f', atime: 'same', mtime: T2, ctime: 'changed' }],
  },
  {
    name: 'utimes: UTIME_OMIT for mtime sets only atime', setup: [file('f')], steps: [['utimes', P('f'), T1, UTIME_OMIT]], expect: 'OK',
    after: [{ path: 'f', atime: T1, mtime: 'same' }],
  },
  {
    name: 'utimes: UTIME_NOW for atime, UTIME_OMIT for mtime', setup: [file('f')], steps: [['utimes', P('f'), UTIME_NOW, UTIME_OMIT]], expect: 'OK',
    after: [{ path: 'f', atime: 'changed', mtime: 'same' }],
  },
  {
    name: 'lutimes: UTIME_NOW for both on a symlink', setup: [symlink('l', 'x')], steps: [['lutimes', P('l'), UTIME_NOW, UTIME_NOW]], expect: 'OK',
    after: [{ path: 'l', mtime: 'changed' }],
  },
  {
    name: 'futimes: sets both times through an fd', setup: [file('f')],
    steps: [['open', P('f'), O_RDONLY], ['futimes', R(0), T1, T2]], expect: 'OK', after: [{ path: 'f', atime: T1, mtime: T2 }],
  },
  {
    name: 'futimes: UTIME_NOW through an fd open for writing by another user', as: USER, setup: [file('f', { mode: 0o666 })],
    steps: [['open', P('f'), O_WRONLY], ['futimes', R(0), UTIME_NOW, UTIME_NOW]], expect: 'OK', after: [{ path: 'f', mtime: 'changed' }],
  },
  {
    name: 'futimes: EPERM for times set through an fd by another user', as: USER, setup: [file('f', { mode: 0o666 })],
    steps: [['open', P('f'), O_RDWR], ['futimes', R(0), T1, T2]], expect: 'EPERM',
  },
  { name: 'futimes: EBADF for an fd not open', steps: [['futimes', BADFD, T1, T2]], expect: 'EBADF' },
];

const truncate: Case[] = [
  {
    name: 'truncate: extends a file with zeros; mtime and ctime change', setup: [file('f', { data: 'ab' })],
    steps: [['truncate', P('f'), 5]], expect: 'OK', after: [{ path: 'f', size: 5, data: 'ab\0\0\0', mtime: 'changed', ctime: 'changed' }],
  },
  {
    name: 'truncate: shortens a file', setup: [file('f', { data: 'abcdef' })], steps: [['truncate', P('f'), 3]], expect: 'OK',
    after: [{ path: 'f', size: 3, data: 'abc' }],
  },
  { name: 'truncate: to 0', setup: [file('f', { data: 'abcdef' })], steps: [['truncate', P('f'), 0]], expect: 'OK', after: [{ path: 'f', size: 0 }] },
  {
    name: 'truncate: to 1 GiB makes a hole', setup: [file('f', { data: 'x' })], steps: [['truncate', P('f'), 2 ** 30]], expect: 'OK',
    after: [{ path: 'f', size: 2 ** 30 }],
  },
  { name: 'truncate: EISDIR for a directory', setup: [dir('d')], steps: [['truncate', P('d'), 0]], expect: 'EISDIR' },
  { name: 'truncate: EINVAL for a FIFO', setup: [fifo('p')], steps: [['truncate', P('p'), 0]], expect: 'EINVAL' },
  { name: 'truncate: EINVAL for a negative length', setup: [file('f')], steps: [['truncate', P('f'), -1]], expect: 'EINVAL' },
  { name: 'truncate: EACCES without write permission', as: USER, setup: [file('f', { mode: 0o644 })], steps: [['truncate', P('f'), 0]], expect: 'EACCES' },
  { name: "truncate: EACCES for the owner without write permission", as: USER, setup: [mine(0o466)], steps: [['truncate', P('f'), 0]], expect: 'EACCES' },
  { name: 'truncate: write permission through the group class', as: USER, setup: [file('f', { mode: 0o620, gid: G1 })], steps: [['truncate', P('f'), 0]], expect: 'OK' },
  { name: 'truncate: EACCES when the group class lacks write though others have it', as: USER, setup: [file('f', { mode: 0o646, gid: G1 })], steps: [['truncate', P('f'), 0]], expect: 'EACCES' },
  { name: 'truncate: write permission through a supplementary group', as: { ...USER, groups: [G2] }, setup: [file('f', { mode: 0o620, gid: G2 })], steps: [['truncate', P('f'), 0]], expect: 'OK' },
  { name: 'truncate: root needs no write permission', setup: [file('f', { mode: 0o444 })], steps: [['truncate', P('f'), 7]], expect: 'OK', after: [{ path: 'f', size: 7 }] },
  {
    name: 'truncate: by another user clears set-user-ID and set-group-ID', as: USER, setup: [file('f', { mode: 0o6777 })],
    steps: [['truncate', P('f'), 5]], expect: 'OK', after: [{ path: 'f', mode: 0o777 }],
  },
  {
    name: 'truncate: by root keeps set-user-ID and set-group-ID', setup: [file('f', { mode: 0o6777, uid: U1 })],
    steps: [['truncate', P('f'), 5]], expect: 'OK', after: [{ path: 'f', mode: 0o6777 }],
  },
  {
    name: 'ftruncate: through an fd open for writing', setup: [file('f', { data: 'abcdef' })],
    steps: [['open', P('f'), O_RDWR], ['ftruncate', R(0), 2]], expect: 'OK', after: [{ path: 'f', data: 'ab', mtime: 'changed', ctime: 'changed' }],
  },
  {
    name: 'ftruncate: permission is checked at open, not after', as: USER, setup: [mine(0o644)],
    steps: [['open', P('f'), O_WRONLY], ['chmod', P('f'), 0o444], ['ftruncate', R(0), 9]], expect: 'OK', after: [{ path: 'f', size: 9 }],
  },
  { name: 'ftruncate: EINVAL for an fd open only for reading', setup: [file('f')], steps: [['open', P('f'), O_RDONLY], ['ftruncate', R(0), 0]], expect: 'EINVAL' },
  { name: 'ftruncate: EINVAL for a directory', setup: [dir('d')], steps: [['open', P('d'), O_RDONLY], ['ftruncate', R(0), 0]], expect: 'EINVAL' },
  { name: 'ftruncate: EBADF for an fd not open', steps: [['ftruncate', BADFD, 0]], expect: 'EBADF' },
  {
    name: 'ftruncate: by another user clears set-user-ID', as: USER, setup: [file('f', { mode: 0o4777 })],
    steps: [['open', P('f'), O_RDWR], ['ftruncate', R(0), 1]], expect: 'OK', after: [{ path: 'f', mode: 0o777 }],
  },
];

/** A write by anyone but root clears set-user-ID and set-group-ID (pjdfstest chmod/12; issue 12 part 2). */
const writes: Case[] = [
  ...([0o4777, 0o2777, 0o6777] as const).map((mode): Case => ({
    name: `write: by another user clears the set-ID bits of 0${mode.toString(8)}`, as: USER, setup: [file('f', { mode })],
    steps: [['open', P('f'), O_WRONLY], ['write', R(0), 'x'], ['fstat', R(0)]], expect: 'OK', returns: { mode: 0o100777 },
    after: [{ path: 'f', mode: 0o777 }],
  })),
  {
    name: 'pwrite: by the owner clears the set-ID bits', as: USER, setup: [mine(0o6777)],
    steps: [['open', P('f'), O_RDWR], ['pwrite', R(0), 'x', 10]], expect: 'OK', after: [{ path: 'f', mode: 0o777, size: 11 }],
  },
  {
    name: 'write: by root keeps the set-ID bits', setup: [file('f', { mode: 0o6777, uid: U1 })],
    steps: [['open', P('f'), O_WRONLY], ['write', R(0), 'x']], expect: 'OK', after: [{ path: 'f', mode: 0o6777 }],
  },
  {
    name: 'write: changes mtime and ctime', setup: [file('f')],
    steps: [['open', P('f'), O_WRONLY], ['write', R(0), 'x']], expect: 'OK', after: [{ path: 'f', mtime: 'changed', ctime: 'changed', size: 1 }],
  },
  {
    name: 'read: changes neither mtime nor ctime', setup: [file('f', { data: 'abc' })],
    steps: [['open', P('f'), O_RDONLY], ['read', R(0), 3]], expect: 'OK', returns: 'abc', after: [{ path: 'f', mtime: 'same', ctime: 'same' }],
  },
];

const access: Case[] = [
  { name: 'access: F_OK for an existing file', as: USER, setup: [file('f', { mode: 0 })], steps: [['access', P('f'), F_OK]], expect: 'OK' },
  { name: 'access: R_OK through the other class', as: USER, setup: [file('f', { mode: 0o604 })], steps: [['access', P('f'), R_OK]], expect: 'OK' },
  { name: 'access: EACCES for R_OK without read permission', as: USER, setup: [file('f', { mode: 0o600 })], steps: [['access', P('f'), R_OK]], expect: 'EACCES' },
  { name: 'access: W_OK through the other class', as: USER, setup: [file('f', { mode: 0o602 })], steps: [['access', P('f'), W_OK]], expect: 'OK' },
  { name: 'access: EACCES for W_OK without write permission', as: USER, setup: [file('f', { mode: 0o604 })], steps: [['access', P('f'), W_OK]], expect: 'EACCES' },
  { name: 'access: X_OK through the other class', as: USER, setup: [file('f', { mode: 0o601 })], steps: [['access', P('f'), X_OK]], expect: 'OK' },
  { name: 'access: EACCES for X_OK without execute permission', as: USER, setup: [file('f', { mode: 0o666 })], steps: [['access', P('f'), X_OK]], expect: 'EACCES' },
  { name: 'access: EACCES for R_OK|W_OK with only read permission', as: USER, setup: [file('f', { mode: 0o644 })], steps: [['access', P('f'), R_OK | W_OK]], expect: 'EACCES' },
  { name: "access: the owner's class decides even when others have more", as: USER, setup: [mine(0o077)], steps: [['access', P('f'), R_OK]], expect: 'EACCES' },
  { name: "access: the group's class decides even when others have more", as: USER, setup: [file('f', { mode: 0o707, gid: G1 })], steps: [['access', P('f'), R_OK]], expect: 'EACCES' },
  { name: 'access: through a supplementary group', as: { ...USER, groups: [G2] }, setup: [file('f', { mode: 0o640, gid: G2 })], steps: [['access', P('f'), R_OK]], expect: 'OK' },
  { name: 'access: root may read and write a file of mode 0', setup: [file('f', { mode: 0 })], steps: [['access', P('f'), R_OK | W_OK]], expect: 'OK' },
  { name: 'access: EACCES for X_OK by root on a file no one may execute', setup: [file('f', { mode: 0o666 })], steps: [['access', P('f'), X_OK]], expect: 'EACCES' },
  { name: 'access: X_OK by root on a file someone may execute', setup: [file('f', { mode: 0o100 })], steps: [['access', P('f'), X_OK]], expect: 'OK' },
  { name: 'access: X_OK by root on a directory of mode 0', setup: [dir('d', { mode: 0 })], steps: [['access', P('d'), X_OK]], expect: 'OK' },
  { name: 'access: EINVAL for an unknown mode bit', setup: [file('f')], steps: [['access', P('f'), 8]], expect: 'EINVAL' },
  { name: 'access: follows a symlink', setup: [symlink('l', 'nowhere')], steps: [['access', P('l'), F_OK]], expect: 'ENOENT' },
];

export const ATTR_CASES: Case[] = [...chmod, ...chown, ...utimes, ...truncate, ...writes, ...access];
