// The frame fuzzer: a seeded stream of hostile input against a `rumpus serve` socket — garbage
// bytes, lying length headers, frames over the limit, frames cut mid-way, bodies of the wrong
// shape, unknown kinds and ops, calls before the hello, second hellos, replies sent by the
// client, duplicate ids, deep nesting, bad tokens, and valid calls with hostile arguments — over
// many connections, while well-behaved clients run checked syscalls beside it. Every hostile
// unit must get an answer the protocol allows (PROTOCOL.md): a reply or an errno for the
// connection that goes on, an error frame and a close for the one that is malformed. Anything
// else — no answer within the deadline, a malformed frame that is served, a well-behaved call
// that fails — is counted and listed.

import { CLIENT_SYSCALLS } from '../kernel/proc.js';
import { seededRandom } from '../kernel/faults.js';
import { connect, type Proc } from '../kernel/index.js';
import { RawConnection, frame, pack } from './raw-wire.js';

export interface FuzzOptions {
  /** The seed of everything sent: the same seed sends the same units in the same sessions. */
  seed: number;
  /** Hostile units to send (each one or more frames, or bytes that fail to be one). */
  frames: number;
  /** Fuzzing connections open at once. */
  connections: number;
  /** A valid token of the server (its hellos must be accepted; an admin token is fine). */
  token: string;
  /** Well-behaved clients running checked syscalls meanwhile (default 4). */
  wellBehaved?: number;
  /** How long a unit may wait for the server's answer before it counts as 'no answer' (default 10 s). */
  answerTimeoutMs?: number;
}

/** A unit whose answer the protocol does not allow. */
export interface Unexpected {
  kind: string;
  answer: string;
  /** The session (connection) index and unit index in it, to find it again from the seed. */
  session: number;
  unit: number;
}

export interface FuzzReport {
  seed: number;
  /** Hostile units sent, and frames (a burst is many). */
  units: number;
  frames: number;
  /** Connections the fuzzer opened. */
  connections: number;
  byKind: Record<string, number>;
  /**
   * How the server answered, over every unit (a burst counts each call): 'reply', 'errno E'
   * (an error reply to the call), 'closed after E' (an error frame, then the close), 'closed',
   * 'no answer' (nothing within the deadline).
   */
  byAnswer: Record<string, number>;
  byKindAnswer: Record<string, Record<string, number>>;
  /** Answers the protocol does not allow: the count and the first 50. */
  unexpectedCount: number;
  unexpected: Unexpected[];
  wellBehaved: { clients: number; calls: number; errors: string[] };
}

type Rand = () => number;

/** What a unit sends and how its answer is read. */
interface Unit {
  bytes: Uint8Array;
  /** Call ids whose answers are awaited; empty: the connection's close is. */
  ids: number[];
  /** Half-close after the bytes (the unit cuts its frame short or sends bytes that may be one). */
  end?: boolean;
  frames?: number;
}

interface Kind {
  name: string;
  /** Sent before the hello ('pre') or after it ('post'). */
  phase: 'pre' | 'post';
  /** Whether the connection goes on after it. */
  lives: boolean;
  weight: number;
  make(r: Rand, s: Session): Unit;
  /** Whether the protocol allows this answer. */
  allowed(answer: string): boolean;
}

/** The connection's state that units draw on. */
interface Session {
  token: string;
  nextId: number;
}

// The limits of PROTOCOL.md: a frame before the hello, and after it (ipc/stream-link.ts MAX_FRAME).
const HELLO_LIMIT = 4096;
const FRAME_LIMIT = 4 * 16 * 1024 * 1024;
const CTL_OPS = ['ps', 'dmesg', 'faults', 'inject', 'clear', 'panicked'] as const; // never halt
/** Syscalls a hostile unit may make: not exit (ends the session), pipe (whose read waits), mount/unmount (would take the well-behaved clients' file system away). */
const HOSTILE_SYSCALLS = Object.keys(CLIENT_SYSCALLS).filter((op) => !['exit', 'pipe', 'mount', 'unmount'].includes(op));
/** Where the well-behaved clients work: no hostile path names 'tmp' (see hostilePath). */
const WELL_BEHAVED_DIR = '/tmp/well-behaved';

