// The cross-policy property test: a seeded random program of syscalls — odd sizes and data types,
// hostile names, paths through symlinks and missing directories, bad fds, flag combinations — runs
// on tmpfs and on ext2 under every placement and thread transport, and every step must give the
// same value or the same errno and sentence as under the monolithic kernel, and leave the same
// tree. In the same boot, the calls this test was made for are checked by name, and two clients
// race (renames and removals against stats and readdirs): each may fail only with the errnos its
// op allows, never ESTALE or EIO. The seed is printed; CROSS_POLICY_SEED=<n> repeats a run (and
// CROSS_POLICY_MS=<ms> lets each program run longer than PROGRAM_MS on a slow machine).

import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import {
  MAX_IO, O_APPEND, O_CREAT, O_DIRECTORY, O_EXCL, O_NOFOLLOW, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY, SysError, boot,
  type Kernel, type Proc,
} from '../kernel/index.js';
import { fingerprint, fsckClean, mkImage, random, tempDir } from './lib/e2fs.js';
import { ALL_RUNS } from './lib/policies.js';

const SEED = Number(process.env.CROSS_POLICY_SEED ?? Math.floor(Math.random() * 2 ** 31));
if (!Number.isSafeInteger(SEED)) throw new Error(`CROSS_POLICY_SEED must be an integer, got ${process.env.CROSS_POLICY_SEED}`);
t.comment(`seed ${SEED}: CROSS_POLICY_SEED=${SEED} npx tap test/cross-policy.ts repeats this run`);

/**
 * Steps in each file system's program, and the time a run may spend on one at most: a run that
 * is cut short (a slow machine) is compared over the steps it made.
 */
const STEPS = 160;
const PROGRAM_MS = Number(process.env.CROSS_POLICY_MS ?? 8000);
/** Rounds of each racing client, and the time they may take at most. */
const RACE_ROUNDS = 150;
const RACE_MS = 1500;
/** Where the programs run: a tmpfs directory and the root of a small ext2 image. */
const ROOTS = { tmpfs: '/tmp/t', ext2: '/mnt/e' } as const;

const NAMES = [
  'a', 'b', 'c', 'dir', 'f', 'sp ace', '-', 'é', 'caf\u00e9', '日本', '😀', 'x'.repeat(255), 'y'.repeat(256),
  'n\0ul', '\0', '.', '..', 'lone\uD800', '\uDC00',
];
const SIZES = [0, 1, 7, 511, 4095, 4096, 4097, 65_537, (1 << 20) + 3];
const FLAGS = [O_CREAT, O_EXCL, O_TRUNC, O_APPEND, O_DIRECTORY, O_NOFOLLOW];
const DATA_KINDS = ['text', 'u8', 'u8', 'u8', 'buffer', 'subarray', 'dataview', 'u16', 'arraybuffer', 'clamped', 'number', 'null'] as const;
type DataKind = (typeof DATA_KINDS)[number] | 'huge';

/**
 * An fd as a program names it: a whole number n is the (n mod count)th fd its opens gave, 'last'
 * the latest; anything else goes to the call as it is (a bad fd).
 */
type Fd = number | 'last';

/** One syscall of a program: an op and its arguments, paths relative to the program's root. */
type Step =
  | { op: 'open'; path: string; flags: number; mode: number }
  | { op: 'close' | 'fstat' | 'fsync'; fd: Fd }
  | { op: 'read'; fd: Fd; length: number }
  | { op: 'pread'; fd: Fd; length: number; offset: number }
  | { op: 'write'; fd: Fd; data: DataKind; size: number }
  | { op: 'pwrite'; fd: Fd; data: DataKind; size: number; offset: number }
  | { op: 'lseek'; fd: Fd; offset: number; whence: number }
  | { op: 'ftruncate'; fd: Fd; length: number }
  | { op: 'stat' | 'lstat' | 'readdir' | 'unlink' | 'rmdir' | 'readlink' | 'chdir' | 'statfs'; path: string }
  | { op: 'mkdir'; path: string; mode: number }
  | { op: 'rename' | 'link'; from: string; to: string }
  | { op: 'symlink'; target: string; path: string }
  | { op: 'truncate'; path: string; length: number }
  | { op: 'chmod'; path: string; mode: number }
  | { op: 'utimes'; path: string }
  | { op: 'getcwd' };

