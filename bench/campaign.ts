// The fault campaign: trial after trial, a kernel runs a mixed workload on an ext2 image —
// a tree copy, appends with fsync, renames, reads that check content — while one fault drawn
// from the seed is injected into one component. After each trial the invariants are checked:
// the kernel is alive, every operation either succeeded or failed with an errno, every byte
// acknowledged by fsync is on the image, and the image passes e2fsck. The same seed draws the
// same faults. Beside the image, each trial counts the bytes it wrote to tmpfs and how many of
// them read back the same after the fault: tmpfs keeps its content across its own restart.
// Given the key of an encrypted image (a LUKS container with ext2 inside), the image is mounted
// through cgd, whose cipher the placement puts where it says (a pool under microkernel), and
// faults are drawn for cgd and the cipher as well; e2fsck then checks the decrypted payload.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DEFAULT_MOUNTS, FAULT_TYPES, O_APPEND, O_CREAT, O_WRONLY, SysError, boot, describeFault,
  type FaultSpec, type FaultType, type Kernel, type Proc, type UnitInfo,
} from '../kernel/index.js';
import { seededRandom } from '../kernel/faults.js';
import { fsckClean, type FsckResult } from './e2fsprogs.js';
import { percentile } from './stats.js';

export interface CampaignOptions {
  image: string;
  /** The passphrase of an encrypted image: mounted through cgd, and cgd and cipher join the components. */
  key?: Uint8Array;
  /** The partition of the disk image `image` the file system is in: mounted through dk, which joins the components. */
  partition?: number;
  policy: string;
  trials: number;
  seed: number;
  /** Fault types drawn from (default: all but corrupt, see DEFAULT_TYPES). */
  types?: FaultType[];
  components?: string[];
  progress?: (done: number, total: number) => void;
}

/**
 * corrupt is left out by default: without end-to-end checksums (ext2 has none), flipped bits in
 * a block read are indistinguishable from data, and the campaign would only measure that.
 */
export const DEFAULT_TYPES: FaultType[] = FAULT_TYPES.filter((t) => t !== 'corrupt');
const COMPONENTS = ['vfs', 'tmpfs', 'dev', 'ext2', 'blk'];
/** What an encrypted image adds: the encrypted block device and its cipher. */
const ENCRYPTED_COMPONENTS = ['cgd', 'cipher'];
/** What a partition adds: the partition device. */
const PARTITION_COMPONENTS = ['dk'];
/** Ops the workload calls on each component: a fault filtered by op picks one of these. */
const WORKLOAD_OPS: Record<string, string[]> = {
  vfs: ['open', 'read', 'write', 'close', 'fsync', 'sync', 'rename', 'mkdir', 'stat'],
  tmpfs: ['walk', 'create', 'read', 'write', 'mkdir'],
  dev: ['walk', 'read', 'write', 'open', 'close'],
  ext2: ['walk', 'create', 'read', 'write', 'append', 'fsync', 'sync', 'rename', 'mkdir'],
  blk: ['read', 'commit'],
  dk: ['read', 'commit'],
  cgd: ['read', 'write', 'flush', 'commit'],
  // derive: when cgd attaches the image again after a restart of cgd or ext2.
  cipher: ['encrypt', 'decrypt', 'derive'],
};
/** An operation that has not finished after this long is a hang: an invariant broken. */
const OP_DEADLINE_MS = 60_000;
const RECORDS = 16;

export interface TrialResult {
  trial: number;
  fault: FaultSpec;
  /** The fault hit at least once. */
  injected: boolean;
  /** The kernel was alive at the end, and no invariant broke. */
  survived: boolean;
  /** The component was restarted (faults that end a domain). */
  recovered: boolean;
  recoveryMs: number | null;
  syncedBytesLost: number;
  /** Bytes of files the trial wrote to tmpfs, and of those that read back the same at its end. */
  tmpfsBytesWritten: number;
  tmpfsBytesKept: number;
  /** Which invariants broke, in words. */
  violations: string[];
  errnos: Record<string, number>;
}

export interface CampaignRow {
  component: string;
  fault: string;
  trials: number;
  injected: number;
  survived: number;
  recovered: number;
  recovery_p50_ms: number | null;
  recovery_p99_ms: number | null;
  synced_bytes_lost: number;
  tmpfs_bytes_written: number;
  tmpfs_bytes_kept: number;
}

