// The targets of issues 5, 3, 15, 16 and 13, checked against one run's numbers. A benchmark's
// verdict, not a test: the bench reports them and never fails on them.

import { BASELINES } from './baselines.js';
import type { BenchReport, Result } from './index.js';
import { PEER_POLICY } from './peer.js';
import { RDUMP_LABEL, RDUMP_POLICY, TREE_WORKLOAD } from './workloads-tree.js';
import { NULL_ALONE, NULL_DURING_OPENS, PLAIN_BLK, cipherLabel } from './workloads-cgd.js';

export interface TargetCheck {
  /** What is compared, e.g. 'microkernel ring: null-syscall p50 / ring round trip to a thread (bare)'. */
  target: string;
  value: number;
  /** value must be at most (<=) or at least (>=) limit. */
  bound: '<=' | '>=';
  limit: number;
  met: boolean;
}

/** Issue 13's floors for microkernel ops/s over monolithic ops/s, per kernel workload. */
export const MICROKERNEL_OPS_TARGETS: [workload: string, limit: number][] = [
  ['pread-64k', 0.8], ['seq-read', 0.8], ['pread-4k', 0.5], ['stat', 0.5], ['small-files', 0.25],
];

export function checkTargets(r: Omit<BenchReport, 'targets'>): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const check = (target: string, value: number | undefined, bound: '<=' | '>=', limit: number) => {
    if (value === undefined || !Number.isFinite(value)) return;
    checks.push({ target, value, bound, limit, met: bound === '<=' ? value <= limit : value >= limit });
  };
  const result = (workload: string, policy: string, transport?: string): Result | undefined =>
    r.results.find((x) => x.workload === workload && x.policy === policy && (transport === undefined || x.transport === transport));
  const baseline = (name: string) => r.baselines.find((b) => b.name === name)?.p50_ns;
  const microkernels = [...new Set(r.results.filter((x) => x.policy === 'microkernel').map((x) => x.transport))];

  for (const t of microkernels) {
    const mk = (w: string) => result(w, 'microkernel', t);
    const mono = (w: string) => result(w, 'monolithic');
    // Issue 13: the null syscall against its transport's floor (these replace issue 5's against
    // an in-process call and piscina.run, which measured the machine rather than rumpus).
    const nullP50 = mk('null-syscall')?.p50_ns;
    if (t === 'ring') check(`microkernel ${t}: null-syscall p50 / ${BASELINES.ringFloor}`, nullP50 && nullP50 / baseline(BASELINES.ringFloor)!, '<=', 1.5);
    // Issue 13: throughput against monolithic (these replace issue 5's 0.7 for pread-64k and seq-read).
    for (const [w, limit] of MICROKERNEL_OPS_TARGETS) {
      check(`microkernel ${t}: ${w} ops/s / monolithic`, mk(w) && mono(w) && mk(w)!.ops_per_s / mono(w)!.ops_per_s, '>=', limit);
    }
    check(`microkernel ${t}: idle CPU, % of one core`, r.idle.find((x) => x.policy === 'microkernel' && x.transport === t)?.cpu_percent_of_core, '<=', 2);
    check(`microkernel ${t}: boot / bare threads`, r.boot.find((x) => x.policy === 'microkernel' && x.transport === t)?.ratio_to_bare ?? undefined, '<=', 1.3);
  }
  for (const x of r.recovery) check(`${x.policy} ${x.transport}: recovery / bare ${x.kind} start`, x.ratio_to_bare, '<=', 1.5);
  const mpPread = result('pread-64k', 'multiprocess')?.ops_per_s;
  const monoPread = result('pread-64k', 'monolithic')?.ops_per_s;
  check('multiprocess: pread-64k ops/s / monolithic', mpPread && monoPread && mpPread / monoPread, '>=', 0.5);
  const mpNull = result('null-syscall', 'multiprocess')?.p50_ns;
  check(`multiprocess: null-syscall p50 / ${BASELINES.streamFloor}`, mpNull && mpNull / baseline(BASELINES.streamFloor)!, '<=', 1.2);
  const monoNull = result('null-syscall', 'monolithic')?.p50_ns;
  check(`monolithic: null-syscall p50 / ${BASELINES.inProcess}`, monoNull && monoNull / baseline(BASELINES.inProcess)!, '<=', 4);

  // Issue 16: the pool against plain blk and against one thread, on 2 cores; and key derivation's
  // effect on another client's null syscall.
  const cgd = (w: string, transport: string) => result(w, transport === PLAIN_BLK ? 'blk' : 'cgd', transport)?.ops_per_s;
  for (const w of ['cgd-seq-write', 'cgd-seq-read']) {
    const pool = cgd(w, cipherLabel('pool'));
    check(`cgd, ${cipherLabel('pool')}: ${w} ops/s / plain blk`, pool && pool / cgd(w, PLAIN_BLK)!, '>=', 0.7);
    check(`cgd, ${cipherLabel('pool')}: ${w} ops/s / ${cipherLabel('thread')}`, pool && pool / cgd(w, cipherLabel('thread'))!, '>=', 1.5);
  }
  const nullP99 = (transport: string) => result('cgd-open-null-syscall', 'cgd', transport)?.p99_ns;
  const during = nullP99(NULL_DURING_OPENS);
  check('cgd: null-syscall p99 during key derivation in the pool / without', during && during / nullP99(NULL_ALONE)!, '<=', 2);

  // Issue 13: `cp -r` of the tree out of an image against debugfs rdump of the same image.
  const rdump = result(TREE_WORKLOAD, RDUMP_POLICY)?.p50_ns;
  for (const [policy, limit] of [['monolithic', 1], ['microkernel', 2]] as const) {
    const copy = result(TREE_WORKLOAD, policy);
    if (copy) check(`${policy} ${copy.transport}: ${TREE_WORKLOAD} time / debugfs ${RDUMP_LABEL}`, rdump && copy.p50_ns / rdump, '<=', limit);
  }

  // Issue 13: the busy machine moves no microkernel/monolithic ratio by more than 2× either way.
  for (const x of r.busy?.ratios ?? []) {
    check(`busy machine, microkernel ${x.transport}: ${x.workload} ops/s ratio to monolithic, quiet vs busy (larger / smaller)`,
      Math.max(x.change, 1 / x.change), '<=', 2);
  }

  for (const s of r.peer?.speedups ?? []) {
    const limit = s.policy === 'monolithic' ? 10 : s.policy === 'microkernel' ? 5 : undefined;
    if (limit) check(`${s.policy} ${s.transport}: ${s.workload} speed / ${PEER_POLICY}`, s.speedup, '>=', limit);
  }
  return checks;
}
