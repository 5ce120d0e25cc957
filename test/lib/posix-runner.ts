// Carries out the cases of test/lib/posix-case.ts on one mount of a booted kernel: root makes
// each case's entries in the case's own fresh directory (prepare), the case's process makes its
// steps, and the outcome, the value returned and what stat shows afterwards are compared with the
// case's expectation (run). Between the two the caller lets time pass, so that a time that
// changes can be told from one left alone. A case whose expected outcome is an error must also
// leave every entry it was given as it was (a failed call changes nothing).

import { O_CREAT, O_EXCL, O_WRONLY, S_IFBLK, S_IFCHR, S_IFSOCK, SysError, fileTypeOf, type Kernel, type Proc, type Stat } from '../../kernel/index.js';
import { PATH_MAX, type Arg, type Case, type Check, type Cred, type Deep, type Entry, type Outcome, type Setup, type Step } from './posix-case.js';

/** A mount the table runs on: where the case directories go, and a directory on another mount. */
export interface MountRun {
  /** For messages: 'tmpfs', 'ext2 (1 KiB blocks)', … */
  name: string;
  /** An existing directory on this mount that holds the case directories. */
  root: string;
  /** An existing directory on a different mount, for the cases that cross mounts (EXDEV). */
  otherRoot: string;
}

/** A case made ready on one mount: its directories and what stat showed of its entries after setup. */
export interface Prepared {
  c: Case;
  /** Its number: unique among the cases of a mount, it names the case's directories. */
  index: number;
  mount: MountRun;
  dir: string;
  otherDir: string;
  /** lstat of each entry (and of the case directories) after setup, by absolute path. */
  before: Map<string, Stat>;
  /** Why the setup failed, if it did: the case then fails with this. */
  setupError?: string;
}

export interface Result {
  got: Outcome | string;
  /** Each difference from the expectation beyond the outcome, as a sentence. */
  problems: string[];
}

/** The fields compared to say that a failed call changed nothing (atime aside: a lookup may read). */
const KEPT_FIELDS = ['mode', 'uid', 'gid', 'nlink', 'size', 'mtime', 'ctime'] as const;

/** A descriptor number no case process has opened (each has at most a few open). */
const UNOPENED_FD = 1000;

/**
 * Case directories per shard directory: a directory of hundreds of entries is one e2fsck -fy
 * would index (its pass 3A) on an image with dir_index, which fsckClean counts as a change.
 */
const SHARD = 50;

/** The shard directory of case number `index`, below a mount's root or its other root. */
const shardDir = (base: string, index: number) => `${base}/g${Math.floor(index / SHARD)}`;
/** The directory of case number `index`, below a mount's root or its other root. */
const caseDir = (base: string, index: number) => `${shardDir(base, index)}/c${index}`;

/** Name length of the directories of a deep path (with its '/', 151 bytes each). */
const DEEP_NAME = 150;

const methodOf = (p: Proc, name: string) => (p as unknown as Record<string, unknown>)[name];

/**
 * The parts of the API that no Proc method names, found in the booted kernel by their shape:
 * 'byte names' when readdir's entries carry their names' bytes (`raw`), as common.md fixes.
 */
export async function probeFeatures(root: Proc): Promise<Set<string>> {
  const features = new Set<string>();
  const entries = await root.readdir('/');
  if (entries.length > 0 && (entries[0] as { raw?: unknown }).raw instanceof Uint8Array) features.add('byte names');
  return features;
}

/**
 * The features of the API a case needs that `p` does not have yet (each a Proc method, or
 * 'groups' for supplementary groups): the case is skipped, naming them, until they land.
 */
export function missingFeatures(c: Case, p: Proc, features: ReadonlySet<string>): string[] {
  const need = new Set<string>(c.steps.map((s) => s[0]));
  for (const s of c.setup ?? []) {
    if ('kind' in s && s.kind === 'fifo') need.add('mkfifo');
    if ('kind' in s && (s.kind === 'chr' || s.kind === 'blk' || s.kind === 'sock')) need.add('mknod');
    if ('kind' in s && s.kind === 'symlink' && (s.uid !== undefined || s.gid !== undefined)) need.add('lchown');
  }
  const missing = [...need].filter((m) => typeof methodOf(p, m) !== 'function');
  if (c.as?.groups && !Array.isArray((p.cred as { groups?: unknown }).groups)) missing.push('groups');
  for (const f of c.needs ?? []) if (!features.has(f)) missing.push(f);
  return missing;
}

/**
 * An absolute path of exactly `bytes` bytes for case number `index` on a mount: directories of
 * 150-byte names under `${mount.root}/deep` that every case of the mount shares, then one of the
 * case's own (`c<index>`, a short name, so that the shared directory holding them all stays one
 * block), then the last name. The directories are the same whatever `bytes` is, so that the paths
 * of PATH_MAX - 1 and PATH_MAX bytes differ only in the last name (at most 255 bytes).
 */
