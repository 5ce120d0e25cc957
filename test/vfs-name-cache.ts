// vfs's name and attribute cache (servers/vfs/name-cache.ts), under every placement, on tmpfs and
// on ext2: after each change that passes through vfs — rename, rename over a target, link,
// unlink, chmod, truncate, utimes, a write that grows a file, open with O_TRUNC, a read,
// rmdir and mkdir of the same name, symlinks — lstat of every path gives what the file system
// itself says (asked directly, past vfs, with its own walk). A second stat of a path makes no
// call to the file system (the kernel's per-component call counts). After a file system
// restarts under a cached mount, stat asks it again and gives what it says.

import { join } from 'node:path';
import t, { type Test } from 'tap';
import { DEFAULT_MOUNTS, O_APPEND, O_CREAT, O_RDONLY, O_TRUNC, O_WRONLY, SysError, boot, type Kernel, type Proc } from '../kernel/index.js';
import type { Attr, Handle, WalkResult } from '../kernel/api.js';
import type { Mount } from '../servers/vfs/mounts.js';
import { NAME_CACHE_ENTRIES, NameCache } from '../servers/vfs/name-cache.js';
import { FAKE_TIME, UUID, tempDir } from './lib/e2fs.js';
import { ALL_POLICIES, policyName } from './lib/policies.js';

const FAST = { heartbeat: { periodMs: 200, timeoutMs: 2500 }, calls: { timeoutMs: 3000, tries: 4, reconnectMs: 8000 } };

/** A file system as it answers past vfs: its instance mounted at `target` (mounting a named instance again finds it). */
interface FsView {
  fs: string;
  fsid: number;
  root: Handle;
}

async function view(k: Kernel, fs: string, target: string, source?: string): Promise<FsView> {
  const r = await k.call<{ fsid: number; root: Handle }>(fs, 'mount', { ...(source ? { source } : {}), options: { instance: target } });
  return { fs, fsid: r.fsid, root: r.root };
}

/** What the file system says `names` (from its root) is, not following a final symlink: its attributes, or the errno. */
async function fsLstat(k: Kernel, v: FsView, names: string[]): Promise<Attr | string> {
  const r = await k.call<WalkResult>(v.fs, 'walk', { fsid: v.fsid, dir: v.root, names });
  if (r.error) return r.error.errno;
  if (r.steps.length < names.length) return 'the walk stopped at a symlink';
  return r.steps.length ? r.steps[r.steps.length - 1].attr : r.start;
}

/** What vfs says of `path` (lstat, or stat when follow), without the mount number; or the errno. */
async function vfsStat(p: Proc, path: string, follow = false): Promise<Attr | string> {
  try {
    const { dev: _dev, ...attr } = follow ? await p.stat(path) : await p.lstat(path);
    return attr;
  } catch (err) {
    if (err instanceof SysError) return err.errno;
    throw err;
  }
}

/** One mount to run the scenario on: where, which file system, and its view past vfs. */
interface Place {
  target: string;
  fs: string;
  v: FsView;
}

/** The names the scenario uses, under a directory `c` of the mount. */
const NAMES = ['', 'a', 'b', 'c', 'l', 's', 's/in', 'ln'];

/** Every path of the scenario: lstat through vfs equals the file system's own answer. */
async function agree(t: Test, k: Kernel, p: Proc, at: Place, step: string): Promise<void> {
  for (const n of NAMES) {
    const names = ['c', ...n.split('/').filter(Boolean)];
    const path = `${at.target}/${names.join('/')}`;
    t.same(await vfsStat(p, path), await fsLstat(k, at.v, names), `${step}: lstat ${path} is what ${at.fs} says`);
  }
}

async function put(p: Proc, path: string, size: number): Promise<void> {
  const fd = await p.open(path, O_CREAT | O_WRONLY | O_TRUNC, 0o644);
  await p.write(fd, new Uint8Array(size).fill(7));
  await p.close(fd);
}

/** Calls `component` served while fn ran. */
async function callsDuring(k: Kernel, component: string, fn: () => Promise<unknown>): Promise<number> {
  const before = (await k.callCounts())[component];
  await fn();
  return (await k.callCounts())[component] - before;
}

