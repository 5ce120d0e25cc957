// The tree copy-out workload (issue 13's Targets): an ext2 image of a generated tree — at full
// scale 40,000 files in leaf directories of 1,000 entries each, indexed (dir_index) — copied out
// to a host directory by the code `rumpus cp -r IMAGE:/ DIR` runs, and by `debugfs -R 'rdump /
// DIR'` (e2fsprogs) on the same image in the same run.
//
// rumpus's copy calls copyTree (bin/copy.ts, what `rumpus cp` runs) from a kernel tree to the
// host tree in this process, rather than spawning the CLI: so it runs under the kernel and
// placement the bench booted for the config, and its time is the copy's, without a node start
// and a boot that the CLI would add and rdump does not pay.

import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SysError, type Proc } from '../kernel/index.js';
import { copyTree } from '../bin/copy.js';
import { hostTree, kernelTree, type FileTree } from '../bin/files.js';
import { e2fsprogsTool } from './e2fsprogs.js';
import { now, type CpuClock, type Samples } from './stats.js';

export const TREE_WORKLOAD = 'tree-copy-out';
/** Where each config's kernel mounts its copy of the tree image (read-only, as `cp` mounts a source). */
export const TREE_MOUNT = '/tree';
/** The rdump row's policy and transport. */
export const RDUMP_POLICY = 'debugfs';
export const RDUMP_LABEL = 'rdump';
/** The most one copy may take before it is abandoned (reported in a note, no result). */
export const TREE_DEADLINE_MS = 600_000;

/** Entries in one leaf directory at full scale. */
const LEAF_ENTRIES = 1000;
/** The fewest in one (--quick): still several 1 KiB blocks of entries, so that e2fsck -D indexes it. */
const LEAF_ENTRIES_MIN = 200;
/** Leaf directories per top directory. */
const LEAVES_PER_TOP = 5;
/** The ext2 directory flag for a hashed-indexed directory (EXT2_INDEX_FL, Documentation/filesystems/ext4/inodes.rst). */
const INDEX_FL = 0x1000;

export interface TreeImage {
  /** The template image; each user copies it (copy()). */
  copy(name: string): string;
  /** Entries a whole copy holds: the generated ones and mke2fs's lost+found, the root not counted. */
  entries: number;
  /** A fresh, empty host directory to copy into. */
  destination(name: string): string;
  /** What the legend says one operation is. */
  op: string;
}

/**
 * Generates the host tree under `dir`, makes the image from it with `mke2fs -d`, and indexes its
 * directories with `e2fsck -fyD`; `scale` shrinks the number of leaf directories (at least one)
 * and their entries (at least LEAF_ENTRIES_MIN). The image, or why it cannot be made.
 */
export function makeTreeImage(dir: string, scale: number): TreeImage | string {
  const mke2fs = e2fsprogsTool('mke2fs');
  const e2fsck = e2fsprogsTool('e2fsck');
  const debugfs = e2fsprogsTool('debugfs');
  if (!mke2fs || !e2fsck || !debugfs) return 'mke2fs, e2fsck or debugfs (e2fsprogs) is not installed';
  const leaves = Math.max(1, Math.round(40 * scale));
  const leafEntries = Math.max(LEAF_ENTRIES_MIN, Math.round(LEAF_ENTRIES * scale));
  const tops = Math.ceil(leaves / LEAVES_PER_TOP);
  const src = join(dir, 'tree-src');
  let files = 0;
  for (let l = 0; l < leaves; l++) {
    const leaf = join(src, `d${l % tops}`, `s${Math.floor(l / tops)}`);
    mkdirSync(leaf, { recursive: true });
    // Sizes from 0 to 3 KiB: most files are one to three 1 KiB blocks, some empty.
    for (let i = 0; i < leafEntries; i++, files++) writeFileSync(join(leaf, `file-${i}.dat`), Buffer.alloc((files * 97) % 3072, 0x61 + (i % 26)));
  }
  const entries = files + tops + leaves + 1; // + lost+found
  const template = join(dir, 'tree.img');
  const mib = Math.ceil((files * 3 * 1024 + entries * 256) / (1 << 20)) + 16;
  const run = (cmd: string, args: string[], ok: number[]) => {
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    return ok.includes(r.status ?? -1) ? null : `${cmd} ${args.join(' ')} failed (exit ${r.status}): ${r.stderr || r.stdout}`;
  };
  const failed = run(mke2fs, ['-q', '-F', '-t', 'ext2', '-b', '1024', '-N', String(entries + 1000), '-d', src, template, `${mib}M`], [0]) ??
    // Exit 1: directories optimized, which is what -D is asked for.
    run(e2fsck, ['-fyD', template], [0, 1]);
  rmSync(src, { recursive: true, force: true });
  if (failed) return failed;
  const flags = /Flags: (0x[0-9a-f]+)/.exec(spawnSync(debugfs, ['-R', 'stat /d0/s0', template], { encoding: 'utf8' }).stdout);
  if (!flags || (Number(flags[1]) & INDEX_FL) === 0) return `e2fsck -fyD left /d0/s0 of ${template} unindexed (flags ${flags?.[1]})`;
  return {
    copy(name) {
      const path = join(dir, `tree-${name.replace(/[^\w.-]+/g, '_')}.img`);
      spawnSync('cp', ['--sparse=always', template, path]);
      return path;
    },
    entries,
    destination(name) {
      const path = join(dir, `out-${name.replace(/[^\w.-]+/g, '_')}`);
      rmSync(path, { recursive: true, force: true });
      mkdirSync(path);
      return path;
    },
    op: `copy of a tree of ${entries.toLocaleString('en-US')} entries (directories of ${leafEntries} indexed) out of an ext2 image to the host; p50 is the whole copy, ops/s counts entries`,
  };
}

