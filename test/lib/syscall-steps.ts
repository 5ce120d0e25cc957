// The syscall suite's script (used by test/syscalls.ts across policies, and by
// test/serve-syscalls.ts through remote processes): each step a syscall or a few, run by a root
// and a user (uid 1000) process in order; its outcome is its value or its errno, and some
// steps have the outcome POSIX says they must.

import { O_APPEND, O_CREAT, O_DIRECTORY, O_EXCL, O_NOFOLLOW, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY, SEEK_CUR, SEEK_END, SysError, type Proc } from '../../kernel/index.js';

export interface Procs {
  root: Proc;
  user: Proc;
}

export type Outcome = { value: unknown } | { errno: string };

const dec = new TextDecoder();

/** Makes outcomes comparable across runs: no clock times, bytes as text. */
function normalize(v: unknown): unknown {
  if (v instanceof Uint8Array) return { bytes: dec.decode(v) };
  if (Array.isArray(v)) return v.map(normalize);
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).filter(([k]) => !['atime', 'mtime', 'ctime'].includes(k)).map(([k, x]) => [k, normalize(x)]));
  }
  return v;
}

export const steps: [string, (s: Procs) => Promise<unknown>, Outcome?][] = [];
const step = (name: string, fn: (s: Procs) => Promise<unknown>, expect?: Outcome) => steps.push([name, fn, expect]);
const fails = (errno: string): Outcome => ({ errno });
const gives = (value: unknown): Outcome => ({ value });

