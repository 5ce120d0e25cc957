// blk's write-ahead log, hardened (issue 10, items 2 and 7): the log's path is never followed
// nor taken when it is not a regular file of ours; a commit the host refuses halfway keeps its
// sealed log, which the next read-write attach completes; a read-only mount reads through a
// sealed log; and a log that no longer belongs to its image (e2fsck -fy repaired the image) is
// never applied, but set aside with a sentence.
//
// The torn state is made as a user would meet it: the image may not grow past the payload's
// first data block (bash's ulimit -f), so blk seals the commit of a copy, applies the writes below
// that block and meets EFBIG on the data.

import { execFile, execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, linkSync, lstatSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { boot, SysError, type Proc } from '../kernel/index.js';
import { debugfs, fsckClean, mkImage, tempDir } from './lib/e2fs.js';
import { RUMPUS } from './lib/cli.js';

const POLICIES = ['monolithic', 'microkernel'];
const dir = tempDir('rumpus-wal-');

/** The rumpus command, under an optional file-size limit (KiB). */
function rumpus(args: string[], limitKib?: number): Promise<{ code: number; stdout: Buffer; stderr: string }> {
  const node = [process.execPath, RUMPUS, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const script = `${limitKib !== undefined ? `ulimit -f ${limitKib}; ` : ''}exec ${node}`;
  return new Promise((resolve) => {
    execFile('bash', ['-c', script], { timeout: 120_000, encoding: 'buffer', env: { ...process.env, TMPDIR: dir } }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr: stderr.toString() });
    });
  });
}

function image(name: string): string {
  const path = join(dir, name);
  mkImage(path, { size: 16 << 20, blockSize: 1024, features: 'none,filetype,sparse_super' });
  return path;
}

/** Boots `policy` with tmpfs at /, mounts `img` at /m, runs `fn`; a failed mount is returned as its error. */
async function withMount<T>(policy: string, img: string, readonly: boolean, fn: (p: Proc) => Promise<T>): Promise<T | SysError> {
  const k = await boot({ policy, mounts: [{ target: '/', fstype: 'tmpfs' }] });
  try {
    const p = await k.spawn({ uid: 0, gid: 0 });
    await p.mkdir('/m');
    const err = await p.mount('/m', 'ext2', { source: img, readonly }).then(() => null, (e: SysError) => e);
    return err ?? (await fn(p));
  } finally {
    await k.halt();
  }
}

t.test('a .wal path that is not a regular file of ours is refused with a sentence, and nothing it names is touched', async (t) => {
  const plants: [string, (wal: string, victim: string) => void, RegExp, string][] = [
    ['a symlink to a file', (wal, victim) => symlinkSync(victim, wal), /symbolic link, not followed/, 'ELOOP'],
    ['a hard link to a file', (wal, victim) => linkSync(victim, wal), /has 2 links/, 'EPERM'],
    ['a directory', (wal) => mkdirSync(wal), /directory/, 'EISDIR'],
    ['a FIFO', (wal) => execFileSync('mkfifo', [wal]), /FIFO/, 'EPERM'],
  ];
  for (const policy of POLICIES) {
    const k = await boot({ policy, mounts: [{ target: '/', fstype: 'tmpfs' }] });
    try {
      const p = await k.spawn({ uid: 0, gid: 0 });
      await p.mkdir('/m');
      for (const [i, [what, plant, message, errno]] of plants.entries()) {
        const img = image(`${policy}-planted-${i}.img`);
        const victim = join(dir, `${policy}-victim-${i}`);
        writeFileSync(victim, 'the victim\n'.repeat(100));
        plant(`${img}.wal`, victim);
        const err = await p.mount('/m', 'ext2', { source: img }).then(() => null, (e: SysError) => e);
        t.equal(err?.errno, errno, `[${policy}] ${what} at IMG.wal: the mount fails with ${errno}`);
        t.match(err?.message, message, `[${policy}] ${what}: the sentence says what is wrong`);
        t.match(err?.message, `${img}.wal`, `[${policy}] ${what}: and names the path`);
        const ro = await p.mount('/m', 'ext2', { source: img, readonly: true }).then(() => 'mounted', (e: SysError) => e.errno);
        t.equal(ro, errno, `[${policy}] ${what}: a read-only mount refuses it too`);
        t.equal(readFileSync(victim, 'utf8'), 'the victim\n'.repeat(100), `[${policy}] ${what}: the file it names keeps its bytes`);
        t.ok(lstatSync(`${img}.wal`, { throwIfNoEntry: false }), `[${policy}] ${what}: left in place`);
        rmSync(`${img}.wal`, { recursive: true, force: true });
        t.ok(fsckClean(img).clean, `[${policy}] ${what}: the image is untouched and clean`);
      }
      // The same kind, for the image itself: a FIFO named as an image would block the domain forever.
      const fifo = join(dir, `${policy}-fifo.img`);
      execFileSync('mkfifo', [fifo]);
      for (const readonly of [false, true]) {
        const err = await p.mount('/m', 'ext2', { source: fifo, readonly }).then(() => null, (e: SysError) => e);
        t.equal(err?.errno, 'EINVAL', `[${policy}] a FIFO as the image${readonly ? ' (read-only)' : ''}: EINVAL, at once`);
        t.match(err?.message, /a FIFO, not a regular file or a block device/, `[${policy}] with a sentence`);
      }
    } finally {
      await k.halt();
    }
  }
});