const int = (r: Rand, n: number) => Math.floor(r() * n);
const pick = <T>(r: Rand, list: readonly T[]): T => list[int(r, list.length)];
const bytes = (r: Rand, n: number) => Uint8Array.from({ length: n }, () => int(r, 256));
const utf8 = (s: string) => new TextEncoder().encode(s);

/** A call frame's body, well-formed. */
const call = (id: number, ns: string, op: string, args: unknown) => pack([0, id, ns, op, args]);
const hello = (token: unknown, version: unknown = 1) => pack({ rumpus: version, token });

/** A path a hostile client might send: bytes, never one that reaches the well-behaved clients' directory. */
function hostilePath(r: Rand): Uint8Array | string {
  const fixed = ['/', '/..', '..', '.', '', '/dev/zero', '/dev/null', '/dev/random', '/fuzz', '/fuzz/a', '/fuzz/a/b', 'a'.repeat(256), 'a/'.repeat(3000), '/fuzz/\u0000x', '//fuzz///a/', '/fuzz/../../..'];
  const choice = int(r, 4);
  if (choice === 0) return pick(r, fixed); // a JS string: the server must refuse or convert it
  if (choice === 1) return utf8(pick(r, fixed));
  const name = bytes(r, 1 + int(r, choice === 2 ? 12 : 300));
  if (new TextDecoder().decode(name) === 'tmp') name[0] = 0x2e;
  return Uint8Array.from([0x2f, ...name]);
}

/** A hostile value of any type. */
function hostileValue(r: Rand, depth = 0): unknown {
  switch (int(r, depth > 2 ? 14 : 17)) {
    case 0: return null;
    case 1: return true;
    case 2: return -1;
    case 3: return 0;
    case 4: return 2 ** 31;
    case 5: return Number.MAX_SAFE_INTEGER + 2;
    case 6: return -(2 ** 63);
    case 7: return 1.5;
    case 8: return Number.NaN;
    case 9: return 'x'.repeat(int(r, 5000));
    case 10: return bytes(r, int(r, 64));
    case 11: return hostilePath(r);
    case 12: return int(r, 16);
    case 13: return Infinity;
    case 14: return Array.from({ length: int(r, 4) }, () => hostileValue(r, depth + 1));
    case 15: return protoKeys(hostileValue(r, depth + 1));
    default: return Object.fromEntries(Array.from({ length: int(r, 3) }, (_, i) => [`k${i}`, hostileValue(r, depth + 1)]));
  }
}

/** Sets an own property, also one named '__proto__' (which `o[k] = v` would take for the prototype). */
function setOwn(o: Record<string, unknown>, key: string, value: unknown): Record<string, unknown> {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
  return o;
}

/** A map whose keys are '__proto__' and 'hasOwnProperty' (own properties, as a decoder may make them). */
const protoKeys = (value: unknown) => setOwn({ hasOwnProperty: 1 }, '__proto__', value);

/** Plausible-to-hostile arguments for a syscall: its own names with odd values, sometimes more. */
function hostileArgs(r: Rand, op: string): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  for (const name of CLIENT_SYSCALLS[op]) {
    if (r() < 0.1) continue;
    if (['path', 'from', 'to', 'existing', 'target'].includes(name)) args[name] = r() < 0.8 ? hostilePath(r) : hostileValue(r);
    else if (name === 'data') args[name] = r() < 0.7 ? bytes(r, int(r, r() < 0.05 ? 1 << 20 : 4096)) : hostileValue(r);
    else if (name === 'mode' && op === 'mknod') args[name] = int(r, 0o170000) & ~0o010000; // never a FIFO, whose open waits for a peer
    else args[name] = r() < 0.4 ? int(r, 16) : r() < 0.5 ? int(r, 2 ** int(r, 33)) : hostileValue(r);
  }
  if (r() < 0.1) setOwn(args, pick(r, ['pid', 'uid', 'cred', 'extra', '__proto__']), hostileValue(r));
  return args;
}

/**
 * A ctl call's arguments (a map, as every call's are) that can do no harm: inject and clear name
 * no real component.
 */
function hostileCtlArgs(r: Rand, op: string): Record<string, unknown> {
  if (op === 'inject') return { component: pick(r, ['', 'nope', 'vfs\u0000', 'ext2 ']), type: pick(r, ['crash', 'hang', 42, null]), fault: hostileValue(r) };
  if (op === 'clear') return { component: pick(r, ['nope', '', 7, null, hostileValue(r)]) };
  return r() < 0.5 ? {} : setOwn({}, pick(r, ['component', 'x', '__proto__']), hostileValue(r));
}

