// A name from an image is never trusted (issue 10, item 1). An ext2 directory entry named with
// '/' or NUL, '.' or '..' out of place, or with an empty name is corruption (EUCLEAN); and
// whatever a driver returns, the CLI never turns such a name into a path: cp -r out of an image
// writes nothing outside its target, rm -r deletes nothing outside its operand, and no command
// prints a stack trace. Images are made with mke2fs and debugfs, then their names patched on
// disk; the seeded test prints its seed (HOSTILE_SEED=… reruns it, HOSTILE_TRIALS=… sets the count).

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, copyFileSync, existsSync, lstatSync, mkdirSync, openSync, readFileSync, readSync, readdirSync, readlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join, posix } from 'node:path';
import t from 'tap';
import { copyTree } from '../bin/copy.js';
import { hostTree as hostFiles, type FileInfo, type FileTree } from '../bin/files.js';
import { runCommand, type Io, type ShellState } from '../bin/shell/commands.js';
import { S_IFDIR, S_IFREG, SysError, type Proc } from '../kernel/index.js';
import { random, tempDir } from './lib/e2fs.js';
import { runRumpus, type CliRun } from './lib/cli.js';

/** What a stack trace or an unhandled error looks like on stderr. */
const TRACE = /^\s+at |TypeError|ReferenceError|RangeError|Unhandled .error. event|node:internal|node:events/m;
const BS = 1024;


/** `rumpus ARGS…` in `cwd`. */
const rumpus = (cwd: string, ...args: string[]): Promise<CliRun> => runRumpus(cwd, args, 120_000);

