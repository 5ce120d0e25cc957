// ext2 at its limits and on damaged or unusual images (issue 12, parts 4 and 5), with
// e2fsprogs as the oracle: the error state corruption leaves in the superblock, short writes at
// the largest file size, Orlov's spread of new directories, an inode whose mode holds no file
// type, features refused by name before any geometry check, groups marked uninitialised on a
// file system that does not keep those marks, and the CLI going on past a bad entry (ls -l,
// cp -r). Two of the images come from e2fsprogs' regression suite (test/fixtures/e2fsprogs).

import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, createReadStream, createWriteStream, existsSync, mkdirSync, openSync, closeSync, readFileSync, readSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import t from 'tap';
import { DEFAULT_MOUNTS, O_CREAT, O_RDWR, SysError, boot, type Proc } from '../kernel/index.js';
import { debugfs, debugfsWrite, fsckClean, mkImage, superblock, tempDir } from './lib/e2fs.js';
import { runRumpus, type CliRun } from './lib/cli.js';

const POLICIES = ['monolithic', 'microkernel'];
const dir = tempDir('rumpus-ext2-errors-');
const at = (name: string) => join(dir, name);
const FIXTURES = join(import.meta.dirname, 'fixtures', 'e2fsprogs');

/** Boots with `img` mounted at /mnt, runs fn, halts (which unmounts and writes the image back). */
async function withImage<T>(policy: string, img: string, fn: (p: Proc) => Promise<T>, readonly = false): Promise<T> {
  const k = await boot({ policy, mounts: [...DEFAULT_MOUNTS, { target: '/mnt', fstype: 'ext2', source: img, readonly }] });
  try {
    return await fn(await k.spawn({ uid: 0, gid: 0 }));
  } finally {
    await k.halt();
  }
}

/** The error an op fails with (the test fails if it succeeds or throws something else). */
async function failure(op: Promise<unknown>): Promise<SysError> {
  const err = await op.then(() => null, (e: unknown) => e);
  if (!(err instanceof SysError)) throw new Error(`expected a SysError, got ${err === null ? 'success' : String(err)}`);
  return err;
}

function patch(img: string, offset: number, bytes: number[]): void {
  const fd = openSync(img, 'r+');
  writeSync(fd, Uint8Array.from(bytes), 0, bytes.length, offset);
  closeSync(fd);
}

function peek32(img: string, offset: number): number {
  const fd = openSync(img, 'r');
  const b = Buffer.alloc(4);
  readSync(fd, b, 0, 4, offset);
  closeSync(fd);
  return b.readUInt32LE(0);
}

const u32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
/** What e2fsck -fn says of an image, its name left out. */
const fsckN = (img: string) => spawnSync('e2fsck', ['-fn', img], { encoding: 'utf8' }).stdout.replaceAll(img, 'IMAGE');

/** A host tree with `files` (relative path → content), made into a 1 KiB-block ext2 image. */
function imageOf(name: string, files: Record<string, string>, features?: string): string {
  const src = at(`${name}-src`);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(src, path, '..'), { recursive: true });
    writeFileSync(join(src, path), content);
  }
  const img = at(`${name}.img`);
  mkImage(img, { size: 4 * 1024 * 1024, blockSize: 1024, from: src, features });
  return img;
}

/** Gives `path` a mode whose type bits are no file type (S_IFMT all ones). */
function breakFileType(img: string, path: string): void {
  debugfsWrite(img, [`sif ${path} mode 0170644`]);
}

async function gunzipFixture(name: string): Promise<string> {
  const img = at(name);
  await pipeline(createReadStream(join(FIXTURES, `${name}.gz`)), createGunzip(), createWriteStream(img));
  return img;
}

