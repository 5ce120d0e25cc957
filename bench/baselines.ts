// What a boundary costs with nothing of rumpus in it, measured in the same run as the
// policies: an in-process async call, a raw worker postMessage round trip, piscina.run, and
// child_process IPC; the floors of the two transports between domains (floors.ts: a bare
// ring round trip, a bare framed-stream echo to a child); and what starting a bare worker thread or child process costs, to judge
// boot (and, later, restart) times by.

import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { ringFloor, streamFloor } from './floors.js';
import { ROUND_TRIP_BATCH, cpuClock, now, percentile, repeat } from './stats.js';

const cpu = cpuClock();

/** The baselines' names, as reports show them. */
export const BASELINES = {
  inProcess: 'in-process async call',
  postMessage: 'worker postMessage round trip',
  piscina: 'piscina.run round trip',
  childIpc: 'child_process IPC (json) round trip',
  ringFloor: 'ring round trip to a thread (bare)',
  streamFloor: 'framed-stream echo to a child process (bare)',
  startThread: 'start a bare worker thread',
  startProcess: 'start a bare child process',
} as const;

export interface Baseline {
  name: string;
  p50_ns: number;
  p99_ns: number;
}

/** '.ts' when the bench runs from source, '.js' when compiled. */
const SOURCE_EXT = import.meta.url.endsWith('.ts') ? '.ts' : '.js';

const ECHO_WORKER = `require('node:worker_threads').parentPort.on('message', (m) => require('node:worker_threads').parentPort.postMessage(m));`;
const ECHO_CHILD = `process.on('message', (m) => process.send(m));`;

function baseline(name: string, times: number[]): Baseline {
  const sorted = Float64Array.from(times).sort();
  return { name, p50_ns: percentile(sorted, 0.5), p99_ns: percentile(sorted, 0.99) };
}

async function inProcess(iterations: number): Promise<Baseline> {
  const callee = async (x: number) => x + 1;
  let v = 0;
  return baseline(BASELINES.inProcess, (await repeat(async () => (v = await callee(v)), iterations, iterations / 10, cpu, ROUND_TRIP_BATCH)).times);
}

async function workerPostMessage(iterations: number): Promise<Baseline> {
  const worker = new Worker(ECHO_WORKER, { eval: true });
  try {
    const roundTrip = () => {
      const reply = once(worker, 'message');
      worker.postMessage({ op: 'ping' });
      return reply;
    };
    return baseline(BASELINES.postMessage, (await repeat(roundTrip, iterations, iterations / 10, cpu)).times);
  } finally {
    await worker.terminate();
  }
}

async function piscinaRun(iterations: number): Promise<Baseline> {
  const pool = new Piscina({ filename: new URL(`./echo-worker${SOURCE_EXT}`, import.meta.url).href, minThreads: 1, maxThreads: 1 });
  try {
    return baseline(BASELINES.piscina, (await repeat(() => pool.run({ op: 'ping' }), iterations, iterations / 10, cpu)).times);
  } finally {
    await pool.destroy();
  }
}

/** A node child with an IPC channel (what child_process.fork sets up, JSON serialization). */
function spawnChild(code: string): ChildProcess {
  return spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}

async function childIpc(iterations: number): Promise<Baseline> {
  const child = spawnChild(ECHO_CHILD);
  try {
    const roundTrip = () => {
      const reply = once(child, 'message');
      child.send({ op: 'ping' });
      return reply;
    };
    return baseline(BASELINES.childIpc, (await repeat(roundTrip, iterations, iterations / 10, cpu)).times);
  } finally {
    await stop(child);
  }
}

/** Ends a worker or child, which may have ended by itself already. */
async function stop(d: Worker | ChildProcess): Promise<void> {
  if (d instanceof Worker) {
    await d.terminate();
  } else if (d.exitCode === null && d.signalCode === null) {
    const exited = once(d, 'exit');
    d.kill();
    await exited;
  }
}

/**
 * Starts bare worker threads and child processes, all at once, and returns the nanoseconds
 * until every one of them has run its first line (it says so with a message); then ends them.
 */
export async function startBare(count: { threads?: number; processes?: number }): Promise<number> {
  const t0 = now();
  const started = [
    ...Array.from({ length: count.threads ?? 0 }, () => new Worker(`require('node:worker_threads').parentPort.postMessage('up')`, { eval: true })),
    ...Array.from({ length: count.processes ?? 0 }, () => spawnChild(`process.send('up')`)),
  ];
  await Promise.all(started.map((d) => once(d, 'message')));
  const elapsed = now() - t0;
  await Promise.all(started.map(stop));
  return elapsed;
}

async function startTimes(name: string, count: Parameters<typeof startBare>[0], iterations: number): Promise<Baseline> {
  const times: number[] = [];
  for (let i = 0; i < iterations; i++) times.push(await startBare(count));
  return baseline(name, times);
}

/** Every baseline; `scale` shrinks the iteration counts (1 for the real run). */
export async function measureBaselines(scale: number): Promise<Baseline[]> {
  const n = (count: number, min = 10) => Math.max(min, Math.round(count * scale));
  return [
    await inProcess(n(5000)),
    await workerPostMessage(n(5000)),
    await piscinaRun(n(5000)),
    await childIpc(n(3000)),
    baseline(BASELINES.ringFloor, await ringFloor(n(5000))),
    baseline(BASELINES.streamFloor, await streamFloor(n(3000))),
    await startTimes(BASELINES.startThread, { threads: 1 }, n(10, 3)),
    await startTimes(BASELINES.startProcess, { processes: 1 }, n(5, 3)),
  ];
}
