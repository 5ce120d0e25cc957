// bench/stats.ts warmUp: at least its count of calls, and with any, at least the run's warm-up
// time, never more than 100 × its count; none at all for a count of 0.

import t from 'tap';
import { setWarmupMs, warmUp } from '../bench/stats.js';

/** Runs a warm-up of `calls` calls of an op that resolves at once: the indices called, and the ms it took. */
async function run(calls: number): Promise<{ indices: number[]; ms: number }> {
  const indices: number[] = [];
  const t0 = performance.now();
  await warmUp(async (i) => void indices.push(i), calls);
  return { indices, ms: performance.now() - t0 };
}

t.teardown(() => setWarmupMs(0));

t.test('without a warm-up time, exactly the count, in order', async (t) => {
  setWarmupMs(0);
  t.same((await run(5)).indices, [0, 1, 2, 3, 4]);
  t.same((await run(0)).indices, []);
});

t.test('with a warm-up time: the count at least, for that long unless 100 × the count came first', async (t) => {
  setWarmupMs(40);
  const { indices, ms } = await run(2);
  t.ok(indices.length >= 2 && indices.length <= 200, `${indices.length} calls`);
  t.ok(indices.length === 200 || ms >= 40, `${indices.length} calls in ${ms.toFixed(1)} ms`);
  t.same(indices, indices.map((_, i) => i), 'fn(0), fn(1), … in order');
  t.same((await run(0)).indices, [], 'a count of 0: no calls, whatever the time');
});

t.test('an op slower than the time: the count is still done', async (t) => {
  setWarmupMs(1);
  let n = 0;
  await warmUp(() => new Promise((resolve) => setTimeout(() => resolve(n++), 5)), 3);
  t.equal(n, 3);
});