t.test('corruption met on a read-write mount is recorded in the superblock and kept by the unmount', async (t) => {
  const files: Record<string, string> = {};
  for (let i = 0; i < 20; i++) files[`dir/file_${i}`] = `${i}\n`;
  const base = imageOf('errors', files);
  const dirBlock = Number(debugfs(base, 'blocks /dir').trim().split(/\s+/)[0]);
  patch(base, dirBlock * 1024 + 12 + 4, [0, 0]); // '..' gets rec_len 0
  t.equal(superblock(base)['Filesystem state'], 'clean', 'the damaged image starts out marked clean');

  for (const policy of POLICIES) {
    const img = at(`errors-${policy}.img`);
    copyFileSync(base, img);
    await withImage(policy, img, async (p) => {
      const err = await failure(p.readdir('/mnt/dir'));
      t.equal(err.errno, 'EUCLEAN', `${policy}: the bad entry is EUCLEAN`);
      t.match(err.message, /record length 0/, `${policy}: with a sentence`);
      await p.mkdir('/mnt/elsewhere');
    });
    const sb = superblock(img);
    t.equal(sb['Filesystem state'], 'clean with errors', `${policy}: dumpe2fs: clean (as it was at mount) with errors`);
    t.equal(sb['FS Error count'], '1', `${policy}: one error counted`);
    t.equal(sb['First error err'], 'EFSCORRUPTED', `${policy}: recorded as corruption`);
    t.ok(debugfs(img, 'ls /').includes('elsewhere'), `${policy}: the mount went on (errors=continue)`);
    const pass = spawnSync('e2fsck', ['-p', img], { encoding: 'utf8' });
    t.notMatch(pass.stdout, /: clean,/, `${policy}: e2fsck -p does not pass the image as clean`);
    t.not(pass.status, 0, `${policy}: e2fsck -p finds the damage`);
  }

  const restarted = at('errors-restart.img');
  copyFileSync(base, restarted);
  const k = await boot({ policy: 'microkernel', mounts: [...DEFAULT_MOUNTS, { target: '/mnt', fstype: 'ext2', source: restarted }] });
  try {
    const p = await k.spawn({ uid: 0, gid: 0 });
    t.equal((await failure(p.readdir('/mnt/dir'))).errno, 'EUCLEAN', 'restart: the bad entry is EUCLEAN');
    await k.inject({ component: 'ext2', type: 'crash', op: 'readdir' });
    await p.readdir('/mnt');
    await k.settled();
    t.ok(k.domains().find((d) => d.name === 'ext2')!.restarts >= 1, 'restart: ext2 was restarted');
    await p.mkdir('/mnt/after-restart');
  } finally {
    await k.halt();
  }
  t.equal(superblock(restarted)['Filesystem state'], 'clean with errors', 'restart: the next incarnation\'s unmount keeps the error state');

  const ro = at('errors-ro.img');
  copyFileSync(base, ro);
  const before = readFileSync(ro);
  await withImage('monolithic', ro, async (p) => {
    t.equal((await failure(p.readdir('/mnt/dir'))).errno, 'EUCLEAN', 'read-only: the bad entry is EUCLEAN');
  }, true);
  t.ok(readFileSync(ro).equals(before), 'read-only: nothing is written');

  const stop = at('errors-remount-ro.img');
  copyFileSync(base, stop);
  execFileSync('tune2fs', ['-e', 'remount-ro', stop], { stdio: 'pipe' });
  await withImage('monolithic', stop, async (p) => {
    await p.mkdir('/mnt/before');
    t.equal((await failure(p.readdir('/mnt/dir'))).errno, 'EUCLEAN', 'errors=remount-ro: the bad entry is EUCLEAN');
    t.equal((await failure(p.mkdir('/mnt/after'))).errno, 'EROFS', 'errors=remount-ro: no change after it');
  });
  t.match(superblock(stop)['Filesystem state'], /with errors/, 'errors=remount-ro: the error state is recorded');
  t.ok(debugfs(stop, 'ls /').includes('before'), 'errors=remount-ro: what was done before the error is there');
});

