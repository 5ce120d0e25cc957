// The placements every behaviour test runs under: the three policies and a mixed one.

import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { boot, type Kernel } from '../../kernel/index.js';

export const MIXED = fileURLToPath(new URL('../fixtures/mixed.json', import.meta.url));

export const ALL_POLICIES = ['monolithic', 'microkernel', 'multiprocess', MIXED];

export function policyName(policy: string): string {
  return policy === MIXED ? 'mixed placement file' : policy;
}

/** Every placement, and the microkernel once more over the other thread transport. */
export const ALL_RUNS: { name: string; options: { policy: string; transport?: 'ring' | 'postMessage' } }[] = [
  ...ALL_POLICIES.map((policy) => ({ name: policyName(policy), options: { policy } })),
  { name: 'microkernel over postMessage', options: { policy: 'microkernel', transport: 'postMessage' } },
];

/**
 * Runs `run` under each of `policies` (a subtest each, the kernel halted after it), then checks
 * that every policy saw what the first saw — `cases` outcomes, by case name — errno for errno.
 */
export function sameUnderEveryPolicy(policies: readonly string[], cases: number, run: (t: Test, k: Kernel) => Promise<Record<string, unknown>>): void {
  const outcomes = new Map<string, Record<string, unknown>>();
  for (const policy of policies) {
    t.test(policyName(policy), async (t) => {
      const k = await boot({ policy });
      t.teardown(() => k.halt());
      outcomes.set(policy, await run(t, k));
    });
  }
  t.test('every policy gives the same outcomes', async (t) => {
    const first = outcomes.get(policies[0]);
    t.ok(first && Object.keys(first).length === cases, `${policyName(policies[0])} ran every case`);
    for (const policy of policies.slice(1)) t.same(outcomes.get(policy), first, `${policyName(policy)}, errno for errno`);
  });
}
