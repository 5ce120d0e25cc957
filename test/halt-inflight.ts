// halt() with calls in flight (issue 10, item 10): every call under way when halt() runs fails
// at once with EIO — the same errno under every policy, never ENODEV or ENXIO from the teardown
// — none waits for a peer the halted kernel never brings back, and halting mounts nothing again
// and restarts nothing. Each run is a process of its own (test/fixtures/halt-inflight-child.ts),
// so that the log lines of process domains can be read.

import { spawn } from 'node:child_process';
import { join } from 'node:path';
import t from 'tap';

const POLICIES = ['monolithic', 'microkernel', 'multiprocess'];
/** Runs per policy: whether a call is in flight at the wrong moment of halt is a race. */
const RUNS = 2;
const CHILD = join(import.meta.dirname, 'fixtures', 'halt-inflight-child.ts');
const TSX = import.meta.resolve('tsx');
/** A generous bound on a whole run settling at all: the bug this guards against is a hang. */
const RUN_MS = 90_000;

interface Result {
  ends: { i: number; errno: string; ms: number }[];
  pending: number;
}

function runChild(policy: string): Promise<{ result: Result | null; stderr: string; code: number | null }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', TSX, CHILD, policy], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), RUN_MS);
    child.on('close', (code) => {
      clearTimeout(timer);
      const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
      resolve({ result: line ? (JSON.parse(line.slice(7)) as Result) : null, stderr, code });
    });
  });
}

for (const policy of POLICIES) {
  for (let run = 1; run <= RUNS; run++) {
    t.test(`${policy}, run ${run}: halt with 8 clients' calls in flight`, async (t) => {
      const { result, stderr, code } = await runChild(policy);
      if (!t.ok(result, result ? 'the run finished' : `the run finished: exit ${code} ${stderr.slice(-500)}`) || !result) return;
      t.equal(result.pending, 0, 'no call is left pending after halt() returned');
      // Cut off by halt: settled by the time halt() returned, or just after (an event-loop turn).
      t.same(result.ends.filter((e) => e.ms > 2000), [], 'every call settled by halt() returning (2 s of slack)');
      t.same(result.ends.filter((e) => e.errno !== 'EIO'), [], 'every call cut off by halt failed with EIO');
      t.notMatch(stderr, /mounted again/, 'nothing is mounted again during halt');
      t.notMatch(stderr, /failed: domain|restarted: domain/, 'no domain fails or is restarted during halt');
    });
  }
}
