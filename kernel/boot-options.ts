// The options boot() takes, their defaults, and their check. Every option is checked before
// anything is started, and a bad one is refused with EINVAL and a sentence that names it and
// says what it must be: "boot option calls.timeoutMs must be a positive integer of
// milliseconds (at most 2147483647), got -1". An option (or field) given as undefined is absent.

import { SysError } from '../ipc/errno.js';
import type { CallPolicy } from './domain.js';
import { THREAD_TRANSPORTS, type ThreadTransport } from './domain-host.js';
import { checkFault, type FaultSpec } from './faults.js';
import { readPlacement, type Placement, type PlacementSpec } from './placement.js';
import { DEFAULT_HEARTBEAT, RESTART_TYPES, STRATEGIES, supervisionFor, type Heartbeat, type Supervision } from './supervisor-policy.js';
import type { KernelEvent } from './supervisor.js';
import { toByteString } from './names.js';
import { describeValue, isPlainObject } from './validate.js';

export interface MountSpec {
  /**
   * Where: created (with parents) if missing. A path in client form (a JS string as UTF-8, a
   * lone surrogate U+DC80–U+DCFF standing for a raw byte; see kernel/names.ts); in BootSettings,
   * the byte string vfs takes.
   */
  target: string;
  /** The file-system component: 'tmpfs', 'dev', 'ext2', … */
  fstype: string;
  /** What: a host image path for ext2; unused by tmpfs and dev. */
  source?: string;
  readonly?: boolean;
  /**
   * For an image that is a LUKS container: its passphrase, as bytes or as text (its UTF-8
   * bytes). The file system reaches the image through cgd with it; no list of mounts shows it.
   * In BootSettings, always bytes.
   */
  key?: Uint8Array | string;
  /**
   * For a disk image with a partition table (MBR or GPT): the number of the partition to mount,
   * from 1, as `rumpus parts` lists it (logical partitions from 5). The file system reaches it
   * through dk. A disk with a table mounted without one is refused (EINVAL), naming its partitions.
   */
  partition?: number;
  /**
   * The mode (permission bits with sticky, set-id: 0–0o7777) of the mounted root directory, set
   * by init once mounted, as tmpfs's `mode=` mount option; left as the file system has it when
   * absent.
   */
  mode?: number;
}

export interface BootOptions {
  /**
   * 'monolithic' (default), 'microkernel', 'multiprocess', the path of a placement JSON file,
   * or a placement object of the same shape.
   */
  policy?: string | PlacementSpec;
  /** Mounts made at boot, in order. Default: tmpfs at / and /tmp, dev at /dev. */
  mounts?: MountSpec[];
  /** Between threads (and the main thread): 'ring' (shared memory, default) or 'postMessage'. */
  transport?: ThreadTransport;
  /** Per component: restart type, intensity, backoff, strategy, essential (see supervisor-policy.ts). */
  supervision?: Record<string, Partial<Supervision>>;
  /** How often domains are pinged and how long they have to answer (default: every 1 s, 5 s). */
  heartbeat?: Partial<Heartbeat>;
  /** Each domain's JS heap limit in MiB; a domain over it is ended and restarted. */
  memoryLimitMb?: number;
  /** Deadlines and retries of calls between components (default: 60 s, 3 tries, 15 s). */
  calls?: Partial<CallPolicy>;
  /** Faults armed at boot (a fault plan). */
  faults?: FaultSpec[];
  /** Called for every supervision event, as it happens. */
  onEvent?: (e: KernelEvent) => void;
}

export const DEFAULT_MOUNTS: MountSpec[] = [
  { target: '/', fstype: 'tmpfs' },
  // Anyone may make files in /tmp, and only remove their own: 1777, as on any Unix.
  { target: '/tmp', fstype: 'tmpfs', mode: 0o1777 },
  { target: '/dev', fstype: 'dev' },
];

export const DEFAULT_CALLS: CallPolicy = { timeoutMs: 60_000, tries: 3, reconnectMs: 15_000 };

/** The boot options checked, with the defaults filled in; the placement is resolved apart. */
export interface BootSettings {
  transport: ThreadTransport;
  /** Their targets as byte strings. */
  mounts: MountSpec[];
  /** Of every component of the placement. */
  supervision: Map<string, Supervision>;
  heartbeat: Heartbeat;
  memoryLimitMb?: number;
  calls: CallPolicy;
  faults: FaultSpec[];
  onEvent?: (e: KernelEvent) => void;
}

