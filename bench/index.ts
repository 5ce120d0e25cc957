// rumpus bench: the same workloads under each policy and transport, with the cost of a bare
// boundary, boot and idle CPU measured in the same run, and the ext2 and ext4 workloads through
// a peer library too. The result is one BenchReport, printed as a table (table.ts), JSON, or SVG
// (svg.ts).

import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_MOUNTS, SysError, boot } from '../kernel/index.js';
import { BUILTIN } from '../kernel/registry.js';
import { measureBaselines, type Baseline } from './baselines.js';
import { expandConfigs, type Config } from './configs.js';
import { procFiles } from './files.js';
import { makeImage, type ImageFactory } from './image.js';
import { PEER_POLICY, mountPeer, peerName } from './peer.js';
import { cpuClock, setWarmupMs, summarize, type Summary } from './stats.js';
import { kernelCpuClock, measureBoot, measureIdle, measureRecovery, type BootTime, type IdleCpu, type RecoveryTime } from './system.js';
import { checkTargets, type TargetCheck } from './targets.js';
import { BUSY_POLICIES, busyRatios, withHogs, type BusyReport } from './busy.js';
import { CGD_WORKLOADS, PLAIN_BLK, cgdCounts, runCgdWorkloads } from './workloads-cgd.js';
import { IMAGE_FILE_SYSTEMS, IMAGE_MOUNT, imageWorkloads, type ImageFs } from './workloads-ext2.js';
import { LOCAL_OF, remoteWorkloads, startBenchServer, type RemoteTarget } from './workloads-remote.js';
import { RDUMP_LABEL, RDUMP_POLICY, TREE_MOUNT, TREE_WORKLOAD, TreeDeadline, copyOutTree, makeTreeImage, rdumpTree, type TreeImage } from './workloads-tree.js';
import { TMPFS_DIR, concurrencyWorkloads, kernelWorkloads, type KernelTarget, type Target, type Workload } from './workloads.js';

export interface BenchOptions {
  /** Policy names or placement files; 'microkernel:ring' picks one thread transport. */
  policies: string[];
  /** Workload names, or the groups 'kernel', 'concurrency', 'ext2', 'ext4', 'remote', 'cgd', 'tree' and 'all'; default DEFAULT_WORKLOADS. */
  workloads?: string[];
  /** Fewer iterations, smaller files, shorter idle: a smoke run of seconds. */
  quick?: boolean;
  /**
   * Also run the kernel workloads under monolithic and microkernel with one CPU-bound process per
   * core beside the bench (bench/busy.ts), and set their ratios against the quiet run's.
   */
  busy?: boolean;
  /** Progress lines go here (stderr on a terminal); null for none. */
  progress?: ((line: string) => void) | null;
}

export interface Result extends Summary {
  workload: string;
  /** A policy, a placement file, 'vfs-in-client', 'peer' (the ext2fs package, for the ext2 and ext4 workloads) or 'debugfs' (rdump, for tree-copy-out). */
  policy: string;
  transport: string;
  /** p50 / the monolithic p50 of the same workload; null when monolithic was not run, and for the cgd workloads (all in main but the cipher). */
  ratio_to_monolithic: number | null;
  /** cgd block workloads: ops/s / plain blk's ops/s of the same workload in this run; null for every other row. */
  ratio_to_blk: number | null;
  /**
   * Remote workloads: p50 / the p50 of the same call made locally (null-syscall, pread-64k)
   * under the same policy and transport in this run; null for every other workload.
   */
  ratio_to_local: number | null;
}

export interface PeerSpeedup {
  workload: string;
  policy: string;
  transport: string;
  /** ops/s / the peer's ops/s: how many times faster than the peer the whole workload runs. */
  speedup: number;
}

