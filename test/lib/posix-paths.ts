// The cases every syscall that takes a path must pass, generated for each of them (pjdfstest's
// 01–07 files of every syscall): ENOENT, ENOTDIR, ENAMETOOLONG for a name (NAME_MAX) and a whole
// path (PATH_MAX), ELOOP, EACCES for search permission at each position and through each class
// (owner, group, supplementary group, other), EACCES for write permission on the directory a name
// is made in or removed from, and the success next to each limit. Linux's answers, checked on this
// host (Linux 6.18, tmpfs) where pjdfstest leaves a choice.

import {
  O_CREAT, O_EXCL, O_RDONLY, O_WRONLY, S_IFIFO,
} from '../../kernel/index.js';
import {
  DEEP, F_OK, G1, G2, NAME_MAX, P, PATH_MAX, USER, U1, deepDirs, dir, file, symlink,
  type Case, type Outcome, type Setup, type Step,
} from './posix-case.js';

/** What a path syscall needs at its final name to succeed: a file, directory or symlink, or nothing (it makes one). */
type Target = 'file' | 'dir' | 'symlink' | null;

interface PathCall {
  /** As case names show it: 'chmod', 'rename (from)', … */
  label: string;
  target: Target;
  /** The steps with `path` (relative to the case's directory) in the position under test. */
  steps(path: string): Step[];
  /** Its outcome when the final name is a symlink in a loop (following it or not). */
  loopFinal: Outcome;
  /** Whether it makes or removes a name in the final directory (needs write permission there). */
  changesDir: boolean;
  /** With a regular file followed by '/': ENOTDIR for calls on existing files; omitted where it varies. */
  slashOnFile?: Outcome;
  /** Entries the call needs besides its target, made inside directory `w`. */
  companions?: Setup[];
}

/** The name next to `path` in the same directory. */
const sibling = (path: string, name: string) => (path.includes('/') ? `${path.slice(0, path.lastIndexOf('/'))}/${name}` : name);

const T = 1_000_000_000_000; // a time in ms (2001-09-09)

