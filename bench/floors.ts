// The floors of the two transports between domains, measured in the same run as the policies
// (issue 13): a bare round trip over a ring link through the main thread's poller to a worker
// thread (what the microkernel's null syscall pays at least), and over a framed stream to a
// child process (what the multiprocess one pays at least). Each far end answers null at once;
// the rest of the path (core, vfs, the op table's checks) is what a policy adds above its floor.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { Worker } from 'node:worker_threads';
import { Endpoint } from '../ipc/endpoint.js';
import { Doorbell } from '../ipc/ring.js';
import { RingLink, ringPair } from '../ipc/ring-link.js';
import { StreamLink } from '../ipc/stream-link.js';
import { mainThreadPoller } from '../kernel/domain-host.js';
import { ROUND_TRIP_BATCH, cpuClock, repeat } from './stats.js';

const cpu = cpuClock();

/** '.ts' when the bench runs from source (its children inherit the loader), '.js' when compiled. */
const EXT = import.meta.url.endsWith('.ts') ? '.ts' : '.js';

/** As a domain's (kernel/domain-host.ts): msgpackr's JavaScript decoder, not its add-on. */
const env = () => ({ ...process.env, MSGPACKR_NATIVE_ACCELERATION_DISABLED: 'true' });

/** Round-trip times, in ns (each the mean of ROUND_TRIP_BATCH calls), of `iterations` samples of null calls over a ring link to a worker thread. */
export async function ringFloor(iterations: number): Promise<number[]> {
  const poller = mainThreadPoller();
  const bell = Doorbell.allocate();
  const theirBell = new Doorbell(bell, poller.share);
  theirBell.resume(); // it runs until its poller first sleeps, as a thread domain does
  const ends = ringPair(poller.bell.buffer, bell);
  const entry = new URL(`./floor-ring-echo${EXT}`, import.meta.url);
  // From source a worker registers tsx itself, as a thread domain does (kernel/bundles.ts).
  const script = EXT === '.ts'
    ? `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); })`
    : entry;
  const worker = new Worker(script, { eval: EXT === '.ts', workerData: { bell, coreShare: poller.share.buffer, ends: ends.b }, env: env() });
  const link = new RingLink(ends.a, worker, poller);
  const ep = new Endpoint(link, 'ring echo', null);
  try {
    return (await repeat(() => ep.call('echo', 'null', null), iterations, iterations / 10, cpu, ROUND_TRIP_BATCH)).times;
  } finally {
    link.close();
    await worker.terminate();
    theirBell.retire();
  }
}

/** Round-trip times, in ns (each the mean of ROUND_TRIP_BATCH calls), of `iterations` samples of null calls over a framed stream to a child process. */
export async function streamFloor(iterations: number): Promise<number[]> {
  const child = spawn(process.execPath, [...process.execArgv, new URL(`./floor-stream-echo${EXT}`, import.meta.url).pathname], {
    stdio: ['ignore', 'inherit', 'inherit', 'pipe'], env: env(),
  });
  const link = new StreamLink(child.stdio[3] as Socket);
  const ep = new Endpoint(link, 'stream echo', null);
  try {
    return (await repeat(() => ep.call('echo', 'null', null), iterations, iterations / 10, cpu, ROUND_TRIP_BATCH)).times;
  } finally {
    const exited = once(child, 'exit');
    link.close(); // the child exits when its end closes; kill() if it has not yet
    child.kill();
    await exited;
  }
}
