// One image, one writer (issue 10, item 6): an image is claimed by its identity (device, inode),
// exclusively for read-write and shared among read-only mounts, in one kernel, across kernels
// in one process and across processes; a refused mount gets EBUSY naming the holder; a claim
// whose holder is gone (killed) is taken over.

import { execFile, spawn } from 'node:child_process';
import { copyFileSync, existsSync, linkSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import t from 'tap';
import { boot, SysError } from '../kernel/index.js';
import { fsckClean, mkImage, tempDir } from './lib/e2fs.js';
import { ALL_POLICIES, policyName } from './lib/policies.js';
import { RUMPUS } from './lib/cli.js';

const dir = tempDir('rumpus-claim-');
const ROOT = [{ target: '/', fstype: 'tmpfs' }];

/** Where hyp keeps the claims (see kernel/hyp-claim.ts). */
const CLAIMS = process.env.XDG_RUNTIME_DIR ? join(process.env.XDG_RUNTIME_DIR, 'rumpus') : join(tmpdir(), `rumpus-${process.getuid!()}`);

function image(name: string): string {
  const path = join(dir, name);
  mkImage(path, { size: 4 << 20, blockSize: 1024 });
  return path;
}

/** The writer's lock file of an image. */
function writerLock(img: string): string {
  const st = statSync(img, { bigint: true });
  return join(CLAIMS, `${st.dev}-${st.ino}.w`);
}

function rumpus(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [RUMPUS, ...args], { timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const errnoOf = (p: Promise<unknown>) => p.then(() => 'accepted', (e: SysError) => e.errno);

for (const policy of ALL_POLICIES) {
  t.test(`${policyName(policy)}: a mounted image is refused under any other name, read-only mounts share`, async (t) => {
    const name = policyName(policy).replace(/\W+/g, '-');
    const img = image(`${name}.img`);
    linkSync(img, join(dir, `${name}-hard.img`));
    symlinkSync(`${name}.img`, join(dir, `${name}-sym.img`));
    const spellings: Record<string, string> = {
      'DIR/./x.img': `${dir}/./${name}.img`,
      'a cwd-relative path': relative(process.cwd(), img),
      'a symlink': join(dir, `${name}-sym.img`),
      'a hard link': join(dir, `${name}-hard.img`),
    };
    const shared = image(`${name}-shared.img`);
    const k = await boot({ policy, mounts: [...ROOT, { target: '/a', fstype: 'ext2', source: img }] });
    try {
      const p = await k.spawn({ uid: 0, gid: 0 });
      for (const d of ['/b', '/c', '/d']) await p.mkdir(d);
      for (const [how, source] of Object.entries(spellings)) {
        const err = await p.mount('/b', 'ext2', { source }).then(() => null, (e: SysError) => e);
        t.equal(err?.errno, 'EBUSY', `again via ${how}: EBUSY`);
        t.match(err?.message, /already attached read-write in this kernel.*for the mount at \/a/, `via ${how}: says who holds it`);
        t.equal(await errnoOf(p.mount('/b', 'ext2', { source, readonly: true })), 'EBUSY', `read-only via ${how}: EBUSY too`);
      }
      t.equal(await errnoOf(p.mount('/c', 'ext2', { source: shared, readonly: true })), 'accepted', 'a read-only mount');
      t.equal(await errnoOf(p.mount('/d', 'ext2', { source: `${dir}/./${name}-shared.img`, readonly: true })), 'accepted', 'and another of the same image, under another name, share it');
      const ln = join(dir, `${name}-shared-hard.img`);
      linkSync(shared, ln);
      t.equal(await errnoOf(p.mount('/b', 'ext2', { source: ln })), 'EBUSY', 'but a read-write mount of it is refused');
      await p.unmount('/a');
      t.equal(await errnoOf(p.mount('/b', 'ext2', { source: spellings['a hard link'] })), 'accepted', 'once unmounted, the image mounts under another name');
      await p.writeFile('/b/f', 'written through the hard link\n');
    } finally {
      await k.halt();
    }
    t.notOk(existsSync(writerLock(img)), 'halt released the claim');
    t.ok(fsckClean(img).clean, 'the image is clean');
  });
}

t.test('two kernels in one process: the second is refused until the first halts', async (t) => {
  const img = image('two-kernels.img');
  const k1 = await boot({ policy: 'microkernel', mounts: [...ROOT, { target: '/a', fstype: 'ext2', source: img }] });
  const k2 = await boot({ policy: 'monolithic', mounts: ROOT });
  try {
    const p = await k2.spawn({ uid: 0, gid: 0 });
    await p.mkdir('/b');
    const err = await p.mount('/b', 'ext2', { source: img, readonly: true }).then(() => null, (e: SysError) => e);
    t.equal(err?.errno, 'EBUSY', 'EBUSY');
    t.match(err?.message, new RegExp(`held by another kernel in this process \\(pid ${process.pid}\\): attached read-write for the mount at /a`), String(err?.message));
    await k1.halt();
    t.equal(await errnoOf(p.mount('/b', 'ext2', { source: img })), 'accepted', 'after the first halts, the second mounts it');
  } finally {
    await k1.halt();
    await k2.halt();
  }
});

t.test('across processes: a kernel whose blk is a child process holds the image against a rumpus command', async (t) => {
  const img = image('multiprocess-holder.img');
  const k = await boot({ policy: 'multiprocess', mounts: [...ROOT, { target: '/a', fstype: 'ext2', source: img }] });
  try {
    const holder = JSON.parse(readFileSync(writerLock(img), 'utf8')) as { pid: number };
    t.not(holder.pid, process.pid, 'the claim is held by the blk process');
    const ls = await rumpus('ls', `${img}:/`);
    t.not(ls.code, 0, 'rumpus ls (read-only) is refused');
    t.match(ls.stderr, new RegExp(`held by rumpus pid ${holder.pid}: attached read-write for the mount at /a`), ls.stderr);
    t.notMatch(ls.stderr, /\n\s+at /, 'a sentence, no stack trace');
  } finally {
    await k.halt();
  }
  t.equal((await rumpus('mkdir', `${img}:/after`)).code, 0, 'after halt, a rumpus command mounts it');
  t.ok(fsckClean(img).clean, 'the image is clean');
});

t.test('two rumpus commands: the second is refused while the first holds the image; killed, its claim is taken over', async (t) => {
  const img = image('two-commands.img');
  const plan = join(dir, 'slow-detach.json');
  writeFileSync(plan, JSON.stringify({ faults: [{ component: 'blk', type: 'delay', op: 'detach', ms: 60_000 }] }));
  const first = spawn(process.execPath, [RUMPUS, 'mkdir', '--faults', plan, `${img}:/first`], { stdio: 'ignore' });
  const exited = new Promise((resolve) => first.on('exit', resolve));
  try {
    const lock = writerLock(img);
    for (let i = 0; i < 600 && !existsSync(lock); i++) await new Promise((r) => setTimeout(r, 100)); // at most 60 s
    t.ok(existsSync(lock), 'the first command claimed the image');
    const second = await rumpus('mkdir', `${img}:/second`);
    t.not(second.code, 0, 'the second command is refused');
    t.match(second.stderr, new RegExp(`held by rumpus pid ${first.pid}`), second.stderr);
  } finally {
    first.kill('SIGKILL');
    await exited;
  }
  t.ok(existsSync(writerLock(img)), 'the killed command left its lock behind');
  const third = await rumpus('mkdir', `${img}:/third`);
  t.equal(third.code, 0, `a stale claim (its holder is gone) is taken over ${third.stderr}`);
  t.notOk(existsSync(writerLock(img)), 'and released at the end');
  t.ok(fsckClean(img).clean, 'the image is clean');
});

t.test('stale and live locks written by others', async (t) => {
  const img = image('locks.img');
  const lock = writerLock(img);
  const mountOnce = async () => {
    const k = await boot({ policy: 'monolithic', mounts: ROOT });
    try {
      const p = await k.spawn({ uid: 0, gid: 0 });
      await p.mkdir('/m');
      return await p.mount('/m', 'ext2', { source: img }).then(() => null, (e: SysError) => e);
    } finally {
      await k.halt();
    }
  };
  const taskStart = (pid: number) => {
    const stat = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  };
  const lockOf = (pid: number, start: string) => JSON.stringify({ pid, tid: pid, start, token: 'elsewhere', path: img, exclusive: true, note: 'attached read-write for a test' });

  const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
  const gone = new Promise((resolve) => sleeper.on('exit', resolve));
  try {
    writeFileSync(lock, lockOf(sleeper.pid!, taskStart(sleeper.pid!)));
    const err = await mountOnce();
    t.equal(err?.errno, 'EBUSY', 'a lock of a live process: EBUSY');
    t.match(err?.message, `held by rumpus pid ${sleeper.pid}: attached read-write for a test`);
    writeFileSync(lock, lockOf(sleeper.pid!, '1'));
    t.equal(await mountOnce(), null, 'a lock naming a live pid whose start time differs (a reused pid) is stale: taken over');
  } finally {
    sleeper.kill('SIGKILL');
    await gone;
  }
  writeFileSync(lock, lockOf(sleeper.pid!, taskStart(process.pid)));
  t.equal(await mountOnce(), null, 'a lock of a process that exited is taken over');
  writeFileSync(lock, 'not a lock');
  t.equal(await mountOnce(), null, 'a damaged lock is taken over');
  t.notOk(existsSync(lock), 'each mount released its claim');
  t.same(readdirSync(CLAIMS).filter((n) => n.includes('.stale-') || n.endsWith('.new')), [], 'no leftovers of the takeovers');
  t.ok(fsckClean(img).clean, 'the image is clean');
  copyFileSync(img, join(dir, 'copy.img'));
  t.equal(await errnoOf(boot({ policy: 'monolithic', mounts: [...ROOT, { target: '/x', fstype: 'ext2', source: join(dir, 'copy.img') }] }).then((k) => k.halt())), 'accepted', 'a copy is another image');
});

t.test('monolithic: a panic releases the images of the kernel it stopped', async (t) => {
  const img = image('panic.img');
  const k = await boot({ policy: 'monolithic', mounts: [...ROOT, { target: '/a', fstype: 'ext2', source: img }] });
  try {
    await k.inject({ component: 'ext2', type: 'crash', op: 'statfs' });
    const p = await k.spawn();
    await t.rejects(p.statfs('/a'), { errno: 'EIO', message: /kernel panic/ }, 'the crash panics the kernel');
  } finally {
    await k.halt();
  }
  t.notOk(existsSync(writerLock(img)), 'its claim on the image is gone');
  const again = await boot({ policy: 'monolithic', mounts: [...ROOT, { target: '/a', fstype: 'ext2', source: img }] }).then((k2) => k2.halt().then(() => 'mounted'), (e: SysError) => e.message);
  t.equal(again, 'mounted', 'another kernel in the same process mounts it');
});
