// Latency samples and what the bench reports of them.

import { readFileSync } from 'node:fs';

export interface Summary {
  p50_ns: number;
  p99_ns: number;
  mean_ns: number;
  /** Operations over the wall time of the whole measurement (all callers, set-up excluded). */
  ops_per_s: number;
  cpu_ns_per_op: number;
}

export function percentile(sorted: Float64Array | number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}

export const now = (): number => Number(process.hrtime.bigint());

/** CPU time used so far, in nanoseconds: this process (all its threads) plus the given children. */
export type CpuClock = () => number;

export function cpuClock(children: () => number[] = () => []): CpuClock {
  return () => {
    const u = process.cpuUsage();
    return (u.user + u.system) * 1000 + children().reduce((sum, pid) => sum + childCpuNs(pid), 0);
  };
}

/** A child's user+system time from /proc (Linux; clock ticks of 10 ms), 0 where unavailable. */
function childCpuNs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 1e7;
  } catch {
    return 0;
  }
}

/** What one measurement collected. */
export interface Samples {
  /** Nanoseconds per operation (per sample: the mean of a batch, for batched samples). */
  times: number[];
  /** Operations done (times.length × batch). */
  ops: number;
  /** Wall time of the whole measurement, including any untimed steps inside it (an fsync). */
  wallNs: number;
  /** CPU nanoseconds over the same span. */
  cpuNs: number;
}

/** Collects per-operation times inside measure(); several callers may share one at once. */
export class Recorder {
  readonly times: number[] = [];
  ops = 0;

  /**
   * Times `fn`; with batch > 1 it runs `batch` times back to back and records their mean (for
   * operations too short to time one by one).
   */
  async time(fn: () => Promise<unknown>, batch = 1): Promise<void> {
    const t0 = now();
    for (let j = 0; j < batch; j++) await fn();
    this.times.push((now() - t0) / batch);
    this.ops += batch;
  }
}

/**
 * Null round trips — the in-process async call, the transports' floors and the null syscall —
 * are timed alike, so that the targets' ratios between them compare like with like: each sample
 * is the mean of this many calls back to back. One in-process call (~70 ns) is too short to time
 * alone, and timing the others one by one would add the clock's own cost to them only.
 */
export const ROUND_TRIP_BATCH = 10;

/** Runs `body`, which times its operations with the recorder, and takes wall and CPU time around it. */
export async function measure(cpu: CpuClock, body: (rec: Recorder) => Promise<void>): Promise<Samples> {
  const rec = new Recorder();
  const cpu0 = cpu();
  const t0 = now();
  await body(rec);
  const wallNs = now() - t0;
  return { times: rec.times, ops: rec.ops, wallNs, cpuNs: cpu() - cpu0 };
}

/**
 * The least time a warm-up takes, in milliseconds, when it has any calls at all: 0 until a run
 * sets it (bench/index.ts: 1,000, and 0 for --quick). A few hundred calls leave V8 compiling the
 * hot path in every thread a call crosses: on 2 cores, a microkernel kernel's first ~5,000
 * round trips ran at a third or less of the speed of the ones after them, and so did a
 * monolithic one's first 64 KiB preads; timed then, a workload measures the compiler.
 */
let warmupMs = 0;

export function setWarmupMs(ms: number): void {
  warmupMs = ms;
}

/**
 * Untimed calls fn(0), fn(1), …: at least `calls` of them, and with any at all, for at least
 * the warm-up time too (bounded: at most 100 × `calls`).
 */
export async function warmUp(fn: (i: number) => Promise<unknown>, calls: number): Promise<void> {
  const end = performance.now() + (calls > 0 ? warmupMs : 0);
  for (let i = 0; i < calls || (i < 100 * calls && performance.now() < end); i++) await fn(i);
}

/** The plain case: untimed calls of `fn` (warmUp, `warmup` × `batch` at least), then `iterations` timed ones. */
export async function repeat(fn: () => Promise<unknown>, iterations: number, warmup: number, cpu: CpuClock, batch = 1): Promise<Samples> {
  await warmUp(fn, warmup * batch);
  return measure(cpu, async (rec) => {
    for (let i = 0; i < iterations; i++) await rec.time(fn, batch);
  });
}

/** Samples → percentiles, mean, throughput and CPU per operation. */
export function summarize(s: Samples): Summary {
  const sorted = Float64Array.from(s.times).sort();
  const mean = s.times.reduce((a, b) => a + b, 0) / s.times.length;
  return {
    p50_ns: percentile(sorted, 0.5),
    p99_ns: percentile(sorted, 0.99),
    mean_ns: mean,
    ops_per_s: (s.ops * 1e9) / s.wallNs,
    cpu_ns_per_op: s.cpuNs / s.ops,
  };
}

/** '1.23 µs', '45.6 ms': a duration in nanoseconds for people. */
export function formatNs(ns: number): string {
  if (!Number.isFinite(ns)) return '-';
  if (ns < 1e3) return `${ns.toFixed(0)} ns`;
  if (ns < 1e6) return `${(ns / 1e3).toPrecision(3)} µs`;
  if (ns < 1e9) return `${(ns / 1e6).toPrecision(3)} ms`;
  return `${(ns / 1e9).toPrecision(3)} s`;
}
