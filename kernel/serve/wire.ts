// The wire of `rumpus serve`, version 1 (PROTOCOL.md at the repository root is the normative
// text): the shapes of the hello and of the frames after it, their validation where they enter,
// and the conversions between the kernel's byte strings (kernel/names.ts) and msgpack bin, the
// form every path, name and error message takes on the wire. Framing itself (a 4-byte
// little-endian length, a msgpack body) is ipc/stream-link.ts's, shared with the domains.

import { SysError, isErrno, type Errno } from '../../ipc/errno.js';
import { ERR, OK, REQ, type Frame } from '../../ipc/frame.js';
import { byteString, bytesOf, fromByteString, toByteString } from '../names.js';
import { clientArgs } from '../proc.js';

/** The protocol version this code speaks: a hello of another is refused (EPROTONOSUPPORT). */
export const PROTOCOL_VERSION = 1;

/** Largest frame, in bytes, a peer may send before its hello is accepted. */
export const HELLO_MAX_FRAME = 4096;

/** Milliseconds a client has, from connecting, to send its hello. */
export const HELLO_TIMEOUT_MS = 5_000;

/** The control ops (`[0, id, "ctl", op, args]`), admin tokens only. */
export const CTL_OPS = ['ps', 'dmesg', 'faults', 'inject', 'clear', 'panicked', 'halt'] as const;

/** What a client sends first: `{"rumpus": 1, "token": "…"}`. */
export interface Hello {
  rumpus: number;
  token: string;
}

/** The server's answer to an accepted hello: who the connection's process is. */
export interface Welcome {
  rumpus: number;
  pid: number;
  uid: number;
  gid: number;
  groups: number[];
  admin: boolean;
}

/** A call as the server takes it from a frame `[0, id, kind, op, args]`. */
export interface WireCall {
  id: number;
  kind: 'sys' | 'ctl';
  op: string;
  args: Record<string, unknown>;
}

const isMap = (x: unknown): x is Record<string, unknown> =>
  x !== null && typeof x === 'object' && !Array.isArray(x) && !(x instanceof Uint8Array) && !(x instanceof Date);

/**
 * Checks a client's first frame. Returns its token; throws a SysError for the connection to be
 * refused with: EPROTO (not a hello map), EPROTONOSUPPORT (another version; the sentence names
 * both), EACCES (no token).
 */
export function parseHello(x: unknown): string {
  if (!isMap(x) || !Object.hasOwn(x, 'rumpus')) {
    throw new SysError('EPROTO', `the first frame must be a hello, a map {"rumpus": ${PROTOCOL_VERSION}, "token": "…"}`);
  }
  if (x.rumpus !== PROTOCOL_VERSION) {
    throw new SysError('EPROTONOSUPPORT', `the client speaks rumpus protocol version ${describe(x.rumpus)}; this server speaks version ${PROTOCOL_VERSION} only`);
  }
  if (typeof x.token !== 'string' || x.token === '') throw new SysError('EACCES', 'the hello carries no token');
  return x.token;
}

