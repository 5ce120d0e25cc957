// The cgd workloads (issue 16): block I/O through cgd, the encrypted block device, with its
// cipher in the kernel's own thread, in one worker thread and in a pool of workers, against
// plain blk in the same run; and what deriving a key (opening a container) does to the
// syscalls of other clients. Everything but the cipher stays in the main domain, so the
// cipher's placement is the only difference between the cgd rows. They run at the block level:
// kernel.call on units of cgd and blk (the ops a file system's Device calls), no file system.

import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { boot, type Kernel } from '../kernel/index.js';
import { seededRandom } from '../kernel/faults.js';
import { placeComponent, presetSpec, type PlacementSpec } from '../kernel/placement.js';
import { BUILTIN } from '../kernel/registry.js';
import { cpuClock, measure, warmUp, type Recorder, type Samples } from './stats.js';
import { MiB } from './workloads-files.js';

/** One measured row: which workload, on what, and its samples. */
export interface CgdMeasurement {
  workload: string;
  /** 'blk' or 'cgd'. */
  policy: string;
  /** Where the cipher ran ('cipher in a pool of 2', …), or what the row measured beside ('no open'). */
  transport: string;
  samples: Samples;
}

export const CGD_WORKLOADS: Record<string, (counts: CgdCounts) => string> = {
  'cgd-seq-write': (c) => `write of 1 MiB at the block level, ${c.mib} per pass over the device (flush in ops/s)`,
  'cgd-seq-read': (c) => `read of 1 MiB at the block level, ${c.mib} per pass from the device's start to its end`,
  'cgd-random-read-4k': (c) => `read of 4 KiB at ${c.randomReads.toLocaleString('en-US')} seeded random 4 KiB offsets of the device`,
  'cgd-open-null-syscall': (c) =>
    `getpid() of a client, alone and while another opens a container again and again (argon2id, ${c.argonMemoryKiB / 1024} MiB, in the pool)`,
};

export type CipherPlace = 'main' | 'thread' | 'pool';

export interface CgdCounts {
  /** The payload's size in MiB: the sequential workloads' pass. */
  mib: number;
  passes: number;
  randomReads: number;
  nullSyscalls: number;
  argonMemoryKiB: number;
}

export function cgdCounts(scale: number): CgdCounts {
  return {
    mib: Math.max(2, Math.round(32 * scale)),
    passes: scale < 1 ? 1 : 3,
    randomReads: Math.max(20, Math.round(5000 * scale)),
    nullSyscalls: Math.max(50, Math.round(5000 * scale)),
    // The full run: the LUKS library's default keyslot (argon2id, 4 passes, 256 MiB, 4 lanes).
    argonMemoryKiB: scale < 1 ? 8192 : 262144,
  };
}

/** The two rows of cgd-open-null-syscall. */
export const NULL_ALONE = 'no open';
export const NULL_DURING_OPENS = 'during opens';
/** The row every cgd block workload is compared with. */
export const PLAIN_BLK = 'plain blk';
export const cipherLabel = (place: CipherPlace) =>
  place === 'main' ? 'cipher in main' : place === 'thread' ? 'cipher in a thread' : `cipher in a pool of ${POOL_WORKERS}`;

const PASSPHRASE = new TextEncoder().encode('bench passphrase');
/** A cheap keyslot for the throughput containers: opening them is not what they measure. */
const QUICK_KDF = { type: 'pbkdf2', hash: 'sha256', iterations: 1000 };
const POOL_WORKERS = availableParallelism();

const CIPHER_PLACES: CipherPlace[] = ['main', 'thread', 'pool'];

/** Everything in the main domain but the cipher, which is placed as asked. */
function placement(place: CipherPlace): PlacementSpec {
  return placeComponent(presetSpec('monolithic', BUILTIN), 'cipher', place, place === 'pool' ? POOL_WORKERS : undefined);
}

/** A block device unit: blk's or cgd's, with the same ops. */
interface Unit {
  component: 'blk' | 'cgd';
  unit: number;
}

const write = (k: Kernel, u: Unit, offset: number, data: Uint8Array) => k.call(u.component, 'write', { unit: u.unit, offset, data });
const read = (k: Kernel, u: Unit, offset: number, length: number) => k.call(u.component, 'read', { unit: u.unit, offset, length });
const flush = (k: Kernel, u: Unit) => k.call(u.component, 'flush', { unit: u.unit });

/** Writes the device from start to end in 1 MiB calls, then flushes; each write timed when `rec` is given. */
async function writePass(k: Kernel, u: Unit, mib: number, rec: Recorder | null): Promise<void> {
  const chunk = new Uint8Array(MiB).fill(0x61);
  for (let i = 0; i < mib; i++) {
    const one = () => write(k, u, i * MiB, chunk);
    await (rec ? rec.time(one) : one());
  }
  await flush(k, u);
}