export interface CampaignReport {
  policy: string;
  seed: number;
  trials: number;
  rows: CampaignRow[];
  violations: { trial: number; fault: string; what: string[] }[];
  /** Every invariant held in every trial. */
  ok: boolean;
}

/** One trial's fault, drawn from the seed. */
export function drawFault(rand: () => number, k: Kernel, types: FaultType[], components: string[]): FaultSpec[] {
  const component = components[Math.floor(rand() * components.length)];
  const type = types[Math.floor(rand() * types.length)];
  const ops = WORKLOAD_OPS[component] ?? Object.keys(k.placement.defs.get(component)!.ops);
  const fault: FaultSpec = { component, type, after: Math.floor(rand() * 12) };
  if (rand() < 0.3) fault.op = ops[Math.floor(rand() * ops.length)];
  if (type === 'delay') fault.ms = 5 + Math.floor(rand() * 200);
  if (type === 'error') fault.errno = (['EIO', 'ENOSPC', 'EAGAIN'] as const)[Math.floor(rand() * 3)];
  if (type === 'leak') fault.count = 0;
  // crash-init waits for a start: a crash gives it one.
  return type === 'crash-init' ? [fault, { component, type: 'crash', after: fault.after }] : [fault];
}

/** A record of the log: its index, repeated, so a torn or shifted record does not pass. */
function record(i: number): Uint8Array {
  return new TextEncoder().encode(`record ${String(i).padStart(4, '0')} `.repeat(4).padEnd(63, '.') + '\n');
}

class Trial {
  readonly errnos: Record<string, number> = {};
  readonly violations: string[] = [];
  /** Files of the tree whose content was synced: path → bytes. */
  readonly syncedFiles = new Map<string, Uint8Array>();
  /** A rename whose outcome is unknown (no reply): the file may be under either name. */
  readonly otherName = new Map<string, string>();
  /** Log records acknowledged by a successful fsync. */
  readonly syncedRecords: number[] = [];
  /** Files written to tmpfs: path → bytes. */
  readonly tmpfsFiles = new Map<string, Uint8Array>();

  constructor(readonly p: Proc, readonly dir: string, readonly rand: () => number) {}