t.test('writes at the largest file size: a short write, then EFBIG', async (t) => {
  const base = at('maxsize.img');
  mkImage(base, { size: 16 * 1024 * 1024, blockSize: 1024, features: '^dir_index' });
  // 1 KiB blocks: the block map's reach, (12 + 256 + 256² + 256³) blocks, is the limit.
  const max = (12 + 256 + 256 ** 2 + 256 ** 3) * 1024;
  for (const policy of POLICIES) {
    const img = at(`maxsize-${policy}.img`);
    copyFileSync(base, img);
    await withImage(policy, img, async (p) => {
      const fd = await p.open('/mnt/f', O_RDWR | O_CREAT, 0o644);
      t.equal(await p.pwrite(fd, 'ABCDEFGH', max - 8), 8, `${policy}: 8 bytes ending at the limit are written`);
      t.equal(await p.pwrite(fd, '12345678', max - 4), 4, `${policy}: 8 bytes at limit − 4 write 4 (a short write)`);
      const err = await failure(p.pwrite(fd, 'ZZZZZZZZ', max));
      t.equal(err.errno, 'EFBIG', `${policy}: at the limit no byte fits: EFBIG`);
      t.equal((await p.fstat(fd)).size, max, `${policy}: the size is the limit`);
      t.equal(new TextDecoder().decode(await p.pread(fd, 8, max - 8)), 'ABCD1234', `${policy}: the bytes that fit are there`);
      await p.close(fd);
    });
    const fsck = fsckClean(img);
    t.ok(fsck.clean, `${policy}: e2fsck is clean`, { report: fsck.report });
  }
  // 4 KiB blocks: Linux's ext2_max_size (2,196,873,666,560) counts only the index blocks the
  // largest file needs; a file e2fsck accepts just under it takes a write inside it.
  const big = at('maxsize-4k.img');
  mkImage(big, { size: 16 * 1024 * 1024, blockSize: 4096, features: '^dir_index' });
  const size = 2_196_873_666_000;
  writeFileSync(at('abc'), 'abc');
  debugfsWrite(big, [`write ${at('abc')} big`, `sif /big size ${size}`]);
  for (const policy of POLICIES) {
    const img = at(`maxsize-4k-${policy}.img`);
    copyFileSync(big, img);
    await withImage(policy, img, async (p) => {
      const fd = await p.open('/mnt/big', O_RDWR);
      t.equal(await p.pwrite(fd, 'B', size - 1000), 1, `${policy}: 4 KiB blocks: a byte inside a ${size}-byte file is written`);
      t.equal((await p.fstat(fd)).size, size, `${policy}: 4 KiB blocks: the size is unchanged`);
      await p.close(fd);
    });
    const fsck = fsckClean(img);
    t.ok(fsck.clean, `${policy}: 4 KiB blocks: e2fsck is clean`, { report: fsck.report });
  }
});

t.test('new directories spread over the block groups (Orlov)', async (t) => {
  const base = at('orlov.img');
  mkImage(base, { size: 64 * 1024 * 1024, blockSize: 1024, features: '^resize_inode' });
  const ipg = Number(superblock(base)['Inodes per group']);
  const groups = Number(superblock(base)['Inode count']) / ipg;
  t.ok(groups >= 8, `the image has ${groups} groups`);
  const groupOf = (ino: number) => Math.floor((ino - 1) / ipg);
  const seen: number[][] = [];
  for (const policy of POLICIES) {
    const img = at(`orlov-${policy}.img`);
    copyFileSync(base, img);
    const inos = await withImage(policy, img, async (p) => {
      for (const name of ['a', 'b', 'c']) await p.mkdir(`/mnt/${name}`);
      await p.mkdir('/mnt/a/sub');
      await p.writeFile('/mnt/a/file', 'x');
      return Promise.all(['/mnt/a', '/mnt/b', '/mnt/c', '/mnt/a/sub', '/mnt/a/file'].map(async (path) => (await p.lstat(path)).ino));
    });
    const [a, b, c, sub, file] = inos.map(groupOf);
    t.equal(new Set([0, a, b, c]).size, 4, `${policy}: the top-level directories are in groups ${a}, ${b}, ${c}, none with the root's`);
    t.equal(sub, a, `${policy}: a subdirectory stays in its parent's group`);
    t.equal(file, a, `${policy}: a file goes to its directory's group`);
    seen.push(inos);
    const fsck = fsckClean(img);
    t.ok(fsck.clean, `${policy}: e2fsck is clean`, { report: fsck.report });
  }
  t.same(seen[1], seen[0], 'the same inode numbers under every policy');
});