/** Every path syscall of the client API, as common.md fixes it. */
export const PATH_CALLS: PathCall[] = [
  { label: 'stat', target: 'file', steps: (p) => [['stat', P(p)]], loopFinal: 'ELOOP', changesDir: false, slashOnFile: 'ENOTDIR' },
  { label: 'lstat', target: 'file', steps: (p) => [['lstat', P(p)]], loopFinal: 'OK', changesDir: false, slashOnFile: 'ENOTDIR' },
  { label: 'chmod', target: 'file', steps: (p) => [['chmod', P(p), 0o640]], loopFinal: 'ELOOP', changesDir: false, slashOnFile: 'ENOTDIR' },
  { label: 'chown', target: 'file', steps: (p) => [['chown', P(p), U1, G1]], loopFinal: 'ELOOP', changesDir: false, slashOnFile: 'ENOTDIR' },
  { label: 'lchown', target: 'file', steps: (p) => [['lchown', P(p), U1, G1]], loopFinal: 'OK', changesDir: false, slashOnFile: 'ENOTDIR' },
  { label: 'utimes', target: 'file', steps: (p) => [['utimes', P(p), T, T]], loopFinal: 'ELOOP', changesDir: false, slashOnFile: 'ENOTDIR' },
  { label: 'lutimes', target: 'file', steps: (p) => [['lutimes', P(p), T, T]], loopFinal: 'OK', changesDir: false, slashOnFile: 'ENOTDIR' },
  { label: 'truncate', target: 'file', steps: (p) => [['truncate', P(p), 0]], loopFinal: 'ELOOP', changesDir: false, slashOnFile: 'ENOTDIR' },
  { label: 'access', target: 'file', steps: (p) => [['access', P(p), F_OK]], loopFinal: 'ELOOP', changesDir: false, slashOnFile: 'ENOTDIR' },
  { label: 'statfs', target: 'file', steps: (p) => [['statfs', P(p)]], loopFinal: 'ELOOP', changesDir: false, slashOnFile: 'ENOTDIR' },
  { label: 'open(O_RDONLY)', target: 'file', steps: (p) => [['open', P(p), O_RDONLY]], loopFinal: 'ELOOP', changesDir: false, slashOnFile: 'ENOTDIR' },
  {
    label: 'open(O_WRONLY|O_CREAT)', target: null, steps: (p) => [['open', P(p), O_WRONLY | O_CREAT, 0o644]], loopFinal: 'ELOOP', changesDir: true,
  },
  {
    label: 'open(O_WRONLY|O_CREAT|O_EXCL)', target: null, steps: (p) => [['open', P(p), O_WRONLY | O_CREAT | O_EXCL, 0o644]], loopFinal: 'EEXIST', changesDir: true,
  },
  { label: 'unlink', target: 'file', steps: (p) => [['unlink', P(p)]], loopFinal: 'OK', changesDir: true, slashOnFile: 'ENOTDIR' },
  { label: 'rmdir', target: 'dir', steps: (p) => [['rmdir', P(p)]], loopFinal: 'ENOTDIR', changesDir: true },
  { label: 'mkdir', target: null, steps: (p) => [['mkdir', P(p), 0o755]], loopFinal: 'EEXIST', changesDir: true },
  { label: 'readlink', target: 'symlink', steps: (p) => [['readlink', P(p)]], loopFinal: 'OK', changesDir: false },
  { label: 'chdir', target: 'dir', steps: (p) => [['chdir', P(p)]], loopFinal: 'ELOOP', changesDir: false },
  { label: 'readdir', target: 'dir', steps: (p) => [['readdir', P(p)]], loopFinal: 'ELOOP', changesDir: false },
  { label: 'symlink', target: null, steps: (p) => [['symlink', 'target', P(p)]], loopFinal: 'EEXIST', changesDir: true },
  { label: 'mkfifo', target: null, steps: (p) => [['mkfifo', P(p), 0o644]], loopFinal: 'EEXIST', changesDir: true },
  { label: 'mknod(S_IFIFO)', target: null, steps: (p) => [['mknod', P(p), S_IFIFO | 0o644, 0]], loopFinal: 'EEXIST', changesDir: true },
  {
    label: 'link (new name)', target: null, steps: (p) => [['link', P('w/src'), P(p)]], loopFinal: 'EEXIST', changesDir: true,
    companions: [file('w/src', { mode: 0o644, uid: U1, gid: G1 })],
  },
  {
    label: 'link (existing)', target: 'file', steps: (p) => [['link', P(p), P(sibling(p, 'new'))]], loopFinal: 'OK', changesDir: false,
    slashOnFile: 'ENOTDIR',
  },
  {
    label: 'rename (from)', target: 'file', steps: (p) => [['rename', P(p), P(sibling(p, 'new'))]], loopFinal: 'OK', changesDir: true,
    slashOnFile: 'ENOTDIR',
  },
  {
    label: 'rename (to)', target: null, steps: (p) => [['rename', P('w/src'), P(p)]], loopFinal: 'OK', changesDir: true,
    companions: [file('w/src', { mode: 0o644, uid: U1, gid: G1 })],
  },
];

/** The target of a call at `path`, owned by USER and open to everyone, so USER may do anything to it. */
function targetAt(t: Target, path: string): Setup[] {
  if (t === 'file') return [file(path, { mode: 0o666, uid: U1, gid: G1 })];
  if (t === 'dir') return [dir(path, { mode: 0o777, uid: U1, gid: G1 })];
  if (t === 'symlink') return [symlink(path, 'somewhere')];
  return [];
}