export function deepPath(mount: MountRun, index: number, bytes: number): { shared: string[]; own: string; path: string } {
  const shared: string[] = [];
  let at = `${mount.root}/deep`;
  while (PATH_MAX - 1 - at.length > 258) {
    at += '/' + 'd'.repeat(DEEP_NAME);
    shared.push(at);
  }
  const own = `${at}/c${index}`;
  return { shared, own, path: `${own}/${'f'.repeat(bytes - own.length - 1)}` };
}

/**
 * Makes the directories of a mount's run of `cases` cases: its root and its directory on the other
 * mount with their shard directories, and the shared part of the deep paths.
 */
export async function prepareMount(root: Proc, mount: MountRun, cases: number): Promise<void> {
  for (const base of [mount.root, mount.otherRoot]) {
    await root.mkdir(base, 0o755);
    for (let i = 0; i < cases; i += SHARD) await root.mkdir(shardDir(base, i), 0o755);
  }
  await root.mkdir(`${mount.root}/deep`, 0o755);
  for (const dir of deepPath(mount, 0, PATH_MAX - 1).shared) await root.mkdir(dir, 0o755);
}

async function makeDeep(root: Proc, pr: Prepared, d: Deep): Promise<void> {
  const { own, path } = deepPath(pr.mount, pr.index, d.deep);
  await root.mkdir(own, 0o755);
  if (d.deepFile) await root.writeFile(path, '');
}

/** Where a path argument or entry lives: inside the case's directory on this mount or the other one. */
function place(pr: Prepared, path: string, other = false): string {
  const base = other ? pr.otherDir : pr.dir;
  return path === '' ? base : `${base}/${path}`;
}

/** 'OK', the errno of a SysError, or a sentence for anything else thrown (which fails the case). */
async function outcomeOf(run: () => Promise<unknown>): Promise<Outcome | string> {
  try {
    await run();
    return 'OK';
  } catch (err) {
    if (err instanceof SysError) return err.errno as Outcome;
    return `a thrown ${(err as Error)?.name ?? typeof err}: ${(err as Error)?.message ?? String(err)}`;
  }
}

/** Makes one setup entry as root (p has umask 0). */
async function make(root: Proc, pr: Prepared, s: Setup): Promise<void> {
  if ('deep' in s) return makeDeep(root, pr, s);
  const e: Entry = s;
  const at = place(pr, e.path, e.other);
  const call = (name: string, ...args: unknown[]) => (methodOf(root, name) as (...a: unknown[]) => Promise<unknown>).apply(root, args);
  switch (e.kind) {
    case 'dir': await root.mkdir(at, e.mode ?? 0o755); break;
    case 'file':
      if (e.data) await root.writeFile(at, e.data, e.mode ?? 0o644);
      else await root.close(await root.open(at, O_WRONLY | O_CREAT | O_EXCL, e.mode ?? 0o644));
      break;
    case 'symlink': await root.symlink(e.to!, at); break;
    case 'link': await root.link(place(pr, e.to!, e.other), at); break;
    case 'fifo': await call('mkfifo', at, e.mode ?? 0o644); break;
    case 'chr': await call('mknod', at, S_IFCHR | (e.mode ?? 0o644), 0x0103); break;
    case 'blk': await call('mknod', at, S_IFBLK | (e.mode ?? 0o644), 0x0701); break;
    case 'sock': await call('mknod', at, S_IFSOCK | (e.mode ?? 0o644), 0); break;
  }
  if (e.kind === 'link') return;
  if (e.uid !== undefined || e.gid !== undefined) {
    if (e.kind === 'symlink') await call('lchown', at, e.uid ?? 0, e.gid ?? 0);
    else await root.chown(at, e.uid ?? 0, e.gid ?? 0);
  }
  // Made with umask 0, a mode is as given, but for set-ID bits, which a chown clears and mkdir drops.
  const chowned = e.uid !== undefined || e.gid !== undefined;
  if (e.kind !== 'symlink' && e.mode !== undefined && (chowned || e.mode & 0o7000)) await root.chmod(at, e.mode);
}

/** Whether the case looks at what its entries were after setup: to find a failed call changed nothing, or a time changed. */
function comparesWithSetup(c: Case): boolean {
  return (c.expect !== 'OK' && !c.priorStepsChange) || (c.after ?? []).some((k) => [k.atime, k.mtime, k.ctime].some((t) => typeof t === 'string'));
}