// --- files, offsets, flags
step('open O_CREAT', ({ root }) => root.open('/tmp/f', O_RDWR | O_CREAT, 0o644), gives(0));
step('write', ({ root }) => root.write(0, 'hello world'), gives(11));
step('lseek CUR', ({ root }) => root.lseek(0, 0, SEEK_CUR), gives(11));
step('lseek SET 6', ({ root }) => root.lseek(0, 6), gives(6));
step('read after seek', ({ root }) => root.read(0, 100), gives({ bytes: 'world' }));
step('read at EOF', ({ root }) => root.read(0, 100), gives({ bytes: '' }));
step('pwrite', ({ root }) => root.pwrite(0, 'W', 6), gives(1));
step('pread', ({ root }) => root.pread(0, 5, 6), gives({ bytes: 'World' }));
step('offset unchanged by pread/pwrite', ({ root }) => root.lseek(0, 0, SEEK_CUR), gives(11));
step('lseek END', ({ root }) => root.lseek(0, -5, SEEK_END), gives(6));
step('lseek before 0', ({ root }) => root.lseek(0, -100, SEEK_CUR), fails('EINVAL'));
step('lseek bad whence', ({ root }) => root.lseek(0, 0, 7), fails('EINVAL'));
step('write past EOF leaves a hole', ({ root }) => root.pwrite(0, 'X', 20), gives(1));
step('hole reads as zeros', async ({ root }) => Array.from(await root.pread(0, 10, 11)), gives([0, 0, 0, 0, 0, 0, 0, 0, 0, 'X'.charCodeAt(0)]));
step('fstat', ({ root }) => root.fstat(0).then((s) => [s.size, s.mode.toString(8), s.nlink]), gives([21, '100644', 1]));
step('ftruncate down', ({ root }) => root.ftruncate(0, 5));
step('size after ftruncate', ({ root }) => root.fstat(0).then((s) => s.size), gives(5));
step('ftruncate up', ({ root }) => root.ftruncate(0, 8));
step('zeros after extending', async ({ root }) => Array.from(await root.pread(0, 10, 0)), gives([104, 101, 108, 108, 111, 0, 0, 0]));
step('fsync', ({ root }) => root.fsync(0));
step('close', ({ root }) => root.close(0));
step('close twice', ({ root }) => root.close(0), fails('EBADF'));
step('read closed fd', ({ root }) => root.read(0, 1), fails('EBADF'));
step('O_EXCL on existing', ({ root }) => root.open('/tmp/f', O_WRONLY | O_CREAT | O_EXCL), fails('EEXIST'));
step('O_TRUNC', async ({ root }) => {
  const fd = await root.open('/tmp/f', O_WRONLY | O_TRUNC);
  await root.close(fd);
  return (await root.stat('/tmp/f')).size;
}, gives(0));
step('O_APPEND', async ({ root }) => {
  const fd = await root.open('/tmp/f', O_WRONLY | O_APPEND);
  await root.write(fd, 'ab');
  await root.lseek(fd, 0);
  await root.write(fd, 'cd');
  await root.close(fd);
  return root.readFile('/tmp/f');
}, gives({ bytes: 'abcd' }));
step('read on O_WRONLY fd', async ({ root }) => {
  const fd = await root.open('/tmp/f', O_WRONLY);
  try {
    return await root.read(fd, 1);
  } finally {
    await root.close(fd);
  }
}, fails('EBADF'));
step('write on O_RDONLY fd', async ({ root }) => {
  const fd = await root.open('/tmp/f', O_RDONLY);
  try {
    return await root.write(fd, 'x');
  } finally {
    await root.close(fd);
  }
}, fails('EBADF'));
step('open missing', ({ root }) => root.open('/tmp/nope'), fails('ENOENT'));
step('open dir for writing', ({ root }) => root.open('/tmp', O_WRONLY), fails('EISDIR'));
step('O_DIRECTORY on a file', ({ root }) => root.open('/tmp/f', O_RDONLY | O_DIRECTORY), fails('ENOTDIR'));
step('read a directory fd', async ({ root }) => {
  const fd = await root.open('/tmp', O_RDONLY);
  try {
    return await root.read(fd, 10);
  } finally {
    await root.close(fd);
  }
}, fails('EISDIR'));
step('path through a file', ({ root }) => root.stat('/tmp/f/x'), fails('ENOTDIR'));
step('create through a file', ({ root }) => root.open('/tmp/f/x', O_CREAT | O_WRONLY), fails('ENOTDIR'));
step('trailing slash on a file', ({ root }) => root.stat('/tmp/f/'), fails('ENOTDIR'));
step('name of 256 bytes', ({ root }) => root.open('/tmp/' + 'n'.repeat(256), O_CREAT | O_WRONLY), fails('ENAMETOOLONG'));
step('name of 255 bytes', async ({ root }) => {
  await root.writeFile('/tmp/' + 'n'.repeat(255), 'ok');
  return (await root.stat('/tmp/' + 'n'.repeat(255))).size;
}, gives(2));
step('path of 4096 bytes', ({ root }) => root.stat('/' + 'a/'.repeat(2048)), fails('ENAMETOOLONG'));
step('empty path', ({ root }) => root.stat(''), fails('ENOENT'));
step('bad flags', ({ root }) => root.open('/tmp/f', 3), fails('EINVAL'));

// --- directories
step('mkdir', ({ root }) => root.mkdir('/tmp/d', 0o755));
step('mkdir existing', ({ root }) => root.mkdir('/tmp/d'), fails('EEXIST'));
step('mkdir under missing', ({ root }) => root.mkdir('/tmp/no/d'), fails('ENOENT'));
step('mkdir -p', ({ root }) => root.mkdir('/tmp/d/e/f/g', { recursive: true }));
step('stat dir', ({ root }) => root.stat('/tmp/d').then((s) => [s.mode.toString(8), s.nlink]), gives(['40755', 3]));
step('readdir', ({ root }) => root.readdir('/tmp/d'), gives([{ name: 'e', raw: { bytes: 'e' }, ino: 6, type: 'dir' }]));
step('readdir a file', ({ root }) => root.readdir('/tmp/f'), fails('ENOTDIR'));
step('rmdir non-empty', ({ root }) => root.rmdir('/tmp/d'), fails('ENOTEMPTY'));
step('rmdir a file', ({ root }) => root.rmdir('/tmp/f'), fails('ENOTDIR'));
step('rmdir .', ({ root }) => root.rmdir('/tmp/d/e/f/g/.'), fails('EINVAL'));
step('rmdir', ({ root }) => root.rmdir('/tmp/d/e/f/g'));
step('unlink a directory', ({ root }) => root.unlink('/tmp/d/e'), fails('EISDIR'));
step('many entries', async ({ root }) => {
  for (let i = 0; i < 300; i++) await root.writeFile(`/tmp/d/file${i}`, String(i));
  const names = (await root.readdir('/tmp/d')).map((e) => e.name);
  return [names.length, names.includes('file299')];
}, gives([301, true]));

