// A raw connection to a `rumpus serve` socket for the fuzzer: it writes any bytes it is given
// (well-formed frames or not) and reads back what the server answers, frame by frame, without
// the checks and conversions of the real client (kernel/serve/client.ts). PROTOCOL.md is the
// source of the frame layout: a 4-byte little-endian length, then a plain msgpack body.

import { connect as netConnect, type Socket } from 'node:net';
import { Packr, Unpackr } from 'msgpackr';

/** Plain msgpack, as the protocol asks: no records, no extension types. */
const packr = new Packr({ useRecords: false, moreTypes: false });
const unpackr = new Unpackr({ useRecords: false, moreTypes: false });

/** A msgpack body for `value`. */
export function pack(value: unknown): Uint8Array {
  return packr.pack(value);
}

/** A frame: `body` behind a length header; `length` overrides the header's value (a lie). */
export function frame(body: Uint8Array, length = body.length): Uint8Array {
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, length >>> 0, true);
  out.set(body, 4);
  return out;
}

/** 'unix:///abs/path' or 'tcp://HOST:PORT' → what net.connect takes; throws on anything else. */
export function socketAddress(url: string): { path: string } | { host: string; port: number } {
  const u = new URL(url);
  if (u.protocol === 'unix:') return { path: decodeURIComponent(u.pathname) };
  if (u.protocol === 'tcp:') return { host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port) };
  throw new Error(`not a rumpus server URL: ${url}`);
}

/** What arrived: a decoded frame, or the end of the connection. */
export type Arrival = { frame: unknown } | { closed: true };

/** One socket, its incoming frames queued in order until taken with next(). */
export class RawConnection {
  private readonly socket: Socket;
  private readonly arrived: Arrival[] = [];
  private waiter: (() => void) | null = null;
  private pending: Buffer = Buffer.alloc(0);
  closed = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    // A reset or a write to a closed socket ends the connection like a close does.
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      this.push({ closed: true });
    });
  }

  /** Connects to `url`; rejects with the socket's error if it cannot. */
  static open(url: string): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = netConnect(socketAddress(url));
      socket.once('connect', () => {
        socket.removeListener('error', reject);
        resolve(new RawConnection(socket));
      });
      socket.once('error', reject);
    });
  }

  /** Writes bytes as they are; `end` half-closes the socket after them. */
  send(bytes: Uint8Array, end = false): void {
    if (this.closed) return;
    this.socket.write(bytes);
    if (end) this.socket.end();
  }

  /** The next arrival, or null when nothing came within `ms`. */
  async next(ms: number): Promise<Arrival | null> {
    if (this.arrived.length === 0 && this.closed) return { closed: true };
    if (this.arrived.length === 0) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
        timer = setTimeout(resolve, ms);
      });
      clearTimeout(timer);
      this.waiter = null;
    }
    return this.arrived.shift() ?? null;
  }

  /** Closes the socket at once. */
  destroy(): void {
    this.socket.destroy();
  }

  private push(a: Arrival): void {
    this.arrived.push(a);
    this.waiter?.();
  }

  private receive(chunk: Buffer): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    while (this.pending.length >= 4) {
      const size = this.pending.readUInt32LE(0);
      if (this.pending.length < 4 + size) return;
      const body = this.pending.subarray(4, 4 + size);
      this.pending = this.pending.subarray(4 + size);
      let decoded: unknown;
      try {
        decoded = unpackr.unpack(new Uint8Array(body.buffer, body.byteOffset, body.length));
      } catch {
        decoded = { undecodable: body.length };
      }
      this.push({ frame: decoded });
    }
  }
}
