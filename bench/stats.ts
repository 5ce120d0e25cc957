// Latency samples and what the bench reports of them.

import { readFileSync } from 'node:fs';

export interface Summary {
  p50_ns: number;
  p99_ns: number;
  mean_ns: number;
  ops_per_s: number;
}

export function percentile(sorted: Float64Array | number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}

/** Per-operation times in nanoseconds → percentiles, mean and throughput. */
export function summarize(samples: number[]): Summary {
  const sorted = Float64Array.from(samples).sort();
  const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
  return { p50_ns: percentile(sorted, 0.5), p99_ns: percentile(sorted, 0.99), mean_ns: mean, ops_per_s: 1e9 / mean };
}

export const now = (): number => Number(process.hrtime.bigint());

/** CPU time used so far, in nanoseconds: this process (all its threads) plus the given children. */
export type CpuClock = () => number;

export function cpuClock(children: () => number[]): CpuClock {
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

export interface Samples {
  /** Nanoseconds per operation. */
  times: number[];
  /** CPU nanoseconds spent over the timed operations. */
  cpuNs: number;
}

/**
 * Times `fn` `iterations` times after `warmup` untimed runs; with batch > 1 each sample is the
 * mean of `batch` back-to-back calls (for operations too short to time one by one).
 */
export async function sample(fn: () => Promise<unknown>, iterations: number, warmup: number, cpu: CpuClock, batch = 1): Promise<Samples> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  const cpu0 = cpu();
  for (let i = 0; i < iterations; i++) {
    const t0 = now();
    for (let j = 0; j < batch; j++) await fn();
    times.push((now() - t0) / batch);
  }
  return { times, cpuNs: cpu() - cpu0 };
}

/** '1.23 µs', '45.6 ms': a duration in nanoseconds for people. */
export function formatNs(ns: number): string {
  if (!Number.isFinite(ns)) return '-';
  if (ns < 1e3) return `${ns.toFixed(0)} ns`;
  if (ns < 1e6) return `${(ns / 1e3).toPrecision(3)} µs`;
  if (ns < 1e9) return `${(ns / 1e6).toPrecision(3)} ms`;
  return `${(ns / 1e9).toPrecision(3)} s`;
}
