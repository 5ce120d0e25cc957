// tmpfs charges everything a client can make it hold — symlink targets, names, directory
// entries, inodes, pages — to the mount's limits: an unprivileged client that exhausts them
// gets ENOSPC, statfs says so, the space comes back when the things go, and the kernel and
// every other user's files stay (no panic, no restart). And readdir resumes from its cookie:
// every entry once, also while the directory changes between batches. A sibling: ext2 keeps
// no more memory than its block cache after one large write.

import t from 'tap';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { DEFAULT_MOUNTS, boot, O_CREAT, O_RDWR, type Kernel, type KernelEvent, type Proc } from '../kernel/index.js';
import { COST, PAGE, Tmpfs } from '../servers/tmpfs/tmpfs.js';
import { mkImage, tempDir } from './lib/e2fs.js';

const KiB = 1024;
/** Bound on every exhaustion loop: far more than the small instance can hold. */
const MAX_TRIES = 5000;

/** A small tmpfs instance mounted at /small, world-writable (sticky, like /tmp). */
async function smallTmpfs(k: Kernel, root: Proc, options: { size: number; inodes?: number }): Promise<void> {
  await k.call('tmpfs', 'mount', { options: { instance: '/small', ...options } });
  await root.mkdir('/small');
  await root.mount('/small', 'tmpfs');
  const s = await root.statfs('/small');
  if (s.blocks * s.bsize !== options.size) throw new Error('the small instance was not the one mounted at /small');
  await root.chmod('/small', 0o1777);
}

/** Calls make(i) for i = 0, 1, … until it fails; returns how many succeeded and the error. */
async function exhaust(make: (i: number) => Promise<unknown>): Promise<{ made: number; errno: string | undefined }> {
  for (let i = 0; i < MAX_TRIES; i++) {
    try {
      await make(i);
    } catch (err) {
      return { made: i, errno: (err as { errno?: string }).errno };
    }
  }
  return { made: MAX_TRIES, errno: undefined };
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);
const TARGET = 'x'.repeat(4000);
const LONG_NAME = (i: number) => `${i}-`.padEnd(255, 'n');

const exhaustions: { what: string; inodes?: number; make: (p: Proc, i: number) => Promise<unknown>; undo: (p: Proc, i: number) => Promise<unknown> }[] = [
  { what: 'symlinks with 4,000-byte targets', make: (p, i) => p.symlink(TARGET, `/small/l${i}`), undo: (p, i) => p.unlink(`/small/l${i}`) },
  { what: 'hard links with 255-byte names', make: (p, i) => p.link('/small/base', `/small/${LONG_NAME(i)}`), undo: (p, i) => p.unlink(`/small/${LONG_NAME(i)}`) },
  { what: 'directories with 255-byte names', make: (p, i) => p.mkdir(`/small/${LONG_NAME(i)}`), undo: (p, i) => p.rmdir(`/small/${LONG_NAME(i)}`) },
  { what: 'empty files, inode limit 64', inodes: 64, make: (p, i) => p.open(`/small/f${i}`, O_CREAT | O_RDWR, 0o644).then((fd) => p.close(fd)), undo: (p, i) => p.unlink(`/small/f${i}`) },
];