async function scenario(t: Test, k: Kernel, p: Proc, at: Place): Promise<void> {
  const d = `${at.target}/c`;
  await p.mkdir(d);
  await put(p, `${d}/a`, 100);
  await p.stat(`${d}/a`);
  t.equal(await callsDuring(k, at.fs, () => p.stat(`${d}/a`)), 0, `${at.fs}: a second stat of a path makes no ${at.fs} call`);
  t.equal(await callsDuring(k, at.fs, async () => p.close(await p.open(`${d}/a`, O_RDONLY))), 2, `${at.fs}: an open of it only opens and closes the file`);
  await agree(t, k, p, at, 'made');

  await p.rename(`${d}/a`, `${d}/b`);
  await agree(t, k, p, at, 'after rename');

  await put(p, `${d}/c`, 300);
  await p.stat(`${d}/c`);
  await p.rename(`${d}/b`, `${d}/c`);
  await agree(t, k, p, at, 'after rename over a target');

  await p.link(`${d}/c`, `${d}/l`);
  await agree(t, k, p, at, 'after link');
  await p.unlink(`${d}/l`);
  await agree(t, k, p, at, 'after unlink of the other name');

  await p.chmod(`${d}/c`, 0o600);
  await agree(t, k, p, at, 'after chmod');
  await p.truncate(`${d}/c`, 10);
  await agree(t, k, p, at, 'after truncate');
  await p.utimes(`${d}/c`, 1_000_000, 2_000_000);
  await agree(t, k, p, at, 'after utimes');

  const fd = await p.open(`${d}/c`, O_WRONLY | O_APPEND);
  await p.write(fd, new Uint8Array(5000));
  await agree(t, k, p, at, 'after a write that grows the file');
  t.same(await p.fstat(fd), await p.stat(`${d}/c`), 'fstat and stat agree');
  await p.close(fd);

  const rd = await p.open(`${d}/c`, O_RDONLY);
  await p.read(rd, 100);
  await p.close(rd);
  await agree(t, k, p, at, 'after a read');

  await p.close(await p.open(`${d}/c`, O_WRONLY | O_TRUNC));
  await agree(t, k, p, at, 'after open with O_TRUNC');

  await p.mkdir(`${d}/s`);
  await p.mkdir(`${d}/s/in`);
  await agree(t, k, p, at, 'after mkdir');
  await p.rmdir(`${d}/s/in`);
  await p.rmdir(`${d}/s`);
  await p.mkdir(`${d}/s`, { mode: 0o700 });
  await agree(t, k, p, at, 'after rmdir and mkdir of the same name');

  await p.symlink('c', `${d}/ln`);
  await agree(t, k, p, at, 'after symlink');
  t.same(await vfsStat(p, `${d}/ln`, true), await fsLstat(k, at.v, ['c', 'c']), 'stat follows the symlink to what the file system says');
  await p.unlink(`${d}/c`);
  t.equal(await vfsStat(p, `${d}/ln`, true), 'ENOENT', 'the symlink dangles once its target is unlinked');
  await put(p, `${d}/c`, 42);
  t.same(await vfsStat(p, `${d}/ln`, true), await fsLstat(k, at.v, ['c', 'c']), 'and reaches the new target once it is made');
  await agree(t, k, p, at, 'after the target was made again');
}

const dir = tempDir('rumpus-name-cache-');

for (const policy of ALL_POLICIES) {
  t.test(`${policyName(policy)}: stat after every change gives what the file system says`, async (t) => {
    const img = join(dir, `${policyName(policy).replace(/\W/g, '-')}.img`);
    const k0 = await boot({ policy: 'monolithic', mounts: [] });
    await k0.call('ext2', 'mkfs', { source: img, size: 8 * 1024 * 1024, uuid: UUID, time: FAKE_TIME });
    await k0.halt();
    const k = await boot({ policy, ...FAST, mounts: [...DEFAULT_MOUNTS, { target: '/mnt', fstype: 'ext2', source: img }] });
    t.teardown(() => k.halt());
    const p = k.init;
    for (const at of [
      { target: '/tmp', fs: 'tmpfs', v: await view(k, 'tmpfs', '/tmp') },
      { target: '/mnt', fs: 'ext2', v: await view(k, 'ext2', '/mnt', img) },
    ]) {
      await t.test(at.fs, (t) => scenario(t, k, p, at));
    }
  });
}

