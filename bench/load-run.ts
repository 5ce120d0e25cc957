#!/usr/bin/env node
// The load run: a real `rumpus serve` process (microkernel by default) on a fresh ext2 image,
// 64 clients for 60 s doing a mixed workload (bench/load-client.ts) while faults are armed in
// ext2 and blk through `ctl inject`. It then checks: every call was answered or failed with an
// errno (no hang, no non-errno); after the clients leave, the server's open host fds and RSS
// come back to where they were before they came; after `ctl halt`, every byte fsync
// acknowledged is on the image (read by a fresh local kernel) and e2fsck finds it clean.
// "Before" is after a warm-up: the same clients for the same time, gone again, so that what a
// first round fills and keeps (ext2's block cache, each thread's heap) counts as the start, and
// what a second round adds to it as growth. (A shorter warm-up left part of the first round's
// growth in the run's, which read as a leak.)
// It prints the counts and exits 1 on any failure.
//
//   node dist/bench/load-run.js [--clients 64] [--seconds 60] [--policy microkernel] [--seed 1] [--json]

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { DEFAULT_MOUNTS, boot, connect, connectKernel, type FaultSpec } from '../kernel/index.js';
import { fsckClean } from './e2fsprogs.js';
import { makeImage } from './image.js';
import { LoadClient, ackedBytesLost, newTally, type LoadTally } from './load-client.js';

export interface LoadOptions {
  clients: number;
  seconds: number;
  policy: string;
  seed: number;
  /** How long one call may take before it counts as a hang (ms). */
  callDeadlineMs: number;
  /** The faults armed for the run (default loadFaults(seed)). */
  faults?: FaultSpec[];
  progress?: (line: string) => void;
}

/** The host resources of a process, from /proc (Linux). */
export interface Usage {
  fds: number;
  rssKiB: number;
}

export interface LoadReport {
  options: Omit<LoadOptions, 'progress'>;
  faults: FaultSpec[];
  /** Component restarts during the run, as `ctl dmesg` tells them. */
  restarts: number;
  tally: LoadTally;
  /** Files whose content fsync acknowledged, over all clients. */
  ackedFiles: number;
  ackedBytes: number;
  ackedBytesLost: number;
  /** At boot, after the warm-up (the start), after the run's clients left; the bound on RSS growth. */
  usage: { boot: Usage; before: Usage; after: Usage; rssBoundKiB: number };
  haltExit: number | null;
  fsck: { clean: boolean; report: string };
  failures: string[];
  ok: boolean;
}

/** The faults armed for the whole run: errno returns and a few crashes of ext2 and blk, from the seed. */
export function loadFaults(seed: number): FaultSpec[] {
  return [
    { component: 'ext2', type: 'error', errno: 'EIO', prob: 0.002, count: 0, seed },
    { component: 'ext2', type: 'error', errno: 'ENOSPC', op: 'write', prob: 0.002, count: 0, seed: seed + 1 },
    { component: 'blk', type: 'error', errno: 'EIO', prob: 0.001, count: 0, seed: seed + 2 },
    { component: 'blk', type: 'delay', ms: 5, jitter: 5, prob: 0.01, count: 0, seed: seed + 3 },
    { component: 'ext2', type: 'crash', after: 3_000, prob: 0.001, count: 2, seed: seed + 4 },
    { component: 'blk', type: 'crash', after: 6_000, prob: 0.001, count: 1, seed: seed + 5 },
  ];
}

/** Open fds and resident memory of `pid`. */
export function usageOf(pid: number): Usage {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rss = /^VmRSS:\s+(\d+) kB/m.exec(status);
  return { fds: readdirSync(`/proc/${pid}/fd`).length, rssKiB: rss ? Number(rss[1]) : NaN };
}

/**
 * How much RSS may stay above its start once the clients are gone: ext2's block cache may fill
 * up to its limit (64 MiB, CACHE_BYTES in servers/ext2/fs.ts) and stay full, and V8 keeps some
 * of the heap it grew (10 %).
 */
const rssBound = (start: number) => Math.round(start * 1.1 + 64 * 1024);

/** `n` clients, each its own connection and directory, running the mix until `until`; they exit after. */
async function runClients(url: string, n: number, prefix: string, seed: number, until: number, o: LoadOptions, tally: LoadTally, failures: string[]): Promise<LoadClient[]> {
  const procs = await Promise.all(Array.from({ length: n }, () => connect(url)));
  const clients = procs.map((p, i) => new LoadClient(p, `/mnt/${prefix}${i}`, seed * 1000 + i, tally, o.callDeadlineMs));
  await Promise.all(clients.map((c) => c.run(until)));
  await Promise.all(procs.map((p) => p.exit().catch((err: Error) => failures.push(`exit: ${err.message}`))));
  return clients;
}