// --- cwd and relative paths
step('chdir', ({ root }) => root.chdir('/tmp/d/e'));
step('getcwd', ({ root }) => root.getcwd(), gives('/tmp/d/e'));
step('relative create', ({ root }) => root.writeFile('rel', 'r'));
step('.. walks up', ({ root }) => root.readFile('../file7'), gives({ bytes: '7' }));
step('.. at / stays at /', async ({ root }) => (await root.stat('/../../tmp/f')).ino === (await root.stat('/tmp/f')).ino, gives(true));
step('.. crosses a mount back', async ({ root }) => (await root.stat('/tmp/..')).ino === (await root.stat('/')).ino, gives(true));
step('chdir to a file', ({ root }) => root.chdir('/tmp/f'), fails('ENOTDIR'));
step('chdir ..', async ({ root }) => {
  await root.chdir('..');
  return root.getcwd();
}, gives('/tmp/d'));
step('chdir /', ({ root }) => root.chdir('/'));

// --- names: rename, link, symlink, unlink
step('rename file', ({ root }) => root.rename('/tmp/f', '/tmp/g'));
step('old name gone', ({ root }) => root.stat('/tmp/f'), fails('ENOENT'));
step('rename over a file', async ({ root }) => {
  await root.writeFile('/tmp/victim', 'v');
  await root.rename('/tmp/g', '/tmp/victim');
  return root.readFile('/tmp/victim');
}, gives({ bytes: 'abcd' }));
step('rename a dir into itself', ({ root }) => root.rename('/tmp/d', '/tmp/d/e/inside'), fails('EINVAL'));
step('rename a dir over a file', ({ root }) => root.rename('/tmp/d/e', '/tmp/victim'), fails('ENOTDIR'));
step('rename a file over a dir', ({ root }) => root.rename('/tmp/victim', '/tmp/d/e'), fails('EISDIR'));
step('rename a dir over an empty dir', async ({ root }) => {
  await root.mkdir('/tmp/empty');
  await root.rename('/tmp/d/e', '/tmp/empty');
  return [(await root.stat('/tmp/empty/f')).nlink, (await root.stat('/tmp/d')).nlink];
}, gives([2, 2]));
step('rename across mounts', ({ root }) => root.rename('/tmp/victim', '/victim'), fails('EXDEV'));
step('rename a mount point', ({ root }) => root.rename('/tmp', '/tmp2'), fails('EBUSY'));
step('hard link', async ({ root }) => {
  await root.link('/tmp/victim', '/tmp/hard');
  return [(await root.stat('/tmp/victim')).nlink, (await root.stat('/tmp/hard')).ino === (await root.stat('/tmp/victim')).ino];
}, gives([2, true]));
step('link to existing name', ({ root }) => root.link('/tmp/victim', '/tmp/hard'), fails('EEXIST'));
step('link a directory', ({ root }) => root.link('/tmp/d', '/tmp/dlink'), fails('EPERM'));
step('link across mounts', ({ root }) => root.link('/tmp/victim', '/hard'), fails('EXDEV'));
step('unlink one name', async ({ root }) => {
  await root.unlink('/tmp/hard');
  return (await root.stat('/tmp/victim')).nlink;
}, gives(1));
step('symlink', ({ root }) => root.symlink('victim', '/tmp/sym'));
step('readlink', ({ root }) => root.readlink('/tmp/sym'), gives('victim'));
step('readlink a file', ({ root }) => root.readlink('/tmp/victim'), fails('EINVAL'));
step('stat follows', ({ root }) => root.stat('/tmp/sym').then((s) => s.size), gives(4));
step('lstat does not', ({ root }) => root.lstat('/tmp/sym').then((s) => [s.mode.toString(8), s.size]), gives(['120777', 6]));
step('symlink to a dir, walked through', async ({ root }) => {
  await root.symlink('/tmp/d', '/dl');
  return (await root.readdir('/dl/')).length;
}, gives(300));
step('symlink chain across mounts', async ({ root }) => {
  await root.symlink('../dl', '/tmp/dl2');
  return root.readFile('/tmp/dl2/file1');
}, gives({ bytes: '1' }));
step('symlink loop', async ({ root }) => {
  await root.symlink('loop2', '/tmp/loop1');
  await root.symlink('loop1', '/tmp/loop2');
  return root.stat('/tmp/loop1');
}, fails('ELOOP'));
step('O_NOFOLLOW on a symlink', ({ root }) => root.open('/tmp/sym', O_RDONLY | O_NOFOLLOW), fails('ELOOP'));
step('O_CREAT through a dangling symlink creates the target', async ({ root }) => {
  await root.symlink('made-by-link', '/tmp/dangling');
  await root.writeFile('/tmp/dangling', 'x');
  return root.readFile('/tmp/made-by-link');
}, gives({ bytes: 'x' }));
step('symlink over existing', ({ root }) => root.symlink('x', '/tmp/sym'), fails('EEXIST'));
step('unlink missing', ({ root }) => root.unlink('/tmp/nope'), fails('ENOENT'));
step('unlink a symlink removes the link', async ({ root }) => {
  await root.unlink('/tmp/sym');
  return (await root.stat('/tmp/victim')).size;
}, gives(4));
step('unlinked open file stays readable', async ({ root }) => {
  const fd = await root.open('/tmp/victim');
  await root.unlink('/tmp/victim');
  const data = await root.read(fd, 10);
  await root.close(fd);
  return data;
}, gives({ bytes: 'abcd' }));
step('a file made by open(O_CREAT) and unlinked while open lives until its close', async ({ root }) => {
  const before = await root.statfs('/tmp');
  const fd = await root.open('/tmp/made-open', O_CREAT | O_EXCL | O_RDWR, 0o644);
  await root.unlink('/tmp/made-open');
  await root.write(fd, new TextEncoder().encode('wxyz'));
  const data = await root.pread(fd, 10, 0);
  await root.close(fd);
  const after = await root.statfs('/tmp');
  return [data, after.ffree - before.ffree, after.bfree - before.bfree];
}, gives([{ bytes: 'wxyz' }, 0, 0]));