/** A seeded program: the same steps for every run. */
function program(seed: number): Step[] {
  const rnd = random(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  const int = (n: number) => Math.floor(rnd() * n);
  const name = () => (rnd() < 0.75 ? pick(NAMES.slice(0, 6)) : pick(NAMES));
  const path = (): string => {
    const depth = 1 + int(3);
    let p = Array.from({ length: depth }, name).join('/');
    const shape = rnd();
    if (shape < 0.08) p += '/';
    else if (shape < 0.12) p = p.replace('/', '//');
    else if (shape < 0.15) p = 'missing/' + p;
    else if (shape < 0.17) p = '';
    if (rnd() < 0.2) return p; // relative to the cwd (the root, unless a chdir moved it)
    return '@/' + p;
  };
  const fd = () => (rnd() < 0.9 ? int(4) : pick([-1, 99, 2.5]));
  const data = (): DataKind => pick(DATA_KINDS);
  const size = () => pick(SIZES);
  const steps: Step[] = [];
  for (let i = 0; i < STEPS; i++) {
    const r = int(100);
    if (r < 14) {
      let flags = pick([O_RDONLY, O_WRONLY, O_RDWR, O_RDWR, 3]);
      for (const f of FLAGS) if (rnd() < 0.25) flags |= f;
      steps.push({ op: 'open', path: path(), flags, mode: pick([0o644, 0o600, 0o777, 0o4755]) });
    } else if (r < 20) steps.push({ op: pick(['close', 'fstat', 'fsync'] as const), fd: fd() });
    else if (r < 26) steps.push({ op: 'read', fd: fd(), length: pick([0, 1, 100, 5000, MAX_IO + 1]) });
    else if (r < 29) steps.push({ op: 'pread', fd: fd(), length: pick([1, 4097]), offset: pick([0, 3, 1 << 20]) });
    else if (r < 38) steps.push({ op: 'write', fd: fd(), data: data(), size: size() });
    else if (r < 42) steps.push({ op: 'pwrite', fd: fd(), data: data(), size: size(), offset: pick([0, 1, 4095, 123_457, 2 ** 40]) });
    else if (r < 45) steps.push({ op: 'lseek', fd: fd(), offset: pick([0, 5, -1, -100, 2 ** 33]), whence: pick([0, 1, 2, 3]) });
    else if (r < 47) steps.push({ op: 'ftruncate', fd: fd(), length: pick([0, 10, 5000, 2 ** 45]) });
    else if (r < 62) steps.push({ op: pick(['stat', 'lstat', 'readdir', 'readlink', 'statfs'] as const), path: path() });
    else if (r < 70) steps.push({ op: 'mkdir', path: path(), mode: pick([0o755, 0o700, 0o1777]) });
    else if (r < 74) steps.push({ op: pick(['unlink', 'rmdir'] as const), path: path() });
    else if (r < 79) steps.push({ op: pick(['rename', 'rename', 'link'] as const), from: path(), to: path() });
    else if (r < 85) steps.push({ op: 'symlink', target: pick([path(), name(), '..', '../..', '/', 'nowhere/x']), path: path() });
    else if (r < 88) steps.push({ op: 'truncate', path: path(), length: pick([0, 3, 9000]) });
    else if (r < 91) steps.push({ op: 'chmod', path: path(), mode: pick([0o644, 0o7777, 0o000]) });
    else if (r < 93) steps.push({ op: 'utimes', path: path() });
    else if (r < 96) steps.push({ op: 'chdir', path: path() });
    else steps.push({ op: 'getcwd' });
  }
  return steps;
}

/**
 * The largest writes, first in every program (so that even a run cut short makes them): past
 * MAX_IO, and past the stream transport's largest frame. Each writes MAX_IO bytes at most.
 */
const BIG_STEPS: Step[] = [
  { op: 'open', path: '@/big', flags: O_RDWR | O_CREAT, mode: 0o644 },
  { op: 'write', fd: 'last', data: 'huge', size: 4 * MAX_IO + 1 },
  { op: 'pwrite', fd: 'last', data: 'huge', size: MAX_IO + 1, offset: 3 },
  { op: 'read', fd: 'last', length: 3 * MAX_IO },
  { op: 'ftruncate', fd: 'last', length: 0 },
];

/** Deterministic write data of a kind: what a careless client might pass. */
function makeData(kind: DataKind, size: number, seed: number): unknown {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i += 97) bytes[i] = (seed + i) & 0xff;
  switch (kind) {
    case 'text': return 'é'.repeat(size >> 1);
    case 'u8': case 'huge': return bytes;
    case 'buffer': return Buffer.from(bytes.buffer);
    case 'subarray': return bytes.subarray(Math.min(3, size), size);
    case 'dataview': return new DataView(bytes.buffer);
    case 'u16': return new Uint16Array(bytes.buffer, 0, size >> 1);
    case 'arraybuffer': return bytes.buffer;
    case 'clamped': return new Uint8ClampedArray(bytes.buffer);
    case 'number': return size;
    case 'null': return null;
  }
}