t.test('an inode whose mode holds no file type is corruption, not a regular file', async (t) => {
  const img = imageOf('notype', { good: 'good\n', bad: 'bad\n' });
  breakFileType(img, '/bad');
  const plain = imageOf('notype-plain', { good: 'good\n', bad: 'bad\n' }, 'none,sparse_super');
  breakFileType(plain, '/bad');
  for (const policy of POLICIES) {
    await withImage(policy, img, async (p) => {
      for (const [what, op] of [['lstat', p.lstat('/mnt/bad')], ['stat', p.stat('/mnt/bad')], ['open', p.open('/mnt/bad')]] as const) {
        const err = await failure(op);
        t.equal(err.errno, 'EUCLEAN', `${policy}: ${what} is EUCLEAN`);
        t.match(err.message, /inode \d+ has mode 0o170644, which holds no file type/, `${policy}: ${what} says why`);
      }
      t.same((await p.readdir('/mnt')).map((e) => e.name).sort(), ['bad', 'good', 'lost+found'], `${policy}: readdir still lists the directory (its entries carry their types)`);
      t.equal(new TextDecoder().decode(await p.readFile('/mnt/good')), 'good\n', `${policy}: the rest reads`);
    }, true);
    await withImage(policy, plain, async (p) => {
      const err = await failure(p.readdir('/mnt'));
      t.equal(err.errno, 'EUCLEAN', `${policy}: without filetype, readdir's type of it is EUCLEAN`);
    }, true);
  }
});

