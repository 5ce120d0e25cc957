// The rumpus command as a user runs it: help for every command, the shell example under every
// policy, and the bench's JSON in its documented shape.

import { execFile } from 'node:child_process';
import { join } from 'node:path';
import t from 'tap';
import { ALL_POLICIES, policyName } from './lib/policies.js';

const BIN = join(import.meta.dirname, '..', 'bin', 'rumpus.ts');

function rumpus(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', BIN, ...args], { timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

t.test('help describes every command', async (t) => {
  const main = await rumpus('--help');
  t.equal(main.code, 0);
  const commands = [...main.stdout.matchAll(/^ {2}(\w+) {2,}/gm)].map((m) => m[1]);
  t.ok(commands.includes('sh') && commands.includes('bench'), `lists the commands (${commands.join(', ')})`);
  for (const c of commands) {
    const r = await rumpus(c, '--help');
    t.equal(r.code, 0, `${c} --help succeeds`);
    t.match(r.stdout, new RegExp(`^usage: rumpus ${c}`), `${c} --help gives its usage`);
    t.ok(r.stdout.split('\n').length > 3, `${c} --help explains it`);
  }
  const bad = await rumpus('frob');
  t.equal(bad.code, 2);
  t.match(bad.stderr, /unknown command 'frob'/);
  const badOption = await rumpus('sh', '--nope');
  t.equal(badOption.code, 2);
  t.match(badOption.stderr, /--nope/);
  const badPolicy = await rumpus('sh', '--policy', 'nosuch', '-c', 'ls');
  t.equal(badPolicy.code, 1);
  t.match(badPolicy.stderr, /policy 'nosuch' is neither/);
});

for (const policy of ALL_POLICIES) {
  t.test(`the shell example prints what the issue shows under ${policyName(policy)}`, async (t) => {
    const r = await rumpus('sh', '--policy', policy, '-c', 'mkdir /tmp/a; echo hello > /tmp/a/f; cat /tmp/a/f; ls -l /tmp/a');
    t.equal(r.code, 0);
    t.equal(r.stderr, '');
    t.match(r.stdout, /^hello\n-rw-r--r-- {2}1 0 0 {2}6 \w{3} [ \d]\d \d\d:\d\d f\n$/);
  });
}

t.test('sh exits with the status of its last command, or of exit', async (t) => {
  t.equal((await rumpus('sh', '-c', 'cat /nope')).code, 1);
  t.equal((await rumpus('sh', '-c', 'exit 7')).code, 7);
});

t.test('bench --quick --json has the documented shape', async (t) => {
  const r = await rumpus('bench', '--quick', '--json');
  t.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  t.match(report.machine, { cpu: String, cores: Number, node: String });
  t.ok(report.results.length >= 6, 'a result per workload and policy');
  for (const x of report.results) {
    t.match(x, {
      workload: String, policy: String, transport: String, p50_ns: Number, p99_ns: Number, mean_ns: Number,
      ops_per_s: Number, cpu_ns_per_op: Number, ratio_to_monolithic: Number,
    }, `${x.workload} under ${x.policy}`);
    t.ok(x.p50_ns > 0 && x.p99_ns >= x.p50_ns, 'p99 is at least p50');
  }
  t.same(new Set(report.results.map((x: { policy: string }) => x.policy)), new Set(['monolithic', 'microkernel', 'multiprocess']));
  t.same(report.baselines.map((b: { name: string }) => b.name), ['in-process async call', 'worker postMessage round trip']);
});
