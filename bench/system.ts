// What a policy costs apart from syscalls: the time to boot it (against starting the same
// number of bare threads and processes, in the same loop), the CPU a booted, idle system burns
// (DESIGN rule 5: an idle system burns no CPU), and the time from a component's crash to its
// first served call after the restart (against starting one bare thread or process).

import { setTimeout as sleep } from 'node:timers/promises';
import { boot, type Kernel } from '../kernel/index.js';
import { startBare } from './baselines.js';
import type { Config } from './configs.js';
import { cpuClock, now, percentile } from './stats.js';

export interface BootTime {
  policy: string;
  transport: string;
  /** boot() until it resolves: domains started, components started, default file systems mounted. */
  p50_ns: number;
  p99_ns: number;
  /** What was started bare for comparison: '5 threads', '5 processes', or null (monolithic). */
  bare: string | null;
  bare_p50_ns: number | null;
  ratio_to_bare: number | null;
}

export interface IdleCpu {
  policy: string;
  transport: string;
  seconds: number;
  /** CPU of this process (all its threads) and every domain's process, as % of one core. */
  cpu_percent_of_core: number;
}

export interface RecoveryTime {
  policy: string;
  transport: string;
  /** The kind of domain that crashed and came back. */
  kind: 'thread' | 'process';
  /** From the call that crashes dev to its answer, retried on the restarted dev. */
  p50_ns: number;
  p99_ns: number;
  bare_p50_ns: number;
  ratio_to_bare: number;
}

const bootConfig = (c: Config) => boot({ policy: c.placement, transport: c.transport });

/** The same as cpuClock, counting the kernel's child processes. */
export function kernelCpuClock(k: Kernel) {
  return cpuClock(() => k.domains().filter((d) => d.kind === 'process').map((d) => d.id));
}

const plural = (n: number, what: string) => (n === 0 ? '' : `${n} ${what}${n === 1 ? '' : what.endsWith('s') ? 'es' : 's'}`);

export async function measureBoot(c: Config, iterations: number): Promise<BootTime> {
  const boots = new Float64Array(iterations);
  const bares = new Float64Array(iterations);
  const hasBare = c.threads + c.processes > 0;
  for (let i = 0; i < iterations; i++) {
    const t0 = now();
    const k = await bootConfig(c);
    boots[i] = now() - t0;
    await k.halt();
    if (hasBare) bares[i] = await startBare({ threads: c.threads, processes: c.processes });
  }
  boots.sort();
  bares.sort();
  const p50 = percentile(boots, 0.5);
  const bareP50 = hasBare ? percentile(bares, 0.5) : null;
  return {
    policy: c.policy,
    transport: c.label,
    p50_ns: p50,
    p99_ns: percentile(boots, 0.99),
    bare: hasBare ? [plural(c.threads, 'thread'), plural(c.processes, 'process')].filter(Boolean).join(' + ') : null,
    bare_p50_ns: bareP50,
    ratio_to_bare: bareP50 ? p50 / bareP50 : null,
  };
}

/** Boots, then measures CPU over `seconds` of doing nothing. */
export async function measureIdle(c: Config, seconds: number): Promise<IdleCpu> {
  const k = await bootConfig(c);
  try {
    const cpu = kernelCpuClock(k);
    const cpu0 = cpu();
    const t0 = now();
    await sleep(seconds * 1000);
    const percent = ((cpu() - cpu0) / (now() - t0)) * 100;
    return { policy: c.policy, transport: c.label, seconds, cpu_percent_of_core: percent };
  } finally {
    await k.halt();
  }
}

/**
 * Crashes dev at a stat of /dev/null, again and again: the stat is retried on the new dev,
 * which the vfs mounts again, and its answer ends the measurement.
 */
export async function measureRecovery(c: Config, iterations: number): Promise<RecoveryTime | null> {
  const kind = c.processes > 0 ? 'process' : c.threads > 0 ? 'thread' : null;
  if (!kind) return null;
  const k = await boot({
    policy: c.placement, transport: c.transport,
    // Restarted at once every time: the backoff after repeated failures is not what is measured.
    supervision: { dev: { intensity: { max: iterations + 1, withinMs: 3_600_000 }, backoff: { firstMs: 0, maxMs: 0 } } },
  });
  const times = new Float64Array(iterations);
  try {
    const p = await k.spawn();
    for (let i = 0; i < iterations; i++) {
      await k.inject({ component: 'dev', type: 'crash', op: 'walk' });
      const t0 = now();
      await p.stat('/dev/null');
      times[i] = now() - t0;
      await k.settled();
      await sleep(kind === 'process' ? 200 : 50); // the new spare is ready again
    }
  } finally {
    await k.halt();
  }
  const bares = new Float64Array(iterations);
  for (let i = 0; i < iterations; i++) bares[i] = await startBare(kind === 'thread' ? { threads: 1 } : { processes: 1 });
  times.sort();
  bares.sort();
  const bareP50 = percentile(bares, 0.5);
  return {
    policy: c.policy, transport: c.label, kind, p50_ns: percentile(times, 0.5), p99_ns: percentile(times, 0.99),
    bare_p50_ns: bareP50, ratio_to_bare: percentile(times, 0.5) / bareP50,
  };
}
