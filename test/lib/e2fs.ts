// e2fsprogs as the oracle of the ext2 tests: images made by mke2fs (reproducibly), the two
// e2fsck checks (exit 0 alone misses wrong free counts and more), debugfs, and trees of files
// described the same way on the host and inside rumpus, so they can be compared.

import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync, chownSync, closeSync, linkSync, lstatSync, lutimesSync, mkdirSync, mkdtempSync, openSync,
  readSync, readdirSync, readlinkSync, rmSync, symlinkSync, truncateSync, utimesSync, writeFileSync, writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Proc } from '../../kernel/index.js';
import { e2fsprogsTool } from '../../bench/e2fsprogs.js';

export const UUID = '01234567-89ab-cdef-0123-456789abcdef';
/** Seconds: what E2FSPROGS_FAKE_TIME and our mkfs are given. */
export const FAKE_TIME = 1700000000;

export interface ImageOptions {
  /** Bytes. */
  size: number;
  blockSize?: number;
  /** mke2fs -O, e.g. 'none,filetype,sparse_super'; default: mke2fs's ext2 defaults. */
  features?: string;
  inodeSize?: number;
  /** mke2fs -d: a host directory copied in. */
  from?: string;
  revision?: number;
  /** Index every directory large enough (indexDirectories). */
  index?: boolean;
}