/** A value of a peer's, shown in a sentence: short, and never more than 40 chars of it. */
function describe(v: unknown): string {
  const text = typeof v === 'string' ? JSON.stringify(v) : typeof v === 'bigint' || typeof v === 'number' ? String(v) : v === undefined ? 'none' : typeof v;
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

/**
 * Checks a frame a client sent after its hello. Returns the call; throws a SysError EPROTO
 * (the connection is then closed) for anything that is not `[0, id, "sys"|"ctl", op, args]`
 * with id an integer ≥ 1, op a str and args a map.
 */
export function parseCall(x: unknown): WireCall {
  if (!Array.isArray(x)) throw new SysError('EPROTO', 'a frame must be an array [0, id, kind, op, args]');
  if (x[0] !== REQ) throw new SysError('EPROTO', `a client sends calls only, [0, id, kind, op, args]; got kind ${describe(x[0])}`);
  if (x.length !== 5) throw new SysError('EPROTO', `a call has 5 elements [0, id, kind, op, args]; got ${x.length}`);
  const [, id, kind, op, args] = x as unknown[];
  if (!Number.isSafeInteger(id) || (id as number) < 1) throw new SysError('EPROTO', `a call's id must be an integer ≥ 1; got ${describe(id)}`);
  if (kind !== 'sys' && kind !== 'ctl') throw new SysError('EPROTO', `a call's kind must be "sys" or "ctl"; got ${describe(kind)}`);
  if (typeof op !== 'string') throw new SysError('EPROTO', `a call's op must be a str; got ${describe(op)}`);
  if (!isMap(args)) throw new SysError('EPROTO', `a call's args must be a map; got ${describe(args)}`);
  return { id: id as number, kind, op, args };
}

// ---- bytes ---------------------------------------------------------------------------------

/** The syscall arguments that are paths or names: bin on the wire, byte strings in vfs. */
const PATH_ARGS = new Set(['path', 'from', 'to', 'existing', 'target']);

/**
 * mount's `source` (an image's host path, or a name): bin on the wire, the UTF-8 of what the
 * client gave; a JS string in the kernel, as a local client passes it.
 */
const TEXT_ARGS = new Set(['source']);

/** A client-form string's bytes: its UTF-8, raw bytes where it escapes them (kernel/names.ts). */
const textBytes = (s: string): Uint8Array => bytesOf(toByteString(s));

/**
 * An error message as it travels: bin, the UTF-8 of its client form (a name's bytes that are not
 * UTF-8 are themselves). Messages inside the kernel quote names as byte strings.
 */
export function messageToWire(message: string): Uint8Array {
  try {
    return textBytes(fromByteString(message));
  } catch {
    return new TextEncoder().encode(message); // a lone surrogate that is no escape: shown as U+FFFD
  }
}

/** An error message as the kernel writes it (a byte string) from its wire form. */
export function messageFromWire(bin: unknown): string {
  return bin instanceof Uint8Array ? byteString(bin) : String(bin);
}

/** An error frame `[2, id, ERRNO, message]`, the message as bin. id 0: about the connection. */
export function errorFrame(id: number, errno: Errno, message: string): Frame {
  return [ERR, id, errno, messageToWire(message)] as unknown as Frame;
}

/** A reply frame `[1, id, value]`. */
export function okFrame(id: number, value: unknown): Frame {
  return [OK, id, plain(value)];
}

/**
 * A value as plain msgpack carries it to any client: undefined as nil at the top, and dropped
 * where it is a map's value (msgpackr would send it as an extension type).
 */
function plain(value: unknown): unknown {
  if (value === undefined) return null;
  if (Array.isArray(value)) return value.map(plain);
  if (!isMap(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = plain(v);
  return out;
}

/**
 * A syscall's arguments as the server takes them off the wire, as vfs takes them: each path
 * argument from bin to a byte string, mount's source to a string, an integer msgpack gave as
 * a bigint back to a number when it is one. Fails as clientArgs (ENOSYS for an op that is no
 * client syscall, EINVAL for an argument it does not take), and EINVAL for a path or source
 * that is not bin.
 */
export function argsFromWire(op: string, args: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(clientArgs(op, args))) {
    if (PATH_ARGS.has(k) || TEXT_ARGS.has(k)) {
      if (v === null || v === undefined) continue;
      if (!(v instanceof Uint8Array)) throw new SysError('EINVAL', `${op}: argument '${k}' must be bin (the bytes of the name)`);
      out[k] = PATH_ARGS.has(k) ? byteString(v) : fromByteString(byteString(v));
    } else if (typeof v === 'bigint') {
      out[k] = v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
    } else {
      out[k] = v;
    }
  }
  return out;
}

/** A syscall's arguments as the client sends them: byte strings and source to bin, undefined dropped. */
export function argsToWire(args: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(args)) {
    if (v === undefined) continue;
    if (typeof v === 'string' && PATH_ARGS.has(k)) out[k] = bytesOf(v);
    else if (typeof v === 'string' && TEXT_ARGS.has(k)) out[k] = textBytes(v);
    else out[k] = v;
  }
  return out;
}

type Entry = Record<string, unknown>;

/**
 * Per syscall whose result holds names: how the server makes them bin (to) and the client makes
 * them what Proc expects back (from): readdir's names, readlink's target, getcwd's path (byte
 * strings), mounts' targets (byte strings) and sources (client-form text).
 */
const RESULT_NAMES: Record<string, { to(v: unknown): unknown; from(v: unknown): unknown }> = {
  readdir: {
    to: (v) => (v as Entry[]).map((e) => ({ ...e, name: bytesOf(e.name as string) })),
    from: (v) => asArray(v).map((e) => ({ ...(e as Entry), name: messageFromWire((e as Entry).name) })),
  },
  readlink: { to: (v) => bytesOf(v as string), from: (v) => messageFromWire(v) },
  getcwd: { to: (v) => bytesOf(v as string), from: (v) => messageFromWire(v) },
  mounts: {
    to: (v) => (v as Entry[]).map((m) => ({ ...m, target: bytesOf(m.target as string), source: textBytes(String(m.source)) })),
    from: (v) => asArray(v).map((m) => ({ ...(m as Entry), target: messageFromWire((m as Entry).target), source: fromByteString(messageFromWire((m as Entry).source)) })),
  },
};

const asArray = (v: unknown): unknown[] => {
  if (!Array.isArray(v)) throw new SysError('EPROTO', 'the server answered a list with something else');
  return v;
};

/** A syscall's result as the server sends it (names as bin). */
export function resultToWire(op: string, value: unknown): unknown {
  return Object.hasOwn(RESULT_NAMES, op) ? RESULT_NAMES[op].to(value) : value;
}

/**
 * A syscall's result as the client takes it off the wire: names as Proc takes them from vfs, and
 * nil (what a syscall that returns nothing answers) as undefined, as a local one returns.
 */
export function resultFromWire(op: string, value: unknown): unknown {
  if (value === null) return undefined;
  return Object.hasOwn(RESULT_NAMES, op) ? RESULT_NAMES[op].from(value) : value;
}

/** An errno name from the wire, or EIO for one this side does not know (a newer peer's). */
export const errnoFromWire = (name: unknown): Errno => (isErrno(name) ? name : 'EIO');

// ---- addresses -----------------------------------------------------------------------------

/** Where a server listens or a client connects: a unix socket's absolute path, or a TCP host and port. */
export type Address = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number };