export interface BenchReport {
  machine: { cpu: string; cores: number; node: string; platform: string; load_average: number[] };
  /** What one operation of each workload run is. */
  workloads: { name: string; op: string }[];
  results: Result[];
  baselines: Baseline[];
  boot: BootTime[];
  idle: IdleCpu[];
  /** Crash → first served call after the restart, per domain kind (policies with threads or processes). */
  recovery: RecoveryTime[];
  /** The peer, when the ext2 or ext4 workloads ran. */
  peer: { name: string; speedups: PeerSpeedup[] } | null;
  targets: TargetCheck[];
  /** The busy machine's run (--busy), or null. */
  busy: BusyReport | null;
  /** What was skipped and why. */
  notes: string[];
}

/** How much of every count a --quick run keeps. */
const QUICK_SCALE = 0.05;
const BOOT_ITERATIONS = { full: 3, quick: 1 };
const IDLE_SECONDS = { full: 5, quick: 0.5 };
/** The least time of every warm-up (bench/stats.ts warmUp), in ms. */
const WARMUP_MS = { full: 1000, quick: 0 };

export const WORKLOAD_GROUPS = {
  kernel: kernelWorkloads(1).map((w) => w.name),
  concurrency: concurrencyWorkloads(1).map((w) => w.name),
  ...Object.fromEntries(IMAGE_FILE_SYSTEMS.map((fs) => [fs, imageWorkloads(fs, 1).map((w) => w.name)])) as Record<ImageFs, string[]>,
  remote: remoteWorkloads(1).map((w) => w.name),
  cgd: Object.keys(CGD_WORKLOADS),
  tree: [TREE_WORKLOAD],
};
/**
 * What runs without --workloads: the kernel workloads, so that `npm start` stays under a minute
 * on 2 cores; the ext2 and ext4 workloads and their peer take as long again each ('--workloads all').
 */
export const DEFAULT_WORKLOADS = ['kernel'];

/** Names and groups → the workloads to run, in their defined order. */
function selectWorkloads(names: string[] | undefined, scale: number): Selected {
  const groups: Record<string, string[]> = {
    ...WORKLOAD_GROUPS, all: Object.values(WORKLOAD_GROUPS).flat(),
  };
  const wanted = new Set((names ?? DEFAULT_WORKLOADS).flatMap((n) => groups[n] ?? [n]));
  // A remote workload's ratio needs its local call measured in the same run.
  for (const n of [...wanted]) if (LOCAL_OF[n]) wanted.add(LOCAL_OF[n]);
  const unknown = [...wanted].filter((n) => !groups.all.includes(n));
  if (unknown.length) {
    throw new SysError('EINVAL', `unknown workload ${unknown.join(', ')} (known: ${Object.keys(groups).join(', ')}, ${groups.all.join(', ')})`);
  }
  return {
    kernel: [...kernelWorkloads(scale), ...concurrencyWorkloads(scale)].filter((w) => wanted.has(w.name)),
    images: IMAGE_FILE_SYSTEMS.map((fs) => ({ fs, workloads: imageWorkloads(fs, scale).filter((w) => wanted.has(w.name)) })).filter((x) => x.workloads.length > 0),
    remote: remoteWorkloads(scale).filter((w) => wanted.has(w.name)),
    cgd: new Set(WORKLOAD_GROUPS.cgd.filter((w) => wanted.has(w))),
    tree: wanted.has(TREE_WORKLOAD),
  };
}

/** The template image for the workloads of `fs`, or why they are skipped. */
function templateImage(fs: ImageFs): ImageFactory | string {
  if (!(BUILTIN as readonly string[]).includes('ext2')) return 'the ext2 component is not registered in kernel/registry.ts yet';
  return makeImage(fs);
}

/** The workloads of one image file system, and (once made) its template image. */
interface ImageRun {
  fs: ImageFs;
  workloads: Workload<Target>[];
}
type ImageSet = ImageRun & { image: ImageFactory };

type Say = (what: string) => void;
interface Selected {
  kernel: Workload[];
  images: ImageRun[];
  remote: Workload<RemoteTarget>[];
  /** Run once, apart from the policies (bench/workloads-cgd.ts). */
  cgd: Set<string>;
  /** tree-copy-out: under TREE_POLICIES (the first config of each), and rdump once. */
  tree: boolean;
}