/** msgpack of an array nested `depth` deep around nil: each level is the byte 0x91 (fixarray of 1). */
function nested(depth: number): Uint8Array {
  const out = new Uint8Array(depth + 1).fill(0x91);
  out[depth] = 0xc0;
  return out;
}

const closedAfter = (...errnos: string[]) => (a: string) => a === 'closed' || errnos.some((e) => a === `closed after ${e}`);
const MALFORMED = closedAfter('EPROTO');

const KINDS: Kind[] = [
  {
    name: 'garbage', phase: 'pre', lives: false, weight: 3, allowed: (a) => a.startsWith('closed'),
    make: (r) => ({ bytes: bytes(r, 1 + int(r, 200)), ids: [], end: true }),
  },
  {
    name: 'bad length header', phase: 'pre', lives: false, weight: 2, allowed: closedAfter('EMSGSIZE', 'EPROTO'),
    make: (r) => ({ bytes: frame(new Uint8Array(), r() < 0.2 ? 0 : HELLO_LIMIT + 1 + int(r, 2 ** 32 - HELLO_LIMIT - 2)), ids: [], end: true }),
  },
  {
    name: 'oversized hello', phase: 'pre', lives: false, weight: 2, allowed: closedAfter('EMSGSIZE'),
    make: (r, s) => ({ bytes: frame(pack({ rumpus: 1, token: s.token, pad: 'p'.repeat(HELLO_LIMIT + int(r, 20000)) })), ids: [] }),
  },
  {
    name: 'truncated hello', phase: 'pre', lives: false, weight: 2, allowed: closedAfter('EPROTO'),
    make: (r, s) => {
      const whole = frame(hello(s.token));
      return { bytes: whole.subarray(0, 1 + int(r, whole.length - 1)), ids: [], end: true };
    },
  },
  {
    name: 'call before hello', phase: 'pre', lives: false, weight: 3, allowed: closedAfter('EPROTO', 'EACCES'),
    make: () => ({ bytes: frame(call(1, 'sys', 'getpid', {})), ids: [] }),
  },
  {
    name: 'bad token', phase: 'pre', lives: false, weight: 4, allowed: closedAfter('EACCES', 'EPROTO'),
    make: (r, s) => {
      const token = pick(r, [undefined, '', s.token.slice(1), s.token + 'a', 'a'.repeat(s.token.length), 42, utf8(s.token), s.token.toUpperCase() === s.token ? s.token.toLowerCase() : s.token.toUpperCase()]);
      return { bytes: frame(pack(token === undefined ? { rumpus: 1 } : { rumpus: 1, token })), ids: [] };
    },
  },
  {
    name: 'wrong version', phase: 'pre', lives: false, weight: 2, allowed: closedAfter('EPROTONOSUPPORT', 'EPROTO'),
    make: (r, s) => ({ bytes: frame(hello(s.token, pick(r, [0, 2, 99, -1, '1', 1.5]))), ids: [] }),
  },
  {
    name: 'hello not a map', phase: 'pre', lives: false, weight: 2, allowed: closedAfter('EPROTO', 'EACCES'),
    make: (r, s) => ({ bytes: frame(pack(pick(r, [[1, s.token], s.token, 1, null, []]))), ids: [] }),
  },
  {
    name: 'deep nesting before hello', phase: 'pre', lives: false, weight: 1, allowed: closedAfter('EPROTO', 'EMSGSIZE', 'EACCES'),
    make: (r) => ({ bytes: frame(nested(100 + int(r, HELLO_LIMIT - 101))), ids: [] }),
  },
  {
    name: 'garbage after hello', phase: 'post', lives: false, weight: 3, allowed: (a) => a.startsWith('closed') || a === 'reply' || a.startsWith('errno'),
    // Raw, its first 4 bytes a length; or behind a true length header, so that it is decoded.
    make: (r) => {
      const junk = bytes(r, 1 + int(r, 500));
      return { bytes: r() < 0.5 ? junk : frame(junk), ids: [], end: true };
    },
  },
  {
    name: 'oversized frame', phase: 'post', lives: false, weight: 2, allowed: closedAfter('EMSGSIZE'),
    make: (r) => ({ bytes: frame(bytes(r, int(r, 1000)), FRAME_LIMIT + 1 + int(r, 2 ** 32 - FRAME_LIMIT - 2)), ids: [] }),
  },
  {
    name: 'truncated frame', phase: 'post', lives: false, weight: 3, allowed: closedAfter('EPROTO'),
    make: (r, s) => {
      const whole = frame(call(s.nextId++, 'sys', 'stat', { path: utf8('/') }));
      return { bytes: whole.subarray(0, 1 + int(r, whole.length - 1)), ids: [], end: true };
    },
  },
  {
    name: 'not an array', phase: 'post', lives: false, weight: 3, allowed: MALFORMED,
    make: (r) => ({ bytes: frame(pack(pick(r, [null, 0, 7, 'sys', true, { kind: 0 }, bytes(r, 8), 1.5]))), ids: [] }),
  },
  {
    name: 'undecodable body', phase: 'post', lives: false, weight: 2, allowed: MALFORMED,
    // 0xc1 is the one byte msgpack never uses; a map header promising more than follows.
    make: (r) => ({ bytes: frame(pick(r, [Uint8Array.of(0xc1), Uint8Array.of(0xdf, 0xff, 0xff, 0xff, 0xff), Uint8Array.of(0x95, 0x00)])), ids: [] }),
  },
  {
    name: 'extension type', phase: 'post', lives: false, weight: 2, allowed: MALFORMED,
    // A call whose path is a msgpack extension (a timestamp, application types 0x42, 0x74, 0),
    // which the protocol does not use: a decoder would make a Date, a BigInt or a typed array.
    make: (r, s) => {
      const head = call(s.nextId++, 'sys', 'stat', null); // its last byte, nil, becomes the args
      const ext = pick(r, [Uint8Array.of(0xd6, 0xff, 0, 0, 0, 1), Uint8Array.of(0xd4, 0x42, 5), Uint8Array.of(0xc7, 3, 0x74, 1, 2, 3), Uint8Array.of(0xd4, 0, 0)]);
      const args = Uint8Array.of(0x81, 0xa4, ...utf8('path'), ...ext);
      const body = new Uint8Array(head.length - 1 + args.length);
      body.set(head.subarray(0, head.length - 1));
      body.set(args, head.length - 1);
      return { bytes: frame(body), ids: [] };
    },
  },
  {
    name: 'wrong arity', phase: 'post', lives: false, weight: 3, allowed: MALFORMED,
    make: (r, s) => {
      const whole = [0, s.nextId++, 'sys', 'getpid', {}, 'extra', 1];
      const n = pick(r, [0, 1, 2, 3, 4, 6, 7]);
      return { bytes: frame(pack(whole.slice(0, n))), ids: [] };
    },
  },
  {
    name: 'wrong types', phase: 'post', lives: false, weight: 4, allowed: (a) => MALFORMED(a) || a === 'errno EINVAL' || a === 'errno ENOSYS',
    make: (r, s) => {
      const shape: unknown[] = [0, s.nextId++, 'sys', 'getpid', {}];
      const at = 1 + int(r, 4);
      shape[at] = pick<unknown>(r, at === 1 ? [0, -1, 1.5, 'one', null, 2 ** 64, [1]] : at === 4 ? [[], 'args', 7, null] : [7, null, [], {}, bytes(r, 3)]);
      return { bytes: frame(pack(shape)), ids: [] };
    },
  },
  {
    name: 'unknown kind', phase: 'post', lives: false, weight: 3, allowed: MALFORMED,
    make: (r, s) => ({ bytes: frame(pack([pick(r, [3, 4, 9, 255, -1, '0', null]), s.nextId++, 'sys', 'getpid', {}])), ids: [] }),
  },
  {
    name: 'reply from the client', phase: 'post', lives: false, weight: 3, allowed: MALFORMED,
    make: (r, s) => ({ bytes: frame(pack(r() < 0.5 ? [1, s.nextId++, 42] : [2, s.nextId++, 'EIO', utf8('from the client')])), ids: [] }),
  },
  {
    name: 'second hello', phase: 'post', lives: false, weight: 3, allowed: MALFORMED,
    make: (_, s) => ({ bytes: frame(hello(s.token)), ids: [] }),
  },
  {
    name: 'deep nesting', phase: 'post', lives: false, weight: 2, allowed: (a) => closedAfter('EPROTO', 'EMSGSIZE')(a) || a === 'errno EINVAL',
    make: (r, s) => {
      const id = s.nextId++;
      const head = call(id, 'sys', 'stat', null); // the last byte, nil, becomes the nested value
      const deep = nested(1000 + int(r, 200_000));
      const body = new Uint8Array(head.length - 1 + deep.length);
      body.set(head.subarray(0, head.length - 1));
      body.set(deep, head.length - 1);
      return { bytes: frame(body), ids: [] };
    },
  },
  {
    name: 'unknown op', phase: 'post', lives: true, weight: 4, allowed: (a) => a === 'errno ENOSYS' || a === 'errno EPERM',
    make: (r, s) => {
      const id = s.nextId++;
      const op = pick(r, ['frobnicate', '', 'GETPID', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'halt ']);
      return { bytes: frame(call(id, r() < 0.7 ? 'sys' : 'ctl', op, {})), ids: [id] };
    },
  },
  {
    name: 'duplicate id', phase: 'post', lives: true, weight: 4, allowed: (a) => a === 'reply' || a === 'errno EINVAL',
    make: (_, s) => {
      const id = s.nextId++;
      const one = frame(call(id, 'sys', 'sync', {}));
      return { bytes: Uint8Array.from([...one, ...frame(call(id, 'sys', 'getpid', {}))]), ids: [id, id], frames: 2 };
    },
  },
  {
    name: 'burst past calls in flight', phase: 'post', lives: true, weight: 1, allowed: (a) => a === 'reply' || a.startsWith('errno'),
    make: (r, s) => {
      const n = 65 + int(r, 100);
      const ids = Array.from({ length: n }, () => s.nextId++);
      const parts = ids.map((id) => frame(r() < 0.5 ? call(id, 'sys', 'statfs', { path: utf8('/') }) : call(id, 'sys', pick(r, ['getpid', 'sync']), {})));
      const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      parts.reduce((at, p) => (out.set(p, at), at + p.length), 0);
      return { bytes: out, ids, frames: n };
    },
  },
  {
    name: 'hostile syscall', phase: 'post', lives: true, weight: 30, allowed: (a) => a === 'reply' || a.startsWith('errno'),
    make: (r, s) => {
      const id = s.nextId++;
      const op = pick(r, HOSTILE_SYSCALLS);
      return { bytes: frame(call(id, 'sys', op, hostileArgs(r, op))), ids: [id] };
    },
  },
  {
    name: 'hostile ctl', phase: 'post', lives: true, weight: 4, allowed: (a) => a === 'reply' || a.startsWith('errno'),
    make: (r, s) => {
      const id = s.nextId++;
      const op = pick(r, CTL_OPS);
      return { bytes: frame(call(id, 'ctl', op, hostileCtlArgs(r, op))), ids: [id] };
    },
  },
];