t.test('features are refused by name before any geometry check', async (t) => {
  const journalDev = at('journal-dev.img');
  writeFileSync(journalDev, '');
  execFileSync('mke2fs', ['-q', '-F', '-O', 'journal_dev', '-b', '1024', journalDev, '4M'], { stdio: 'pipe' });
  const bigalloc = await gunzipFixture('f_bigalloc_symlink_with_xattr.img');
  const unknown = at('unknown-incompat.img');
  mkImage(unknown, { size: 4 * 1024 * 1024, blockSize: 1024 });
  patch(unknown, 1024 + 0x60, u32(peek32(unknown, 1024 + 0x60) | 0x10000 | 0x800000)); // encrypt and a bit no one names
  patch(unknown, 1024 + 0x28, u32(0)); // and inodes per group 0
  const cases: [string, string, RegExp][] = [
    ['an external journal device', journalDev, /unsupported feature\(s\) journal_dev/],
    ['bigalloc (e2fsprogs f_bigalloc_symlink_with_xattr)', bigalloc, /unsupported feature\(s\) bigalloc$/],
    ['an unknown incompatible feature on a broken geometry', unknown, /unsupported feature\(s\) .*encrypt, 0x800000/],
  ];
  for (const policy of POLICIES) {
    const k = await boot({ policy, mounts: DEFAULT_MOUNTS });
    try {
      const p = await k.spawn({ uid: 0, gid: 0 });
      let n = 0;
      for (const [what, img, reason] of cases) {
        const target = `/m${n++}`;
        await p.mkdir(target);
        const err = await failure(p.mount(target, 'ext2', { source: img, readonly: true }));
        t.equal(err.errno, 'ENOTSUP', `${policy}: ${what}: ENOTSUP`);
        t.match(err.message, reason, `${policy}: ${what}: the feature is named`);
        t.notMatch(err.message, /superblock's/, `${policy}: ${what}: not a geometry complaint`);
      }
    } finally {
      await k.halt();
    }
  }
});

t.test('a group marked uninitialised without uninit_bg: mounted read-only, e2fsck finds nothing new', async (t) => {
  const base = await gunzipFixture('f_uninit_disable.img');
  const before = fsckN(base);
  t.match(before, /Group descriptor 0 marked uninitialized without feature set/, 'e2fsck complains about the image as it comes');
  for (const policy of POLICIES) {
    const img = at(`uninit-${policy}.img`);
    copyFileSync(base, img);
    await withImage(policy, img, async (p) => {
      t.equal((await p.statfs('/mnt')).readonly, true, `${policy}: the mount is read-only`);
      t.equal((await failure(p.writeFile('/mnt/new', 'x'))).errno, 'EROFS', `${policy}: a new file is EROFS`);
      t.equal((await failure(p.mkdir('/mnt/dir'))).errno, 'EROFS', `${policy}: a new directory is EROFS`);
      t.same((await p.readdir('/mnt')).map((e) => e.name), ['lost+found'], `${policy}: it still reads`);
    });
    t.equal(fsckN(img), before, `${policy}: e2fsck -fn says what it said before, nothing more`);
  }
});

// ---- the CLI going on past a bad entry ---------------------------------------------------



/** The driver's sentence for an inode whose mode holds no file type. */
const BAD_TYPE = /ext2: corrupt file system: inode \d+ has mode 0o\d+, which holds no file type/;

/** `rumpus ARGS…` in the fixture directory. */
const rumpus = (...args: string[]): Promise<CliRun> => runRumpus(dir, args);

t.test('ls -l lists every entry it can, reports the bad one, exits 1', async (t) => {
  const img = imageOf('ls', { 'dir/a': 'a', 'dir/bad': 'b', 'dir/c': 'c', 'dir/sub/d': 'd' });
  breakFileType(img, '/dir/bad');
  const names = (out: string) => out.trim().split('\n').map((l) => l.split(/\s+/).pop());
  // strerror's words, then the driver's sentence naming the damaged inode.
  const said = (shown: string, flags = '') => new RegExp(`^ls: ${shown.replace(/[./]/g, '\\$&')}: Structure needs cleaning \\(${BAD_TYPE.source}\\)\n$`, flags);
  const cli = await rumpus('ls', '-l', 'ls.img:/dir');
  t.same(names(cli.stdout), ['a', 'c', 'sub'], 'rumpus ls -l: the others are listed (and not what is in sub)');
  t.match(cli.stderr, said('ls.img:/dir/bad'), 'rumpus ls -l: the bad one is reported');
  t.equal(cli.code, 1, 'rumpus ls -l: exit 1');
  const plain = await rumpus('ls', 'ls.img:/dir');
  t.same(names(plain.stdout), ['a', 'bad', 'c', 'sub'], 'rumpus ls: every name is listed');
  t.equal(plain.code, 0, 'rumpus ls: nothing to look at, exit 0');
  const recursive = await rumpus('ls', '-R', 'ls.img:/dir');
  t.equal(recursive.stdout, 'ls.img:/dir:\na\nbad\nc\nsub\n\nls.img:/dir/sub:\nd\n', 'rumpus ls -R: every name, and the subdirectory');
  t.match(recursive.stderr, said('ls.img:/dir/bad'), 'rumpus ls -R: the bad one is reported (looking for subdirectories)');
  t.equal(recursive.code, 1, 'rumpus ls -R: exit 1');
  const shell = await rumpus('sh', '--image', 'ls.img', '-c', 'ls -l /mnt/dir');
  t.same(names(shell.stdout), ['a', 'c', 'sub'], 'the shell\'s ls -l: the others are listed');
  t.match(shell.stderr, said('/mnt/dir/bad', 'm'), 'the shell\'s ls -l: the bad one is reported');
  t.equal(shell.code, 1, 'the shell\'s ls -l: exit 1');
});

t.test('cp -r out of an image copies everything but the bad entries deep in the tree, reports each, exits 1', async (t) => {
  const img = imageOf('cp', { 't/a/b/c/bad': '1', 't/a/b/c/ok': '2', 't/a/b/x': '3', 't/a/b/c/baddir/in': '5', 't/z/y': '4' });
  breakFileType(img, '/t/a/b/c/bad');
  debugfsWrite(img, ['sif /t/a/b/c/baddir mode 0030755']);
  const r = await rumpus('cp', '-r', 'cp.img:/t', 'out');
  t.equal(r.code, 1, 'exit 1');
  const lines = r.stderr.trim().split('\n').sort();
  t.equal(lines.length, 2, 'two lines');
  t.match(lines[0], new RegExp(`^cp: cp\\.img:/t/a/b/c/bad: Structure needs cleaning \\(${BAD_TYPE.source}\\)$`), 'the bad file is reported');
  t.match(lines[1], new RegExp(`^cp: cp\\.img:/t/a/b/c/baddir: Structure needs cleaning \\(${BAD_TYPE.source}\\)$`), 'the bad directory is reported');
  for (const [path, content] of [['a/b/c/ok', '2'], ['a/b/x', '3'], ['z/y', '4']]) {
    t.equal(readFileSync(join(dir, 'out', path), 'utf8'), content, `${path} is copied`);
  }
  t.notOk(existsSync(join(dir, 'out/a/b/c/bad')), 'the bad file is not made');
});