/** The absolute paths a case's entries were made at (deep directories aside), with its directories. */
function entryPaths(pr: Prepared): string[] {
  const paths = [pr.dir];
  if (pr.c.setup?.some((s) => 'kind' in s && s.other)) paths.push(pr.otherDir);
  for (const s of pr.c.setup ?? []) if ('kind' in s) paths.push(place(pr, s.path, s.other));
  return paths;
}

/**
 * Makes the case's directory (and its directory on the other mount when an entry or argument is
 * there) and its entries, as root, then records what lstat shows of each. A setup that fails is
 * recorded, not thrown: the case fails with it.
 */
export async function prepare(root: Proc, c: Case, mount: MountRun, index: number): Promise<Prepared> {
  const pr: Prepared = { c, index, mount, dir: caseDir(mount.root, index), otherDir: caseDir(mount.otherRoot, index), before: new Map() };
  try {
    await root.mkdir(pr.dir, 0o755);
    const usesOther = c.setup?.some((s) => 'kind' in s && s.other) || c.steps.some((s) => s.slice(1).some((a) => typeof a === 'object' && 'other' in a));
    if (usesOther) await root.mkdir(pr.otherDir, 0o755);
    for (const s of c.setup ?? []) await make(root, pr, s);
    if (comparesWithSetup(c)) for (const path of entryPaths(pr)) pr.before.set(path, await root.lstat(path));
  } catch (err) {
    pr.setupError = `setup failed: ${err instanceof SysError ? `${err.errno} ${err.message}` : String(err)}`;
  }
  return pr;
}

function resolve(pr: Prepared, a: Arg, results: unknown[]): unknown {
  if (typeof a !== 'object') return a;
  if ('path' in a) return place(pr, a.path);
  if ('other' in a) return place(pr, a.other, true);
  if ('deep' in a) return deepPath(pr.mount, pr.index, a.deep).path;
  if ('badFd' in a) return UNOPENED_FD;
  if ('raw' in a) return rawPath(pr, a.raw);
  const r = results[a.result];
  return a.index === undefined ? r : (r as unknown[])[a.index];
}

/** Bytes as the text a case writes them in (one char per byte). */
const text = (b: Uint8Array) => String.fromCharCode(...b);

/** A path inside the case's directory given as bytes (one char per byte), as a Uint8Array. */
function rawPath(pr: Prepared, raw: string): Uint8Array {
  const dir = new TextEncoder().encode(`${pr.dir}/`);
  const out = new Uint8Array(dir.length + raw.length);
  out.set(dir);
  for (let i = 0; i < raw.length; i++) out[dir.length + i] = raw.charCodeAt(i);
  return out;
}

/** Whether `got` has every field of `want` (bytes compared as text), recursively. */
function matches(got: unknown, want: unknown): boolean {
  if (got instanceof Uint8Array) return typeof want === 'string' && text(got) === want;
  if (Array.isArray(want)) return Array.isArray(got) && got.length === want.length && want.every((w, i) => matches(got[i], w));
  if (want !== null && typeof want === 'object') {
    if (got === null || typeof got !== 'object') return false;
    return Object.entries(want).every(([k, w]) => matches((got as Record<string, unknown>)[k], w));
  }
  return Object.is(got, want);
}

const show = (v: unknown): string => JSON.stringify(v, (_k, x) => (x instanceof Uint8Array ? text(x) : x));

/** What one Check finds wrong, as sentences. */
async function check(root: Proc, pr: Prepared, k: Check): Promise<string[]> {
  const at = place(pr, k.path, k.other);
  let st: Stat;
  try {
    st = k.follow ? await root.stat(at) : await root.lstat(at);
  } catch (err) {
    if (err instanceof SysError && err.errno === 'ENOENT') return k.exists === false ? [] : [`${k.path || '.'}: missing afterwards`];
    throw err;
  }
  if (k.exists === false) return [`${k.path || '.'}: still there afterwards`];
  const out: string[] = [];
  const want = (field: string, got: unknown, expected: unknown, fmt = (v: unknown) => String(v)) => {
    if (expected !== undefined && got !== expected) out.push(`${k.path || '.'}: ${field} ${fmt(got)}, expected ${fmt(expected)}`);
  };
  const octal = (v: unknown) => `0${(v as number).toString(8)}`;
  want('type', fileTypeOf(st.mode), k.type);
  want('mode', st.mode & 0o7777, k.mode, octal);
  want('uid', st.uid, k.uid);
  want('gid', st.gid, k.gid);
  want('nlink', st.nlink, k.nlink);
  want('size', st.size, k.size);
  want('rdev', st.rdev, k.rdev);
  if (k.target !== undefined) want('target', show(await root.readlink(at)), show(k.target));
  if (k.rawEntries !== undefined) {
    const raws = (await root.readdir(at)).map((e) => text((e as { raw?: Uint8Array }).raw ?? new Uint8Array())).sort();
    want('entries (bytes)', show(raws), show([...k.rawEntries].sort()));
  }
  if (k.entries !== undefined) {
    want('entries', show((await root.readdir(at)).map((e) => e.name).sort()), show([...k.entries].sort()));
  }
  if (k.data !== undefined) want('content', show(text(await root.readFile(at))), show(k.data));
  const before = pr.before.get(k.was === undefined ? at : place(pr, k.was, k.other));
  for (const field of ['atime', 'mtime', 'ctime'] as const) {
    const t = k[field];
    if (t === undefined) continue;
    if (typeof t === 'number') want(field, st[field], t);
    else if (!before) out.push(`${k.path || '.'}: the case checks whether its ${field} changed, but it was not made by the setup`);
    else if ((st[field] !== before[field]) !== (t === 'changed')) {
      out.push(`${k.path || '.'}: ${field} ${t === 'changed' ? 'unchanged' : `changed from ${before[field]} to ${st[field]}`}, expected ${t}`);
    }
  }
  return out;
}