const PRE = KINDS.filter((k) => k.phase === 'pre');
const POST = KINDS.filter((k) => k.phase === 'post');
const weighted = (r: Rand, list: Kind[]) => {
  let x = r() * list.reduce((n, k) => n + k.weight, 0);
  return list.find((k) => (x -= k.weight) < 0) ?? list[list.length - 1];
};

/** A session's plan: hello or not, then its units' kinds, drawn in order from the seed. */
interface Plan {
  index: number;
  hello: boolean;
  kinds: Kind[];
}

/** Plans sessions one after another until `units` units are planned. */
function* plans(seed: number, units: number): Generator<Plan> {
  const r = seededRandom(seed);
  for (let index = 0, left = units; left > 0; index++) {
    if (r() < 0.2) {
      left--;
      yield { index, hello: false, kinds: [weighted(r, PRE)] };
      continue;
    }
    const kinds: Kind[] = [];
    const most = 1 + int(r, 40);
    while (kinds.length < most && left > 0) {
      const k = weighted(r, POST);
      kinds.push(k);
      left--;
      if (!k.lives) break;
    }
    yield { index, hello: true, kinds };
  }
}

/** Reads the server's answers to a unit: one per awaited id, or how the connection ended. */
async function answers(conn: RawConnection, unit: Unit, timeoutMs: number): Promise<string[]> {
  const waiting = [...unit.ids];
  const got: string[] = [];
  let errorFrame: string | null = null;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (unit.ids.length && waiting.length === 0) return got;
    const a = await conn.next(Math.max(0, deadline - Date.now()));
    if (a === null) return [...got, ...waiting.map(() => 'no answer'), ...(unit.ids.length ? [] : ['no answer'])];
    if ('closed' in a) return [...got, errorFrame ? `closed after ${errorFrame}` : 'closed'];
    const f = a.frame;
    // A welcome: the server took what it was sent for a hello (wrong for every unit that sends one).
    if (f !== null && typeof f === 'object' && !Array.isArray(f) && (f as { rumpus?: unknown }).rumpus !== undefined) return [...got, 'hello'];
    if (!Array.isArray(f) || (f[0] !== 1 && f[0] !== 2)) {
      got.push('strange frame');
      continue;
    }
    if (f[0] === 2 && f[1] === 0) {
      errorFrame = String(f[2]);
      continue;
    }
    const i = waiting.indexOf(f[1] as number);
    if (i < 0) {
      got.push('answer to no call');
      continue;
    }
    waiting.splice(i, 1);
    got.push(f[0] === 1 ? 'reply' : `errno ${String(f[2])}`);
  }
}

