// The client side of `rumpus serve` (NetBSD's rumpclient): connect() makes a connection a client
// process, a Proc like k.spawn()'s, so that a program is written once for a local or a remote
// kernel; connectKernel() gives a server's KernelControl (its control ops need an admin token).
// If the server goes away, every call pending and every later one fails with ECONNRESET.

import { existsSync, statSync } from 'node:fs';
import * as net from 'node:net';
import { SysError, type Errno } from '../../ipc/errno.js';
import { ERR, OK, REQ } from '../../ipc/frame.js';
import { MAX_FRAME, StreamLink } from '../../ipc/stream-link.js';
import type { KernelControl } from '../control.js';
import type { DomainInfo } from '../domains.js';
import type { FaultSpec } from '../faults.js';
import { fromByteString } from '../names.js';
import { Proc, clientError } from '../proc.js';
import type { KernelEvent } from '../supervisor.js';
import { readClientToken, tokenFileBeside } from './tokens.js';
import {
  PROTOCOL_VERSION, argsToWire, errnoFromWire, messageFromWire, parseAddress, resultFromWire, type Hello, type Welcome,
} from './wire.js';

/** How to reach a server. */
export interface ConnectOptions {
  /** The token; else tokenFile, env RUMPUS_TOKEN, env RUMPUS_TOKEN_FILE, then for unix://P the file P.token. */
  token?: string;
  /** A file whose first word is the token. */
  tokenFile?: string;
  /** Milliseconds to connect and be welcomed (default 10 000): ETIMEDOUT past them. */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * A client process of the kernel served at `url` (unix:///path or tcp://host:port): the same
 * class as k.spawn()'s, with the credentials the token grants; p.exit() closes the connection.
 * Fails with a SysError: EACCES (no token found, or the server refused it), EPROTONOSUPPORT
 * (the server speaks another version), ENOENT or ECONNREFUSED (no server there), ETIMEDOUT,
 * ECONNRESET (the server closed the connection), EINVAL (a bad URL).
 */
export async function connect(url: string, options: ConnectOptions = {}): Promise<Proc> {
  const session = await Session.open(url, options);
  return session.proc();
}

/**
 * The KernelControl of the kernel served at `url`, over a connection of its own (itself a client
 * process), and close() to end that connection. spawn() makes a new connection with the same
 * token. The control ops fail with EPERM unless the token is an admin token. Fails as connect().
 */
export async function connectKernel(url: string, options: ConnectOptions = {}): Promise<KernelControl & { close(): Promise<void> }> {
  const session = await Session.open(url, options);
  const token = session.token;
  const ctl = async <T>(op: string, args: Record<string, unknown> = {}): Promise<T> => {
    try {
      return (await session.call('ctl', op, args)) as T;
    } catch (err) {
      throw err instanceof SysError ? new SysError(err.errno, fromByteString(err.message)) : err; // as Proc shows messages
    }
  };
  return {
    spawn: () => connect(url, { ...options, token }),
    ps: () => ctl<DomainInfo[]>('ps'),
    dmesg: () => ctl<KernelEvent[]>('dmesg'),
    faults: () => ctl<FaultSpec[]>('faults'),
    inject: async (fault) => void (await ctl('inject', { ...fault })),
    clear: async (component) => void (await ctl('clear', component === undefined ? {} : { component })),
    panicked: () => ctl<string | null>('panicked'),
    halt: async () => {
      await ctl('halt');
      session.close();
    },
    close: () => session.exit(),
  };
}

/**
 * The token for `url`: options.token, options.tokenFile, env RUMPUS_TOKEN, env
 * RUMPUS_TOKEN_FILE, then for unix://P the file P.token. EACCES when none is found.
 */
export function findToken(url: string, options: ConnectOptions = {}, env: NodeJS.ProcessEnv = process.env): string {
  if (options.token) return options.token;
  if (options.tokenFile) return readClientToken(options.tokenFile);
  if (env.RUMPUS_TOKEN) return env.RUMPUS_TOKEN;
  if (env.RUMPUS_TOKEN_FILE) return readClientToken(env.RUMPUS_TOKEN_FILE);
  const address = parseAddress(url);
  if (address.kind === 'unix' && existsSync(tokenFileBeside(address.path))) return readClientToken(tokenFileBeside(address.path));
  throw new SysError('EACCES', `no token for ${url}: give one (--token-file, RUMPUS_TOKEN or RUMPUS_TOKEN_FILE)${address.kind === 'unix' ? ` or put it in ${tokenFileBeside(address.path)}` : ''}`);
}

/**
 * Refuses to send a token to a unix socket that someone else could have put there: the socket
 * must exist (ENOENT: said first, or a missing server would read as a missing token), be a
 * socket, and belong to this user or root (EACCES otherwise). A server makes its socket 0600
 * in a private directory, so nobody else can make a server of ours; but a path on a shared
 * directory (/tmp) could lead, through a planted symlink, to a stranger's socket.
 */
function checkSocketOwner(url: string, path: string): void {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new SysError('ENOENT', `no server at ${url}: ${path} does not exist`);
  }
  if (!st.isSocket()) throw new SysError('ECONNREFUSED', `no server at ${url}: ${path} is not a socket`);
  const me = process.getuid?.() ?? 0;
  if (st.uid !== me && st.uid !== 0) {
    throw new SysError('EACCES', `${url}: the socket belongs to uid ${st.uid}, neither you (uid ${me}) nor root; not sending it a token`);
  }
}

/** A host error of connecting, as an errno. */
function connectErrno(err: NodeJS.ErrnoException): Errno {
  const code = err.code;
  return code === 'ENOENT' || code === 'ECONNREFUSED' || code === 'EACCES' || code === 'ETIMEDOUT' ? code : 'ECONNRESET';
}

/** One connection to a server: its hello, then calls matched to replies by id. */
class Session {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: unknown): void }>();
  /** Why the connection is gone, once it is: what every call then fails with. */
  private lost: SysError | null = null;
  /** The server's last word, an error frame of id 0, if it sent one before closing. */
  private lastWord: SysError | null = null;

  /** @param token  the token this connection presented (a new connection of the same client presents it too) */
  private constructor(private readonly url: string, private readonly link: StreamLink, readonly token: string, readonly welcome: Welcome) {
    link.onFrame = (frame) => this.receive(frame);
    link.onClose = (reason) => this.gone(reason);
  }

  /** Connects, says hello with the token, and waits for the welcome. Fails as connect(). */
  static async open(url: string, options: ConnectOptions): Promise<Session> {
    const address = parseAddress(url);
    // Said first: without it, a missing server would read as a missing token.
    if (address.kind === 'unix') checkSocketOwner(url, address.path);
    const token = findToken(url, options);
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    return new Promise((resolve, reject) => {
      const socket = address.kind === 'unix' ? net.connect(address.path) : net.connect({ host: address.host, port: address.port });
      let hostError: NodeJS.ErrnoException | null = null;
      socket.once('error', (err) => (hostError = err));
      const link = new StreamLink(socket, MAX_FRAME);
      // Settled once: closing the link runs onClose, which must not speak over a refusal.
      let settled = false;
      const fail = (err: SysError) => {
        settled = true;
        clearTimeout(timer);
        reject(err);
        link.close();
      };
      const timer = setTimeout(() => fail(new SysError('ETIMEDOUT', `${url}: no answer from the server in ${timeoutMs} ms`)), timeoutMs);
      link.onClose = (reason) => {
        clearTimeout(timer);
        if (settled) return;
        reject(hostError ? new SysError(connectErrno(hostError), `cannot connect to ${url}: ${hostError.message}`) : new SysError('ECONNRESET', `${url}: the server closed the connection (${reason})`));
      };
      link.onFrame = (frame) => {
        clearTimeout(timer);
        const refusal = asErrorFrame(frame);
        if (refusal) return fail(new SysError(refusal.errno, `${url}: ${fromByteString(refusal.message)}`));
        const welcome = asWelcome(frame);
        if (!welcome) return fail(new SysError('EPROTO', `${url}: the server's first frame is not a welcome`));
        resolve(new Session(url, link, token, welcome));
      };
      const hello: Hello = { rumpus: PROTOCOL_VERSION, token };
      link.send(hello as never); // a map, not one of the frames between domains
    });
  }

  /** The connection's process as a Proc: its syscalls are this connection's calls. */
  proc(): Proc {
    const { pid, uid, gid, groups } = this.welcome;
    return new Proc(pid, { uid, gid, groups }, async (op, args) => {
      try {
        const result = resultFromWire(op, await this.call('sys', op, argsToWire(args)));
        if (op === 'exit') this.close();
        return result;
      } catch (err) {
        throw clientError(err); // as a Proc's syscalls fail
      }
    });
  }

  /** One call; its error as a SysError with the message as the kernel wrote it (a byte string). */
  call(kind: 'sys' | 'ctl', op: string, args: Record<string, unknown>): Promise<unknown> {
    if (this.lost) return Promise.reject(this.lost);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.link.send([REQ, id, kind, op, args]); // throws E2BIG for a call over the largest frame
      this.pending.set(id, { resolve, reject });
    });
  }

  /** Exits the connection's process and closes the connection. */
  async exit(): Promise<void> {
    try {
      await this.call('sys', 'exit', {});
    } finally {
      this.close();
    }
  }

  close(): void {
    this.link.close();
  }

  private receive(frame: unknown): void {
    if (!Array.isArray(frame) || (frame[0] !== OK && frame[0] !== ERR)) return this.link.close();
    if (frame[1] === 0) {
      const e = asErrorFrame(frame);
      if (e) this.lastWord = new SysError(e.errno, fromByteString(e.message));
      return;
    }
    const call = this.pending.get(frame[1]);
    if (!call) return; // an answer to no call of ours: ignored
    this.pending.delete(frame[1]);
    if (frame[0] === OK) return call.resolve(frame[2]);
    const e = asErrorFrame(frame);
    call.reject(e ? new SysError(e.errno, e.message) : new SysError('EPROTO', `${this.url}: a malformed error reply`));
  }

  private gone(reason: string): void {
    const why = this.lastWord ? `${this.lastWord.errno}: ${this.lastWord.message}` : reason;
    this.lost = new SysError('ECONNRESET', `${this.url}: the connection to the server is gone (${why})`);
    for (const call of this.pending.values()) call.reject(this.lost);
    this.pending.clear();
  }
}

/** An error frame `[2, id, ERRNO, message]`: its errno and message (a byte string); null for anything else. */
function asErrorFrame(x: unknown): { errno: Errno; message: string } | null {
  if (!Array.isArray(x) || x[0] !== ERR || x.length !== 4 || typeof x[2] !== 'string') return null;
  return { errno: errnoFromWire(x[2]), message: messageFromWire(x[3]) };
}

function asWelcome(x: unknown): Welcome | null {
  const w = x as Partial<Welcome> | null;
  if (!w || typeof w !== 'object' || Array.isArray(w) || w.rumpus !== PROTOCOL_VERSION) return null;
  const ok = Number.isSafeInteger(w.pid) && Number.isSafeInteger(w.uid) && Number.isSafeInteger(w.gid) && Array.isArray(w.groups) && typeof w.admin === 'boolean';
  return ok ? (w as Welcome) : null;
}