type Outcome = { value: unknown } | { errno: string; message: string };

/** Values made comparable: no clock times or random generations, bytes as their class, length and fingerprint. */
function normalize(v: unknown): unknown {
  if (v instanceof Uint8Array) return { [v.constructor.name]: v.length, fingerprint: fingerprint(v) };
  if (Array.isArray(v)) return v.map(normalize);
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).filter(([k]) => !['atime', 'mtime', 'ctime', 'gen'].includes(k)).map(([k, x]) => [k, normalize(x)]));
  }
  return v;
}

async function outcome(fn: () => Promise<unknown>): Promise<Outcome> {
  try {
    return { value: normalize(await fn()) };
  } catch (err) {
    if (!(err instanceof SysError)) return { errno: 'not a SysError', message: String(err) };
    return { errno: err.errno, message: err.message };
  }
}

/** Runs a program at `root` as `p`; fds are named by the order the program's opens gave them. */
async function runProgram(p: Proc, root: string, steps: Step[]): Promise<Outcome[]> {
  const fds: number[] = [];
  const at = (path: string) => path.replace(/^@/, root);
  const fdOf = (i: Fd) => {
    if (i === 'last') return fds.length ? fds[fds.length - 1] : 3;
    return Number.isInteger(i) && i >= 0 ? (fds.length ? fds[i % fds.length] : 3) : i;
  };
  const any = p as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
  const out: Outcome[] = [];
  let end = Infinity;
  await p.chdir(root);
  for (const [i, s] of steps.entries()) {
    if (i === BIG_STEPS.length) end = Date.now() + PROGRAM_MS;
    if (Date.now() > end) break;
    out.push(await outcome(async () => {
      switch (s.op) {
        case 'open': {
          const fd = await p.open(at(s.path), s.flags, s.mode);
          fds.push(fd);
          return fd;
        }
        case 'close': case 'fstat': case 'fsync': return any[s.op].call(p, fdOf(s.fd));
        case 'read': return p.read(fdOf(s.fd), s.length);
        case 'pread': return p.pread(fdOf(s.fd), s.length, s.offset);
        case 'write': return any.write.call(p, fdOf(s.fd), makeData(s.data, s.size, i));
        case 'pwrite': return any.pwrite.call(p, fdOf(s.fd), makeData(s.data, s.size, i), s.offset);
        case 'lseek': return p.lseek(fdOf(s.fd), s.offset, s.whence);
        case 'ftruncate': return p.ftruncate(fdOf(s.fd), s.length);
        case 'mkdir': return p.mkdir(at(s.path), s.mode);
        case 'rename': return p.rename(at(s.from), at(s.to));
        case 'link': return p.link(at(s.from), at(s.to));
        case 'symlink': return p.symlink(at(s.target), at(s.path));
        case 'truncate': return p.truncate(at(s.path), s.length);
        case 'chmod': return p.chmod(at(s.path), s.mode);
        case 'utimes': return p.utimes(at(s.path), 1_000_000, 2_000_000).then(() => p.stat(at(s.path))).then((st) => [st.atime, st.mtime]);
        case 'getcwd': return p.getcwd();
        default: return any[s.op].call(p, at(s.path));
      }
    }));
  }
  for (const fd of fds) await p.close(fd).catch(() => {});
  return out;
}