/** The hello exchange; true when the server accepted it. */
async function sayHello(conn: RawConnection, token: string, timeoutMs: number): Promise<boolean> {
  conn.send(frame(hello(token)));
  const a = await conn.next(timeoutMs);
  return a !== null && 'frame' in a && !Array.isArray(a.frame) && typeof a.frame === 'object' && a.frame !== null && (a.frame as { rumpus?: unknown }).rumpus === 1;
}

class Tally {
  units = 0;
  frames = 0;
  connections = 0;
  readonly byKind: Record<string, number> = {};
  readonly byAnswer: Record<string, number> = {};
  readonly byKindAnswer: Record<string, Record<string, number>> = {};
  unexpectedCount = 0;
  readonly unexpected: Unexpected[] = [];

  count(kind: Kind, answer: string, session: number, unit: number): void {
    this.byAnswer[answer] = (this.byAnswer[answer] ?? 0) + 1;
    const row = (this.byKindAnswer[kind.name] ??= {});
    row[answer] = (row[answer] ?? 0) + 1;
    if (!kind.allowed(answer)) {
      this.unexpectedCount++;
      if (this.unexpected.length < 50) this.unexpected.push({ kind: kind.name, answer, session, unit });
    }
  }
}

const HELLO_KIND: Kind = { name: 'hello', phase: 'pre', lives: true, weight: 0, make: () => ({ bytes: new Uint8Array(), ids: [] }), allowed: (a) => a === 'hello' };