/** The policies the tree copy-out runs under: it takes minutes under microkernel. */
const TREE_POLICIES = ['monolithic', 'microkernel'];

/** The configs the tree copy-out runs under: the first of each of TREE_POLICIES. */
function treeConfigs(configs: Config[]): Config[] {
  return TREE_POLICIES.flatMap((p) => configs.find((c) => c.policy === p) ?? []);
}

export async function runBench(opts: BenchOptions): Promise<BenchReport> {
  const quick = opts.quick === true;
  const scale = quick ? QUICK_SCALE : 1;
  setWarmupMs(quick ? WARMUP_MS.quick : WARMUP_MS.full);
  const configs = expandConfigs(opts.policies);
  const workloads = selectWorkloads(opts.workloads, scale);
  const notes: string[] = [];
  const load_average = loadavg();

  let tree: TreeImage | null = null;
  const treeDir = workloads.tree ? mkdtempSync(join(tmpdir(), 'rumpus-bench-tree-')) : null;
  const removeTree = () => treeDir && rmSync(treeDir, { recursive: true, force: true });
  // Also when the run dies: the image and its copies are hundreds of MiB.
  if (treeDir) process.once('exit', removeTree);
  const images: ImageSet[] = [];
  for (const run of workloads.images) {
    const made = templateImage(run.fs);
    if (typeof made === 'string') notes.push(`${run.fs} workloads skipped: ${made}`);
    else images.push({ ...run, image: made });
  }
  const peer = images.length ? peerName() : null;
  if (images.length && !peer) notes.push('peer skipped: the npm package ext2fs is not installed (a dev dependency)');
  const imageWorkloadCount = images.reduce((n, x) => n + x.workloads.length, 0);

  const treeUnder = workloads.tree ? treeConfigs(configs) : [];
  const microkernels = configs.filter((c) => c.policy === 'microkernel');
  const busyUnder = opts.busy ? configs.filter((c) => BUSY_POLICIES.includes(c.policy)) : [];
  const steps = 1 + configs.length * (2 + workloads.kernel.length + imageWorkloadCount + workloads.remote.length) + microkernels.length +
    (peer ? imageWorkloadCount : 0) + (workloads.cgd.size ? 4 : 0) + (workloads.tree ? treeUnder.length + 2 : 0) +
    busyUnder.length * workloads.kernel.length;
  let step = 0;
  const say: Say = (what) => opts.progress?.(`[${++step}/${steps}] ${what}`);

  try {
    if (treeDir) {
      say(`${TREE_WORKLOAD}: generate the tree, mke2fs -d, e2fsck -fyD`);
      const made = makeTreeImage(treeDir, scale);
      if (typeof made === 'string') notes.push(`${TREE_WORKLOAD} skipped: ${made}`);
      else tree = made;
      if (tree && treeUnder.length < TREE_POLICIES.length) notes.push(`${TREE_WORKLOAD} runs under ${TREE_POLICIES.join(' and ')} only`);
    }
    say('baselines');
    const baselines = await measureBaselines(scale);
    const bootTimes: BootTime[] = [];
    for (const c of configs) {
      say(`boot ${c.policy} (${c.label})`);
      bootTimes.push(await measureBoot(c, quick ? BOOT_ITERATIONS.quick : BOOT_ITERATIONS.full));
    }
    const idle: IdleCpu[] = [];
    for (const c of microkernels) {
      say(`idle ${c.policy} (${c.label})`);
      idle.push(await measureIdle(c, quick ? IDLE_SECONDS.quick : IDLE_SECONDS.full));
    }
    const recovery: RecoveryTime[] = [];
    for (const c of configs) {
      say(`recovery ${c.policy} (${c.label})`);
      const r = await measureRecovery(c, quick ? 3 : 15);
      if (r) recovery.push(r);
    }
    const results: Result[] = [];
    for (const c of configs) results.push(...(await runConfig(c, workloads, images, treeUnder.includes(c) ? tree : null, say, notes)));
    const busy = busyUnder.length ? await runBusy(busyUnder, workloads, say) : null;
    if (tree) {
      say(`${TREE_WORKLOAD}: debugfs rdump`);
      results.push({ workload: TREE_WORKLOAD, policy: RDUMP_POLICY, transport: RDUMP_LABEL, ...summarize(rdumpTree(tree)), ratio_to_monolithic: null, ratio_to_local: null, ratio_to_blk: null });
    }
    // Last: loading ext2fs (emscripten) installs process-wide handlers for uncaught errors.
    if (peer) for (const set of images) results.push(...(await runPeer(peer, set, say)));
    if (workloads.cgd.size) {
      for (const m of await runCgdWorkloads(workloads.cgd, scale, say)) {
        results.push({ workload: m.workload, policy: m.policy, transport: m.transport, ...summarize(m.samples), ratio_to_monolithic: null, ratio_to_local: null, ratio_to_blk: null });
      }
    }

    for (const r of results) {
      const cgd = workloads.cgd.has(r.workload);
      const mono = !cgd && results.find((x) => x.workload === r.workload && x.policy === 'monolithic');
      r.ratio_to_monolithic = mono ? r.p50_ns / mono.p50_ns : null;
      const local = LOCAL_OF[r.workload] && results.find((x) => x.workload === LOCAL_OF[r.workload] && x.policy === r.policy && x.transport === r.transport);
      r.ratio_to_local = local ? r.p50_ns / local.p50_ns : null;
      const blk = cgd && results.find((x) => x.workload === r.workload && x.transport === PLAIN_BLK);
      r.ratio_to_blk = blk ? r.ops_per_s / blk.ops_per_s : null;
    }
    const report = {
      machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, node: process.version, platform: `${process.platform}-${process.arch}`, load_average },
      workloads: [
        ...[...workloads.kernel, ...images.flatMap((x) => x.workloads), ...workloads.remote].map((w) => ({ name: w.name, op: w.op })),
        ...(tree ? [{ name: TREE_WORKLOAD, op: tree.op }] : []),
        ...[...workloads.cgd].map((name) => ({ name, op: CGD_WORKLOADS[name](cgdCounts(scale)) })),
      ],
      results,
      baselines,
      boot: bootTimes,
      idle,
      recovery,
      peer: peer ? { name: peer, speedups: peerSpeedups(results) } : null,
      busy: busy && { ...busy, ratios: busyRatios(results, busy.results) },
      notes,
    };
    return { ...report, targets: checkTargets(report) };
  } finally {
    for (const set of images) set.image.remove();
    removeTree();
  }
}