for (const policy of ['monolithic', 'microkernel']) {
  t.test(`tmpfs limits under ${policy}`, async (t) => {
    for (const e of exhaustions) {
      await t.test(e.what, async (t) => {
        const events: KernelEvent[] = [];
        const k = await boot({ policy, onEvent: (ev) => events.push(ev) });
        try {
          const root = await k.spawn({ uid: 0, gid: 0 });
          await root.writeFile('/tmp/root-file', 'root data');
          await smallTmpfs(k, root, { size: 256 * KiB, inodes: e.inodes });
          await root.writeFile('/small/root-file', 'root data on the small instance');
          const user = await k.spawn({ uid: 1000, gid: 1000 });
          const before = await root.statfs('/small');
          await user.writeFile('/small/base', 'b');

          const { made, errno } = await exhaust((i) => e.make(user, i));
          t.equal(errno, 'ENOSPC', `the client gets ENOSPC after ${made}`);
          t.ok(made > 0 && made < MAX_TRIES, 'some were made before the limit');
          const full = await root.statfs('/small');
          if (e.inodes) t.equal(full.ffree, 0, 'statfs: no free inodes');
          else t.ok(full.bfree * full.bsize < 4000 + COST.inode + COST.entry + 255, `statfs: too little free for one more (${full.bfree} blocks)`);
          await t.rejects(user.writeFile('/small/more', 'x'.repeat(PAGE)), { errno: 'ENOSPC', message: /full|inodes/ }, 'a page does not fit either');
          await user.unlink('/small/more').catch(() => {}); // its inode may have fitted

          t.equal(text(await root.readFile('/small/root-file')), 'root data on the small instance', "another user's file on the full instance reads back");
          t.equal(text(await root.readFile('/tmp/root-file')), 'root data', 'a file on /tmp reads back');
          t.same(events, [], 'no component failed, restarted or panicked');
          t.ok(k.domains().every((d) => d.restarts === 0 && d.status === 'running'), 'every domain runs, never restarted');

          for (let i = 0; i < made; i++) await e.undo(user, i);
          await user.unlink('/small/base');
          const after = await root.statfs('/small');
          t.same([after.bfree, after.ffree], [before.bfree, before.ffree], 'removing them gives back every block and inode');
        } finally {
          await k.halt();
        }
      });
    }

    await t.test('the default /tmp charges symlink targets', async (t) => {
      const k = await boot({ policy });
      try {
        await (await k.spawn({ uid: 0, gid: 0 })).chmod('/tmp', 0o1777);
        const user = await k.spawn({ uid: 1000, gid: 1000 });
        const before = await user.statfs('/tmp');
        for (let i = 0; i < 10; i++) await user.symlink(TARGET, `/tmp/l${i}`);
        const after = await user.statfs('/tmp');
        t.ok((before.bfree - after.bfree) * after.bsize >= 10 * 4000, `ten 4,000-byte targets take ${before.bfree - after.bfree} blocks`);
      } finally {
        await k.halt();
      }
    });
  });
}

t.test('a rename to a longer name is charged, and refused when it does not fit', async (t) => {
  const fs = new Tmpfs(() => 0, { maxBytes: 4 * PAGE, maxInodes: 100 }, 1);
  const free = () => fs.statfs().bfree;
  const start = free();
  const a = fs.create({ dir: fs.root, name: 'a', mode: 0o644, uid: 0, gid: 0, excl: true });
  fs.create({ dir: fs.root, name: 'v', mode: 0o644, uid: 0, gid: 0, excl: true });
  let i = 0;
  for (; i < MAX_TRIES; i++) {
    try {
      fs.link({ h: a.handle, dir: fs.root, name: LONG_NAME(i) });
    } catch (err) {
      t.equal((err as { errno: string }).errno, 'ENOSPC', 'links end with ENOSPC');
      break;
    }
  }
  let s = 0;
  for (; s < MAX_TRIES; s++) {
    try {
      fs.link({ h: a.handle, dir: fs.root, name: `s${s}` });
    } catch {
      break;
    }
  }
  t.equal(free(), 0, 'full: less than a short name\'s entry is left');
  t.throws(() => fs.rename({ sdir: fs.root, sname: 'a', ddir: fs.root, dname: 'b'.repeat(255) }), { errno: 'ENOSPC', message: /full/ }, 'a rename to a longer name does not fit');
  t.ok(fs.walk({ dir: fs.root, names: ['a'] }).error === undefined, 'and left the old name');
  fs.rename({ sdir: fs.root, sname: 'a', ddir: fs.root, dname: 'c' });
  t.ok(fs.walk({ dir: fs.root, names: ['c'] }).error === undefined, 'a rename to a name as long works on the full instance');
  fs.rename({ sdir: fs.root, sname: 'v', ddir: fs.root, dname: LONG_NAME(0) });
  t.ok(fs.walk({ dir: fs.root, names: ['v'] }).error !== undefined, 'a rename over another file works on the full instance');
  for (let j = 0; j < i; j++) fs.unlink({ dir: fs.root, name: LONG_NAME(j) });
  for (let j = 0; j < s; j++) fs.unlink({ dir: fs.root, name: `s${j}` });
  fs.unlink({ dir: fs.root, name: 'c' });
  t.equal(free(), start, 'every byte comes back');
});