async function runSession(url: string, plan: Plan, o: FuzzOptions, t: Tally, timeoutMs: number): Promise<void> {
  const r = seededRandom(o.seed * 1_000_003 + plan.index + 1);
  const conn = await RawConnection.open(url);
  t.connections++;
  const s: Session = { token: o.token, nextId: 1 };
  try {
    if (plan.hello && !(await sayHello(conn, o.token, timeoutMs))) {
      t.count(HELLO_KIND, 'refused', plan.index, 0);
      return;
    }
    for (const [i, kind] of plan.kinds.entries()) {
      const unit = kind.make(r, s);
      t.units++;
      t.frames += unit.frames ?? 1;
      t.byKind[kind.name] = (t.byKind[kind.name] ?? 0) + 1;
      conn.send(unit.bytes, unit.end);
      const got = await answers(conn, unit, timeoutMs);
      for (const a of got) t.count(kind, a, plan.index, i);
      if (conn.closed) return;
    }
  } finally {
    conn.destroy();
  }
}

/** One well-behaved client: checked syscalls in its own directory until `stop()` says so. */
async function wellBehavedLoop(url: string, token: string, n: number, stop: () => boolean, out: { calls: number; errors: string[] }): Promise<void> {
  let p: Proc;
  try {
    p = await connect(url, { token });
  } catch (err) {
    out.errors.push(`client ${n}: connect: ${(err as Error).message}`);
    return;
  }
  const dir = `${WELL_BEHAVED_DIR}-${n}`;
  const check = async <T>(what: string, call: () => Promise<T>, ok: (v: T) => boolean = () => true): Promise<void> => {
    out.calls++;
    try {
      const v = await call();
      if (!ok(v)) out.errors.push(`client ${n}: ${what}: wrong result`);
    } catch (err) {
      out.errors.push(`client ${n}: ${what}: ${(err as Error).message}`);
    }
  };
  try {
    await check('mkdir', () => p.mkdir(dir, { recursive: true }));
    for (let i = 0; !stop() && out.errors.length < 20; i++) {
      const data = Uint8Array.from({ length: 100 + (i % 7) * 1000 }, (_, j) => (i + j * n) & 0xff);
      const f = `${dir}/f${i % 5}`;
      await check('getpid', () => p.getpid(), (pid) => pid === p.pid);
      await check('writeFile', () => p.writeFile(f, data));
      await check('readFile', () => p.readFile(f), (back) => Buffer.compare(back, data) === 0);
      await check('stat', () => p.stat(f), (st) => st.size === data.length);
      await check('rename', () => p.rename(f, `${f}.moved`));
      await check('readdir', () => p.readdir(dir), (names) => names.some((e) => e.name === `f${i % 5}.moved`));
      await check('unlink', () => p.unlink(`${f}.moved`));
    }
  } finally {
    await p.exit().catch(() => {});
  }
}

