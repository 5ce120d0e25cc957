// Helpers of the serve tests: a kernel served on a private unix socket and a loopback port, and
// a raw wire client that sends exact frames and collects what the server answers.

import { mkdtempSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Packr } from 'msgpackr';
import { boot, serve, TokenTable, type BootOptions, type Kernel, type Server, type ServeOptions } from '../../kernel/index.js';

export const packr = new Packr({ useRecords: false, moreTypes: false });

export interface Served {
  k: Kernel;
  server: Server;
  tokens: TokenTable;
  /** The generated admin root token. */
  token: string;
  unix: string;
  tcp: string;
  dir: string;
  /** Closes the server, halts the kernel, removes the directory. */
  stop(): Promise<void>;
}

/** A kernel booted with `boot` and served on a unix socket in a new private directory and on loopback TCP. */
export async function served(bootOptions: BootOptions, options: Partial<ServeOptions> = {}): Promise<Served> {
  const dir = mkdtempSync(join(tmpdir(), 'rumpus-serve-'));
  const k = await boot(bootOptions);
  const tokens = options.tokens ?? TokenTable.generate();
  try {
    const server = await serve(k, { listen: [`unix://${join(dir, 's', 'k.sock')}`, 'tcp://127.0.0.1:0'], ...options, tokens });
    return {
      k, server, tokens, token: tokens.generated ?? '', unix: server.addresses[0], tcp: server.addresses[1], dir,
      async stop() {
        await server.close();
        await k.halt();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await k.halt();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/** One frame as bytes: a 4-byte little-endian length and the msgpack body. */
export function frameBytes(value: unknown): Buffer {
  const body = packr.pack(value);
  const head = Buffer.alloc(4);
  head.writeUInt32LE(body.length, 0);
  return Buffer.concat([head, body]);
}

/** A raw connection: send bytes or frames, wait for frames, see whether the server closed it. */
export class RawClient {
  readonly frames: unknown[] = [];
  closed = false;
  private buf = Buffer.alloc(0);
  private waiters: (() => void)[] = [];

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buf = Buffer.concat([this.buf, chunk]);
      while (this.buf.length >= 4 && this.buf.length >= 4 + this.buf.readUInt32LE(0)) {
        const n = this.buf.readUInt32LE(0);
        this.frames.push(packr.unpack(this.buf.subarray(4, 4 + n)));
        this.buf = this.buf.subarray(4 + n);
      }
      this.wake();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  static connect(url: string): Promise<RawClient> {
    const socket = url.startsWith('unix://') ? net.connect(url.slice(7)) : net.connect({ host: '127.0.0.1', port: Number(url.split(':').at(-1)) });
    return new Promise((resolve, reject) => {
      socket.once('connect', () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  send(value: unknown): void {
    this.socket.write(frameBytes(value));
  }

  /** Waits (at most ms) until `n` frames have come, or the connection closed. */
  async waitFrames(n: number, ms = 10_000): Promise<unknown[]> {
    await this.until(() => this.frames.length >= n || this.closed, ms);
    return this.frames;
  }

  /** Waits (at most ms) until the server closes the connection; whether it did. */
  async waitClosed(ms = 10_000): Promise<boolean> {
    await this.until(() => this.closed, ms);
    return this.closed;
  }

  close(): void {
    this.socket.destroy();
  }

  private async until(cond: () => boolean, ms: number): Promise<void> {
    const end = Date.now() + ms;
    while (!cond() && Date.now() < end) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, end - Date.now()));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

/** The frames as comparable values: bin as its text. */
export const asText = (v: unknown): unknown =>
  v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : Array.isArray(v) ? v.map(asText) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, asText(x)])) : v;