interface Served {
  child: ChildProcess;
  pid: number;
  url: string;
  exited: Promise<number | null>;
}

/** The rumpus command beside this file: the built one, or the source through tsx (as the tests run it). */
const RUMPUS = import.meta.url.endsWith('.ts')
  ? ['--import', 'tsx', join(import.meta.dirname, '..', 'bin', 'rumpus.ts')]
  : [join(import.meta.dirname, '..', 'bin', 'rumpus.js')];

/** Starts `rumpus serve` and waits for its readiness line. */
async function startServer(policy: string, image: string, socket: string): Promise<Served> {
  const child = spawn(process.execPath, [...RUMPUS, 'serve', '--policy', policy, '--image', image, '--listen', `unix://${socket}`], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const lines = createInterface({ input: child.stdout! });
  const ready = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    void exited.then((code) => reject(new Error(`rumpus serve exited (status ${code}) before it was ready`)));
  });
  const m = /^rumpus serve: ready on (\S+?)(?:,.*)? \(policy \S+, pid (\d+)\)$/.exec(ready);
  if (!m) throw new Error(`rumpus serve: unexpected readiness line: ${ready}`);
  return { child, pid: Number(m[2]), url: m[1], exited };
}

async function settle(pid: number, before: Usage, progress: (l: string) => void): Promise<Usage> {
  // Let the server close what the clients left, then poll for up to 20 s.
  let now = usageOf(pid);
  for (let i = 0; i < 40 && (now.fds > before.fds || now.rssKiB > rssBound(before.rssKiB)); i++) {
    await new Promise((r) => setTimeout(r, 500));
    now = usageOf(pid);
  }
  progress(`after: ${now.fds} fds, RSS ${now.rssKiB} KiB`);
  return now;
}

