// rumpus bench: the same workloads under each policy, with the cost of a bare boundary
// measured in the same run, reported as a table or as one JSON object.

import { cpus } from 'node:os';
import { boot } from '../kernel/index.js';
import { measureBaselines, type Baseline } from './baselines.js';
import { cpuClock, formatNs, summarize, type Summary } from './stats.js';
import { WORKLOADS } from './workloads.js';

export interface BenchOptions {
  policies: string[];
  workloads?: string[];
  /** Fewer iterations, for a smoke run (seconds, not minutes). */
  quick?: boolean;
  /** Progress lines go here (stderr on a terminal); null for none. */
  progress?: ((line: string) => void) | null;
}

export interface Result extends Summary {
  workload: string;
  policy: string;
  transport: string;
  cpu_ns_per_op: number;
  ratio_to_monolithic: number | null;
}

export interface BenchReport {
  machine: { cpu: string; cores: number; node: string; platform: string };
  results: Result[];
  baselines: Baseline[];
}

/** The transport a policy's client→vfs channel uses. */
function transportOf(policy: string, thread: string): string {
  return { monolithic: 'direct', microkernel: thread, multiprocess: 'pipe+msgpackr' }[policy] ?? 'mixed';
}

export async function runBench(opts: BenchOptions): Promise<BenchReport> {
  const scale = opts.quick ? 0.05 : 1;
  const say = opts.progress ?? (() => {});
  const workloads = WORKLOADS.filter((w) => !opts.workloads || opts.workloads.includes(w.name));
  say('baselines');
  const baselines = await measureBaselines(Math.round(20000 * scale));
  const results: Result[] = [];
  for (const policy of opts.policies) {
    say(`booting ${policy}`);
    const k = await boot({ policy });
    try {
      const p = await k.spawn();
      const cpu = cpuClock(() => k.domains().filter((d) => d.kind === 'process').map((d) => d.id));
      for (const w of workloads) {
        say(`${policy}: ${w.name}`);
        const { times, cpuNs } = await w.run(p, k, scale, cpu);
        results.push({
          workload: w.name, policy, transport: transportOf(policy, k.transport), ...summarize(times),
          cpu_ns_per_op: cpuNs / times.length, ratio_to_monolithic: null,
        });
      }
    } finally {
      await k.halt();
    }
  }
  for (const r of results) {
    const mono = results.find((x) => x.workload === r.workload && x.policy === 'monolithic');
    r.ratio_to_monolithic = mono ? r.p50_ns / mono.p50_ns : null;
  }
  return {
    machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, node: process.version, platform: `${process.platform}-${process.arch}` },
    results,
    baselines,
  };
}

function table(rows: string[][]): string {
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ')).join('\n');
}

const ratio = (x: number | null) => (x === null ? '-' : `${x.toFixed(x < 10 ? 2 : 1)}×`);

export function formatReport(r: BenchReport): string {
  const out: string[] = [];
  out.push(`rumpus bench — ${r.machine.cpu}, ${r.machine.cores} cores, Node ${r.machine.node}`);
  out.push('');
  const byWorkload = [...new Set(r.results.map((x) => x.workload))];
  for (const w of byWorkload) {
    const def = WORKLOADS.find((x) => x.name === w)!;
    out.push(`${w}: ${def.op}`);
    const rows = [['policy', 'transport', 'p50', 'p99', 'mean', 'ops/s', 'CPU/op', 'p50 vs mono']];
    for (const x of r.results.filter((y) => y.workload === w)) {
      rows.push([x.policy, x.transport, formatNs(x.p50_ns), formatNs(x.p99_ns), formatNs(x.mean_ns),
        Math.round(x.ops_per_s).toLocaleString('en-US'), formatNs(x.cpu_ns_per_op), ratio(x.ratio_to_monolithic)]);
    }
    out.push(table(rows));
    out.push('');
  }
  out.push('baselines, same run:');
  out.push(table([['boundary', 'p50', 'p99'], ...r.baselines.map((b) => [b.name, formatNs(b.p50_ns), formatNs(b.p99_ns)])]));
  return out.join('\n');
}
