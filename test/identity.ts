// Identity at the syscall boundary (issue 10, items 3, 8, 11, 13): who makes a call comes from
// the process it came through, never from its arguments; a client cannot reach the core's raw
// syscall function, spawn processes or call ops that serve only the core; what a client can make
// the core hold (calls in flight, processes) is bounded; open of a directory, and path, name and
// cwd lengths, give Linux's errnos on every file system under every policy.

import { join } from 'node:path';
import t from 'tap';
import {
  O_CREAT, O_DIRECTORY, O_EXCL, O_NOFOLLOW, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY, SysError, boot,
  type Kernel, type Proc,
} from '../kernel/index.js';
import { MAX_CALLS_IN_FLIGHT, MAX_PROCS, MAX_READ_BYTES_IN_FLIGHT } from '../kernel/client-limits.js';
import { PATH_MAX } from '../servers/vfs/namei.js';
import { mkImage, tempDir } from './lib/e2fs.js';
import { ALL_POLICIES, policyName } from './lib/policies.js';
import { errnoOf } from './lib/errno.js';

const dec = new TextDecoder();


/**
 * The core's syscall entry as a process's own syscall function reaches it, bound to `pid`. A
 * client cannot get at it (the Proc keeps it in a private field); the test does, to show that
 * even a caller holding it cannot act as another process.
 */
function rawSyscall(k: Kernel, pid: number): (op: string, args: unknown) => Promise<unknown> {
  const entry = (k as unknown as { syscall(pid: number, op: string, args: unknown): Promise<unknown> }).syscall;
  return (op, args) => entry.call(k, pid, op, args);
}

const images = tempDir('rumpus-identity-');