/** Entries under a host directory, itself not counted. */
function countEntries(dir: string): number {
  return readdirSync(dir, { recursive: true }).length;
}

/** One copy as Samples: its time is the single sample, its entries the operations. */
function asSamples(entries: number, wallNs: number, cpuNs: number): Samples {
  return { times: [wallNs], ops: entries, wallNs, cpuNs };
}

/** Why a copy is not a result: it copied another number of entries than the image holds. */
function checkCount(what: string, out: string, expected: number): void {
  const got = countEntries(out);
  if (got !== expected) throw new SysError('EIO', `${what} copied ${got} entries of ${expected}`);
}

/** A copy abandoned at TREE_DEADLINE_MS: reported in a note, not a result. */
export class TreeDeadline extends Error {}

/** A FileTree that fails every walk once `deadline` (hrtime ns) has passed: a copy's time bound. */
function bounded(tree: FileTree, deadline: number): FileTree {
  const late = () => {
    if (now() > deadline) throw new TreeDeadline(`the copy took more than ${TREE_DEADLINE_MS / 1000} s and was abandoned`);
  };
  return { ...tree, lstat: (p) => (late(), tree.lstat(p)), readdir: (p) => (late(), tree.readdir(p)) };
}

/**
 * `cp -r` of the tree mounted at TREE_MOUNT through `proc` to a fresh host directory, timed and
 * its entry count checked; the destination is removed afterwards.
 */
export async function copyOutTree(proc: Proc, cpu: CpuClock, image: TreeImage, name: string): Promise<Samples> {
  const out = image.destination(name);
  try {
    const problems: string[] = [];
    const from = bounded(kernelTree(proc, { root: TREE_MOUNT, image: 'tree.img' }), now() + TREE_DEADLINE_MS * 1e6);
    const cpu0 = cpu();
    const t0 = now();
    const ok = await copyTree(from, '/', hostTree(), join(out, 'root'), {
      recursive: true, preserveTimes: true, report: (path, err) => problems.push(`${path}: ${err.message}`),
    });
    const wallNs = now() - t0;
    const cpuNs = cpu() - cpu0;
    if (!ok) throw new SysError('EIO', `cp -r reported ${problems.length} problems, the first ${problems[0]}`);
    // The root is copied as out/root itself: count what is under it.
    checkCount(`cp -r under ${name}`, join(out, 'root'), image.entries);
    return asSamples(image.entries, wallNs, cpuNs);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

/** Seconds in the shell's `times` form ('1m2.345s') → nanoseconds. */
const shellTime = (t: string) => {
  const m = /^(\d+)m([\d.]+)s$/.exec(t);
  return m ? (Number(m[1]) * 60 + Number(m[2])) * 1e9 : NaN;
};

/**
 * `debugfs -R 'rdump / DIR'` of a copy of the image, timed, its entry count checked. It runs
 * under sh, whose `times` gives debugfs's CPU (Node reports no child's rusage).
 */
export function rdumpTree(image: TreeImage): Samples {
  const debugfs = e2fsprogsTool('debugfs')!;
  const img = image.copy(RDUMP_POLICY);
  const out = image.destination(RDUMP_POLICY);
  try {
    const script = '"$0" -R "rdump / $2" "$1" 1>&2; s=$?; times; exit $s';
    const t0 = now();
    const r = spawnSync('sh', ['-c', script, debugfs, img, out], { encoding: 'utf8', timeout: TREE_DEADLINE_MS });
    const wallNs = now() - t0;
    if (r.status !== 0) throw new SysError('EIO', `debugfs rdump failed (exit ${r.status}${r.signal ? `, ${r.signal}` : ''}): ${r.stderr}`);
    checkCount('debugfs rdump', out, image.entries);
    // `times` prints the shell's user and system time, then its children's.
    const children = r.stdout.trim().split('\n').at(-1)!.split(/\s+/).map(shellTime);
    return asSamples(image.entries, wallNs, children[0] + children[1]);
  } finally {
    rmSync(out, { recursive: true, force: true });
    rmSync(img, { force: true });
  }
}