/** The block workloads on one unit, in their order; the device is written before anything reads it. */
async function blockWorkloads(k: Kernel, u: Unit, wanted: Set<string>, c: CgdCounts): Promise<[string, Samples][]> {
  const cpu = cpuClock();
  const out: [string, Samples][] = [];
  await writePass(k, u, c.mib, null); // the warm-up, and what the reads read
  if (wanted.has('cgd-seq-write')) {
    out.push(['cgd-seq-write', await measure(cpu, async (rec) => {
      for (let p = 0; p < c.passes; p++) await writePass(k, u, c.mib, rec);
    })]);
  }
  if (wanted.has('cgd-seq-read')) {
    for (let i = 0; i < c.mib; i++) await read(k, u, i * MiB, MiB);
    out.push(['cgd-seq-read', await measure(cpu, async (rec) => {
      for (let p = 0; p < c.passes; p++) for (let i = 0; i < c.mib; i++) await rec.time(() => read(k, u, i * MiB, MiB));
    })]);
  }
  if (wanted.has('cgd-random-read-4k')) {
    const next = seededRandom(42);
    const blocks = (c.mib * MiB) / 4096;
    const offsets = Array.from({ length: c.randomReads }, () => Math.floor(next() * blocks) * 4096);
    for (let i = 0; i < Math.min(100, offsets.length); i++) await read(k, u, offsets[i], 4096);
    out.push(['cgd-random-read-4k', await measure(cpu, async (rec) => {
      for (const offset of offsets) await rec.time(() => read(k, u, offset, 4096));
    })]);
  }
  return out;
}

/** Formats a container of `mib` MiB of payload in `path` and attaches it: the cgd unit. */
async function attachContainer(k: Kernel, path: string, mib: number, kdf: Record<string, unknown>): Promise<Unit> {
  // The LUKS2 header takes 16 MiB on a file (cryptsetup's layout); the payload is the rest.
  await k.call('cgd', 'format', { path, size: (16 + mib) * MiB, key: PASSPHRASE, kdf });
  const info = await k.call<{ unit: number }>('cgd', 'attach', { path, key: PASSPHRASE });
  return { component: 'cgd', unit: info.unit };
}

/**
 * The null syscall of one client, alone and then while another opens (attaches, and detaches)
 * an argon2id container in a loop: two rows, 'no open' and 'during opens'. The second goes on
 * until at least two opens have finished inside it (bounded: 60 s). Each call comes after a turn
 * of the event loop, as with a client that waits on anything else: a monolithic client that only
 * awaits its calls never lets the event loop turn, and the pool's answers to the opener waited
 * until it stopped (the loop ran into its bound with no open done, measuring getpid beside an
 * idle pool).
 */
async function nullSyscallDuringOpens(k: Kernel, dir: string, c: CgdCounts): Promise<[string, Samples][]> {
  const path = join(dir, 'argon2.img');
  await k.call('cgd', 'format', { path, size: 17 * MiB, key: PASSPHRASE, kdf: { type: 'argon2id', memory: c.argonMemoryKiB, time: 4 } });
  const p = await k.spawn();
  const cpu = cpuClock();
  const getpids = (more: (i: number) => boolean) => measure(cpu, async (rec) => {
    const deadline = Date.now() + 60_000;
    for (let i = 0; more(i) && Date.now() < deadline; i++) {
      await new Promise(setImmediate);
      await rec.time(() => p.getpid());
    }
  });
  await warmUp(() => p.getpid(), c.nullSyscalls / 10);
  const alone = await getpids((i) => i < c.nullSyscalls);
  let stop = false;
  let opens = 0;
  // Another client of the core: attach derives the key from the passphrase (argon2id) in the pool.
  const opener = (async () => {
    while (!stop) {
      const { unit } = await k.call<{ unit: number }>('cgd', 'attach', { path, key: PASSPHRASE, readonly: true });
      await k.call('cgd', 'detach', { unit });
      opens++;
    }
  })();
  const during = await getpids((i) => i < c.nullSyscalls || opens < 2);
  stop = true;
  await opener;
  await p.exit();
  return [[NULL_ALONE, alone], [NULL_DURING_OPENS, during]];
}

/** Runs the wanted cgd workloads: plain blk, then cgd with the cipher in main, a thread and a pool. */
export async function runCgdWorkloads(wanted: Set<string>, scale: number, say: (what: string) => void): Promise<CgdMeasurement[]> {
  const c = cgdCounts(scale);
  const dir = mkdtempSync(join(tmpdir(), 'rumpus-bench-cgd-'));
  const out: CgdMeasurement[] = [];
  const block = ['cgd-seq-write', 'cgd-seq-read', 'cgd-random-read-4k'].some((w) => wanted.has(w));
  try {
    if (block) {
      say('cgd workloads: plain blk');
      const k = await boot({ policy: 'monolithic', mounts: [] });
      try {
        const info = await k.call<{ unit: number }>('blk', 'attach', { path: join(dir, 'plain.img'), size: c.mib * MiB });
        for (const [workload, samples] of await blockWorkloads(k, { component: 'blk', unit: info.unit }, wanted, c)) {
          out.push({ workload, policy: 'blk', transport: PLAIN_BLK, samples });
        }
      } finally {
        await k.halt();
      }
    }
    for (const place of CIPHER_PLACES) {
      const open = place === 'pool' && wanted.has('cgd-open-null-syscall');
      if (!block && !open) continue;
      say(`cgd workloads: ${cipherLabel(place)}`);
      const k = await boot({ policy: placement(place), mounts: [] });
      try {
        if (block) {
          const unit = await attachContainer(k, join(dir, `${place}.img`), c.mib, QUICK_KDF);
          for (const [workload, samples] of await blockWorkloads(k, unit, wanted, c)) out.push({ workload, policy: 'cgd', transport: cipherLabel(place), samples });
          await k.call('cgd', 'detach', { unit: unit.unit });
        }
        if (open) {
          for (const [transport, samples] of await nullSyscallDuringOpens(k, dir, c)) out.push({ workload: 'cgd-open-null-syscall', policy: 'cgd', transport, samples });
        }
      } finally {
        await k.halt();
      }
    }
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