/** A fresh temporary directory, removed at exit. */
export function tempDir(prefix = 'rumpus-ext2-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Makes an ext2 image with mke2fs (reproducible: fixed UUID, hash seed and time). */
export function mkImage(path: string, o: ImageOptions): void {
  rmSync(path, { force: true });
  writeFileSync(path, '');
  truncateSync(path, o.size);
  const args = ['-q', '-F', '-t', 'ext2', '-U', UUID, '-E', `hash_seed=${UUID}`];
  if (o.blockSize) args.push('-b', String(o.blockSize));
  if (o.features) args.push('-O', o.features);
  if (o.inodeSize) args.push('-I', String(o.inodeSize));
  if (o.revision !== undefined) args.push('-r', String(o.revision));
  if (o.from) args.push('-d', o.from);
  execFileSync('mke2fs', [...args, path], { env: { ...process.env, E2FSPROGS_FAKE_TIME: String(FAKE_TIME) }, stdio: 'pipe' });
  if (o.index) indexDirectories(path);
}

/**
 * Indexes every directory of the image large enough for an htree (e2fsck -fyD), as e2fsck -fy
 * would otherwise do to a dir_index image that mke2fs -d left linear (../shared/notes/ext2.md).
 * Throws when e2fsck exits with anything but 0 or 1 (1: it changed the file system, as -D does).
 */
export function indexDirectories(path: string): void {
  const env = { ...process.env, E2FSPROGS_FAKE_TIME: String(FAKE_TIME) };
  const r = spawnSync(e2fsprogsTool('e2fsck') ?? 'e2fsck', ['-fyD', path], { env, encoding: 'utf8' });
  if (r.status !== 0 && r.status !== 1) throw new Error(`e2fsck -fyD ${path}: exit ${r.status}\n${r.stdout}${r.stderr}`);
}

export { fsckClean, type FsckResult } from '../../bench/e2fsprogs.js';

export function debugfs(img: string, request: string): string {
  return execFileSync('debugfs', ['-R', request, img], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** debugfs -w with a script of commands. */
export function debugfsWrite(img: string, commands: string[]): void {
  const dir = tempDir('rumpus-debugfs-');
  const script = join(dir, 'cmds');
  writeFileSync(script, commands.join('\n') + '\n');
  execFileSync('debugfs', ['-w', '-f', script, img], { stdio: 'pipe' });
}

/** `debugfs -R 'rdump …'` of the given paths (relative to the image's root) into a new host directory. */
export function rdumpPaths(img: string, paths: string[]): string {
  const out = tempDir('rumpus-rdump-');
  debugfs(img, `rdump ${paths.map((p) => `"/${p}"`).join(' ')} ${out}`);
  return out;
}

/** Bytes of a file read straight from the image, block by block as debugfs bmap maps them (holes as zeros). */
export function readThroughBmap(img: string, path: string, offset: number, length: number): Uint8Array {
  const bs = Number(superblock(img)['Block size']);
  const out = new Uint8Array(length);
  const fd = openSync(img, 'r');
  try {
    for (let lblk = Math.floor(offset / bs); lblk * bs < offset + length; lblk++) {
      const phys = Number(debugfs(img, `bmap /${path} ${lblk}`).trim());
      if (phys === 0) continue;
      const block = new Uint8Array(bs);
      readSync(fd, block, 0, bs, phys * bs);
      const from = Math.max(offset, lblk * bs);
      const to = Math.min(offset + length, (lblk + 1) * bs);
      out.set(block.subarray(from - lblk * bs, to - lblk * bs), from - offset);
    }
  } finally {
    closeSync(fd);
  }
  return out;
}

/** The superblock fields dumpe2fs -h prints, by name. */
export function superblock(img: string): Record<string, string> {
  const text = execFileSync('dumpe2fs', ['-h', img], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const fields: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([^:]+):\s*(.*)$/.exec(line);
    if (m) fields[m[1].trim()] = m[2].trim();
  }
  return fields;
}

/** What the comparisons look at for one file: type and metadata, and the content or target. */
export interface Node {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  nlink: number;
  /** Modification time in whole microseconds, or whole seconds with the `seconds` option. */
  mtime: number;
  content?: string;
  target?: string;
}

export type Tree = Record<string, Node>;

const typeOfMode = (mode: number) => ({ 0o040000: 'dir', 0o120000: 'lnk', 0o100000: 'reg', 0o010000: 'fifo' } as Record<number, string>)[mode & 0o170000] ?? 'other';

/** A short fingerprint of file content: its length and a simple 32-bit hash. */
export function fingerprint(data: Uint8Array): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < data.length; i++) h = Math.imul(h ^ data[i], 0x01000193);
  return `${data.length}:${(h >>> 0).toString(16)}`;
}

/** Files larger than this are compared by samples, not read whole. */
const WHOLE_LIMIT = 16 * 1024 * 1024;
const SAMPLE = 65536;
const SAMPLE_EVERY = 64 * 1024 * 1024;

/** The byte ranges compared of a file of this size: all, or 64 KiB every 64 MiB and at the end. */
function samples(size: number): [number, number][] {
  if (size <= WHOLE_LIMIT) return [[0, size]];
  const out: [number, number][] = [];
  for (let at = 0; at < size; at += SAMPLE_EVERY) out.push([at, Math.min(size, at + SAMPLE)]);
  out.push([size - SAMPLE, size]);
  return out;
}

/** Time in the unit a tree compares: microseconds, or whole seconds. */
function timeKey(ms: number, seconds: boolean): number {
  return seconds ? Math.floor(ms / 1000) : Math.round(ms * 1000);
}

function hostContent(path: string, size: number): string {
  const fd = openSync(path, 'r');
  const parts = samples(size).map(([start, end]) => {
    const buf = new Uint8Array(end - start);
    readSync(fd, buf, 0, buf.length, start);
    return fingerprint(buf);
  });
  closeSync(fd);
  return parts.join(' ');
}

async function rumpusContent(p: Proc, path: string, size: number): Promise<string> {
  const fd = await p.open(path, 'r');
  const parts: string[] = [];
  for (const [start, end] of samples(size)) parts.push(fingerprint(await p.pread(fd, end - start, start)));
  await p.close(fd);
  return parts.join(' ');
}

/** A host directory as a Tree (paths relative to it, '' excluded). */
export function hostTree(dir: string, opts: { seconds?: boolean } = {}): Tree {
  const tree: Tree = {};
  const visit = (rel: string) => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const path = rel ? `${rel}/${name}` : name;
      const full = join(dir, path);
      const st = lstatSync(full);
      const type = typeOfMode(st.mode);
      tree[path] = {
        type, mode: st.mode, uid: st.uid, gid: st.gid, size: type === 'dir' ? 0 : st.size, nlink: st.nlink,
        mtime: timeKey(st.mtimeMs, opts.seconds ?? false),
      };
      if (type === 'reg') tree[path].content = hostContent(full, st.size);
      if (type === 'lnk') tree[path].target = readlinkSync(full);
      if (type === 'dir') visit(path);
    }
  };
  visit('');
  return tree;
}

