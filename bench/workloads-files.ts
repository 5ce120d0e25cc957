// Workload builders over Files (bench/files.ts): each returns the timed body of one workload
// and makes whatever files it reads first, untimed, so any workload can run alone. The tmpfs
// and ext2 workloads, and the peer, are all made of these.

import type { Files } from './files.js';
import { measure, warmUp, type CpuClock, type Recorder, type Samples } from './stats.js';

export const MiB = 1 << 20;
/** The content every workload writes: not zeros, so no layer can skip it as a hole. */
const pattern = (bytes: number) => new Uint8Array(bytes).fill(0x61);

export type FileWorkload = (f: Files, cpu: CpuClock) => Promise<Samples>;

/** The name of the i-th file the workloads make in `dir`. */
export const fileName = (dir: string, i: number) => `${dir}/f${i}`;

async function writeFile(f: Files, path: string, data: Uint8Array, fsync: boolean): Promise<void> {
  const h = await f.create(path);
  await h.pwrite(data, 0);
  if (fsync) await h.fsync();
  await h.close();
}

/** `count` files of `bytes` each in `dir`, unless its last one is there already. */
export async function ensureFiles(f: Files, dir: string, count: number, bytes: number): Promise<void> {
  if (await f.exists(fileName(dir, count - 1))) return;
  await f.mkdir(dir);
  const data = pattern(bytes);
  for (let i = 0; i < count; i++) await writeFile(f, fileName(dir, i), data, false);
}

/** A file of `mib` MiB written in 1 MiB calls, unless it is there already. */
export async function ensureBigFile(f: Files, path: string, mib: number): Promise<void> {
  if (await f.exists(path)) return;
  const h = await f.create(path);
  const chunk = pattern(MiB);
  for (let i = 0; i < mib; i++) await h.pwrite(chunk, i * MiB);
  await h.close();
}

/** Each op: create + write `bytes` (+ fsync) + close of a new file in `dir`; the warm-up writes to `dir`-warm. */
export function createFiles(dir: string, count: number, warmup: number, bytes: number, fsync: boolean): FileWorkload {
  return async (f, cpu) => {
    const data = pattern(bytes);
    await f.mkdir(`${dir}-warm`);
    await warmUp((i) => writeFile(f, fileName(`${dir}-warm`, i), data, fsync), warmup);
    await f.mkdir(dir);
    return measure(cpu, async (rec) => {
      for (let i = 0; i < count; i++) await rec.time(() => writeFile(f, fileName(dir, i), data, fsync));
    });
  };
}

/** Each op: open + read `bytes` + close of one of `count` files in `dir`. */
export function readFiles(dir: string, count: number, warmup: number, bytes: number): FileWorkload {
  return async (f, cpu) => {
    await ensureFiles(f, dir, count, bytes);
    const readOne = async (i: number) => {
      const h = await f.open(fileName(dir, i));
      await h.pread(bytes, 0);
      await h.close();
    };
    await warmUp((i) => readOne(i % count), warmup);
    return measure(cpu, async (rec) => {
      for (let i = 0; i < count; i++) await rec.time(() => readOne(i));
    });
  };
}

/**
 * Each op: stat of one of `count` files in `dir`, every one of them stat'ed (at least `warmup`
 * stats in all) before the timed pass: the timed stats are of paths walked before.
 */
export function statFiles(dir: string, count: number, warmup: number): FileWorkload {
  return async (f, cpu) => {
    await ensureFiles(f, dir, count, 4096);
    await warmUp((i) => f.stat(fileName(dir, i % count)), Math.max(warmup, count));
    return measure(cpu, async (rec) => {
      for (let i = 0; i < count; i++) await rec.time(() => f.stat(fileName(dir, i)));
    });
  };
}

/**
 * Each op: one 1 MiB write at the end of `path`; a pass creates the file, writes `mib` MiB and
 * closes it (the close is inside the wall time, so in ops/s, but not in any op's latency).
 */
export function seqWrite(path: string, mib: number, passes: number, warmupPasses: number): FileWorkload {
  return async (f, cpu) => {
    const chunk = pattern(MiB);
    const pass = async (rec: Recorder | null) => {
      const h = await f.create(path);
      for (let i = 0; i < mib; i++) {
        const write = () => h.pwrite(chunk, i * MiB);
        await (rec ? rec.time(write) : write());
      }
      await h.close();
    };
    for (let i = 0; i < warmupPasses; i++) await pass(null);
    return measure(cpu, async (rec) => {
      for (let i = 0; i < passes; i++) await pass(rec);
    });
  };
}

/** Each op: one 1 MiB read of `path` (of `mib` MiB) from its start to its end, `passes` times. */
export function seqRead(path: string, mib: number, passes: number, warmupPasses: number): FileWorkload {
  return preads(path, mib, MiB, mib * passes, mib * warmupPasses, (i) => (i % mib) * MiB);
}

/** Each op: a `bytes`-long pread of `path` (of `mib` MiB) at offsetOf(i). */
export function preads(path: string, mib: number, bytes: number, count: number, warmup: number, offsetOf: (i: number) => number): FileWorkload {
  return async (f, cpu) => {
    await ensureBigFile(f, path, mib);
    const h = await f.open(path);
    try {
      await warmUp((i) => h.pread(bytes, offsetOf(i)), warmup);
      return await measure(cpu, async (rec) => {
        for (let i = 0; i < count; i++) await rec.time(() => h.pread(bytes, offsetOf(i)));
      });
    } finally {
      await h.close();
    }
  };
}
