// What a call to a pure component costs in a pool domain, against the same call in the
// kernel's own thread and in a thread domain, and what a pool gains on CPU-heavy calls made
// many at once; and what a pool adds to a microkernel boot. The component is the test fixture
// `sum` (test/fixtures/sum.ts): `where {ms: 0}` is a null op, `fnv` over 64 KiB a CPU-bound one.
// Run: node --import tsx bench/pool-cost.ts   (a few seconds per row; numbers for the README)

import { performance } from 'node:perf_hooks';
import { boot, type Kernel } from '../kernel/index.js';
import { placeComponent, presetSpec, type DomainKind, type PlacementSpec } from '../kernel/placement.js';
import { BUILTIN } from '../kernel/registry.js';
import { percentile } from './stats.js';

const sum = new URL('../test/fixtures/sum.ts', import.meta.url).href;

function placed(kind: DomainKind, workers?: number): PlacementSpec {
  return placeComponent({ name: `sum-${kind}`, modules: { sum }, domains: { main: { kind: 'main', components: [...BUILTIN, 'sum'] } } }, 'sum', kind, workers);
}

/** Sequential calls: latency p50 and p99 in µs. */
async function latency(k: Kernel, op: string, args: Record<string, unknown>, n: number): Promise<[number, number]> {
  for (let i = 0; i < n / 10; i++) await k.call('sum', op, args);
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await k.call('sum', op, args);
    times.push((performance.now() - t0) * 1000);
  }
  times.sort((a, b) => a - b);
  return [percentile(times, 0.5), percentile(times, 0.99)];
}

/** `inFlight` callers each making `each` calls: calls per second. */
async function throughput(k: Kernel, op: string, args: Record<string, unknown>, inFlight: number, each: number): Promise<number> {
  const loop = async () => { for (let i = 0; i < each; i++) await k.call('sum', op, args); };
  await Promise.all(Array.from({ length: inFlight }, loop)); // warm-up: every worker up
  const t0 = performance.now();
  await Promise.all(Array.from({ length: inFlight }, loop));
  return (inFlight * each) / ((performance.now() - t0) / 1000);
}

const data = new Uint8Array(64 * 1024).map((_, i) => i & 0xff);
const rows: string[] = ['| sum in | null op p50 / p99 (µs) | null ops/s, 8 in flight | fnv 64 KiB p50 (µs) | fnv 64 KiB/s, 8 in flight |', '|---|---|---|---|---|'];
for (const [label, kind, workers] of [['main', 'main'], ['a thread', 'thread'], ['a pool of 1', 'pool', 1], ['a pool of 2', 'pool', 2]] as [string, DomainKind, number?][]) {
  const k = await boot({ policy: placed(kind, workers) });
  try {
    const [p50, p99] = await latency(k, 'where', { ms: 0 }, 3000);
    const nulls = await throughput(k, 'where', { ms: 0 }, 8, 400);
    const [fnv] = await latency(k, 'fnv', { data, rounds: 1 }, 200);
    const fnvs = await throughput(k, 'fnv', { data, rounds: 1 }, 8, 40);
    rows.push(`| ${label} | ${p50.toFixed(1)} / ${p99.toFixed(1)} | ${nulls.toFixed(0)} | ${fnv.toFixed(0)} | ${fnvs.toFixed(0)} |`);
  } finally {
    await k.halt();
  }
}
console.log(rows.join('\n'));

/** Median of `runs` microkernel boots (to the first call served) of `spec`, in ms. */
async function bootMs(spec: PlacementSpec, runs: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const k = await boot({ policy: spec });
    times.push(performance.now() - t0);
    await k.halt();
  }
  times.sort((a, b) => a - b);
  return times[runs >> 1];
}
const all = [...BUILTIN, 'sum'];
const asThread = { ...presetSpec('microkernel', all, []), modules: { sum } };
const asPool = { ...presetSpec('microkernel', all, ['sum']), modules: { sum } };
console.log(`microkernel boot, median of 5: sum in a thread ${(await bootMs(asThread, 5)).toFixed(0)} ms, in a pool (workers started at its first call) ${(await bootMs(asPool, 5)).toFixed(0)} ms`);