/** Every boot option, so that one misspelt is refused rather than ignored. */
const OPTIONS: Record<keyof BootOptions, true> = {
  policy: true, mounts: true, transport: true, supervision: true, heartbeat: true, memoryLimitMb: true, calls: true, faults: true, onEvent: true,
};

/** The longest a timer can wait: setTimeout fires a longer delay at once. */
const MAX_MS = 2 ** 31 - 1;

function refuse(name: string, what: string, v: unknown): never {
  const got = v === undefined ? 'and is missing'
    : typeof v === 'string' ? `got '${v.length > 40 ? `${v.slice(0, 40)}…` : v}'`
    : `got ${describeValue(v)}`;
  throw new SysError('EINVAL', `boot option ${name} must be ${what}, ${got}`);
}

/** Checks a value given for the option `name` (a path such as "calls.tries"); returns it as it is to be used. */
type Check = (name: string, v: unknown) => unknown;

const integer = (min: number, max: number, what: string): Check => (name, v) =>
  Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= max ? v : refuse(name, what, v);
const ms = (min: 0 | 1, note = ''): Check =>
  integer(min, MAX_MS, `a ${min ? 'positive' : 'non-negative'} integer of milliseconds (at most ${MAX_MS})${note}`);
const oneOf = (list: readonly string[]): Check => (name, v) => (list.includes(v as string) ? v : refuse(name, `one of ${list.join(', ')}`, v));
const text: Check = (name, v) => (typeof v === 'string' ? v : refuse(name, 'a string', v));
const flag: Check = (name, v) => (typeof v === 'boolean' ? v : refuse(name, 'true or false', v));
/** A passphrase: bytes, or text as its UTF-8 bytes. Never echoed: a refusal names only its type. */
const passphrase: Check = (name, v) => {
  if (v instanceof Uint8Array) return v;
  if (typeof v === 'string') return new TextEncoder().encode(v);
  throw new SysError('EINVAL', `boot option ${name} must be a Uint8Array or a string, got ${describeValue(v)}`);
};

/**
 * An object of the schema's fields only, each checked; absent ({}) if undefined. Fields given
 * as undefined are left out, so that defaults spread under the result stay.
 */
function fields(schema: Record<string, Check>, required: string[] = []): Check {
  const names = Object.keys(schema);
  return (name, v) => {
    if (v === undefined && required.length === 0) return {};
    if (!isPlainObject(v)) refuse(name, `an object {${names.join(', ')}}`, v);
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      if (!Object.hasOwn(schema, k)) throw new SysError('EINVAL', `boot option ${name} has an unknown field '${k}' (known: ${names.join(', ')})`);
      if (x !== undefined) out[k] = schema[k](`${name}.${k}`, x);
    }
    for (const k of required) if (out[k] === undefined) schema[k](`${name}.${k}`, undefined);
    return out;
  };
}

const CALLS = fields({ timeoutMs: ms(1), tries: integer(1, Number.MAX_SAFE_INTEGER, 'a positive integer'), reconnectMs: ms(0) });
const HEARTBEAT = fields({ periodMs: ms(0, ' (0: no heartbeat)'), timeoutMs: ms(1) });
const SUPERVISION = fields({
  restart: oneOf(RESTART_TYPES),
  intensity: fields({ max: integer(0, Number.MAX_SAFE_INTEGER, 'a non-negative integer (restarts)'), withinMs: ms(1) }),
  backoff: fields({ firstMs: ms(0), maxMs: ms(0) }),
  strategy: oneOf(STRATEGIES),
  essential: flag,
});
const MOUNT = fields({ target: text, fstype: text, source: text, readonly: flag, key: passphrase, partition: integer(1, 2 ** 32 - 1, 'a partition number from 1'), mode: integer(0, 0o7777, 'a mode from 0 to 0o7777') }, ['target', 'fstype']);
const MEMORY_LIMIT = integer(1, Number.MAX_SAFE_INTEGER, 'a positive integer of MiB');

/**
 * The first step of the check, before the placement is resolved: `options` is an object of
 * boot options only, and its policy a name, a path or an object. Returns the placement spec
 * the policy names or is (readPlacement's errors for a name that is neither a policy nor a file).
 */