/** Fingerprints of a file's first and last 64 KiB: a program may make it sparse and huge. */
async function ends(p: Proc, path: string, size: number): Promise<string[]> {
  const fd = await p.open(path, O_RDONLY);
  try {
    return [fingerprint(await p.pread(fd, 65_536, 0)), fingerprint(await p.pread(fd, 65_536, Math.max(0, size - 65_536)))];
  } finally {
    await p.close(fd);
  }
}

/** Everything under a directory: type, mode, size, link target or content fingerprints. */
async function tree(p: Proc, dir: string, out: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  for (const e of await p.readdir(dir)) {
    const path = `${dir}/${e.name}`;
    const st = await p.lstat(path);
    const type = st.mode & 0o170000;
    out[path] = {
      mode: st.mode.toString(8), size: st.size, nlink: st.nlink,
      ...(type === 0o120000 ? { target: await p.readlink(path) } : {}),
      ...(type === 0o100000 ? { content: await ends(p, path, st.size) } : {}),
    };
    if (type === 0o040000) await tree(p, path, out);
  }
  return out;
}

/**
 * Errnos each racing op may meet while another client changes the same names, any of which may
 * be a directory, a file or nothing at a given moment: what some order of the two clients' calls
 * would give. Never ESTALE, EIO or EINVAL beyond readlink's and rename's own.
 */
const RACE_ALLOWED: Record<string, string[]> = Object.fromEntries(Object.entries({
  mkdir: ['EEXIST'],
  rmdir: ['ENOTEMPTY'],
  rename: ['ENOTEMPTY', 'EISDIR', 'EINVAL'],
  unlink: ['EISDIR'],
  create: ['EISDIR'],
  stat: [],
  lstat: [],
  readdir: [],
  open: [],
  readlink: ['EINVAL'],
}).map(([op, own]) => [op, ['ENOENT', 'ENOTDIR', ...own]]));

/** Two clients race over a few names; returns each errno met that its op does not allow. */
async function race(a: Proc, b: Proc, root: string, seed: number): Promise<string[]> {
  const base = `${root}/race`;
  await a.mkdir(base);
  const names = ['d', 'd/x', 'e', 'f', 'd/y'].map((n) => `${base}/${n}`);
  const wrong: string[] = [];
  const end = Date.now() + RACE_MS;
  const tryOp = async (op: string, fn: () => Promise<unknown>) => {
    try {
      await fn();
    } catch (err) {
      const errno = err instanceof SysError ? err.errno : String(err);
      if (!RACE_ALLOWED[op].includes(errno)) wrong.push(`${op}: ${errno} (${(err as Error).message})`);
    }
  };
  const client = async (rnd: () => number, ops: [string, (path: string, other: string) => Promise<unknown>][]) => {
    for (let i = 0; i < RACE_ROUNDS && Date.now() < end; i++) {
      const [op, fn] = ops[Math.floor(rnd() * ops.length)];
      await tryOp(op, () => fn(names[Math.floor(rnd() * names.length)], names[Math.floor(rnd() * names.length)]));
      if (i % 8 === 0) await new Promise((r) => setImmediate(r));
    }
  };
  await Promise.all([
    client(random(seed), [
      ['mkdir', (p) => a.mkdir(p)], ['rmdir', (p) => a.rmdir(p)], ['rename', (p, q) => a.rename(p, q)],
      ['unlink', (p) => a.unlink(p)], ['create', (p) => a.writeFile(p, 'r')],
    ]),
    client(random(seed + 1), [
      ['stat', (p) => b.stat(p)], ['lstat', (p) => b.lstat(p)], ['readdir', (p) => b.readdir(p)],
      ['open', (p) => b.open(p).then((fd) => b.close(fd))], ['readlink', (p) => b.readlink(p)],
    ]),
  ]);
  return wrong;
}

