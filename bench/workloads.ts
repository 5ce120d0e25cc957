// The bench's workloads. Each is a named unit that runs against a target and returns one time
// per operation: the kernel workloads here run through client processes of a booted kernel,
// on tmpfs at /tmp; the ext2 ones (workloads-ext2.ts) run through Files, so the peer runs them too.

import type { Kernel, Proc } from '../kernel/index.js';
import type { Files } from './files.js';
import { ROUND_TRIP_BATCH, measure, repeat, type CpuClock, type Samples } from './stats.js';
import { MiB, createFiles, ensureBigFile, ensureFiles, fileName, preads, seqRead, seqWrite, statFiles, type FileWorkload } from './workloads-files.js';

/** What every workload gets: a file system and a CPU clock that covers every domain. */
export interface Target {
  files: Files;
  cpu: CpuClock;
}

/** A booted kernel, a client process, and tmpfs (at /tmp/bench) as `files`. */
export interface KernelTarget extends Target {
  kernel: Kernel;
  proc: Proc;
}

export interface Workload<T extends Target = KernelTarget> {
  name: string;
  /** What one operation is, for the table's legend (with the counts this run uses). */
  op: string;
  run(t: T): Promise<Samples>;
}

/** Where the kernel workloads' files live, on tmpfs. */
export const TMPFS_DIR = '/tmp/bench';

/** A FileWorkload as a Workload over any target. */
export function onFiles<T extends Target>(name: string, op: string, w: FileWorkload): Workload<T> {
  return { name, op, run: (t) => w(t.files, t.cpu) };
}

/**
 * N client processes (made by `spawn`) each issuing `perCaller` calls back to back, all at once
 * (a closed loop per caller); ops/s counts every caller's calls over the wall time.
 */
export async function concurrently(cpu: CpuClock, spawn: () => Promise<Proc>, callers: number, perCaller: number, setup: (p: Proc) => Promise<() => Promise<unknown>>): Promise<Samples> {
  const procs = await Promise.all(Array.from({ length: callers }, spawn));
  const calls = await Promise.all(procs.map(setup));
  await Promise.all(calls.map(async (call) => {
    for (let i = 0; i < perCaller / 10; i++) await call();
  }));
  const samples = await measure(cpu, async (rec) => {
    await Promise.all(calls.map(async (call) => {
      for (let i = 0; i < perCaller; i++) await rec.time(call);
    }));
  });
  await Promise.all(procs.map((p) => p.exit()));
  return samples;
}

/** Every kernel workload's counts at `scale` (1 for the real run, less for --quick). */
function kernelCounts(scale: number) {
  const n = (count: number) => Math.max(10, Math.round(count * scale));
  return { n, bigMib: Math.max(2, Math.round(32 * scale)), big: '/big', smallFiles: n(500) };
}

/** The client counts of the concurrency workloads (issue 13). */
export const CLIENT_COUNTS = [1, 8, 64];

/** A pread of 4 KiB walking through `big` on tmpfs, from one client process's own fd. */
async function preadCaller(p: Proc, big: string, bigMib: number): Promise<() => Promise<unknown>> {
  const fd = await p.open(TMPFS_DIR + big, 'r');
  let i = 0;
  return () => p.pread(fd, 4096, (i++ * 4096) % (bigMib * MiB));
}

/**
 * Throughput against the number of clients (issue 13): stat and pread 4 KiB from 1, 8 and 64
 * client processes at once, each calling again when answered; the same calls in all, split
 * between the clients.
 */
export function concurrencyWorkloads(scale: number): Workload[] {
  const { n, bigMib, big, smallFiles } = kernelCounts(scale);
  const total = n(4000);
  const who = (clients: number) => {
    const perCaller = Math.max(1, Math.floor(total / clients));
    return { perCaller, text: `from ${clients} client process${clients === 1 ? '' : 'es'} at once, each calling again when answered (${(perCaller * clients).toLocaleString('en-US')} calls)` };
  };
  const stat = CLIENT_COUNTS.map((clients): Workload => ({
    name: `stat-clients-${clients}`,
    op: `stat() of one of ${smallFiles} files on tmpfs ${who(clients).text}`,
    async run(t) {
      await ensureFiles(t.files, '/small', smallFiles, 4096);
      return concurrently(t.cpu, () => t.kernel.spawn(), clients, who(clients).perCaller, async (p) => {
        let i = 0;
        return () => p.stat(TMPFS_DIR + fileName('/small', i++ % smallFiles));
      });
    },
  }));
  const pread = CLIENT_COUNTS.map((clients): Workload => ({
    name: `pread-4k-clients-${clients}`,
    op: `pread of 4 KiB of a ${bigMib} MiB tmpfs file, each client its own fd, ${who(clients).text}`,
    async run(t) {
      await ensureBigFile(t.files, big, bigMib);
      return concurrently(t.cpu, () => t.kernel.spawn(), clients, who(clients).perCaller, (p) => preadCaller(p, big, bigMib));
    },
  }));
  return [...stat, ...pread];
}

/** The kernel workloads; `scale` shrinks every count (1 for the real run, less for --quick). */
export function kernelWorkloads(scale: number): Workload[] {
  const { n, bigMib, big, smallFiles } = kernelCounts(scale);
  const callers = 8;
  return [
    {
      name: 'null-syscall',
      op: 'getpid(): one round trip from the client to vfs and back',
      run: (t) => repeat(() => t.proc.getpid(), n(5000), n(500), t.cpu, ROUND_TRIP_BATCH),
    },
    onFiles('pread-4k', `pread of 4 KiB from a ${bigMib} MiB file on tmpfs, walking through it`,
      preads(big, bigMib, 4096, n(2000), n(200), (i) => (i * 4096) % (bigMib * MiB))),
    onFiles('pread-64k', `pread of 64 KiB from a ${bigMib} MiB file on tmpfs, walking through it`,
      preads(big, bigMib, 65536, n(1000), n(100), (i) => (i * 65536) % (bigMib * MiB))),
    onFiles('small-files', 'open(O_CREAT) + write 4 KiB + fsync + close of a new file on tmpfs',
      createFiles('/small', smallFiles, n(50), 4096, true)),
    onFiles('seq-write', `write of 1 MiB, ${bigMib} per pass over a new file on tmpfs (close in ops/s)`,
      seqWrite(big, bigMib, 3, 1)),
    onFiles('seq-read', `read of 1 MiB, ${bigMib} per pass from the start of a file on tmpfs to its end`,
      seqRead(big, bigMib, 3, 1)),
    onFiles('stat', `stat() of one of ${smallFiles} files on tmpfs`, statFiles('/small', smallFiles, n(50))),
    {
      name: 'load-getpid',
      op: `getpid() from ${callers} client processes at once, each calling again when answered`,
      run: (t) => concurrently(t.cpu, () => t.kernel.spawn(), callers, n(500), async (p) => () => p.getpid()),
    },
    {
      name: 'load-pread-4k',
      op: `pread of 4 KiB from ${callers} client processes at once, each its own fd on one tmpfs file`,
      async run(t) {
        await ensureBigFile(t.files, big, bigMib);
        return concurrently(t.cpu, () => t.kernel.spawn(), callers, n(250), (p) => preadCaller(p, big, bigMib));
      },
    },
  ];
}