t.test('a torn commit: kept by the failing detach, read through read-only, completed read-write, refused once stale', async (t) => {
  const payload = join(dir, 'payload');
  const bytes = Buffer.from(Array.from({ length: 3000 }, (_, i) => `payload block ${String(i).padStart(6, '0')}\n`).join(''));
  writeFileSync(payload, bytes);
  const base = image('base.img');
  const dry = join(dir, 'dry.img');
  copyFileSync(base, dry);
  await withMount('monolithic', dry, false, (p) => p.writeFile('/m/payload', bytes));
  const first = Number(debugfs(dry, 'blocks /payload').trim().split(/\s+/)[0]);
  t.ok(first > 0, `the dry run: the payload's data starts at block ${first}`);
  const readPayload = (p: Proc) => p.readFile('/m/payload').then((b) => Buffer.from(b));

  for (const policy of POLICIES) {
    const img = join(dir, `${policy}-torn.img`);
    copyFileSync(base, img);
    const cp = await rumpus(['cp', '--policy', policy, payload, `${img}:/payload`], first); // 1 KiB blocks
    t.not(cp.code, 0, `[${policy}] the copy that met EFBIG fails`);
    t.ok(statSync(`${img}.wal`).size > 0, `[${policy}] its sealed log is kept at detach`);
    t.not(fsckClean(img).clean, true, `[${policy}] the image alone is torn (e2fsck finds it so)`);

    // Read-only: the committed state, and nothing written.
    const walBefore = readFileSync(`${img}.wal`);
    const imgBefore = readFileSync(img);
    const seen = await withMount(policy, img, true, readPayload);
    t.ok(Buffer.isBuffer(seen) && seen.equals(bytes), `[${policy}] a read-only mount reads the payload's bytes, through the log`);
    t.ok(readFileSync(`${img}.wal`).equals(walBefore) && readFileSync(img).equals(imgBefore), `[${policy}] and writes neither the image nor the log`);

    // A copy repaired by e2fsck -fy: its log no longer belongs to it.
    const fixed = join(dir, `${policy}-fixed.img`);
    copyFileSync(img, fixed);
    copyFileSync(`${img}.wal`, `${fixed}.wal`);
    try {
      execFileSync('e2fsck', ['-fy', fixed], { stdio: 'ignore' });
    } catch {
      // exit 1: it repaired the image, as it should
    }
    const repaired = readFileSync(fixed);
    const ro = await withMount(policy, fixed, true, async () => 'mounted');
    t.equal((ro as SysError).errno, 'EUCLEAN', `[${policy}] repaired image: a read-only mount refuses the stale log`);
    t.match((ro as SysError).message, /has changed since/, `[${policy}] with a sentence`);
    const rw = await withMount(policy, fixed, false, async () => 'mounted');
    t.equal((rw as SysError).errno, 'EUCLEAN', `[${policy}] repaired image: the read-write mount refuses the stale log`);
    t.match((rw as SysError).message, /holds neither what the commit found there nor what it wrote/, `[${policy}] with a sentence`);
    const aside = readdirSync(dir).filter((n) => n.startsWith(`${policy}-fixed.img.wal.stale-`));
    t.equal(aside.length, 1, `[${policy}] the log is set aside (${aside[0]})`);
    t.notOk(existsSync(`${fixed}.wal`), `[${policy}] and no longer in the way`);
    t.ok(readFileSync(fixed).equals(repaired), `[${policy}] the repaired image was not written`);
    t.equal(await withMount(policy, fixed, false, (p) => p.mkdir('/m/after').then(() => 'made')), 'made', `[${policy}] the next mount uses the image as it is`);
    t.ok(fsckClean(fixed).clean, `[${policy}] and it stays clean`);

    // The next read-write attach completes the commit.
    const back = await withMount(policy, img, false, readPayload);
    t.ok(Buffer.isBuffer(back) && back.equals(bytes), `[${policy}] the next read-write mount completes the commit: the payload is whole`);
    t.notOk(existsSync(`${img}.wal`), `[${policy}] its log is gone once applied`);
    const f = fsckClean(img);
    t.ok(f.clean, `[${policy}] the image is clean: ${f.report}`);
  }
});