/** The host TCP listens on when the URL names none: loopback only. */
const LOOPBACK = '127.0.0.1';

/**
 * An address from its URL: `unix:///abs/path.sock`, or `tcp://HOST:PORT` (HOST may be an IPv6
 * address in brackets, or empty for loopback; PORT 0 is any free port for a server). EINVAL,
 * with the forms, for anything else.
 */
export function parseAddress(url: string): Address {
  const bad = (why: string): never => {
    throw new SysError('EINVAL', `'${url}' is not a server address (${why}); use unix:///ABSOLUTE/PATH or tcp://HOST:PORT`);
  };
  if (url.startsWith('unix://')) {
    const path = url.slice('unix://'.length);
    if (!path.startsWith('/')) bad('a unix socket path must be absolute');
    return { kind: 'unix', path };
  }
  const m = /^tcp:\/\/(\[[0-9a-fA-F:.]+\]|[^:/[\]]*):(\d{1,5})$/.exec(url);
  if (!m) return bad(url.startsWith('tcp://') ? 'tcp needs HOST:PORT' : 'unknown scheme');
  const port = Number(m[2]);
  if (port > 65535) bad('a port is at most 65535');
  const host = m[1] === '' ? LOOPBACK : m[1].replace(/^\[|\]$/g, '');
  return { kind: 'tcp', host, port };
}

/** The URL of an address: the inverse of parseAddress. */
export function addressUrl(a: Address): string {
  return a.kind === 'unix' ? `unix://${a.path}` : `tcp://${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
}