for (const policy of ALL_POLICIES.filter((p) => p !== 'monolithic')) {
  t.test(`${policyName(policy)}: a restart of tmpfs drops what vfs cached of it`, async (t) => {
    const k = await boot({ policy, ...FAST });
    t.teardown(() => k.halt());
    const p = k.init;
    await put(p, '/tmp/f', 10);
    await p.sync();
    await p.chmod('/tmp/f', 0o600); // after the last sync point: a process domain's restart loses it
    await p.stat('/tmp/f');
    const restarts = () => k.domains().find((d) => d.components.includes('tmpfs'))!.restarts;
    await k.inject({ component: 'tmpfs', type: 'crash', op: 'statfs' });
    await p.statfs('/tmp').catch(() => {});
    for (let i = 0; i < 50 && restarts() === 0; i++) await new Promise((r) => setTimeout(r, 100));
    await k.settled();
    await k.clearFaults();
    t.equal(restarts(), 1, 'tmpfs restarted');
    let said: Attr | string = '';
    t.ok((await callsDuring(k, 'tmpfs', async () => (said = await vfsStat(p, '/tmp/f')))) > 0, 'the stat after the restart asks tmpfs');
    t.same(said, await fsLstat(k, await view(k, 'tmpfs', '/tmp'), ['f']), 'and gives what it says');
  });
}

/**
 * A cache alone, over one mount whose root is inode 1, and `walked(i)`: a walk from the root to
 * directory n<i> (inode i), which puts two entries (the name, its attributes) and the root's.
 */
function bareCache() {
  const cache = new NameCache(() => 0, () => false);
  const m = { id: 1, fs: 'tmpfs' } as Mount;
  const attr = (ino: number): Attr => ({
    ino, gen: 1, mode: 0o40755, nlink: 2, uid: 0, gid: 0, size: 0, blocks: 0, blksize: 4096, rdev: 0, atime: 0, mtime: 0, ctime: 0,
  });
  const root = { mnt: m, h: { ino: 1, gen: 1 } };
  const walked = (i: number) => cache.walked(root, [`n${i}`], { start: attr(1), steps: [{ handle: { ino: i, gen: 1 }, attr: attr(i) }] }, cache.mark(m));
  return { cache, m, root, walked };
}

t.test('the cache holds at most NAME_CACHE_ENTRIES entries', (t) => {
  const { cache, m, root, walked } = bareCache();
  for (let i = 2; i < NAME_CACHE_ENTRIES; i++) walked(i);
  t.equal(cache.size, NAME_CACHE_ENTRIES, 'full');
  t.ok(cache.walk(root, [`n${NAME_CACHE_ENTRIES - 1}`])?.rest.length === 0, 'the last name walked is known');
  t.equal(cache.walk(root, ['n2'])?.rest.length, 1, 'the first ones were let go');
  cache.changed(m, [root.h]);
  t.equal(cache.walk(root, ['n3']), undefined, 'a change of the directory drops its attributes');
  t.end();
});

t.test('a full cache lets go of what was not used since, before what was', (t) => {
  const { cache, root, walked } = bareCache();
  // Two entries a walk (the name, its attributes) and the root's attributes.
  const fill = (NAME_CACHE_ENTRIES - 2) / 2;
  for (let i = 2; i < 2 + fill; i++) walked(i);
  t.equal(cache.walk(root, ['n2'])?.rest.length, 0, 'the oldest name is known, and now used');
  walked(2 + fill);
  walked(3 + fill);
  t.equal(cache.walk(root, ['n2'])?.rest.length, 0, 'the used one is kept');
  t.equal(cache.walk(root, ['n3'])?.rest.length, 1, 'the next oldest, never used, went instead');
  t.equal(cache.size, NAME_CACHE_ENTRIES, 'still full, never over');
  t.end();
});