  /** Runs one operation: its result, or null when it failed with an errno (counted). */
  async op<T>(what: string, fn: () => Promise<T>): Promise<T | null> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not finish in ${OP_DEADLINE_MS / 1000} s`)), OP_DEADLINE_MS);
    });
    try {
      return await Promise.race([fn(), deadline]);
    } catch (err) {
      if (err instanceof SysError) {
        this.errnos[err.errno] = (this.errnos[err.errno] ?? 0) + 1;
        return null;
      }
      this.violations.push(`${what}: ${(err as Error).message}`);
      return null;
    } finally {
      clearTimeout(timer);
    }
  }

  /** A synced file's content, under its name or, after a rename of unknown outcome, the other. */
  async readEither(p: Proc, name: string): Promise<Uint8Array> {
    try {
      return await p.readFile(`${this.dir}/${name}`);
    } catch (err) {
      const other = this.otherName.get(name);
      if (!other || !(err instanceof SysError && err.errno === 'ENOENT')) throw err;
      return p.readFile(`${this.dir}/${other}`);
    }
  }

  async run(): Promise<void> {
    const { p, dir } = this;
    // The tree's source, in tmpfs.
    const src = '/tmp/src';
    const files: [string, Uint8Array][] = [];
    await this.op('mkdir src', () => p.mkdir(`${src}/a/b`, { recursive: true }));
    for (let i = 0; i < 8; i++) {
      const data = new Uint8Array(Math.floor(this.rand() * 20000));
      for (let j = 0; j < data.length; j++) data[j] = (i * 31 + j * 7) & 0xff;
      const name = `${['', 'a/', 'a/b/'][i % 3]}f${i}`;
      if ((await this.op(`write ${src}/${name}`, () => p.writeFile(`${src}/${name}`, data))) !== null) {
        files.push([name, data]);
        this.tmpfsFiles.set(`${src}/${name}`, data);
      }
    }
    await this.op('mkdir', () => p.mkdir(dir));
    // 1. The tree copy, then sync: from then on its content is acknowledged.
    const copied: [string, Uint8Array][] = [];
    await this.op('mkdir tree', () => p.mkdir(`${dir}/tree/a/b`, { recursive: true }));
    for (const [name, data] of files) {
      const ok = await this.op(`copy ${name}`, async () => {
        const from = await p.readFile(`${src}/${name}`);
        await p.writeFile(`${dir}/tree/${name}`, from);
        return from;
      });
      if (ok !== null && Buffer.compare(ok, data) === 0) copied.push([name, data]);
    }
    if ((await this.op('sync', () => p.sync())) !== null) {
      for (const [name, data] of copied) this.syncedFiles.set(`tree/${name}`, data);
    }
    // 2. Appends, each followed by fsync.
    const fd = await this.op('open log', () => p.open(`${dir}/log`, O_WRONLY | O_CREAT | O_APPEND, 0o644));
    if (fd !== null) {
      const written: number[] = [];
      for (let i = 0; i < RECORDS; i++) {
        if ((await this.op(`append ${i}`, () => p.write(fd, record(i)))) !== null) written.push(i);
        // A failed fsync acknowledges nothing, and what it did not acknowledge may be gone.
        if ((await this.op(`fsync ${i}`, () => p.fsync(fd))) !== null) this.syncedRecords.push(...written);
        written.length = 0;
      }
      await this.op('close log', () => p.close(fd));
    }
    // 3. Renames of synced files, and a sync after them.
    for (const name of [...this.syncedFiles.keys()].slice(0, 3)) {
      const to = `${name}.moved`;
      // A rename that failed without a reply (EIO, ETIMEDOUT) may or may not have happened.
      this.otherName.set(name, to);
      if ((await this.op(`rename ${name}`, () => p.rename(`${dir}/${name}`, `${dir}/${to}`))) !== null) {
        const data = this.syncedFiles.get(name)!;
        this.syncedFiles.delete(name);
        this.otherName.delete(name);
        this.syncedFiles.set(to, data);
        this.otherName.set(to, name); // until a sync says which name the image has
      }
    }
    if ((await this.op('sync', () => p.sync())) !== null) {
      for (const name of this.syncedFiles.keys()) if (name.endsWith('.moved')) this.otherName.delete(name);
    }
    // Devices: a read of random bytes, a write to the bit bucket.
    const rnd = await this.op('read /dev/random', async () => {
      const fd = await p.open('/dev/random');
      try {
        return await p.read(fd, 64);
      } finally {
        await p.close(fd);
      }
    });
    if (rnd !== null && rnd.length !== 64) this.violations.push(`read /dev/random: ${rnd.length} bytes instead of 64`);
    await this.op('write /dev/null', () => p.writeFile('/dev/null', 'gone'));
    // 4. Reads that check content.
    for (const [name, data] of this.syncedFiles) {
      const back = await this.op(`read ${name}`, () => this.readEither(p, name));
      if (back !== null && Buffer.compare(back, data) !== 0) this.violations.push(`read ${name}: content differs from what was written and synced`);
    }
  }
}

/** After the kernel halted: what was acknowledged must be on the image. Returns bytes missing. */
async function syncedBytesLost(image: string, on: Where, trial: Trial): Promise<number> {
  const k = await boot({ policy: 'monolithic', mounts: [...DEFAULT_MOUNTS, { target: '/mnt', fstype: 'ext2', source: image, readonly: true, ...on }] });
  try {
    const p = await k.spawn();
    let lost = 0;
    for (const [name, data] of trial.syncedFiles) {
      const back = await trial.readEither(p, name).catch(() => null);
      if (!back || Buffer.compare(back, data) !== 0) lost += data.length;
    }
    const log = new TextDecoder().decode(await p.readFile(`${trial.dir}/log`).catch(() => new Uint8Array()));
    for (const i of trial.syncedRecords) {
      const r = new TextDecoder().decode(record(i));
      if (!log.includes(r)) lost += r.length;
    }
    return lost;
  } finally {
    await k.halt();
  }
}

/** Bytes of the files written to tmpfs that read back the same. */
async function tmpfsBytesKept(p: Proc, trial: Trial): Promise<number> {
  let kept = 0;
  for (const [path, data] of trial.tmpfsFiles) {
    const back = await p.readFile(path).catch(() => null);
    if (back && Buffer.compare(back, data) === 0) kept += data.length;
  }
  return kept;
}

/** Whether the kernel serves a file in /tmp and one on the image: true, or what went wrong. */
async function serves(p: Proc): Promise<true | string> {
  try {
    for (const path of ['/tmp/alive', '/mnt/alive']) {
      await p.writeFile(path, 'yes');
      if (new TextDecoder().decode(await p.readFile(path)) !== 'yes') return `${path} reads back wrong`;
      await p.unlink(path);
    }
    return true;
  } catch (err) {
    return (err as Error).message;
  }
}

/** Where in the image the file system is: inside a LUKS container (its key), in a partition, or both. */
interface Where {
  key?: Uint8Array;
  partition?: number;
}

/**
 * The plain ext2 file system in an encrypted image or a partition, read through cgd (decrypted)
 * or dk in a kernel of its own into `plain`, for e2fsck, which reads neither a LUKS container
 * nor a partition.
 */
async function extractFileSystem(image: string, on: Where, plain: string): Promise<void> {
  const k = await boot({ policy: 'monolithic', mounts: [] });
  const fd = openSync(plain, 'w');
  try {
    const device = on.key !== undefined ? 'cgd' : 'dk';
    const { unit, size } = on.key !== undefined
      ? await k.call<UnitInfo>('cgd', 'attach', { path: image, readonly: true, key: on.key, partition: on.partition })
      : await k.call<UnitInfo>('dk', 'attach', { path: image, readonly: true, partition: on.partition! });
    const chunk = 1 << 20;
    for (let at = 0; at < size; at += chunk) writeSync(fd, await k.call<Uint8Array>(device, 'read', { unit, offset: at, length: Math.min(chunk, size - at) }), 0, undefined, at);
  } finally {
    closeSync(fd);
    await k.halt();
  }
}

/** Both e2fsck checks of the trial's file system (extracted first, when encrypted or in a partition). */
async function fsckImage(image: string, on: Where): Promise<FsckResult> {
  if (on.key === undefined && on.partition === undefined) return fsckClean(image);
  const plain = `${image}.plain`;
  try {
    await extractFileSystem(image, on, plain);
    return fsckClean(plain);
  } finally {
    rmSync(plain, { force: true });
  }
}

/** The components faults are drawn from by default: those the trial's image goes through. */
export function campaignComponents(encrypted: boolean, partitioned = false): string[] {
  return [...COMPONENTS, ...(encrypted ? ENCRYPTED_COMPONENTS : []), ...(partitioned ? PARTITION_COMPONENTS : [])];
}

async function runTrial(o: CampaignOptions, index: number, workdir: string): Promise<TrialResult> {
  const rand = seededRandom(o.seed * 100_003 + index);
  const image = join(workdir, `trial-${index}.img`);
  execFileSync('cp', ['--sparse=always', o.image, image]);
  const components = campaignComponents(o.key !== undefined, o.partition !== undefined);
  const on: Where = { ...(o.key !== undefined ? { key: o.key } : {}), ...(o.partition !== undefined ? { partition: o.partition } : {}) };
  const k = await boot({
    policy: o.policy,
    mounts: [...DEFAULT_MOUNTS, { target: '/mnt', fstype: 'ext2', source: image, ...on }],
    heartbeat: { periodMs: 250, timeoutMs: 3000 },
    calls: { timeoutMs: 4000, tries: 3, reconnectMs: 20_000 },
    memoryLimitMb: 128,
    supervision: Object.fromEntries(components.map((c) => [c, { intensity: { max: 10, withinMs: 10_000 } }])),
  });
  const faults = drawFault(rand, k, o.types ?? DEFAULT_TYPES, o.components ?? components);
  const trial = new Trial(await k.spawn(), `/mnt/t${index}`, rand);
  for (const f of faults) await k.inject(f);
  await trial.run();
  await k.settled();
  const hits = await k.faultHits();
  await k.clearFaults(); // what follows checks the kernel, not the fault
  // Alive: the kernel answers, and serves a file.
  const alive = await serves(trial.p);
  if (alive !== true) trial.violations.push(k.panicked ? `kernel panic: ${k.panicked}` : `the kernel did not serve after the fault: ${alive}`);
  const tmpfsKept = await tmpfsBytesKept(trial.p, trial);
  const events = k.events.filter((e) => e.domain === k.placement.home.get(faults[0].component));
  const failedAt = events.find((e) => e.kind === 'failed')?.at;
  const restartedAt = events.find((e) => e.kind === 'restarted')?.at;
  await k.halt();

  const lost = await syncedBytesLost(image, on, trial).catch((err) => {
    trial.violations.push(`the image does not mount after the trial: ${(err as Error).message}`);
    return 0;
  });
  if (lost > 0) trial.violations.push(`${lost} bytes acknowledged by fsync or sync are missing`);
  const fsck = await fsckImage(image, on).catch((err: Error): FsckResult => ({ clean: false, report: `the payload does not decrypt: ${err.message}` }));
  if (!fsck.clean) trial.violations.push(`e2fsck: ${fsck.report.split('\n').filter((l) => l && !/^Pass|^e2fsck/.test(l)).slice(0, 3).join(' / ')}`);
  rmSync(image, { force: true });
  rmSync(`${image}.wal`, { force: true });
  return {
    trial: index,
    fault: faults[0],
    injected: failedAt !== undefined || (hits[faults[0].component]?.[faults[0].type] ?? 0) > 0,
    survived: trial.violations.length === 0,
    recovered: restartedAt !== undefined,
    recoveryMs: failedAt !== undefined && restartedAt !== undefined ? restartedAt - failedAt : null,
    syncedBytesLost: lost,
    tmpfsBytesWritten: [...trial.tmpfsFiles.values()].reduce((n, d) => n + d.length, 0),
    tmpfsBytesKept: tmpfsKept,
    violations: trial.violations,
    errnos: trial.errnos,
  };
}

export async function runCampaign(o: CampaignOptions): Promise<CampaignReport> {
  const workdir = mkdtempSync(join(tmpdir(), 'rumpus-faults-'));
  const results: TrialResult[] = [];
  try {
    for (let i = 0; i < o.trials; i++) {
      results.push(await runTrial(o, i, workdir));
      o.progress?.(i + 1, o.trials);
    }
  } finally {
    rmSync(workdir, { recursive: true, force: true });
  }
  return summarize(o, results);
}

function summarize(o: CampaignOptions, results: TrialResult[]): CampaignReport {
  const groups = new Map<string, TrialResult[]>();
  for (const r of results) {
    const key = `${r.fault.component}\0${r.fault.type}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  const rows: CampaignRow[] = [...groups].map(([key, list]) => {
    const [component, fault] = key.split('\0');
    const times = list.map((r) => r.recoveryMs).filter((x): x is number => x !== null).sort((a, b) => a - b);
    return {
      component, fault, trials: list.length,
      injected: list.filter((r) => r.injected).length,
      survived: list.filter((r) => r.survived).length,
      recovered: list.filter((r) => r.recovered).length,
      recovery_p50_ms: times.length ? percentile(times, 0.5) : null,
      recovery_p99_ms: times.length ? percentile(times, 0.99) : null,
      synced_bytes_lost: list.reduce((n, r) => n + r.syncedBytesLost, 0),
      tmpfs_bytes_written: list.reduce((n, r) => n + r.tmpfsBytesWritten, 0),
      tmpfs_bytes_kept: list.reduce((n, r) => n + r.tmpfsBytesKept, 0),
    };
  }).sort((a, b) => a.component.localeCompare(b.component) || a.fault.localeCompare(b.fault));
  const violations = results.filter((r) => !r.survived).map((r) => ({ trial: r.trial, fault: describeFault(r.fault), what: r.violations }));
  return { policy: o.policy, seed: o.seed, trials: results.length, rows, violations, ok: violations.length === 0 };
}