async function runWorkloads<T extends Target>(policy: string, transport: string, list: Workload<T>[], target: T, say: Say): Promise<Result[]> {
  const results: Result[] = [];
  for (const w of list) {
    say(`${policy} (${transport}): ${w.name}`);
    results.push({ workload: w.name, policy, transport, ...summarize(await w.run(target)), ratio_to_monolithic: null, ratio_to_local: null, ratio_to_blk: null });
  }
  return results;
}

/**
 * Boots one config (with a copy of each image whose workloads run at its IMAGE_MOUNT, and of the
 * tree image at TREE_MOUNT if the tree copy-out runs under it) and runs the workloads.
 */
async function runConfig(c: Config, workloads: Selected, images: ImageSet[], tree: TreeImage | null, say: Say, notes: string[]): Promise<Result[]> {
  const name = `${c.policy}-${c.label}`;
  const imageMounts = images.map((x) => ({ target: IMAGE_MOUNT[x.fs], fstype: 'ext2', source: x.image.copy(name) }));
  const treeMount = tree ? [{ target: TREE_MOUNT, fstype: 'ext2', source: tree.copy(name), readonly: true }] : [];
  const k = await boot({ policy: c.placement, transport: c.transport, mounts: [...DEFAULT_MOUNTS, ...imageMounts, ...treeMount] });
  try {
    const proc = await k.spawn();
    const cpu = kernelCpuClock(k);
    await proc.mkdir(TMPFS_DIR, { recursive: true });
    const local = { kernel: k, proc, files: procFiles(proc, TMPFS_DIR), cpu };
    return [
      ...(await runWorkloads(c.policy, c.label, workloads.kernel, local, say)),
      ...(await runImages(c, images, local, say)),
      ...(await runRemote(c, workloads.remote, local, say)),
      ...(tree ? await runTree(c, tree, local, say, notes) : []),
    ];
  } finally {
    await k.halt();
  }
}