for (const [i, policy] of ALL_POLICIES.entries()) t.test(policyName(policy), async (t) => {
  const k = await boot({ policy });
  t.teardown(() => k.halt());

  t.test('identity and limits at the syscall boundary', async (t) => {
    await k.init.writeFile('/tmp/secret', 'TOPSECRET', 0o600);
    const u = await k.spawn({ uid: 1000, gid: 1000 });

    t.test('a process has no raw syscall function and cannot change who it is', async (t) => {
      t.equal(await errnoOf(u.readFile('/tmp/secret')), 'EACCES', "uid 1000 cannot read root's 0600 file");
      const own = [...Object.getOwnPropertyNames(u), ...Object.getOwnPropertySymbols(u)].map((key) => (u as unknown as Record<PropertyKey, unknown>)[key]);
      t.same(own.filter((v) => typeof v === 'function'), [], 'no function among its own properties');
      t.ok(Object.isFrozen(u) && Object.isFrozen(u.cred), 'the process and its credentials are frozen');
      t.throws(() => { (u as { pid: number }).pid = 1; }, TypeError, 'its pid cannot be changed');
      t.throws(() => { (u.cred as { uid: number }).uid = 0; }, TypeError, 'its uid cannot be changed');
      const viaPrototype = (u as unknown as { sys(op: string, args: unknown): Promise<unknown> }).sys;
      await t.rejects(viaPrototype.call(u, 'open', { pid: 1, path: '/tmp/secret', flags: O_RDONLY, mode: 0 }), { errno: 'EINVAL', message: /'pid' is not an argument/ }, 'its (private) sys method goes through the same boundary');
      t.equal(await u.getpid(), u.pid, 'it is still itself');
      t.equal(await errnoOf(u.mkdir('/made-by-1000')), 'EACCES', 'and still uid 1000');
    });

    t.test('the syscall entry takes identity from the process, never from arguments', async (t) => {
      const sys = rawSyscall(k, u.pid);
      for (const [name, args] of [
        ['pid', { pid: 1, path: '/tmp/secret', flags: O_RDONLY, mode: 0 }],
        ['uid', { uid: 0, path: '/tmp/secret', flags: O_RDONLY, mode: 0 }],
        ['gid', { gid: 0, path: '/tmp/secret', flags: O_RDONLY, mode: 0 }],
        ['cred', { cred: { uid: 0, gid: 0 }, path: '/tmp/secret', flags: O_RDONLY, mode: 0 }],
      ] as const) {
        await t.rejects(sys('open', args), { errno: 'EINVAL', message: new RegExp(`'${name}' is not an argument: a process's identity comes from the process`) }, `open with a '${name}' argument is refused`);
      }
      await t.rejects(sys('mkdir', { pid: 1, path: '/made-as-root', mode: 0o755 }), { errno: 'EINVAL', message: /'pid' is not an argument/ }, 'mkdir as pid 1 is refused');
      t.equal(await errnoOf(k.init.stat('/made-as-root')), 'ENOENT', 'and nothing was made');
      for (const op of ['spawn', 'halting', 'unmountAll', 'constructor', '__proto__', 'toString', 'nosuch']) {
        await t.rejects(sys(op, op === 'spawn' ? { pid: 4242, uid: 0, gid: 0 } : {}), { errno: 'ENOSYS', message: /is not a syscall a client process can make/ }, `'${op}' is not a client syscall`);
      }
      t.equal(await errnoOf(rawSyscall(k, 4242)('getpid', {})), 'ESRCH', 'no process 4242 was made');
      await t.rejects(sys('getpid', { extra: 1 }), { errno: 'EINVAL', message: /unknown argument 'extra'/ }, 'an argument the syscall does not take');
      await t.rejects(sys('getpid', null), { errno: 'EINVAL', message: /must be an object/ }, 'arguments that are not an object');
      await t.rejects(sys('getpid', [1]), { errno: 'EINVAL', message: /must be an object/ }, 'an array for arguments');
      // chown's uid and gid are the new owner, not the caller: they pass, and vfs judges the caller.
      t.equal(await errnoOf(sys('chown', { path: '/tmp/secret', uid: 1000, gid: 1000 })), 'EPERM', 'chown by uid 1000 is judged as uid 1000');
      t.equal(await sys('getpid', {}), u.pid, 'the entry serves its own process');
    });

    t.test(`at most ${MAX_CALLS_IN_FLIGHT} calls of one process in flight`, async (t) => {
      const extra = 5;
      const results = await Promise.allSettled(Array.from({ length: MAX_CALLS_IN_FLIGHT + extra }, () => u.getpid()));
      const refused = results.filter((r) => r.status === 'rejected');
      t.equal(refused.length, extra, 'exactly the excess is refused');
      t.ok(refused.every((r) => (r.reason as SysError).errno === 'EAGAIN' && /calls in flight already/.test((r.reason as SysError).message)), 'with EAGAIN and a sentence');
      t.ok(results.slice(0, MAX_CALLS_IN_FLIGHT).every((r) => r.status === 'fulfilled' && r.value === u.pid), 'the calls within the limit are answered');
      t.equal(await u.getpid(), u.pid, 'the process goes on');
      t.equal(await k.init.getpid(), k.init.pid, 'and so does the kernel');
    });

    t.test(`reads in flight ask for at most ${MAX_READ_BYTES_IN_FLIGHT} bytes`, async (t) => {
      await k.init.writeFile('/tmp/small', 'abc', 0o644);
      const fd = await u.open('/tmp/small');
      const chunk = 16 * 1024 * 1024;
      const fit = MAX_READ_BYTES_IN_FLIGHT / chunk;
      const results = await Promise.allSettled(Array.from({ length: fit + 3 }, () => u.pread(fd, chunk, 0)));
      t.ok(results.slice(0, fit).every((r) => r.status === 'fulfilled' && dec.decode(r.value) === 'abc'), `${fit} reads of ${chunk} bytes are answered`);
      t.ok(results.slice(fit).every((r) => r.status === 'rejected' && (r.reason as SysError).errno === 'EAGAIN' && /reads of \d+ bytes in flight/.test((r.reason as SysError).message)), 'the reads past the limit get EAGAIN');
      const [alone, next] = await Promise.allSettled([u.pread(fd, 2 * MAX_READ_BYTES_IN_FLIGHT, 0), u.read(fd, 1)]);
      t.ok(alone.status === 'fulfilled' && dec.decode(alone.value) === 'abc', 'a read asking for more than the limit, alone, is answered (with what there is)');
      t.equal(next.status === 'rejected' && (next.reason as SysError).errno, 'EAGAIN', 'and a read beside it waits its turn (EAGAIN)');
      t.equal(dec.decode(await u.read(fd, 1)), 'a', 'reads go on afterwards');
      await u.close(fd);
    });

    t.test(`at most ${MAX_PROCS} processes alive`, async (t) => {
      const before = 2; // init and u
      const extra = 3;
      const spawned = await Promise.allSettled(Array.from({ length: MAX_PROCS - before + extra }, () => k.spawn({ uid: 1000, gid: 1000 })));
      const made = spawned.filter((r): r is PromiseFulfilledResult<Proc> => r.status === 'fulfilled').map((r) => r.value);
      const refused = spawned.filter((r) => r.status === 'rejected');
      t.equal(made.length, MAX_PROCS - before, 'processes up to the limit are made');
      t.equal(refused.length, extra, 'the excess is refused');
      t.ok(refused.every((r) => (r.reason as SysError).errno === 'EAGAIN'), 'with EAGAIN');
      await made[0].exit();
      const again = await k.spawn({ uid: 1000, gid: 1000 });
      t.equal(await again.getpid(), again.pid, 'a process that exits makes room for another');
      for (const p of [...made.slice(1), again]) await p.exit();
    });
  });

  t.test('open of a directory, and trailing slashes, as Linux', async (t) => {
    const r = k.init;
    await r.mkdir('/tmp/d', 0o755);
    await r.writeFile('/tmp/f', 'f', 0o644);
    await r.symlink('/tmp/d', '/tmp/ld');
    await r.symlink('/tmp/nowhere', '/tmp/dangling');
    // Each errno as Linux 6.18 gives it for the same call on the same tree (checked in C on ext4/tmpfs).
    const cases: [string, number, string][] = [
      ['/tmp', O_RDONLY | O_CREAT, 'EISDIR'],
      ['/tmp/d', O_RDONLY | O_CREAT, 'EISDIR'],
      ['/tmp/d', O_WRONLY | O_CREAT, 'EISDIR'],
      ['/tmp/d/', O_RDONLY | O_CREAT, 'EISDIR'],
      ['/tmp/d//', O_RDONLY | O_CREAT, 'EISDIR'],
      ['/tmp/d', O_WRONLY, 'EISDIR'],
      ['/tmp/d', O_RDWR, 'EISDIR'],
      ['/tmp/d', O_RDONLY | O_TRUNC, 'EISDIR'],
      ['/tmp/d', O_WRONLY | O_TRUNC, 'EISDIR'],
      ['/tmp/d/.', O_RDONLY | O_TRUNC, 'EISDIR'],
      ['/tmp/d', O_RDWR | O_DIRECTORY, 'EISDIR'],
      ['/tmp/d', O_RDONLY | O_CREAT | O_EXCL, 'EEXIST'],
      ['/tmp/d/', O_RDONLY | O_CREAT | O_EXCL, 'EISDIR'],
      ['/tmp/d/.', O_RDONLY | O_CREAT, 'EISDIR'],
      ['/tmp/d/..', O_RDONLY | O_CREAT, 'EISDIR'],
      ['/tmp/d/./', O_RDONLY | O_CREAT, 'EISDIR'],
      ['/tmp/d/.', O_RDONLY | O_CREAT | O_EXCL, 'EEXIST'],
      ['/tmp/d/..', O_RDONLY | O_CREAT | O_EXCL, 'EEXIST'],
      ['/tmp/d/./', O_RDONLY | O_CREAT | O_EXCL, 'EEXIST'],
      ['/', O_RDONLY | O_CREAT, 'EISDIR'],
      ['/', O_RDONLY | O_CREAT | O_EXCL, 'EEXIST'],
      ['///', O_RDONLY | O_CREAT | O_EXCL, 'EEXIST'],
      ['/tmp/d', O_RDONLY | O_CREAT | O_DIRECTORY, 'EINVAL'],
      ['/tmp/new1', O_RDONLY | O_CREAT | O_DIRECTORY, 'EINVAL'],
      ['/tmp/f', O_RDONLY | O_CREAT | O_DIRECTORY, 'EINVAL'],
      ['/tmp/new2/', O_RDONLY | O_CREAT, 'EISDIR'],
      ['/tmp/new3/', O_RDONLY | O_CREAT | O_EXCL, 'EISDIR'],
      ['/tmp/nonexist/x/', O_RDONLY | O_CREAT, 'ENOENT'],
      ['/tmp/f/x/', O_RDONLY | O_CREAT, 'ENOTDIR'],
      ['/tmp/f/', O_RDONLY | O_CREAT, 'EISDIR'],
      ['/tmp/f/', O_RDONLY, 'ENOTDIR'],
      ['/tmp/f', O_RDONLY | O_DIRECTORY, 'ENOTDIR'],
      ['/tmp/ld', O_RDONLY | O_CREAT, 'EISDIR'],
      ['/tmp/ld/', O_RDONLY | O_CREAT, 'EISDIR'],
      ['/tmp/ld', O_RDONLY | O_CREAT | O_EXCL, 'EEXIST'],
      ['/tmp/ld', O_RDONLY | O_CREAT | O_NOFOLLOW, 'ELOOP'],
      ['/tmp/ld', O_RDONLY | O_NOFOLLOW, 'ELOOP'],
      ['/tmp/dangling/', O_RDONLY | O_CREAT, 'EISDIR'],
      ['/tmp/dangling', O_RDONLY | O_CREAT | O_EXCL, 'EEXIST'],
      ['/tmp/d', O_RDONLY | O_DIRECTORY, 'ok'],
      ['/tmp/d', O_RDONLY | O_EXCL, 'ok'],
    ];
    for (const [path, flags, errno] of cases) {
      t.equal(await errnoOf(r.open(path, flags, 0o644)), errno, `open('${path}', 0o${flags.toString(8)}) is ${errno}`);
    }
    // Search permission on the directory the name would be in still comes first.
    await r.mkdir('/tmp/rod', 0o700);
    const u = await k.spawn({ uid: 1000, gid: 1000 });
    for (const [path, errno] of [['/tmp/rod/x/', 'EACCES'], ['/tmp/rod/x', 'EACCES'], ['/tmp/rod/x/y/', 'EACCES'], ['/tmp/rod/', 'EISDIR'], ['/tmp/rod', 'EISDIR']]) {
      t.equal(await errnoOf(u.open(path, O_RDONLY | O_CREAT, 0o644)), errno, `open('${path}', O_RDONLY|O_CREAT) by uid 1000 is ${errno}, /tmp/rod being root's 0700`);
    }
    await u.exit();
    for (const name of ['new1', 'new2', 'new3', 'nowhere']) t.equal(await errnoOf(r.stat(`/tmp/${name}`)), 'ENOENT', `/tmp/${name} was not made`);
    t.equal(dec.decode(await r.readFile('/tmp/f')), 'f', '/tmp/f is intact');
  });

  t.test('path, name and cwd lengths on tmpfs and ext2', async (t) => {
    const r = k.init;
    const img = join(images, `ext2-${i}.img`);
    mkImage(img, { size: 8 * 1024 * 1024, blockSize: 4096 });
    await r.mkdir('/mnt', 0o755);
    await r.mount('/mnt', 'ext2', { source: img });
    for (const top of ['/tmp', '/mnt']) {
      const name255 = 'n'.repeat(255);
      const name256 = 'n'.repeat(256);
      const wide = 'é'.repeat(128); // 256 bytes in UTF-8, 128 characters
      t.equal(await errnoOf(r.mkdir(`${top}/${name255}`, 0o755)), 'ok', `${top}: a name of ${255} bytes is made`);
      t.equal(await errnoOf(r.chdir(`${top}/${name255}`)), 'ok', `${top}: and entered`);
      for (const name of [name256, wide]) {
        const what = `${top}: a name of 256 bytes (${name.length} characters)`;
        t.equal(await errnoOf(r.open(`${top}/${name}`, O_WRONLY | O_CREAT)), 'ENAMETOOLONG', `${what}: open O_CREAT`);
        t.equal(await errnoOf(r.mkdir(`${top}/${name}`)), 'ENAMETOOLONG', `${what}: mkdir`);
        t.equal(await errnoOf(r.stat(`${top}/${name}`)), 'ENAMETOOLONG', `${what}: stat`);
        t.equal(await errnoOf(r.chdir(`${top}/${name}`)), 'ENAMETOOLONG', `${what}: chdir`);
        t.equal(await errnoOf(r.symlink('x', `${top}/${name}`)), 'ENAMETOOLONG', `${what}: symlink`);
        t.equal(await errnoOf(r.rename(`${top}/${name255}`, `${top}/${name}`)), 'ENAMETOOLONG', `${what}: rename to it`);
      }
      // A long name is too long when the walk reaches it, as on Linux.
      await r.writeFile(`${top}/f`, 'f');
      await r.mkdir(`${top}/private`, 0o700);
      await r.symlink(`${top}/${name256}`, `${top}/to-long`);
      const u = await k.spawn({ uid: 1000, gid: 1000 });
      for (const [who, path, flags, errno] of [
        [r, `${top}/nonexist/${name256}`, O_RDONLY, 'ENOENT'],
        [r, `${top}/f/${name256}`, O_RDONLY, 'ENOTDIR'],
        [r, `${top}/${name256}/../f`, O_RDONLY, 'ENAMETOOLONG'],
        [r, `${top}/${name256}/`, O_RDONLY | O_CREAT, 'EISDIR'],
        [r, `${top}/private/${name256}`, O_RDONLY | O_CREAT, 'ENAMETOOLONG'],
        [u, `${top}/private/${name256}`, O_RDONLY | O_CREAT, 'EACCES'],
        [r, `${top}/to-long`, O_RDONLY, 'ENAMETOOLONG'],
      ] as const) {
        t.equal(await errnoOf(who.open(path, flags, 0o644)), errno, `${top}: open('${path.replace(name256, '<256 bytes>')}', 0o${flags.toString(8)}) by uid ${who.cred.uid} is ${errno}`);
      }
      await u.exit();

      // A path of PATH_MAX - 1 bytes is a path; PATH_MAX bytes is not.
      const fits = '/'.repeat(PATH_MAX - 1 - top.length) + top;
      t.equal(await errnoOf(r.chdir(fits)), 'ok', `${top}: chdir to a path of ${PATH_MAX - 1} bytes`);
      t.equal(await errnoOf(r.chdir('/' + fits)), 'ENAMETOOLONG', `${top}: chdir to a path of ${PATH_MAX} bytes`);
      t.equal(await errnoOf(r.stat('/' + fits)), 'ENAMETOOLONG', `${top}: stat of a path of ${PATH_MAX} bytes`);
      t.equal(await errnoOf(r.symlink('/' + fits, `${top}/long-target`)), 'ENAMETOOLONG', `${top}: a symlink target of ${PATH_MAX} bytes`);
      t.equal(await errnoOf(r.lstat(`${top}/long-target`)), 'ENOENT', `${top}: and no symlink was made`);

      // A cwd reached by relative steps can grow past PATH_MAX; getcwd then refuses it.
      await r.chdir(top);
      const name = 'd'.repeat(250);
      const expected = [top];
      let refused = 0;
      for (let depth = 1; depth <= 18; depth++) {
        await r.mkdir(name, 0o755);
        await r.chdir(name);
        expected.push(name);
        const want = expected.join('/');
        const got = await r.getcwd().catch((err: SysError) => err.errno);
        if (Buffer.byteLength(want) < PATH_MAX) t.equal(got, want, `${top}: getcwd at depth ${depth} (${Buffer.byteLength(want)} bytes)`);
        else if (got === 'ENAMETOOLONG') refused++;
        else t.fail(`${top}: getcwd at depth ${depth} (${Buffer.byteLength(want)} bytes) gave ${String(got).slice(0, 40)}…, not ENAMETOOLONG`);
      }
      t.ok(refused > 0, `${top}: getcwd past ${PATH_MAX - 1} bytes is ENAMETOOLONG (${refused} depths)`);
      for (let depth = 18; depth > 1; depth--) await r.chdir('..');
      t.equal(await r.getcwd(), `${top}/${name}`, `${top}: back up, getcwd answers again`);
      await r.chdir('/');
    }
    await r.unmount('/mnt');
  });
});