const dir = tempDir('rumpus-cross-');
const baseImage = join(dir, 'base.img');
mkImage(baseImage, { size: 8 * 1024 * 1024, blockSize: 1024 });
const programs = { tmpfs: [...BIG_STEPS, ...program(SEED)], ext2: [...BIG_STEPS, ...program(SEED + 1)] };

/**
 * Boots a run with a fresh copy of the image mounted at /mnt/e. No heartbeat: a domain slow to
 * answer on a loaded machine must not be restarted under a program (a restart loses its fds and
 * cwd); `events` gathers what the supervisor reports, which a run must leave empty.
 */
async function bootRun(options: (typeof ALL_RUNS)[number]['options'], img: string, events: string[]): Promise<{ k: Kernel; root: Proc }> {
  copyFileSync(baseImage, img);
  const k = await boot({ ...options, heartbeat: { periodMs: 0 }, onEvent: (e) => events.push(`${e.kind} ${e.domain}: ${e.reason}`) });
  try {
    const root = await k.spawn();
    await root.mkdir(ROOTS.tmpfs, { recursive: true });
    await root.mkdir(ROOTS.ext2, { recursive: true });
    await root.mount(ROOTS.ext2, 'ext2', { source: img });
    return { k, root };
  } catch (err) {
    await k.halt();
    throw err;
  }
}

/**
 * The calls the property test was first made for, each by name: a NUL in every kind of path
 * argument, write data of every type, the largest writes and reads. Returns each call's outcome
 * (for comparing runs) and checks the expected errno or value.
 */
async function smallThings(t: Test, run: string, k: Kernel, p: Proc, img: string): Promise<unknown[]> {
  const got: unknown[] = [];
  const note = async (what: string, fn: () => Promise<unknown>, expect: string | number) => {
    const o = await outcome(fn);
    got.push([what, o]);
    t.same('errno' in o ? o.errno : o.value, expect, `${run}: ${what}`);
  };
  await p.writeFile('/tmp/plain', 'x');
  for (const at of Object.values(ROOTS)) {
    await note(`open O_CREAT ${at}/a\\0b`, () => p.open(`${at}/a\0b`, O_RDWR | O_CREAT), 'EINVAL');
    await note(`mkdir ${at}/d\\0e`, () => p.mkdir(`${at}/d\0e`), 'EINVAL');
    await note(`rename to ${at}/x\\0y`, () => p.rename('/tmp/plain', `${at}/x\0y`), 'EINVAL');
    await note(`rename from ${at}/x\\0y`, () => p.rename(`${at}/x\0y`, '/tmp/other'), 'EINVAL');
    await note(`link to ${at}/l\\0`, () => p.link('/tmp/plain', `${at}/l\0`), 'EINVAL');
    await note(`symlink at ${at}/s\\0`, () => p.symlink('plain', `${at}/s\0`), 'EINVAL');
    await note(`symlink to a target with NUL in ${at}`, () => p.symlink('pl\0ain', `${at}/s`), 'EINVAL');
    await note(`stat ${at}/\\0`, () => p.stat(`${at}/\0`), 'EINVAL');
    await note(`mkdir ${at}/(a lone surrogate)`, () => p.mkdir(`${at}/\uD800`), 'EINVAL');
    await note(`no name with NUL in ${at}`, async () => (await p.readdir(at)).filter((e) => e.name.includes('\0')).length, 0);
  }
  await note('mount with a NUL in its source', () => p.mount('/tmp', 'ext2', { source: `${img}\0x` }), 'EINVAL');
  const fd = await p.open('/tmp/w', O_RDWR | O_CREAT, 0o644);
  const types: [string, unknown][] = [
    ['DataView', new DataView(new ArrayBuffer(4))], ['Uint16Array', new Uint16Array(4)], ['ArrayBuffer', new ArrayBuffer(4)],
    ['Uint8ClampedArray', new Uint8ClampedArray(4)], ['number', 4],
  ];
  const write = p.write as (fd: number, data: unknown) => Promise<number>;
  for (const [name, data] of types) await note(`write() with a ${name}`, () => write.call(p, fd, data), 'EINVAL');
  await note('write() with a Buffer', () => p.write(fd, Buffer.from('four')), 4);
  await note('write() of 64 MiB + 1 writes MAX_IO', () => p.write(fd, new Uint8Array(4 * MAX_IO + 1)), MAX_IO);
  await note('the file holds what was written', async () => (await p.fstat(fd)).size, MAX_IO + 4);
  await note('a raw write of MAX_IO + 1 bytes', () => k.call('vfs', 'write', { pid: p.pid, fd, data: new Uint8Array(MAX_IO + 1) }), 'EINVAL');
  await note('a read of more than MAX_IO', async () => (await p.pread(fd, MAX_IO + 10, 0)).length, MAX_IO);
  await p.close(fd);
  await p.unlink('/tmp/w');
  return got;
}