/** Each image's workloads under one config, on its copy mounted at IMAGE_MOUNT. */
async function runImages(c: Config, images: ImageSet[], local: KernelTarget, say: Say): Promise<Result[]> {
  const results: Result[] = [];
  for (const x of images) {
    results.push(...(await runWorkloads(c.policy, c.label, x.workloads, { files: procFiles(local.proc, IMAGE_MOUNT[x.fs]), cpu: local.cpu }, say)));
  }
  return results;
}

/** The remote workloads, with a server on the config's kernel for as long as they run. */
async function runRemote(c: Config, list: Workload<RemoteTarget>[], local: KernelTarget, say: Say): Promise<Result[]> {
  if (list.length === 0) return [];
  const { target, stop } = await startBenchServer(local);
  try {
    return await runWorkloads(c.policy, c.label, list, target, say);
  } finally {
    await stop();
  }
}

/** The kernel workloads again under `configs`, with one CPU-bound process per core beside them. */
async function runBusy(configs: Config[], workloads: Selected, say: Say): Promise<Omit<BusyReport, 'ratios'>> {
  const kernelOnly: Selected = { kernel: workloads.kernel, images: [], remote: [], cgd: new Set(), tree: false };
  return withHogs(async (hogs) => {
    const results: Result[] = [];
    for (const c of configs) results.push(...(await runConfig(c, kernelOnly, [], null, (what) => say(`busy machine, ${what}`), [])));
    for (const r of results) {
      const mono = results.find((x) => x.workload === r.workload && x.policy === 'monolithic');
      r.ratio_to_monolithic = mono ? r.p50_ns / mono.p50_ns : null;
    }
    return { hogs, results };
  });
}

/** The tree copy-out under one config; none (and a note) when it passes its deadline. */
async function runTree(c: Config, tree: TreeImage, local: KernelTarget, say: Say, notes: string[]): Promise<Result[]> {
  say(`${c.policy} (${c.label}): ${TREE_WORKLOAD}`);
  try {
    const s = await copyOutTree(local.proc, local.cpu, tree, `${c.policy}-${c.label}`);
    return [{ workload: TREE_WORKLOAD, policy: c.policy, transport: c.label, ...summarize(s), ratio_to_monolithic: null, ratio_to_local: null, ratio_to_blk: null }];
  } catch (err) {
    if (!(err instanceof TreeDeadline)) throw err;
    notes.push(`${TREE_WORKLOAD} under ${c.policy} (${c.label}): ${err.message}`);
    return [];
  }
}

/** An image's workloads through the peer library, on its own copy of the image. */
async function runPeer(name: string, set: ImageSet, say: Say): Promise<Result[]> {
  const mounted = await mountPeer(set.image.copy(PEER_POLICY));
  try {
    return await runWorkloads(PEER_POLICY, name, set.workloads, { files: mounted.files, cpu: cpuClock() }, say);
  } finally {
    await mounted.unmount();
  }
}

function peerSpeedups(results: Result[]): PeerSpeedup[] {
  return results.flatMap((r) => {
    const peer = results.find((x) => x.workload === r.workload && x.policy === PEER_POLICY);
    return peer && r !== peer ? [{ workload: r.workload, policy: r.policy, transport: r.transport, speedup: r.ops_per_s / peer.ops_per_s }] : [];
  });
}