export function formatCampaign(r: CampaignReport): string {
  const head = ['component', 'fault', 'trials', 'injected', 'survived', 'recovered', 'recovery p50', 'recovery p99', 'synced bytes lost', 'tmpfs bytes kept'];
  const ms = (x: number | null) => (x === null ? '-' : `${x.toFixed(0)} ms`);
  const rows = r.rows.map((x) => [
    x.component, x.fault, x.trials, x.injected, x.survived, x.recovered, ms(x.recovery_p50_ms), ms(x.recovery_p99_ms), x.synced_bytes_lost,
    `${x.tmpfs_bytes_kept} of ${x.tmpfs_bytes_written}`,
  ].map(String));
  const all = [head, ...rows];
  const w = head.map((_, i) => Math.max(...all.map((row) => row[i].length)));
  const lines = all.map((row) => row.map((c, i) => (i < 2 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  '));
  const total = r.rows.reduce((n, x) => n + x.survived, 0);
  lines.push('', `${r.trials} trials under ${r.policy}, seed ${r.seed}: ${total} survived with every invariant holding; ` +
    `${r.rows.reduce((n, x) => n + x.synced_bytes_lost, 0)} bytes of synced data lost.`);
  for (const v of r.violations.slice(0, 20)) lines.push(`  trial ${v.trial} (${v.fault}): ${v.what.join('; ')}`);
  if (r.violations.length > 20) lines.push(`  … and ${r.violations.length - 20} more`);
  return lines.join('\n');
}