// --- attributes
step('chmod', async ({ root }) => {
  await root.writeFile('/tmp/m', 'm');
  await root.chmod('/tmp/m', 0o600);
  return (await root.stat('/tmp/m')).mode.toString(8);
}, gives('100600'));
step('utimes', async ({ root }) => {
  await root.utimes('/tmp/m', 1_000_000, 2_000_000);
  const s = await root.stat('/tmp/m');
  return [s.atime, s.mtime];
}, gives([1_000_000, 2_000_000]));
step('truncate by path', async ({ root }) => {
  await root.truncate('/tmp/m', 3);
  return root.readFile('/tmp/m');
}, gives({ bytes: 'm\0\0' }));
step('truncate a dir', ({ root }) => root.truncate('/tmp/d', 0), fails('EISDIR'));
step('statfs', ({ root }) => root.statfs('/tmp').then((s) => [s.fstype, s.bsize, s.namemax]), gives(['tmpfs', 4096, 255]));
step('statfs of /dev', ({ root }) => root.statfs('/dev/null').then((s) => s.fstype), gives('dev'));

// --- devices
step('/dev/zero', ({ root }) => root.readFile('/dev/null'), gives({ bytes: '' }));
step('/dev/zero reads zeros', async ({ root }) => {
  const fd = await root.open('/dev/zero');
  const b = await root.read(fd, 4);
  await root.close(fd);
  return Array.from(b);
}, gives([0, 0, 0, 0]));
step('/dev/random reads bytes', async ({ root }) => {
  const fd = await root.open('/dev/random');
  const b = await root.read(fd, 64);
  await root.close(fd);
  return [b.length, b.some((x) => x !== 0)];
}, gives([64, true]));
step('/dev/null swallows', async ({ root }) => {
  const fd = await root.open('/dev/null', O_WRONLY | O_TRUNC);
  const n = await root.write(fd, 'gone');
  await root.close(fd);
  return n;
}, gives(4));
step('mkdir in /dev', ({ root }) => root.mkdir('/dev/x'), fails('EPERM'));
step('stat /dev/null', ({ root }) => root.stat('/dev/null').then((s) => [s.mode.toString(8), s.rdev]), gives(['20666', 259]));