export async function runLoad(o: LoadOptions): Promise<LoadReport> {
  const say = o.progress ?? (() => {});
  const made = makeImage('ext2');
  if (typeof made === 'string') throw new Error(made);
  const dir = mkdtempSync(join(tmpdir(), 'rumpus-load-'));
  const image = made.copy('load');
  const failures: string[] = [];
  try {
    const server = await startServer(o.policy, image, join(dir, 'rumpus.sock'));
    say(`server pid ${server.pid} on ${server.url}`);
    const ctl = await connectKernel(server.url);
    const boot0 = usageOf(server.pid);
    const tally = newTally();
    const warmUp = o.seconds;
    say(`warm-up: ${o.clients} clients for ${warmUp.toFixed(1)} s`);
    const warm = await runClients(server.url, o.clients, 'w', o.seed + 1, Date.now() + warmUp * 1000, o, tally, failures);
    await new Promise((r) => setTimeout(r, 1000));
    const before = usageOf(server.pid);
    say(`before: ${before.fds} fds, RSS ${before.rssKiB} KiB (at boot ${boot0.fds} fds, RSS ${boot0.rssKiB} KiB)`);

    const faults = o.faults ?? loadFaults(o.seed);
    for (const f of faults) await ctl.inject(f);
    say(`${o.clients} clients for ${o.seconds} s`);
    const ticker = setInterval(() => say(`${tally.calls} calls, ${tally.ok} ok, ${Object.values(tally.errnos).reduce((a, b) => a + b, 0)} errno, ${tally.failures.length} failures`), 10_000);
    const clients = [...warm, ...(await runClients(server.url, o.clients, 'c', o.seed, Date.now() + o.seconds * 1000, o, tally, failures))];
    clearInterval(ticker);

    await ctl.clear();
    const restarts = (await ctl.dmesg()).filter((e) => e.kind === 'restarted').length;
    const after = await settle(server.pid, before, say);
    if (after.fds > before.fds) failures.push(`the server has ${after.fds} open fds after the clients left, ${before.fds} before they came`);
    if (after.rssKiB > rssBound(before.rssKiB)) failures.push(`the server's RSS is ${after.rssKiB} KiB after the clients left, over ${rssBound(before.rssKiB)} (${before.rssKiB} before)`);

    await ctl.halt().catch(() => {}); // the connection may close before the answer
    await ctl.close().catch(() => {});
    let timer: NodeJS.Timeout | undefined;
    const haltExit = await Promise.race([server.exited, new Promise<null>((r) => (timer = setTimeout(() => r(null), 60_000)))]);
    clearTimeout(timer);
    if (haltExit !== 0) {
      failures.push(`rumpus serve did not exit 0 after ctl halt (${haltExit === null ? 'still running after 60 s' : `status ${haltExit}`})`);
      server.child.kill('SIGKILL');
    }

    say('checking the image');
    const k = await boot({ policy: 'monolithic', mounts: [...DEFAULT_MOUNTS, { target: '/mnt', fstype: 'ext2', source: image, readonly: true }] });
    const lost = await ackedBytesLost(await k.spawn(), clients.map((c) => c.acked)).finally(() => k.halt());
    if (lost.lost) failures.push(`${lost.lost} bytes acknowledged by fsync are missing: ${lost.what.join('; ')}`);
    const fsck = fsckClean(image);
    if (!fsck.clean) failures.push('e2fsck does not find the image clean');
    failures.push(...tally.failures.slice(0, 50));
    const acked = clients.flatMap((c) => c.acked);
    return {
      options: { clients: o.clients, seconds: o.seconds, policy: o.policy, seed: o.seed, callDeadlineMs: o.callDeadlineMs },
      faults, restarts, tally,
      ackedFiles: acked.length, ackedBytes: acked.reduce((n, f) => n + f.data.length, 0), ackedBytesLost: lost.lost,
      usage: { boot: boot0, before, after, rssBoundKiB: rssBound(before.rssKiB) },
      haltExit, fsck, failures,
      ok: failures.length === 0 && tally.failures.length === 0,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
    made.remove();
  }
}

export function formatLoadReport(r: LoadReport): string {
  const t = r.tally;
  const errnos = Object.entries(t.errnos).sort((a, b) => b[1] - a[1]);
  const n = (x: number) => x.toLocaleString('en-US');
  return [
    `load run: ${r.options.clients} clients for ${r.options.seconds} s on ext2 under ${r.options.policy}, seed ${r.options.seed}`,
    `faults armed: ${r.faults.map((f) => `${f.component} ${f.type}${f.errno ? ` ${f.errno}` : ''}${f.op ? ` (${f.op})` : ''} p=${f.prob}`).join('; ')}`,
    `component restarts: ${r.restarts}`,
    `calls: ${n(t.calls)}; answered: ${n(t.ok)}; failed with an errno: ${n(errnos.reduce((a, [, c]) => a + c, 0))}${errnos.length ? ` (${errnos.map(([e, c]) => `${e} ${n(c)}`).join(', ')})` : ''}; other outcomes: ${t.failures.length}`,
    `fsync-acknowledged: ${n(r.ackedFiles)} files, ${n(r.ackedBytes)} bytes; lost: ${n(r.ackedBytesLost)} bytes`,
    `server fds: ${r.usage.boot.fds} at boot, ${r.usage.before.fds} after the warm-up, ${r.usage.after.fds} after the run; RSS: ${n(r.usage.boot.rssKiB)} KiB at boot, ${n(r.usage.before.rssKiB)} KiB after the warm-up, ${n(r.usage.after.rssKiB)} KiB after the run (bound ${n(r.usage.rssBoundKiB)})`,
    `ctl halt: exit ${r.haltExit ?? 'none'}; e2fsck -fn and -fy on a copy: ${r.fsck.clean ? 'clean' : 'NOT clean'}`,
    ...(r.fsck.clean ? [] : [r.fsck.report]),
    r.ok ? 'ok' : `FAILED:\n  ${r.failures.join('\n  ')}`,
  ].join('\n');
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      clients: { type: 'string', default: '64' },
      seconds: { type: 'string', default: '60' },
      policy: { type: 'string', default: 'microkernel' },
      seed: { type: 'string', default: '1' },
      json: { type: 'boolean', default: false },
    },
  });
  const report = await runLoad({
    clients: Number(values.clients), seconds: Number(values.seconds), policy: values.policy!, seed: Number(values.seed),
    callDeadlineMs: 120_000, progress: (l) => process.stderr.write(`${l}\n`),
  });
  process.stdout.write(`${values.json ? JSON.stringify(report, null, 2) : formatLoadReport(report)}\n`);
  return report.ok ? 0 : 1;
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  main().then((code) => process.exit(code), (err: Error) => {
    process.stderr.write(`load run: ${err.message}\n`);
    process.exit(1);
  });
}