/** A directory inside rumpus as a Tree, read through a client process. */
export async function rumpusTree(p: Proc, dir: string, opts: { seconds?: boolean; skip?: string[] } = {}): Promise<Tree> {
  const tree: Tree = {};
  const visit = async (rel: string) => {
    const entries = (await p.readdir(rel ? `${dir}/${rel}` : dir)).map((e) => e.name).sort();
    for (const name of entries) {
      const path = rel ? `${rel}/${name}` : name;
      if (opts.skip?.includes(path)) continue;
      const full = `${dir}/${path}`;
      const st = await p.lstat(full);
      const type = typeOfMode(st.mode);
      tree[path] = {
        type, mode: st.mode, uid: st.uid, gid: st.gid, size: type === 'dir' ? 0 : st.size, nlink: st.nlink,
        mtime: timeKey(st.mtime, opts.seconds ?? false),
      };
      if (type === 'reg') tree[path].content = await rumpusContent(p, full, st.size);
      if (type === 'lnk') tree[path].target = await p.readlink(full);
      if (type === 'dir') await visit(path);
    }
  };
  await visit('');
  return tree;
}

/** A seeded generator (the fault injector's), so fixtures are the same every run. */
export { seededRandom as random } from '../../kernel/faults.js';

/** Deterministic pseudo-random bytes (xorshift), so fixtures are the same every run. */
export function seededBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed | 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

export interface FixtureOptions {
  /** Files in the big directory 'many' (default 300: several directory blocks). */
  manyFiles?: number;
  /** Include a FIFO (mke2fs -d copies it; rdump skips it). */
  fifo?: boolean;
}

/** The fixture's sparse file: alone in its directory, as debugfs rdump would write all of its 5 GiB. */
export const SPARSE = 'holes/sparse';
/** Where its data lies: past 4 GiB, so it needs triple indirect blocks (1 and 4 KiB blocks) and size_high. */
export const SPARSE_TAIL_AT = 5 * 1024 ** 3;
export const SPARSE_TAIL = seededBytes(5000, 99);
/** A second piece, in the triple indirect range of 1 KiB blocks, at a content sample's offset. */
export const SPARSE_MIDDLE_AT = 128 * 1024 * 1024 + 1000;
export const SPARSE_MIDDLE = seededBytes(100, 98);

/** Where each sparse file of a fixture has data: path → [start, end) ranges. */
export type DataRanges = Record<string, [number, number][]>;

/**
 * Fills a host directory with what the ext2 tests copy in and read back: nested directories,
 * files of sizes around the block-map boundaries, a sparse file past 4 GiB, fast and slow
 * symlinks, hard links, odd modes, high uid/gid, long and non-ASCII names, fixed mtimes.
 * Returns where the sparse file has data (Node cannot ask the host for holes).
 */