function debugfs(img: string, request: string): string {
  return execFileSync('debugfs', ['-R', request, img], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function debugfsWrite(img: string, commands: string[], scratch: string): void {
  writeFileSync(join(scratch, 'cmds'), commands.join('\n') + '\n');
  execFileSync('debugfs', ['-w', '-f', join(scratch, 'cmds'), img], { stdio: 'pipe' });
}

/** A file's content as read from an image by debugfs ('<missing>' when it is not there). */
function imageCat(img: string, path: string): string {
  const out = debugfs(img, `cat ${path}`);
  return out === '' ? '<missing>' : out;
}

/** The names in an image directory (without '.' and '..'), by debugfs. */
function imageNames(img: string, dir: string): string[] {
  const names = debugfs(img, `ls -p ${dir}`).split('\n').map((l) => /^\/\d+\/\d+\/\d+\/\d+\/(.*)\/\d*\/$/.exec(l)?.[1]);
  return names.filter((n): n is string => n !== undefined && n !== '.' && n !== '..').sort();
}

/**
 * Every file under `root` (type, and content hash or link target), by path, leaving out `skip`
 * and everything below it: what must not change while a command writes only into `skip`.
 */
function snapshot(root: string, skip: string): Record<string, string> {
  const out: Record<string, string> = {};
  const visit = (rel: string) => {
    for (const name of readdirSync(join(root, rel)).sort()) {
      const path = rel ? `${rel}/${name}` : name;
      if (path === skip) continue;
      const full = join(root, path);
      const st = lstatSync(full);
      if (st.isDirectory()) {
        out[path] = 'dir';
        visit(path);
      } else if (st.isSymbolicLink()) {
        out[path] = `lnk ${readlinkSync(full)}`;
      } else {
        out[path] = `reg ${createHash('sha256').update(readFileSync(full)).digest('hex')}`;
      }
    }
  };
  visit('');
  return out;
}

/** Renames the entry `placeholder` of image directory `dir` on disk: to `name` (as long), or to an empty name (null). */
function patchName(img: string, dir: string, placeholder: string, name: Uint8Array | null): void {
  if (name && name.length !== placeholder.length) throw new Error('a patched name keeps its length');
  const blocks = debugfs(img, `blocks ${dir}`).trim().split(/\s+/).map(Number);
  const fd = openSync(img, 'r+');
  try {
    for (const b of blocks) {
      const buf = Buffer.alloc(BS);
      readSync(fd, buf, 0, BS, b * BS);
      for (let off = 0; off + 8 <= BS; ) {
        const ino = buf.readUInt32LE(off);
        const recLen = buf.readUInt16LE(off + 4);
        const len = buf[off + 6];
        if (ino !== 0 && buf.toString('latin1', off + 8, off + 8 + len) === placeholder) {
          if (name) buf.set(name, off + 8);
          else buf[off + 6] = 0;
          writeSync(fd, buf, 0, BS, b * BS);
          return;
        }
        if (recLen < 12) break;
        off += recLen;
      }
    }
  } finally {
    closeSync(fd);
  }
  throw new Error(`no entry '${placeholder}' in ${dir} of ${img}`);
}

const latin1 = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

// ---- the reproducer: names 'sub/../../escaped' and 'sub/../../precio_' in /d --------------

/** The reproducer's image: /escaped and /precio_ at the root; in /d a directory 'sub' (met first or last) and two files renamed 'sub/../../…'. */
function craftSlashImage(dir: string, img: string, subFirst: boolean): void {
  const src = join(dir, `src-${subFirst}`);
  mkdirSync(join(src, 'd'), { recursive: true });
  writeFileSync(join(src, 'escaped'), 'root file');
  writeFileSync(join(src, 'precio_'), 'victim');
  writeFileSync(join(dir, 'c'), 'crafted');
  execFileSync('mke2fs', ['-q', '-F', '-t', 'ext2', '-b', String(BS), '-d', src, img, '4M'], { stdio: 'pipe' });
  const files = [`write ${join(dir, 'c')} /d/QQQQQQQQQQQQQQQQ1`, `write ${join(dir, 'c')} /d/QQQQQQQQQQQQQQQQ2`];
  debugfsWrite(img, subFirst ? ['mkdir /d/sub', ...files] : [...files, 'mkdir /d/sub'], dir);
  patchName(img, '/d', 'QQQQQQQQQQQQQQQQ1', latin1('sub/../../escaped'));
  patchName(img, '/d', 'QQQQQQQQQQQQQQQQ2', latin1('sub/../../precio_'));
}

t.test('the name-with-slash reproducer, as a test', async (t) => {
  const dir = tempDir('rumpus-hostile-');
  craftSlashImage(dir, join(dir, 'cp.img'), true);
  craftSlashImage(dir, join(dir, 'rm.img'), false);
  t.match(spawnE2fsck(join(dir, 'cp.img')), /illegal characters/, 'e2fsck sees the patched names');
  for (const policy of ['monolithic', 'microkernel']) {
    const work = join(dir, `work-${policy}`);
    mkdirSync(join(work, 'dst'), { recursive: true });
    copyFileSync(join(dir, 'cp.img'), join(work, 'a.img'));
    const before = snapshot(work, 'dst/out');
    const cp = await rumpus(work, 'cp', '-r', '--policy', policy, 'a.img:/d', 'dst/out');
    t.same(readdirSync(join(work, 'dst')), ['out'], `[${policy}] cp -r IMG:/d DST/out creates nothing beside DST/out`);
    t.same(snapshot(work, 'dst/out'), before, `[${policy}] and changes nothing outside it`);
    t.not(cp.code, 0, `[${policy}] cp -r fails`);
    t.match(cp.stderr, /Structure needs cleaning/, `[${policy}] and says the directory needs cleaning`);
    t.notMatch(cp.stderr, TRACE, `[${policy}] no stack trace`);
    copyFileSync(join(dir, 'rm.img'), join(work, 'b.img'));
    const rm = await rumpus(work, 'rm', '-r', '--policy', policy, 'b.img:/d');
    t.not(rm.code, 0, `[${policy}] rm -r IMG:/d fails`);
    t.notMatch(rm.stderr, TRACE, `[${policy}] rm -r: no stack trace`);
    t.equal(imageCat(join(work, 'b.img'), '/precio_'), 'victim', `[${policy}] rm -r IMG:/d leaves IMG:/precio_`);
    t.equal(imageCat(join(work, 'b.img'), '/escaped'), 'root file', `[${policy}] rm -r IMG:/d leaves IMG:/escaped`);
  }
});

function spawnE2fsck(img: string): string {
  try {
    return execFileSync('e2fsck', ['-fn', img], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    return String((err as { stdout?: string }).stdout ?? '');
  }
}

t.test('ext2 names the corrupt entry: readdir and lookup in its directory are EUCLEAN', async (t) => {
  const { boot } = await import('../kernel/index.js');
  const dir = tempDir('rumpus-hostile-');
  const img = join(dir, 'x.img');
  craftSlashImage(dir, img, true);
  const k = await boot({ policy: 'monolithic', mounts: [{ target: '/', fstype: 'ext2', source: img, readonly: true }] });
  try {
    const p = await k.spawn();
    await t.rejects(p.readdir('/d'), { errno: 'EUCLEAN', message: /directory inode \d+.*"sub\/\.\.\/\.\.\/escaped".*holds '\/'/ }, 'readdir names the directory inode and the entry');
    await t.rejects(p.stat('/d/sub'), { errno: 'EUCLEAN', message: /directory inode/ }, 'a lookup in that directory too');
    t.equal(new TextDecoder().decode(await p.readFile('/escaped')), 'root file', 'the rest of the image reads');
  } finally {
    await k.halt();
  }
});

// ---- seeded: random hostile names --------------------------------------------------------

type Rnd = () => number;
const TARGETS = ['victim', 'precious', 'escaped'];

/** A name an entry must not have, as bytes (null: an empty name), and what it is. */
function hostileName(rnd: Rnd): { bytes: Uint8Array | null; what: string } {
  const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)];
  const up = (k: number) => '../'.repeat(k);
  switch (pick(['slash', 'slash', 'dot', 'dotdot', 'nul', 'empty'])) {
    case 'slash': {
      const target = pick(TARGETS);
      const k = 1 + Math.floor(rnd() * 4);
      const name = pick([`${up(k)}${target}`, `sub/${up(k + 1)}${target}`, `/${target}`, `a/b`, `${target}/`, `${up(k)}dst/out`]);
      return { bytes: latin1(name), what: name };
    }
    case 'dot':
      return { bytes: latin1('.'), what: "'.'" };
    case 'dotdot':
      return { bytes: latin1('..'), what: "'..'" };
    case 'nul': {
      const name = `${pick(TARGETS)}\0${pick(['x', '../y', ''])}`;
      return { bytes: latin1(name), what: JSON.stringify(name) };
    }
    default:
      return { bytes: null, what: 'an empty name' };
  }
}

/** A name an entry may have but that is unusual: long, or bytes that are not UTF-8. */
function oddName(rnd: Rnd, n: number): Uint8Array {
  if (rnd() < 0.5) return latin1(`L${n}`.padEnd(200 + Math.floor(rnd() * 56), 'l'));
  const bytes = Array.from({ length: 4 + Math.floor(rnd() * 8) }, () => 0x80 + Math.floor(rnd() * 0x80));
  return Uint8Array.from([0x6f, 0x30 + n, ...bytes]);
}

interface Crafted {
  /** What was planted, for messages. */
  planted: string[];
}

/**
 * An image with /victim, /precious and /escaped at its root, a clean /keep/f, and /d holding a
 * file, a directory 'sub' and hostile entries (files or directories) in /d, /d/sub or both,
 * among unusual but valid names.
 */
function craftHostileImage(scratch: string, img: string, rnd: Rnd): Crafted {
  const src = join(scratch, 'src');
  mkdirSync(join(src, 'keep'), { recursive: true });
  mkdirSync(join(src, 'd', 'sub'), { recursive: true });
  for (const name of TARGETS) writeFileSync(join(src, name), `image ${name}`);
  writeFileSync(join(src, 'keep', 'f'), 'kept');
  writeFileSync(join(src, 'd', 'plain'), 'plain');
  writeFileSync(join(src, 'd', 'sub', 'deep'), 'deep');
  writeFileSync(join(scratch, 'payload'), 'payload');
  execFileSync('mke2fs', ['-q', '-F', '-t', 'ext2', '-b', String(BS), '-O', 'none,filetype,sparse_super', '-d', src, img, '4M'], { stdio: 'pipe' });
  const where = [['/d'], ['/d/sub'], ['/d', '/d/sub']][Math.floor(rnd() * 3)];
  const commands: string[] = [];
  const patches: [string, string, Uint8Array | null][] = [];
  const planted: string[] = [];
  let n = 0;
  /** A name as long as the one it stands in for, unique in the image (up to 26 one-letter ones). */
  const placeholder = (len: number) => {
    const id = n++;
    if (len > String(id).length) return `p${id}`.padEnd(len, 'q');
    const letter = (k: number) => String.fromCharCode(0x61 + (k % 26));
    return len === 1 ? letter(id) : letter(Math.floor(id / 26)) + letter(id);
  };
  for (const dir of where) {
    const count = 1 + Math.floor(rnd() * 3);
    for (let i = 0; i < count; i++) {
      const { bytes, what } = hostileName(rnd);
      const ph = placeholder(bytes?.length ?? 3);
      if (rnd() < 0.4) commands.push(`mkdir ${dir}/${ph}`, `write ${join(scratch, 'payload')} ${dir}/${ph}/inner`);
      else commands.push(`write ${join(scratch, 'payload')} ${dir}/${ph}`);
      patches.push([dir, ph, bytes]);
      planted.push(`${dir}: ${what}`);
    }
    const odd = oddName(rnd, n);
    const ph = placeholder(odd.length);
    commands.push(`write ${join(scratch, 'payload')} ${dir}/${ph}`);
    patches.push([dir, ph, odd]);
  }
  debugfsWrite(img, commands, scratch);
  for (const [dir, ph, bytes] of patches) patchName(img, dir, ph, bytes);
  return { planted };
}

t.test('seeded hostile names: nothing is written or deleted outside the target, and no stack trace', async (t) => {
  const seed = Number(process.env.HOSTILE_SEED ?? Date.now() % 1_000_000);
  const trials = Number(process.env.HOSTILE_TRIALS ?? 1);
  t.comment(`seed ${seed} (rerun with HOSTILE_SEED=${seed})`);
  const rnd = random(seed);
  for (let trial = 0; trial < trials; trial++) {
    for (const policy of ['monolithic', 'microkernel']) {
      const root = tempDir('rumpus-hostile-');
      const scratch = join(root, 'scratch');
      const work = join(root, 'work');
      mkdirSync(scratch);
      mkdirSync(join(work, 'dst'), { recursive: true });
      // Victims on the host where an escaping name would land.
      for (const name of TARGETS) {
        writeFileSync(join(root, name), `host ${name}`);
        writeFileSync(join(work, name), `host ${name}`);
        writeFileSync(join(work, 'dst', name), `host ${name}`);
      }
      const img = join(work, 'a.img');
      const { planted } = craftHostileImage(scratch, img, rnd);
      const label = `[seed ${seed}, trial ${trial}, ${policy}; planted ${planted.join('; ')}]`;
      const say = (what: string) => `${what} ${label}`;
      const noTrace = (r: CliRun, what: string) => t.notMatch(r.stderr, TRACE, say(`${what}: no stack trace`));
      const clean = snapshot(root, 'work/dst/out');

      const cp = await rumpus(work, 'cp', '-r', '--policy', policy, 'a.img:/', 'dst/out');
      t.same(snapshot(root, 'work/dst/out'), clean, say('cp -r IMG:/ DST/out changes nothing outside DST/out'));
      t.not(cp.code, 0, say('cp -r fails'));
      t.match(cp.stderr, /Structure needs cleaning/, say('cp -r says which directory needs cleaning'));
      noTrace(cp, 'cp -r');
      t.equal(existsSync(join(work, 'dst/out/keep/f')) && readFileSync(join(work, 'dst/out/keep/f'), 'utf8'), 'kept', say('cp -r copies the clean directories'));

      const ls = await rumpus(work, 'ls', '-R', '--policy', policy, 'a.img:/');
      t.not(ls.code, 0, say('ls -R fails'));
      t.match(ls.stderr, /Structure needs cleaning/, say('ls -R says so'));
      t.match(ls.stdout, /^a\.img:\/keep:\nf$/m, say('ls -R lists the rest'));
      noTrace(ls, 'ls -R');

      copyFileSync(img, join(work, 'rm.img'));
      const rm = await rumpus(work, 'rm', '-r', '--policy', policy, 'rm.img:/d');
      t.not(rm.code, 0, say('rm -r IMG:/d fails'));
      noTrace(rm, 'rm -r');
      for (const name of TARGETS) t.equal(imageCat(join(work, 'rm.img'), `/${name}`), `image ${name}`, say(`rm -r IMG:/d leaves IMG:/${name}`));
      t.equal(imageCat(join(work, 'rm.img'), '/keep/f'), 'kept', say('rm -r IMG:/d leaves IMG:/keep/f'));

      // mv between images copies (cp -r image to image), then removes (rm -r).
      execFileSync('mke2fs', ['-q', '-F', '-t', 'ext2', '-b', String(BS), join(work, 'two.img'), '4M'], { stdio: 'pipe' });
      copyFileSync(img, join(work, 'mv.img'));
      const mv = await rumpus(work, 'mv', '--policy', policy, 'mv.img:/d', 'two.img:/moved');
      t.not(mv.code, 0, say('mv between images fails'));
      noTrace(mv, 'mv between images');
      t.same(imageNames(join(work, 'two.img'), '/').filter((x) => !['lost+found', 'moved'].includes(x)), [], say('the other image gets nothing outside /moved'));
      for (const name of TARGETS) t.equal(imageCat(join(work, 'mv.img'), `/${name}`), `image ${name}`, say(`mv leaves IMG:/${name}`));
      const others = (snap: Record<string, string>) => Object.fromEntries(Object.entries(snap).filter(([path]) => !/^work\/(rm|two|mv)\.img/.test(path)));
      t.same(others(snapshot(root, 'work/dst/out')), others(clean), say('no command changed anything else on the host'));
    }
  }
});

// ---- defence in depth: whatever a file system lists, the CLI never acts on such a name ----------

/** What the fake file systems below list in /d: escaping, dotted, empty, NUL-bearing and repeated names, and three good ones. */
const LISTED = ['good', '..', '.', '', '../victim', 'sub/../../victim', '/victim', 'victim\0', 'good', 'fine', 'sub'];
/** How many of LISTED must be refused: all but 'good', 'fine' and 'sub'. */
const REFUSED = LISTED.length - 3;

t.test('cp -r refuses hostile names whatever the source tree lists, and copies the rest', async (t) => {
  const root = tempDir('rumpus-hostile-');
  writeFileSync(join(root, 'victim'), 'host victim');
  mkdirSync(join(root, 'dst'));
  const now = Date.now();
  const info = (type: 'dir' | 'reg'): FileInfo => ({ type, mode: type === 'dir' ? 0o755 : 0o644, size: 4, uid: 0, gid: 0, atime: now, mtime: now });
  // A tree whose /d lists LISTED; every path it is asked about resolves as a path walk would (so '/d/../victim' is /victim).
  const files: Record<string, 'dir' | 'reg'> = { '/': 'dir', '/d': 'dir', '/d/good': 'reg', '/d/fine': 'reg', '/victim': 'reg', '/d/sub': 'dir' };
  const resolve = (path: string) => {
    const p = posix.normalize(path.replaceAll('\0', '')).replace(/(.)\/$/, '$1');
    if (!files[p]) throw new SysError('ENOENT', `${p}: no such file`);
    return p;
  };
  const touched: string[] = [];
  const from: FileTree = {
    lstat: async (path) => info(files[resolve(path)]),
    stat: async (path) => info(files[resolve(path)]),
    readdir: async (path) => (resolve(path) === '/d' ? LISTED : []),
    mkdir: async () => {},
    openRead: async (path) => {
      touched.push(resolve(path));
      let done = false;
      return { read: async () => (done ? new Uint8Array(0) : ((done = true), new TextEncoder().encode('data'))), close: async () => {} };
    },
    openWrite: async () => {
      throw new SysError('EROFS');
    },
    readlink: async () => 'x',
    symlink: async () => {},
    chmod: async () => {},
    utimes: async () => {},
    lutimes: async () => {},
    show: (path) => `fake:${path}`,
  };
  const before = snapshot(root, 'dst/out');
  const reports: [string, SysError][] = [];
  const ok = await copyTree(from, '/d', hostFiles(), join(root, 'dst', 'out'), { recursive: true, preserveTimes: false, report: (path, err) => reports.push([path, err]) });
  t.equal(ok, false, 'the copy says it did not all go well');
  t.same(snapshot(root, 'dst/out'), before, 'nothing outside the target changed');
  t.same(readdirSync(join(root, 'dst', 'out')).sort(), ['fine', 'good', 'sub'], 'the good names are copied, once');
  t.same(touched.sort(), ['/d/fine', '/d/good'], 'no file behind a hostile name was even read');
  t.equal(reports.length, REFUSED, 'each hostile or repeated name is reported');
  t.ok(reports.every(([, e]) => e.errno === 'EUCLEAN'), 'as EUCLEAN');
  t.match(reports.map(([p]) => p).join('\n'), /fake:\/d: the entry "\.\." cannot be a file name/, 'naming the directory and the entry');
  t.match(reports.map(([p]) => p).join('\n'), /fake:\/d: the entry "good" is listed twice/, 'a repeated name too');
});

t.test('rm -r and ls -R never act on a hostile name, whatever readdir returns', async (t) => {
  // A client process over an in-memory tree whose readdir of /d returns LISTED; paths resolve as a path walk would.
  const tree = new Map<string, 'dir' | 'reg'>([['/', 'dir'], ['/d', 'dir'], ['/d/good', 'reg'], ['/d/fine', 'reg'], ['/victim', 'reg'], ['/d/sub', 'dir']]);
  const resolve = (path: string) => {
    const p = posix.normalize(path).replace(/(.)\/$/, '$1');
    if (!tree.has(p)) throw new SysError('ENOENT', `${p}: no such file`);
    return p;
  };
  const removed: string[] = [];
  const stat = async (path: string) => ({ mode: tree.get(resolve(path)) === 'dir' ? S_IFDIR | 0o755 : S_IFREG | 0o644 });
  const p = {
    lstat: stat,
    stat,
    readdir: async (path: string) => {
      const at = resolve(path);
      const names = at === '/d' ? LISTED : [...tree.keys()].filter((x) => x !== at && posix.dirname(x) === at).map((x) => posix.basename(x));
      return names.map((name) => ({ name, ino: 1, type: 'reg' }));
    },
    unlink: async (path: string) => {
      const at = resolve(path);
      removed.push(at);
      tree.delete(at);
    },
    rmdir: async (path: string) => {
      const at = resolve(path);
      // /d still holds the entries no one may act on.
      if (at === '/d' || [...tree.keys()].some((x) => x !== at && posix.dirname(x) === at)) throw new SysError('ENOTEMPTY');
      removed.push(at);
      tree.delete(at);
    },
  } as unknown as Proc;
  const state: ShellState = { control: null as never, p, exitCode: null, show: (path) => path };
  const run = async (argv: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const io: Io = { out: async (x) => void out.push(String(x)), err: (x) => void err.push(x), stdin: null };
    const status = await runCommand(state, argv, io);
    return { status, out: out.join(''), err: err.join('') };
  };

  const ls = await run(['ls', '-R', '/d']);
  t.equal(ls.status, 1, 'ls -R fails');
  t.equal(ls.out, '/d:\nfine\ngood\nsub\n\n/d/sub:\n', 'and lists the good names only, once each');
  t.equal(ls.err.split('\n').filter((l) => /Structure needs cleaning/.test(l)).length, REFUSED, 'one EUCLEAN line per hostile or repeated name');

  const rm = await run(['rm', '-r', '/d']);
  t.equal(rm.status, 1, 'rm -r fails');
  t.same(removed.sort(), ['/d/fine', '/d/good', '/d/sub'], 'and removes only what is below /d under a good name');
  t.ok(tree.has('/victim'), '/victim is still there');
  t.match(rm.err, /rm: \/d: the entry "\.\.\/victim" cannot be a file name: Structure needs cleaning/, 'naming the entry');
  t.match(rm.err, /rm: \/d: Directory not empty/, 'and the directory it could not empty');
});