/**
 * Sends `frames` hostile units over `connections` connections at once to the server at `url`,
 * while `wellBehaved` clients with `token` run checked syscalls. Resolves with the counts;
 * never throws for what the server does (that is counted), only if it cannot connect at all.
 */
export async function fuzzServer(url: string, o: FuzzOptions): Promise<FuzzReport> {
  const timeoutMs = o.answerTimeoutMs ?? 10_000;
  const t = new Tally();
  const good = { calls: 0, errors: [] as string[] };
  let done = false;
  const clients = Array.from({ length: o.wellBehaved ?? 4 }, (_, n) => wellBehavedLoop(url, o.token, n, () => done, good));
  const queue = plans(o.seed, o.frames);
  const worker = async () => {
    for (let next = queue.next(); !next.done; next = queue.next()) await runSession(url, next.value, o, t, timeoutMs);
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, o.connections) }, worker));
  } finally {
    done = true;
    await Promise.all(clients);
  }
  return {
    seed: o.seed, units: t.units, frames: t.frames, connections: t.connections,
    byKind: t.byKind, byAnswer: t.byAnswer, byKindAnswer: t.byKindAnswer,
    unexpectedCount: t.unexpectedCount, unexpected: t.unexpected,
    wellBehaved: { clients: o.wellBehaved ?? 4, calls: good.calls, errors: good.errors },
  };
}

/** The report as lines for a terminal: units by kind with how the server answered each. */
export function formatFuzzReport(f: FuzzReport): string {
  const lines = [`fuzz seed ${f.seed}: ${f.units.toLocaleString('en-US')} hostile units (${f.frames.toLocaleString('en-US')} frames) over ${f.connections.toLocaleString('en-US')} connections`];
  for (const [kind, n] of Object.entries(f.byKind).sort((a, b) => b[1] - a[1])) {
    const how = Object.entries(f.byKindAnswer[kind] ?? {}).sort((a, b) => b[1] - a[1]).map(([a, c]) => `${a} ${c}`).join(', ');
    lines.push(`  ${kind.padEnd(28)} ${String(n).padStart(7)}   ${how}`);
  }
  lines.push(`answers: ${Object.entries(f.byAnswer).sort((a, b) => b[1] - a[1]).map(([a, c]) => `${a} ${c}`).join(', ')}`);
  lines.push(`answers the protocol does not allow: ${f.unexpectedCount}`);
  for (const u of f.unexpected.slice(0, 10)) lines.push(`  session ${u.session} unit ${u.unit}: ${u.kind} → ${u.answer}`);
  lines.push(`well-behaved clients: ${f.wellBehaved.clients}, ${f.wellBehaved.calls} checked calls, ${f.wellBehaved.errors.length} errors`);
  for (const e of f.wellBehaved.errors.slice(0, 10)) lines.push(`  ${e}`);
  return lines.join('\n');
}