export function buildHostTree(dir: string, o: FixtureOptions = {}): DataRanges {
  const at = (p: string) => join(dir, p);
  mkdirSync(at('a/b/c/d'), { recursive: true });
  mkdirSync(at('holes'));
  mkdirSync(at('many'));
  mkdirSync(at('sticky'), { mode: 0o1777 });
  chmodSync(at('sticky'), 0o1777);
  const sizes = [0, 1, 1023, 1024, 1025, 4096, 12 * 1024 + 1, 280 * 1024 + 3, 1024 * 1024 + 17];
  sizes.forEach((n, i) => writeFileSync(at(`a/size-${n}`), seededBytes(n, i + 1)));
  writeFileSync(at('a/b/c/d/deep.txt'), 'deep\n');
  const fd = openSync(at(SPARSE), 'w');
  writeSync(fd, SPARSE_TAIL, 0, SPARSE_TAIL.length, SPARSE_TAIL_AT);
  writeSync(fd, SPARSE_MIDDLE, 0, SPARSE_MIDDLE.length, SPARSE_MIDDLE_AT);
  closeSync(fd);
  symlinkSync('a/size-1', at('fast-link'));
  symlinkSync('a/b/c/d/' + 'x'.repeat(120), at('slow-link'));
  symlinkSync('/absolute/dangling', at('a/dangling'));
  writeFileSync(at('a/shared'), 'three names\n');
  linkSync(at('a/shared'), at('a/b/shared-2'));
  linkSync(at('a/shared'), at('shared-3'));
  writeFileSync(at('setuid'), '#!/bin/sh\n', { mode: 0o4755 });
  chmodSync(at('setuid'), 0o4755);
  writeFileSync(at('private'), 'secret', { mode: 0o600 });
  chmodSync(at('private'), 0o600);
  writeFileSync(at('owned'), 'high ids');
  chownSync(at('owned'), 70000, 70001);
  writeFileSync(at('héllo-wörld-✓'), 'unicode\n');
  writeFileSync(at('n'.repeat(255)), 'long name\n');
  for (let i = 0; i < (o.manyFiles ?? 300); i++) writeFileSync(at(`many/entry-${String(i).padStart(5, '0')}`), `${i}\n`);
  if (o.fifo) execFileSync('mkfifo', [at('a/fifo')]);
  // Fixed times, with sub-second parts, last (writing a directory's entries changes its mtime).
  const all: string[] = [];
  const collect = (rel: string) => {
    for (const name of readdirSync(join(dir, rel))) {
      const p = rel ? `${rel}/${name}` : name;
      all.push(p);
      if (lstatSync(join(dir, p)).isDirectory()) collect(p);
    }
  };
  collect('');
  all.forEach((p, i) => {
    const t = 1600000000 + i * 3607 + 0.123456;
    if (lstatSync(join(dir, p)).isSymbolicLink()) lutimesSync(join(dir, p), t, t);
    else utimesSync(join(dir, p), t, t);
  });
  return { [SPARSE]: [[SPARSE_MIDDLE_AT, SPARSE_MIDDLE_AT + SPARSE_MIDDLE.length], [SPARSE_TAIL_AT, SPARSE_TAIL_AT + SPARSE_TAIL.length]] };
}

/**
 * Copies a host tree into rumpus as a cp -a would: modes, owners, mtimes (not of symlinks:
 * there is no lutimes), symlinks, hard links; sparse files get only their data ranges written.
 */
export async function copyIn(p: Proc, hostDir: string, target: string, sparse: DataRanges = {}): Promise<void> {
  const linked = new Map<string, string>();
  const dirTimes: [string, number][] = [];
  const visit = async (rel: string) => {
    for (const name of readdirSync(join(hostDir, rel)).sort()) {
      const path = rel ? `${rel}/${name}` : name;
      const from = join(hostDir, path);
      const to = `${target}/${path}`;
      const st = lstatSync(from);
      if (st.isDirectory()) {
        await p.mkdir(to, st.mode & 0o7777);
        await visit(path);
        dirTimes.push([to, st.mtimeMs]);
      } else if (st.isSymbolicLink()) {
        await p.symlink(readlinkSync(from), to);
      } else if (st.isFile()) {
        const key = `${st.dev}:${st.ino}`;
        if (st.nlink > 1 && linked.has(key)) {
          await p.link(linked.get(key)!, to);
          continue;
        }
        linked.set(key, to);
        await copyFile(p, from, to, st.size, sparse[path] ?? [[0, st.size]]);
      } else {
        continue;
      }
      if (!st.isSymbolicLink()) {
        await p.chown(to, st.uid, st.gid);
        await p.chmod(to, st.mode & 0o7777);
        await p.utimes(to, st.atimeMs, st.mtimeMs);
      }
    }
  };
  await visit('');
  for (const [to, mtime] of dirTimes) {
    const st = lstatSync(join(hostDir, to.slice(target.length + 1)));
    await p.chown(to, st.uid, st.gid);
    await p.chmod(to, st.mode & 0o7777);
    await p.utimes(to, mtime, mtime);
  }
}

/** Copies the given ranges of one host file in 1 MiB pieces; the rest is a hole. */
async function copyFile(p: Proc, from: string, to: string, size: number, ranges: [number, number][]): Promise<void> {
  const fd = await p.open(to, 'w');
  const host = openSync(from, 'r');
  try {
    const chunk = new Uint8Array(1 << 20);
    for (const [start, end] of ranges) {
      for (let at = start; at < end; at += chunk.length) {
        const n = readSync(host, chunk, 0, Math.min(chunk.length, end - at), at);
        await p.pwrite(fd, chunk.subarray(0, n), at);
      }
    }
    await p.ftruncate(fd, size);
  } finally {
    closeSync(host);
    await p.close(fd);
  }
}
