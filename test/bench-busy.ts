// rumpus bench --busy (issue 13's busy machine), on a tiny run: the kernel workloads again under
// monolithic and microkernel beside one CPU-bound process per core, each microkernel/monolithic
// ratio against the quiet run's, its target, and no CPU-bound process left afterwards. Shapes
// only: timing belongs in the bench, never in tests.

import { execFile } from 'node:child_process';
import t from 'tap';
import { bench } from './lib/bench-cli.js';

t.test('bench --busy runs the kernel workloads again beside a CPU-bound process per core, and kills them', async (t) => {
  const r = await bench('--quick', '--busy', '--workloads', 'null-syscall,stat', '--policies', 'monolithic,microkernel:ring,multiprocess', '--json');
  t.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  t.equal(report.busy.hogs, report.machine.cores, 'one hog per core');
  t.same(report.busy.results.map((x: { workload: string; policy: string; transport: string }) => `${x.workload} ${x.policy} ${x.transport}`).sort(),
    ['null-syscall microkernel ring', 'null-syscall monolithic direct', 'stat microkernel ring', 'stat monolithic direct'], 'monolithic and microkernel only, every kernel workload');
  t.same(report.busy.ratios.map((x: { workload: string }) => x.workload), ['null-syscall', 'stat']);
  const finite = (x: unknown) => typeof x === 'number' && Number.isFinite(x) && x > 0;
  for (const x of report.busy.ratios) {
    const quiet = (p: string) => report.results.find((y: { workload: string; policy: string }) => y.workload === x.workload && y.policy === p).ops_per_s;
    t.ok(finite(x.busy_ratio) && finite(x.change), `${x.workload}: finite ratios`);
    t.equal(x.quiet_ratio, quiet('microkernel') / quiet('monolithic'), `${x.workload}: the quiet ratio is the same run's`);
    t.equal(x.change, x.busy_ratio / x.quiet_ratio);
    const target = report.targets.find((y: { target: string }) => y.target.startsWith(`busy machine, microkernel ring: ${x.workload} `));
    t.match(target, { bound: '<=', limit: 2, value: Math.max(x.change, 1 / x.change) }, `${x.workload}: the busy target`);
  }
  // The hogs are SIGKILLed when the bench ends (and would exit on their own, without their parent).
  const ps = await new Promise<string>((resolve) => execFile('ps', ['-eo', 'args'], (_e, out) => resolve(out)));
  t.notMatch(ps, /process\.kill\(parent, 0\)/, 'no hog left running');
});
