// The busy machine (issue 13): the kernel workloads again under monolithic and microkernel, with
// one CPU-bound child process per core beside the bench, and each microkernel/monolithic ratio
// of ops/s set against the same run's quiet ratio.

import { spawn, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import type { Result } from './index.js';

/** The most a hog lives, whatever happens to the bench: a bound if every other way to stop it fails. */
const HOG_MAX_SECONDS = 3600;

/**
 * A CPU-bound process: a busy loop that looks twice a second whether its parent (the bench) is
 * still there and ends when it is not, or after HOG_MAX_SECONDS.
 */
const HOG = `const parent = process.ppid, end = Date.now() + ${HOG_MAX_SECONDS * 1000};
for (let next = 0;;) {
  const t = Date.now();
  if (t >= next) {
    next = t + 500;
    if (t > end) process.exit(0);
    try { process.kill(parent, 0); } catch { process.exit(0); }
  }
}`;

/** The policies the busy run repeats. */
export const BUSY_POLICIES = ['monolithic', 'microkernel'];

export interface BusyRatio {
  workload: string;
  /** The microkernel transport. */
  transport: string;
  /** microkernel ops/s / monolithic ops/s, quiet (the run's main results) and busy. */
  quiet_ratio: number;
  busy_ratio: number;
  /** busy_ratio / quiet_ratio: below 1 when the busy machine costs microkernel more than monolithic. */
  change: number;
}

export interface BusyReport {
  /** CPU-bound processes that ran beside the bench: one per core. */
  hogs: number;
  /** The busy run's results, in the shape of the quiet ones. */
  results: Result[];
  ratios: BusyRatio[];
}

/**
 * Runs `body` with one CPU-bound child process per core running; they are killed when it ends,
 * fails, or the bench's process exits.
 */
export async function withHogs<T>(body: (hogs: number) => Promise<T>): Promise<T> {
  const hogs: ChildProcess[] = Array.from({ length: availableParallelism() }, () =>
    spawn(process.execPath, ['-e', HOG], { stdio: 'ignore' }));
  const kill = () => {
    for (const h of hogs) if (h.exitCode === null && h.signalCode === null) h.kill('SIGKILL');
  };
  process.once('exit', kill);
  try {
    return await body(hogs.length);
  } finally {
    kill();
    process.removeListener('exit', kill);
  }
}

/** Each workload's microkernel/monolithic ops/s ratio, quiet against busy, per microkernel transport. */
export function busyRatios(quiet: Result[], busy: Result[]): BusyRatio[] {
  const ratio = (rs: Result[], w: string, transport: string) => {
    const mk = rs.find((x) => x.workload === w && x.policy === 'microkernel' && x.transport === transport);
    const mono = rs.find((x) => x.workload === w && x.policy === 'monolithic');
    return mk && mono ? mk.ops_per_s / mono.ops_per_s : undefined;
  };
  return busy.filter((x) => x.policy === 'microkernel').flatMap((x) => {
    const q = ratio(quiet, x.workload, x.transport);
    const b = ratio(busy, x.workload, x.transport);
    return q === undefined || b === undefined ? [] : [{ workload: x.workload, transport: x.transport, quiet_ratio: q, busy_ratio: b, change: b / q }];
  });
}
