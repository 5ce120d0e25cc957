// The bench report for a terminal: a header with the machine, one table per workload, then the
// baselines, boot and idle costs, the targets, and notes on what was skipped.

import type { BenchReport } from './index.js';
import { formatNs } from './stats.js';
import { SYSPROXY_CONTEXT } from './workloads-remote.js';

function table(rows: string[][]): string {
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ')).join('\n');
}

const times = (x: number) => `${x.toFixed(x < 10 ? 2 : 1)}×`;
const ratio = (x: number | null) => (x === null ? '-' : times(x));
const speed = (x: number) => (x >= 1 ? `${times(x)} faster` : `${times(1 / x)} slower`);
const count = (x: number) => Math.round(x).toLocaleString('en-US');

export function formatReport(r: BenchReport): string {
  const out: string[] = [];
  const m = r.machine;
  out.push(`rumpus bench — ${m.cpu}, ${m.cores} cores, Node ${m.node}, ${m.platform}; load average at start ${m.load_average.map((x) => x.toFixed(2)).join(' ')}`);
  out.push('');
  for (const w of [...new Set(r.results.map((x) => x.workload))]) {
    out.push(`${w}: ${r.workloads.find((x) => x.name === w)?.op ?? ''}`);
    const withPeer = r.peer?.speedups.some((s) => s.workload === w) ?? false;
    const withLocal = r.results.some((y) => y.workload === w && y.ratio_to_local !== null);
    const withBlk = r.results.some((y) => y.workload === w && y.ratio_to_blk !== null);
    const withMono = r.results.some((y) => y.workload === w && y.ratio_to_monolithic !== null);
    const rows = [['policy', 'transport', 'p50', 'p99', 'mean', 'ops/s', 'CPU/op', ...(withMono ? ['p50 vs mono'] : []), ...(withLocal ? ['p50 vs local'] : []),
      ...(withBlk ? ['ops/s vs blk'] : []), ...(withPeer ? ['vs peer'] : [])]];
    for (const x of r.results.filter((y) => y.workload === w)) {
      const s = r.peer?.speedups.find((y) => y.workload === w && y.policy === x.policy && y.transport === x.transport);
      rows.push([x.policy, x.transport, formatNs(x.p50_ns), formatNs(x.p99_ns), formatNs(x.mean_ns), count(x.ops_per_s),
        formatNs(x.cpu_ns_per_op), ...(withMono ? [ratio(x.ratio_to_monolithic)] : []), ...(withLocal ? [ratio(x.ratio_to_local)] : []),
        ...(withBlk ? [ratio(x.ratio_to_blk)] : []), ...(withPeer ? [s ? speed(s.speedup) : '-'] : [])]);
    }
    out.push(table(rows), '');
  }
  if (r.results.some((x) => x.workload.startsWith('remote-'))) out.push(SYSPROXY_CONTEXT, '');
  if (r.peer) out.push(`peer: ${r.peer.name}; "vs peer" compares ops/s, the whole workload's time`, '');

  out.push('baselines, same run:');
  out.push(table([['boundary', 'p50', 'p99'], ...r.baselines.map((b) => [b.name, formatNs(b.p50_ns), formatNs(b.p99_ns)])]), '');
  if (r.boot.length) {
    out.push('boot (until boot() resolves, default mounts made), against starting as many bare threads/processes at once:');
    out.push(table([['policy', 'transport', 'p50', 'p99', 'bare', 'bare p50', 'boot / bare'],
      ...r.boot.map((b) => [b.policy, b.transport, formatNs(b.p50_ns), formatNs(b.p99_ns), b.bare ?? '-',
        b.bare_p50_ns === null ? '-' : formatNs(b.bare_p50_ns), ratio(b.ratio_to_bare)])]), '');
  }
  if (r.recovery.length) {
    out.push('recovery: from the call that crashes a component (dev) to its answer, retried on the restarted one, against starting one bare thread/process:');
    out.push(table([['policy', 'transport', 'domain', 'p50', 'p99', 'bare p50', 'recovery / bare'],
      ...r.recovery.map((x) => [x.policy, x.transport, x.kind, formatNs(x.p50_ns), formatNs(x.p99_ns), formatNs(x.bare_p50_ns), `${x.ratio_to_bare.toFixed(2)}×`])]), '');
  }
  if (r.idle.length) {
    out.push('idle: CPU of a booted system doing nothing (this process and its children), % of one core:');
    out.push(table([['policy', 'transport', 'seconds', 'CPU'],
      ...r.idle.map((x) => [x.policy, x.transport, String(x.seconds), `${x.cpu_percent_of_core.toFixed(2)}%`])]), '');
  }
  if (r.busy) {
    out.push(`busy machine: the kernel workloads again with ${r.busy.hogs} CPU-bound processes beside the bench (one per core); microkernel ops/s / monolithic ops/s:`);
    out.push(table([['workload', 'transport', 'mono ops/s', 'mk ops/s', 'quiet ratio', 'busy ratio', 'busy / quiet'],
      ...r.busy.ratios.map((x) => {
        const ops = (policy: string) => r.busy!.results.find((y) => y.workload === x.workload && y.policy === policy && (policy === 'monolithic' || y.transport === x.transport))?.ops_per_s;
        return [x.workload, x.transport, count(ops('monolithic') ?? NaN), count(ops('microkernel') ?? NaN), x.quiet_ratio.toPrecision(3), x.busy_ratio.toPrecision(3), `${x.change.toFixed(2)}×`];
      })]), '');
  }
  if (r.targets.length) {
    out.push('targets (issues 5, 3, 15, 16 and 13):');
    out.push(table([['target', 'measured', 'limit', ''],
      ...r.targets.map((t) => [t.target, t.value.toPrecision(3), `${t.bound === '<=' ? '≤' : '≥'} ${t.limit}`, t.met ? 'met' : 'NOT MET'])]), '');
  }
  for (const n of r.notes) out.push(`note: ${n}`);
  return out.join('\n').trimEnd();
}