/** What differs from setup in the case's entries after a failed call (which should change nothing). */
async function changedEntries(root: Proc, pr: Prepared): Promise<string[]> {
  const out: string[] = [];
  for (const [path, before] of pr.before) {
    const rel = path === pr.dir ? '.' : path.slice(pr.dir.length + 1);
    const now = await root.lstat(path).catch((err: unknown) => err);
    if (now instanceof SysError) {
      out.push(`after the failed call, ${rel}: ${now.errno}`);
      continue;
    }
    if (!(now && typeof now === 'object' && 'mode' in now)) throw now;
    const st = now as Stat;
    for (const f of KEPT_FIELDS) if (st[f] !== before[f]) out.push(`after the failed call, ${rel}: ${f} changed from ${before[f]} to ${st[f]}`);
  }
  return out;
}

/** Spawns the case's process (with supplementary groups when it has them). */
async function spawnAs(k: Kernel, cred: Cred): Promise<Proc> {
  // `groups` is common.md's credential field; kernels before it ignore it (missingFeatures skips).
  return k.spawn(cred as Parameters<Kernel['spawn']>[0]);
}

/** Makes the case's steps in a process of its own, then compares what came of them with the case. */
export async function run(k: Kernel, root: Proc, pr: Prepared): Promise<Result> {
  if (pr.setupError) return { got: pr.setupError, problems: [] };
  const { c } = pr;
  const p = await spawnAs(k, c.as ?? { uid: 0, gid: 0 });
  const results: unknown[] = [];
  let got: Outcome | string = 'OK';
  try {
    if (c.umask !== undefined) await p.umask(c.umask);
    for (const step of c.steps) {
      const [name, ...args] = step as Step;
      const fn = methodOf(p, name) as (...a: unknown[]) => Promise<unknown>;
      got = await outcomeOf(async () => results.push(await fn.apply(p, args.map((a) => resolve(pr, a, results)))));
      if (got !== 'OK') break;
    }
  } finally {
    await p.exit();
  }
  const problems: string[] = [];
  if (got === 'OK' && c.expect === 'OK' && c.returns !== undefined && !matches(results.at(-1), c.returns)) {
    problems.push(`returned ${show(results.at(-1))}, expected ${show(c.returns)}`);
  }
  if (got === c.expect) {
    try {
      for (const k2 of c.after ?? []) problems.push(...await check(root, pr, k2));
      if (c.expect !== 'OK' && !c.priorStepsChange) problems.push(...await changedEntries(root, pr));
    } catch (err) {
      problems.push(`looking at the result failed: ${err instanceof SysError ? `${err.errno} ${err.message}` : String(err)}`);
    }
  }
  return { got, problems };
}

/** A SysError-free description of a case's steps, for failure messages. */
export function describeSteps(c: Case): string {
  const arg = (a: Arg) => (typeof a === 'object' ? ('path' in a ? `'${a.path.length > 40 ? `${a.path.slice(0, 12)}…(${a.path.length} bytes)` : a.path}'`
    : 'other' in a ? `other:'${a.other}'` : 'deep' in a ? `<path of ${a.deep} bytes>` : 'badFd' in a ? '<unopened fd>' : 'raw' in a ? `bytes:${JSON.stringify(a.raw)}` : `<result ${a.result}${a.index === undefined ? '' : `[${a.index}]`}>`)
    : JSON.stringify(a));
  const who = c.as ? `uid ${c.as.uid} gid ${c.as.gid}${c.as.groups ? ` groups [${c.as.groups.join(',')}]` : ''}` : 'root';
  return `${who}${c.umask !== undefined ? `, umask 0${c.umask.toString(8)}` : ''}: ${c.steps.map(([n, ...a]) => `${n}(${a.map(arg).join(', ')})`).join('; ')}`;
}