export function placementSpecOf(options: unknown): unknown {
  if (!isPlainObject(options)) throw new SysError('EINVAL', `boot options must be an object, got ${describeValue(options)}`);
  for (const k of Object.keys(options)) {
    if (!Object.hasOwn(OPTIONS, k)) throw new SysError('EINVAL', `unknown boot option '${k}' (known: ${Object.keys(OPTIONS).join(', ')})`);
  }
  const { policy = 'monolithic' } = options;
  if (typeof policy === 'string') return readPlacement(policy);
  if (typeof policy === 'object') return policy; // null and arrays too: resolvePlacement says what is wrong with them
  return refuse('policy', 'monolithic, microkernel, multiprocess, the path of a placement file or a placement object', policy);
}

/** The rest of the check, with the placement resolved: every other option, and the defaults. */
export function checkBootOptions(options: BootOptions, placement: Placement): BootSettings {
  const o = options as Record<string, unknown>;
  if (o.onEvent !== undefined && typeof o.onEvent !== 'function') refuse('onEvent', 'a function', o.onEvent);
  return {
    transport: (o.transport === undefined ? 'ring' : oneOf(THREAD_TRANSPORTS)('transport', o.transport)) as ThreadTransport,
    mounts: o.mounts === undefined ? DEFAULT_MOUNTS : mountsOf(o.mounts),
    supervision: supervisionOf(o.supervision, placement),
    heartbeat: { ...DEFAULT_HEARTBEAT, ...(HEARTBEAT('heartbeat', o.heartbeat) as Partial<Heartbeat>) },
    memoryLimitMb: o.memoryLimitMb === undefined ? undefined : (MEMORY_LIMIT('memoryLimitMb', o.memoryLimitMb) as number),
    calls: { ...DEFAULT_CALLS, ...(CALLS('calls', o.calls) as Partial<CallPolicy>) },
    faults: faultsOf(o.faults, placement),
    onEvent: options.onEvent,
  };
}

/** A boot mount's target as the byte string vfs takes: the client form converted, which must be an absolute path. */
function targetOf(name: string, target: string): string {
  let bytes: string;
  try {
    bytes = toByteString(target);
  } catch (err) {
    return refuse(name, `a path whose lone surrogates stand for bytes (${(err as Error).message})`, target);
  }
  return bytes.startsWith('/') ? bytes : refuse(name, 'an absolute path', target);
}

/**
 * The boot mounts, each at an absolute path, made a byte string. The file-system type is vfs's
 * to check when it mounts (ENODEV for one it cannot mount), as for a mount a client makes.
 */
function mountsOf(v: unknown): MountSpec[] {
  if (!Array.isArray(v)) refuse('mounts', 'an array of mounts {target, fstype, source?, readonly?, key?, partition?}', v);
  return v.map((m, i) => {
    const mount = MOUNT(`mounts[${i}]`, m) as MountSpec;
    return { ...mount, target: targetOf(`mounts[${i}].target`, mount.target) };
  });
}

/** Each component's supervision: what was given for it over the defaults. */
function supervisionOf(v: unknown, placement: Placement): Map<string, Supervision> {
  if (v !== undefined && !isPlainObject(v)) refuse('supervision', 'an object mapping component names to their supervision', v);
  const given = (v ?? {}) as Record<string, unknown>;
  for (const c of Object.keys(given)) {
    if (!placement.defs.has(c)) throw new SysError('EINVAL', `boot option supervision names unknown component '${c}' (known: ${[...placement.defs.keys()].join(', ')})`);
  }
  const out = new Map<string, Supervision>();
  for (const [c, def] of placement.defs) {
    const s = supervisionFor(def.essential === true, SUPERVISION(`supervision.${c}`, given[c]) as Partial<Supervision>);
    if (s.backoff.maxMs < s.backoff.firstMs) refuse(`supervision.${c}.backoff.maxMs`, `no less than backoff.firstMs (${s.backoff.firstMs})`, s.backoff.maxMs);
    out.set(c, s);
  }
  return out;
}

function faultsOf(v: unknown, placement: Placement): FaultSpec[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) refuse('faults', 'an array of faults {component, type, …}', v);
  return v.map((f, i) => checkFault(f, [...placement.defs.keys()], `boot option faults[${i}]`));
}
