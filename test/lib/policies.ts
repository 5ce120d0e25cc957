// The placements every behaviour test runs under: the three policies and a mixed one.

import { fileURLToPath } from 'node:url';

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