/** The generated cases of one path syscall. */
function casesOf(c: PathCall): Case[] {
  const out: Case[] = [];
  const base: Setup[] = [dir('w', { mode: 0o777 }), ...(c.companions ?? [])];
  const add = (what: string, k: Omit<Case, 'name'>) => out.push({ name: `${c.label}: ${what}`, ...k, setup: [...base, ...(k.setup ?? [])] });
  const long = 'n'.repeat(NAME_MAX);

  add('succeeds', { setup: targetAt(c.target, 'w/n'), steps: c.steps('w/n'), expect: 'OK' });
  if (c.target) add('ENOENT for a missing final name', { steps: c.steps('w/n'), expect: 'ENOENT' });
  add('ENOENT for a missing directory on the way', { steps: c.steps('w/missing/n'), expect: 'ENOENT' });
  add('ENOTDIR for a file on the way', { setup: [file('w/f')], steps: c.steps('w/f/n'), expect: 'ENOTDIR' });
  if (c.slashOnFile) add("a file's name followed by '/'", { setup: targetAt(c.target, 'w/n'), steps: c.steps('w/n/'), expect: c.slashOnFile });
  add(`a name of ${NAME_MAX} bytes`, { setup: targetAt(c.target, `w/${long}`), steps: c.steps(`w/${long}`), expect: 'OK' });
  add(`ENAMETOOLONG for a name of ${NAME_MAX + 1} bytes`, { steps: c.steps(`w/${long}n`), expect: 'ENAMETOOLONG' });
  add(`ENAMETOOLONG for a name of ${NAME_MAX + 1} bytes on the way`, { steps: c.steps(`w/${long}n/n`), expect: 'ENAMETOOLONG' });
  if (c.target === 'file' || c.target === null) {
    add(`a path of ${PATH_MAX - 1} bytes`, { setup: [deepDirs(PATH_MAX - 1, c.target === 'file')], steps: deepSteps(c, PATH_MAX - 1), expect: 'OK' });
  }
  add(`ENAMETOOLONG for a path of ${PATH_MAX} bytes`, { setup: [deepDirs(PATH_MAX - 1)], steps: deepSteps(c, PATH_MAX), expect: 'ENAMETOOLONG' });
  const loop = [symlink('w/l1', 'l2'), symlink('w/l2', 'l1')];
  add('ELOOP for a symlink loop on the way', { setup: loop, steps: c.steps('w/l1/n'), expect: 'ELOOP' });
  add('a symlink loop as the final name', { setup: loop, steps: c.steps('w/l1'), expect: c.loopFinal });

  // Search permission: USER owns the target; the directories on the way are root's.
  const reach = (d: Setup[], path: string, what: string, expect: Outcome, groups?: number[]) =>
    add(what, { as: groups ? { ...USER, groups } : USER, setup: [...d, ...targetAt(c.target, path)], steps: c.steps(path), expect });
  const open = 0o777;
  reach([dir('w/d', { mode: open })], 'w/d/n', 'USER in a directory open to all', 'OK');
  reach([dir('w/d', { mode: 0o666 })], 'w/d/n', 'EACCES without search permission on the last directory', 'EACCES');
  reach([dir('w/d', { mode: 0o666 }), dir('w/d/e', { mode: open })], 'w/d/e/n', 'EACCES without search permission on a directory before the last', 'EACCES');
  reach([dir('w/d', { mode: 0o677, uid: U1 })], 'w/d/n', 'EACCES when the owner class lacks search though others have it', 'EACCES');
  reach([dir('w/d', { mode: 0o767, gid: G1 })], 'w/d/n', 'EACCES when the group class lacks search though others have it', 'EACCES');
  reach([dir('w/d', { mode: 0o770, gid: G2 })], 'w/d/n', 'search (and write) through a supplementary group', 'OK', [G2]);
  reach([dir('w/d', { mode: 0o770, gid: G2 })], 'w/d/n', 'EACCES for the same directory without the supplementary group', 'EACCES');
  reach([dir('w/d', { mode: 0o767, gid: G2 })], 'w/d/n', 'EACCES when a supplementary group picks a group class without search', 'EACCES', [G2]);

  if (c.changesDir) {
    reach([dir('w/d', { mode: 0o555 })], 'w/d/n', 'EACCES without write permission on the directory', 'EACCES');
    reach([dir('w/d', { mode: 0o577, uid: U1 })], 'w/d/n', 'EACCES when the owner class lacks write though others have it', 'EACCES');
    reach([dir('w/d', { mode: 0o757, gid: G1 })], 'w/d/n', 'EACCES when the group class lacks write though others have it', 'EACCES');
    reach([dir('w/d', { mode: 0o375, gid: G1 })], 'w/d/n', 'write and search through the group class', 'OK');
    reach([dir('w/d', { mode: 0o757, gid: G2 })], 'w/d/n', 'EACCES when a supplementary group picks a group class without write', 'EACCES', [G2]);
  }
  return out;
}

/** The steps of a call on a DEEP path (whose last directory is writable: made by root, called by root). */
function deepSteps(c: PathCall, bytes: number): Step[] {
  return c.steps('\0').map((s) => s.map((a) => (typeof a === 'object' && 'path' in a && a.path === '\0' ? DEEP(bytes) : a)) as unknown as Step);
}

/** The generated cases of every path syscall. */
export const PATH_CASES: Case[] = PATH_CALLS.flatMap(casesOf);
