// The syscall suite: one script of syscalls run under every policy. Each step's outcome — its
// value or its errno — must be the same under all of them, and the expected ones are checked
// against what POSIX says.

import t from 'tap';
import { boot } from '../kernel/index.js';
import { ALL_RUNS } from './lib/policies.js';
import { runSteps, steps, type Outcome } from './lib/syscall-steps.js';

t.test('the syscall suite gives the same results under every policy and transport', async (t) => {
  const outcomes = new Map<string, Outcome[]>();
  for (const run of ALL_RUNS) {
    const k = await boot(run.options);
    try {
      outcomes.set(run.name, await runSteps({ root: await k.spawn(), user: await k.spawn({ uid: 1000, gid: 1000 }) }));
    } finally {
      await k.halt();
    }
  }
  const [first, ...others] = [...outcomes.entries()];
  steps.forEach(([name, , expect], i) => {
    if (expect) t.same(first[1][i], expect, `${name} (${first[0]})`);
  });
  for (const [policy, got] of others) {
    const differing = steps.map(([name], i) => ({ name, mono: first[1][i], got: got[i] })).filter((d) => JSON.stringify(d.mono) !== JSON.stringify(d.got));
    t.same(differing, [], `${policy}: every step as under ${first[0]}`);
  }
});
