// What a boundary costs with nothing of rumpus in it, measured in the same run as the
// policies: an in-process async call and a raw worker_threads postMessage round trip.

import { Worker } from 'node:worker_threads';
import { cpuClock, sample, summarize } from './stats.js';

const cpu = cpuClock(() => []);

export interface Baseline {
  name: string;
  p50_ns: number;
  p99_ns: number;
}

async function inProcess(iterations: number): Promise<Baseline> {
  const callee = async (x: number) => x + 1;
  let v = 0;
  const s = summarize((await sample(async () => (v = await callee(v)), iterations, iterations / 10, cpu, 100)).times);
  return { name: 'in-process async call', p50_ns: s.p50_ns, p99_ns: s.p99_ns };
}

async function workerPostMessage(iterations: number): Promise<Baseline> {
  const worker = new Worker(`require('node:worker_threads').parentPort.on('message', (m) => require('node:worker_threads').parentPort.postMessage(m));`, { eval: true });
  try {
    const roundTrip = () => new Promise((resolve) => {
      worker.once('message', resolve);
      worker.postMessage({ op: 'ping' });
    });
    const s = summarize((await sample(roundTrip, iterations, iterations / 10, cpu)).times);
    return { name: 'worker postMessage round trip', p50_ns: s.p50_ns, p99_ns: s.p99_ns };
  } finally {
    await worker.terminate();
  }
}

export async function measureBaselines(iterations: number): Promise<Baseline[]> {
  return [await inProcess(iterations), await workerPostMessage(iterations)];
}