// --- credentials
step('user cannot write root\'s 0644 file', ({ user }) => user.open('/tmp/d/file1', O_WRONLY), fails('EACCES'));
step('user can read it', ({ user }) => user.readFile('/tmp/d/file1'), gives({ bytes: '1' }));
step('user cannot create in a 0755 root dir', ({ user }) => user.writeFile('/tmp/d/mine', 'x'), fails('EACCES'));
step('user cannot chmod root\'s file', ({ user }) => user.chmod('/tmp/d/file1', 0o777), fails('EPERM'));
step('user cannot chown', ({ user }) => user.chown('/tmp/m', 1000, 1000), fails('EPERM'));
step('user cannot search a 0700 dir', async ({ root, user }) => {
  await root.mkdir('/tmp/private', 0o700);
  await root.writeFile('/tmp/private/secret', 's');
  return user.stat('/tmp/private/secret');
}, fails('EACCES'));
step('user owns what it creates in a world-writable dir', async ({ root, user }) => {
  await root.mkdir('/tmp/pub', 0o777);
  await root.chmod('/tmp/pub', 0o1777);
  await user.writeFile('/tmp/pub/u', 'u');
  const s = await user.stat('/tmp/pub/u');
  return [s.uid, s.gid, s.mode.toString(8)];
}, gives([1000, 1000, '100644']));
step('sticky dir: root\'s file is safe from user', async ({ root, user }) => {
  await root.writeFile('/tmp/pub/r', 'r');
  return user.unlink('/tmp/pub/r');
}, fails('EPERM'));
step('user cannot mount', ({ user }) => user.mount('/tmp/d', 'tmpfs'), fails('EPERM'));

// --- mounts
step('mount unknown type', ({ root }) => root.mount('/tmp/d', 'nfs'), fails('ENODEV'));
step('mount on a file', ({ root }) => root.mount('/tmp/m', 'tmpfs'), fails('ENOTDIR'));
step('mount a read-only tmpfs', async ({ root }) => {
  await root.mkdir('/ro');
  await root.mount('/ro', 'tmpfs', { readonly: true });
  return root.writeFile('/ro/x', 'x');
}, fails('EROFS'));
step('mount a tmpfs', async ({ root }) => {
  await root.mkdir('/mnt');
  await root.mount('/mnt', 'tmpfs');
  await root.writeFile('/mnt/inside', 'in');
  return (await root.mounts()).map((m) => [m.target, m.fstype, m.readonly]);
}, gives([['/', 'tmpfs', false], ['/tmp', 'tmpfs', false], ['/dev', 'dev', false], ['/ro', 'tmpfs', true], ['/mnt', 'tmpfs', false]]));
step('dev numbers differ across mounts', async ({ root }) => [(await root.stat('/mnt/inside')).dev, (await root.stat('/tmp/m')).dev], gives([5, 2]));
step('rmdir a mount point', ({ root }) => root.rmdir('/mnt'), fails('EBUSY'));
step('unmount busy', async ({ root }) => {
  const fd = await root.open('/mnt/inside');
  try {
    return await root.unmount('/mnt');
  } finally {
    await root.close(fd);
  }
}, fails('EBUSY'));
step('unmount not a mount point', ({ root }) => root.unmount('/tmp/d'), fails('EINVAL'));
step('unmount', async ({ root }) => {
  await root.unmount('/mnt');
  return root.readdir('/mnt');
}, gives([]));
step('sync', ({ root }) => root.sync());


/** Runs every step with these processes, in order: their outcomes. */
export async function runSteps(procs: Procs): Promise<Outcome[]> {
  const got: Outcome[] = [];
  for (const [, fn] of steps) {
    try {
      got.push({ value: normalize(await fn(procs)) });
    } catch (err) {
      if (!(err instanceof SysError)) throw err;
      got.push({ errno: err.errno });
    }
  }
  return got;
}