interface RunResult {
  programs: Record<string, { steps: Outcome[]; tree: Record<string, unknown> }>;
  small: unknown[];
}

t.test('the same calls give the same results under every policy and transport', async (t) => {
  const results = new Map<string, RunResult>();
  for (const run of ALL_RUNS) {
    const img = join(dir, `${results.size}.img`);
    const events: string[] = [];
    const { k, root } = await bootRun(run.options, img, events);
    const got: RunResult = { programs: {}, small: [] };
    try {
      for (const [fs, at] of Object.entries(ROOTS)) {
        const steps = await runProgram(root, at, programs[fs as keyof typeof ROOTS]);
        got.programs[fs] = { steps, tree: await tree(root, at) };
      }
      got.small = await smallThings(t, run.name, k, root, img);
      for (const at of Object.values(ROOTS)) {
        t.same(await race(root, await k.spawn(), at, SEED), [], `${run.name}, racing clients in ${at}: only the errnos their ops allow`);
      }
    } finally {
      await k.halt();
    }
    t.same(events, [], `${run.name}: no component failed or restarted`);
    const fsck = fsckClean(img);
    t.ok(fsck.clean, `${run.name}: the ext2 image is clean afterwards`, { report: fsck.report });
    results.set(run.name, got);
  }
  const [[firstName, first], ...others] = results;
  for (const [name, got] of others) {
    for (const fs of Object.keys(ROOTS) as (keyof typeof ROOTS)[]) {
      const steps = programs[fs];
      const mine = got.programs[fs];
      const theirs = first.programs[fs];
      const made = Math.min(mine.steps.length, theirs.steps.length);
      const i = steps.slice(0, made).findIndex((_, j) => JSON.stringify(mine.steps[j]) !== JSON.stringify(theirs.steps[j]));
      const at = (o: Outcome[]) => (i < 0 ? null : { step: i, call: steps[i], outcome: o[i] });
      t.same(at(mine.steps), at(theirs.steps), `${fs} under ${name}: each of ${made} steps as under ${firstName}`);
      if (mine.steps.length === steps.length && theirs.steps.length === steps.length) {
        t.same(mine.tree, theirs.tree, `${fs} under ${name}: the same tree as under ${firstName}`);
      }
    }
    t.same(got.small, first.small, `${name}: the small things give the same errno and sentence as under ${firstName}`);
  }
});