t.test('readdir resumes from its cookie', async (t) => {
  const N = 200_000;
  const BATCH = 1024;
  const fs = new Tmpfs(() => 0, { maxBytes: 2 ** 30, maxInodes: 2 ** 20 }, 1);
  const d = fs.mkdir({ dir: fs.root, name: 'd', mode: 0o755, uid: 0, gid: 0 }).handle;
  for (let i = 0; i < N; i++) fs.create({ dir: d, name: `e${i}`, mode: 0o644, uid: 0, gid: 0, excl: true });

  const listAll = (between?: (batch: number) => void) => {
    const seen: string[] = [];
    let cookie = 0;
    for (let batch = 0; batch < N; batch++) {
      const r = fs.readdir({ h: d, cookie, count: BATCH });
      for (const e of r.entries) seen.push(e.name);
      if (r.eof) return seen;
      cookie = r.cookie;
      between?.(batch);
    }
    throw new Error('readdir did not reach its end');
  };

  const started = performance.now();
  const quiet = listAll();
  t.comment(`listing ${N} entries in batches of ${BATCH}: ${(performance.now() - started).toFixed(0)} ms`);
  t.equal(quiet.length, N, 'every entry listed');
  t.equal(new Set(quiet).size, N, 'none twice');

  // Between batches: remove one entry already listed and one not yet listed, add one.
  const removed = new Set<string>();
  const added = new Set<string>();
  let nextAhead = N - 1;
  const busy = listAll((batch) => {
    const behind = `e${batch}`;
    const ahead = `e${nextAhead--}`;
    for (const name of [behind, ahead]) {
      fs.unlink({ dir: d, name });
      removed.add(name);
    }
    const name = `new${batch}`;
    fs.create({ dir: d, name, mode: 0o644, uid: 0, gid: 0, excl: true });
    added.add(name);
  });
  const busySet = new Set(busy);
  t.equal(busySet.size, busy.length, 'no entry listed twice while the directory changes');
  const stayed = quiet.filter((name) => !removed.has(name));
  t.equal(stayed.filter((name) => !busySet.has(name)).length, 0, 'every entry present throughout is listed');
  const quietSet = new Set(quiet);
  t.ok(busy.every((name) => quietSet.has(name) || added.has(name)), 'nothing listed that never existed');
  t.ok([...busySet].filter((name) => added.has(name)).length > 0, 'entries added ahead of the cursor are listed');

  // A cookie of an entry since removed (and swept) still continues after it.
  const first = fs.readdir({ h: d, cookie: 0, count: 10 });
  for (const e of fs.readdir({ h: d, cookie: 0, count: 1000 }).entries) fs.unlink({ dir: d, name: e.name });
  const resumed = fs.readdir({ h: d, cookie: first.cookie, count: BATCH });
  t.ok(resumed.entries.length > 0 && resumed.entries.every((e) => !first.entries.some((f) => f.name === e.name)), 'a stale cookie continues without crashing or repeating');
});

t.test('readdir of 20,000 entries through the syscall', async (t) => {
  const k = await boot({ policy: 'monolithic' });
  try {
    const p = await k.spawn({ uid: 0, gid: 0 });
    await p.mkdir('/tmp/many');
    const N = 20_000;
    for (let i = 0; i < N; i++) await p.symlink('t', `/tmp/many/s${i}`);
    const started = performance.now();
    const entries = await p.readdir('/tmp/many');
    t.comment(`readdir of ${N} entries: ${(performance.now() - started).toFixed(0)} ms`);
    t.equal(entries.length, N, 'every entry');
    t.equal(new Set(entries.map((e) => e.name)).size, N, 'each once');
  } finally {
    await k.halt();
  }
});

t.test('ext2 holds no more than its block cache after one large write', async (t) => {
  const MiB = 1024 * 1024;
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const held = () => {
    gc();
    gc();
    return process.memoryUsage().arrayBuffers;
  };
  const img = join(tempDir('rumpus-ext2-mem-'), 'a.img');
  mkImage(img, { size: 256 * MiB, blockSize: 4096 });
  const k = await boot({ policy: 'monolithic', mounts: [...DEFAULT_MOUNTS, { target: '/mnt', fstype: 'ext2', source: img }] });
  try {
    const p = await k.spawn({ uid: 0, gid: 0 });
    const before = held();
    const fd = await p.open('/mnt/big', O_CREAT | O_RDWR, 0o644);
    await p.write(fd, new Uint8Array(128 * MiB).fill(1));
    await p.fsync(fd);
    await p.close(fd);
    for (let i = 0; i < 3; i++) await p.stat('/mnt/big'); // ops that end, evicting down to the cache's capacity
    const grown = (held() - before) / MiB;
    t.comment(`array buffers grew by ${grown.toFixed(0)} MiB`);
    t.ok(grown < 64 + 16, 'no more than the 64 MiB cache (and a little) stays allocated');
  } finally {
    await k.halt();
  }
});
