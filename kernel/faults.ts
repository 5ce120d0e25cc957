// Fault injection: what can go wrong with a component, and when. A fault names a component and
// a type; its trigger says which calls it hits — once, after N calls, with probability p from a
// seed, only for one op, at most K times. The same seed gives the same faults. Faults are
// armed in the domain that hosts the component, so they work the same under every policy.

import { SysError, isErrno, type Errno } from '../ipc/errno.js';

export const FAULT_TYPES = ['crash', 'crash-init', 'hang', 'delay', 'error', 'drop', 'corrupt', 'leak'] as const;
export type FaultType = (typeof FAULT_TYPES)[number];

export const FAULT_HELP: Record<FaultType, string> = {
  crash: 'the component\'s domain dies at the call',
  'crash-init': 'the component dies in its init, the next time it starts',
  hang: 'the component\'s domain stops answering (a busy loop)',
  delay: 'the call is delayed by ms (± jitter)',
  error: 'the call fails with errno',
  drop: 'the call runs, but its reply is lost',
  corrupt: 'bits are flipped in the data of the reply',
  leak: 'memory grows by 16 MiB at each hit, until the domain\'s limit',
};

export interface FaultSpec {
  component: string;
  type: FaultType;
  /** Hit calls only after this many matching calls went through. */
  after?: number;
  /** Hit each matching call with this probability (default 1). */
  prob?: number;
  /** Seed of the probability draws (default 1). */
  seed?: number;
  /** Only calls of this op match. */
  op?: string;
  /** Hit at most this many calls (default 1; 0 means no limit). */
  count?: number;
  /** delay: milliseconds, and up to this much more or less. */
  ms?: number;
  jitter?: number;
  /** error: the errno returned (default EIO). */
  errno?: Errno;
}

/** A small seeded generator (mulberry32), so a campaign replays exactly from its seed. */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = Math.imul(s ^ (s >>> 15), 1 | s);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 2 ** 32;
  };
}

/**
 * Checks a fault as it comes from a user, a plan file or another domain: EINVAL, the message
 * beginning with `where`, for anything but a FaultSpec of one of `components`.
 */
export function checkFault(x: unknown, components: readonly string[], where = 'fault'): FaultSpec {
  const bad = (why: string): never => {
    throw new SysError('EINVAL', `${where}: ${why}`);
  };
  if (!x || typeof x !== 'object') bad('must be an object {component, type, …}');
  const f = x as Record<string, unknown>;
  if (typeof f.component !== 'string' || !components.includes(f.component)) {
    bad(`unknown component '${String(f.component)}' (known: ${components.join(', ')})`);
  }
  if (!(FAULT_TYPES as readonly unknown[]).includes(f.type)) bad(`unknown type '${String(f.type)}' (known: ${FAULT_TYPES.join(', ')})`);
  const uint = (k: string) => f[k] === undefined || (Number.isSafeInteger(f[k]) && (f[k] as number) >= 0) || bad(`${k} must be a non-negative integer`);
  ['after', 'seed', 'count', 'ms', 'jitter'].forEach(uint);
  if (f.prob !== undefined && !(typeof f.prob === 'number' && f.prob >= 0 && f.prob <= 1)) bad('prob must be between 0 and 1');
  if (f.op !== undefined && typeof f.op !== 'string') bad('op must be a string');
  if (f.errno !== undefined && !isErrno(f.errno)) bad(`errno '${String(f.errno)}' is not an errno name`);
  if (f.type === 'delay' && f.ms === undefined) bad('a delay needs ms');
  const known = new Set(['component', 'type', 'after', 'prob', 'seed', 'op', 'count', 'ms', 'jitter', 'errno']);
  for (const k of Object.keys(f)) if (!known.has(k)) bad(`unknown field '${k}'`);
  return f as unknown as FaultSpec;
}

/** One armed fault: decides, call by call, whether it hits. */
export class ArmedFault {
  private seen = 0;
  /** Calls this fault has hit so far. */
  hits = 0;
  private readonly random: () => number;

  constructor(readonly spec: FaultSpec) {
    this.random = seededRandom(spec.seed ?? 1);
  }

  get spent(): boolean {
    const limit = this.spec.count ?? 1;
    return limit !== 0 && this.hits >= limit;
  }

  /** Called for every call of the component; true when this call is hit. */
  hit(op: string): boolean {
    if (this.spent || (this.spec.op !== undefined && this.spec.op !== op)) return false;
    if (this.seen++ < (this.spec.after ?? 0)) return false;
    if (this.spec.prob !== undefined && this.random() >= this.spec.prob) return false;
    this.hits++;
    return true;
  }

  /** The delay to apply, for a delay fault. */
  delayMs(): number {
    const jitter = this.spec.jitter ?? 0;
    return Math.max(0, (this.spec.ms ?? 0) + (this.random() * 2 - 1) * jitter);
  }
}

/** Flips one bit in every 4 KiB of each byte array in a value (copies; the original is kept). */
export function corrupt(value: unknown, random: () => number): unknown {
  if (value instanceof Uint8Array) {
    const out = value.slice();
    for (let at = 0; at < out.length; at += 4096) {
      const i = at + Math.floor(random() * Math.min(4096, out.length - at));
      out[i] ^= 1 << Math.floor(random() * 8);
    }
    return out;
  }
  if (Array.isArray(value)) return value.map((v) => corrupt(v, random));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, corrupt(v, random)]));
  }
  return value;
}

/** A fault as the command line gives it: `dev delay 5ms±2 --op read --count 3`. */
export function describeFault(f: FaultSpec): string {
  const parts = [`${f.component} ${f.type}`];
  if (f.ms !== undefined) parts.push(`${f.ms}ms${f.jitter ? `±${f.jitter}` : ''}`);
  if (f.errno) parts.push(f.errno);
  if (f.op) parts.push(`--op ${f.op}`);
  if (f.after) parts.push(`--after ${f.after}`);
  if (f.prob !== undefined) parts.push(`--prob ${f.prob} --seed ${f.seed ?? 1}`);
  if (f.count !== undefined) parts.push(`--count ${f.count}`);
  return parts.join(' ');
}

/** What a crash, a hang or a leak does to the thread it happens in. */
export type FaultEffect = 'die' | 'hang' | 'leak';

const IN_THE_KERNEL_THREAD: Record<FaultEffect, string> = {
  die: '',
  hang: " (a hang in the kernel's own thread would freeze it)",
  leak: " (a leak in the kernel's own thread grows the whole kernel until it dies)",
};

/**
 * The report of the panic a fault in the kernel's own thread causes (under `policy`, some
 * component runs there): `reason`, what the fault would do there, and why the kernel stops.
 */
export function kernelThreadPanic(effect: FaultEffect, reason: string, policy: string): string {
  return `${reason}${IN_THE_KERNEL_THREAD[effect]}; under the ${policy} policy the fault is in the kernel's own thread, so the whole kernel stops`;
}

/** Parses a fault plan file's content: {"faults": [FaultSpec, …]}. */
export function parsePlan(text: string, components: readonly string[]): FaultSpec[] {
  let plan: unknown;
  try {
    plan = JSON.parse(text);
  } catch (err) {
    throw new SysError('EINVAL', `fault plan: not valid JSON: ${(err as Error).message}`);
  }
  const list = (plan as { faults?: unknown })?.faults;
  if (!Array.isArray(list)) throw new SysError('EINVAL', 'fault plan: must be {"faults": [ … ]}');
  return list.map((f) => checkFault(f, components));
}
