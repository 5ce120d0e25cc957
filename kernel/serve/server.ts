// `serve()`: a kernel's drivers as a server that other programs use over a unix or TCP socket
// (NetBSD's rump_server). Each connection is one client process of the kernel: it presents a
// token in its hello, which decides the process's credentials and whether it may use the
// control ops; then its calls are the process's syscalls. When the connection goes, for any
// reason and even with calls in flight, the process exits and its fds close; the kernel and
// the other connections go on. The wire is PROTOCOL.md's (kernel/serve/wire.ts).

import { chmodSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import * as net from 'node:net';
import { dirname } from 'node:path';
import { SysError, toSysError } from '../../ipc/errno.js';
import { MAX_IO, OK, type Frame } from '../../ipc/frame.js';
import { MAX_FRAME, StreamLink } from '../../ipc/stream-link.js';
import { MAX_CALLS_IN_FLIGHT } from '../client-limits.js';
import { localControl, type KernelControl } from '../control.js';
import type { FaultSpec } from '../faults.js';
import type { Kernel, ProcChannel } from '../kernel.js';
import { checkOwnSocket, checkPrivateDir, kindOf, lstatOrNull, removeOwn, type WrittenFile } from '../private-files.js';
import { tokenFileBeside, type Grant, type TokenTable } from './tokens.js';
import {
  CTL_OPS, HELLO_MAX_FRAME, HELLO_TIMEOUT_MS, PROTOCOL_VERSION, addressUrl, argsFromWire, errorFrame, okFrame, parseAddress,
  parseCall, parseHello, plainMsgpackProblem, resultToWire, type Address, type WireCall, type Welcome,
} from './wire.js';

/** How a server listens, whom it lets in, and what one connection may make it hold. */
export interface ServeOptions {
  /** 'unix:///abs/path.sock' | 'tcp://HOST:PORT' (PORT 0 = any free port; no HOST = loopback). */
  listen: string[];
  /** The tokens accepted; a generated table's token is also written 0600 beside each unix socket (`P.token`). */
  tokens: TokenTable;
  /** Authenticated connections open at once (default 256): one more hello is refused with an error frame EAGAIN. */
  maxConnections?: number;
  /**
   * Connections waiting for their hello (default 64), counted apart so that strangers cannot
   * take the slots of token holders: past it the oldest of them is closed (EAGAIN) for the new one.
   */
  maxPendingConnections?: number;
  /** Calls one connection may have in flight (default 64): the call past it gets EAGAIN. */
  maxCallsInFlight?: number;
  /** Fds one connection's process may have open (default 256; vfs allows at most 1024): EMFILE past it. */
  maxFds?: number;
}

/** A running server. */
export interface Server {
  /** The URLs actually listened on (a TCP port 0 resolved). */
  readonly addresses: string[];
  /** Connections open now (those still in their hello included). */
  readonly connections: number;
  /** Resolves when a `ctl halt` (then the kernel has halted too) or close() has finished. */
  readonly halted: Promise<void>;
  /** Stops listening and drops every connection (their processes exit); does not halt the kernel. */
  close(): Promise<void>;
}

const DEFAULTS = { maxConnections: 256, maxPendingConnections: 64, maxCallsInFlight: 64, maxFds: 256 };

/**
 * Bytes one connection may make the server hold (its charge: replies waiting to be sent, the
 * frames and read lengths of its calls in flight, input not yet taken as frames) before it is
 * no longer read, until its charge is below again.
 */
const CONNECTION_BUDGET = 64 * 1024 * 1024;

/**
 * Bytes all connections together may make the server hold: past it no connection is read until
 * the sum is below again, except one with no call in flight and no reply waiting (idle()): else
 * connections stopped each in the middle of a frame would wait for one another for ever. Such a
 * connection holds at most one frame (MAX_FRAME) of input and then a call: past the budget,
 * each connection can add at most that.
 */
const SERVER_BUDGET = 512 * 1024 * 1024;

/**
 * Syscalls a connection may make with an admin token only: mount's source is a host path the
 * server opens as its own host user, and a mount or unmount changes the tree of every client.
 */
const ADMIN_SYSCALLS = new Set(['mount', 'unmount']);

const EMPTY = new Uint8Array(0);

/** The longest unix socket path, in bytes (sun_path holds 108 with its NUL). */
const MAX_SOCKET_PATH = 107;

/** What a connection needs of its server. */
interface ServerContext {
  kernel: Kernel;
  control: KernelControl;
  tokens: TokenTable;
  limits: typeof DEFAULTS;
  /** Asks the server to halt the kernel and close (ctl halt, after its reply). */
  halt(): void;
  /** A connection's hello was accepted: whether it may stay (under maxConnections). */
  admit(c: Connection): boolean;
  /** A connection's charge changed: decides again which connections are read (the budgets). */
  rebalance(): void;
}

/**
 * Serves `kernel` (booted by the caller) on every address of `options.listen` until close() or a `ctl
 * halt`. Fails with a SysError, having listened nowhere: EINVAL (a bad address or limit),
 * EACCES (a unix socket's directory that is a symlink, others can enter or is not the
 * server's; or the socket not ours and 0600 after listen), EEXIST (something other than a
 * socket at its path, said), EADDRINUSE (a server answers at a unix socket's path, or the TCP port is taken), or as
 * the host's listen fails.
 */
export async function serve(kernel: Kernel, options: ServeOptions): Promise<Server> {
  const limits = checkLimits(options);
  const addresses = options.listen.map(parseAddress);
  if (addresses.length === 0) throw new SysError('EINVAL', 'serve: no address to listen on');
  const listeners: { server: net.Server; address: Address }[] = [];
  /** Connections waiting for their hello, oldest first; and those whose hello was accepted. */
  const pending = new Set<Connection>();
  const connections = new Set<Connection>();
  /** The token files written beside the unix sockets. */
  const written: WrittenFile[] = [];
  let closing: Promise<void> | null = null;
  let resolveHalted!: () => void;
  const halted = new Promise<void>((resolve) => (resolveHalted = resolve));

  const close = (): Promise<void> =>
    (closing ??= (async () => {
      // A net.Server's close completes when its last connection has: stop listening, then drop them.
      const stopped = listeners.map(({ server }) => new Promise<void>((resolve) => server.close(() => resolve())));
      await Promise.all([...pending, ...connections].map((c) => c.drop()));
      await Promise.all(stopped);
      for (const { address } of listeners) if (address.kind === 'unix') removeSocket(address.path);
      written.forEach(removeOwn);
      resolveHalted();
    })());

  const ctx: ServerContext = {
    kernel, control: localControl(kernel), tokens: options.tokens, limits,
    halt: () => void kernel.halt().then(close, close),
    admit(c) {
      pending.delete(c);
      if (connections.size >= limits.maxConnections) return false;
      connections.add(c);
      return true;
    },
    rebalance() {
      const charges = new Map([...connections].map((c) => [c, c.charge()]));
      let total = 0;
      for (const charge of charges.values()) total += charge;
      for (const [c, charge] of charges) c.setReading(c.idle() || (charge <= CONNECTION_BUDGET && total <= SERVER_BUDGET));
    },
  };
  const accept = (socket: net.Socket) => {
    if (closing) return void socket.destroy(); // came as the server closed: it would never be dropped
    const c = new Connection(ctx, socket, () => {
      pending.delete(c);
      connections.delete(c);
      ctx.rebalance();
    });
    if (pending.size >= limits.maxPendingConnections) {
      const oldest = pending.values().next().value!;
      pending.delete(oldest);
      oldest.refuse('EAGAIN', `the server has ${limits.maxPendingConnections} connections waiting for their hello, its limit; this one, the oldest, is closed`);
    }
    pending.add(c);
  };
  try {
    for (const address of addresses) listeners.push({ server: await listen(address, accept, options.tokens, written), address });
  } catch (err) {
    await close();
    throw err;
  }
  const resolved = listeners.map(({ server, address }) =>
    addressUrl(address.kind === 'tcp' ? { ...address, port: (server.address() as net.AddressInfo).port } : address));
  return {
    addresses: resolved,
    get connections() {
      return pending.size + connections.size;
    },
    halted,
    close,
  };
}

function checkLimits(options: ServeOptions): typeof DEFAULTS {
  const limits = { ...DEFAULTS };
  for (const key of Object.keys(DEFAULTS) as (keyof typeof DEFAULTS)[]) {
    const v = options[key];
    if (v === undefined) continue;
    if (!Number.isSafeInteger(v) || v < 1) throw new SysError('EINVAL', `serve: ${key} must be an integer ≥ 1, got ${String(v)}`);
    limits[key] = v;
  }
  // One call more than the limit must still get in: the exit made when the connection goes.
  if (limits.maxCallsInFlight >= MAX_CALLS_IN_FLIGHT) {
    throw new SysError('EINVAL', `serve: maxCallsInFlight must be below the kernel's ${MAX_CALLS_IN_FLIGHT}`);
  }
  return limits;
}

// ---- listening -----------------------------------------------------------------------------

function listen(address: Address, accept: (s: net.Socket) => void, tokens: TokenTable, written: WrittenFile[]): Promise<net.Server> {
  const server = net.createServer({ allowHalfOpen: false }, accept);
  // After listen, an error (accept failing at the host's fd limit, say) is the host's; the
  // server goes on, as each connection's failures are the connection's.
  const listening = new Promise<net.Server>((resolve, reject) => {
    server.once('error', (err) => reject(listenError(address, err)));
    server.once('listening', () => {
      server.removeAllListeners('error');
      server.on('error', () => {});
      resolve(server);
    });
  });
  if (address.kind === 'tcp') {
    server.listen({ host: address.host, port: address.port });
    return listening;
  }
  return listenUnix(server, address.path, listening, tokens, written);
}

/**
 * Listens on a unix socket: in a directory of the server's own, closed to others (made 0700 if
 * missing; checked by lstat, so never through a symlink), the socket made 0600 (umask around
 * listen, chmod after), a stale socket file replaced and a live one refused, anything else at
 * the path refused saying what it is. After listen, the directory and the socket are checked
 * again (ours, 0600): a mismatch closes the listener and fails. The generated token is written
 * fresh beside the socket; `written` gets that file, for removal at close.
 */
async function listenUnix(server: net.Server, path: string, listening: Promise<net.Server>, tokens: TokenTable, written: WrittenFile[]): Promise<net.Server> {
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) throw new SysError('ENAMETOOLONG', `unix socket path ${path} is longer than ${MAX_SOCKET_PATH} bytes; choose a shorter one`);
  const dir = dirname(path);
  if (lstatOrNull(dir) === null) mkdirSync(dir, { recursive: true, mode: 0o700 });
  checkPrivateDir(dir);
  const there = lstatOrNull(path);
  if (there !== null) {
    if (!there.isSocket()) throw new SysError('EEXIST', `${path} is ${kindOf(there)}, not a socket; remove it or choose another path`);
    if (await answers(path)) throw new SysError('EADDRINUSE', `a server already answers at ${path}; stop it or choose another path`);
    unlinkSync(path); // stale: its server is gone
  }
  const umask = process.umask(0o177);
  try {
    server.listen(path);
    await listening;
  } finally {
    process.umask(umask);
  }
  try {
    checkPrivateDir(dir);
    if (lstatSync(path).isSocket()) chmodSync(path, 0o600);
    checkOwnSocket(path);
  } catch (err) {
    server.close();
    throw err;
  }
  if (tokens.generated !== undefined) written.push(tokens.writeGenerated(tokenFileBeside(path)));
  return server;
}

/** Whether something accepts connections at the unix socket `path`. */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

function listenError(address: Address, err: Error): SysError {
  const code = (err as NodeJS.ErrnoException).code;
  const url = addressUrl(address);
  if (code === 'EADDRINUSE') return new SysError('EADDRINUSE', `cannot listen on ${url}: the address is in use`);
  if (code === 'EACCES') return new SysError('EACCES', `cannot listen on ${url}: permission denied`);
  return new SysError('EIO', `cannot listen on ${url}: ${err.message}`);
}

/** Removes a unix socket we listened on, if it is still a socket (not followed through a symlink). */
function removeSocket(path: string): void {
  if (lstatOrNull(path)?.isSocket()) unlinkSync(path);
}

// ---- connections ---------------------------------------------------------------------------

/** The bytes a read or pread call will make the server hold for its reply (its length, at most MAX_IO). */
function readLength({ kind, op, args }: WireCall): number {
  if (kind !== 'sys' || (op !== 'read' && op !== 'pread')) return 0;
  const n = Number(args.length);
  return Number.isFinite(n) && n > 0 ? Math.min(n, MAX_IO) : 0;
}

/**
 * One connection: its hello, then its process's calls. States: 'hello' (waiting for it, frames
 * at most HELLO_MAX_FRAME), 'spawning' (its process being made; frames queue), 'open', 'closed'.
 */
class Connection {
  private readonly link: StreamLink;
  private state: 'hello' | 'spawning' | 'open' | 'closed' = 'hello';
  private readonly helloTimer: ReturnType<typeof setTimeout>;
  private grant: Grant | null = null;
  private proc: ProcChannel | null = null;
  /** The making of the process: resolves with it, or null when that failed. */
  private spawned: Promise<ProcChannel | null> = Promise.resolve(null);
  /** The process exited by its own exit call (nothing to do when the connection goes). */
  private exited = false;
  /** Whether the budgets let this connection be read (ServerContext.rebalance). */
  private withinBudget = true;
  /** The calls in flight: id → the bytes they make the server hold (frame, and a read's length). */
  private readonly inFlight = new Map<number, number>();
  /** The sum of inFlight's bytes. */
  private heldByCalls = 0;
  /** Resolves when the connection is closed and its process has exited. */
  private readonly gone: Promise<void>;
  private markGone!: () => void;

  constructor(private readonly ctx: ServerContext, private readonly socket: net.Socket, onGone: () => void) {
    this.gone = new Promise<void>((resolve) => (this.markGone = resolve)).then(onGone);
    this.link = new StreamLink(socket, HELLO_MAX_FRAME);
    this.link.farewell = (errno, reason) => errorFrame(0, errno, reason);
    this.link.check = plainMsgpackProblem;
    this.link.onFrame = (frame) => this.receive(frame);
    this.link.onClose = () => void this.closed();
    socket.on('data', () => ctx.rebalance()).on('drain', () => ctx.rebalance());
    this.helloTimer = setTimeout(() => this.refuse('ETIMEDOUT', `no hello within ${HELLO_TIMEOUT_MS} ms`), HELLO_TIMEOUT_MS);
  }

  /** Closes the connection with an error frame `[2, 0, errno, sentence]`. */
  refuse(errno: SysError['errno'], sentence: string): void {
    this.link.sendAndClose(errorFrame(0, errno, sentence), sentence);
  }

  /** Bytes this connection makes the server hold now: replies waiting, calls in flight, input not yet framed. */
  charge(): number {
    return this.socket.writableLength + this.heldByCalls + this.link.incoming;
  }

  /** Whether the connection has no call in flight and no reply waiting to be sent (its charge is only input). */
  idle(): boolean {
    return this.heldByCalls === 0 && this.socket.writableLength === 0;
  }

  /** Reads the connection's calls or stops reading them, as the budgets decide. */
  setReading(within: boolean): void {
    if (within === this.withinBudget) return;
    this.withinBudget = within;
    if (this.state !== 'open') return;
    if (within) {
      this.link.resume();
    } else {
      this.link.pause();
      this.rebalanceWhenSent();
    }
  }

  /**
   * Asks for a rebalance once what is queued now has been sent: 'drain' comes only after a
   * write past the high-water mark, so a paused connection whose last small reply leaves would
   * otherwise never be looked at again. (An empty write's callback runs after those before it.)
   */
  private rebalanceWhenSent(): void {
    this.socket.write(EMPTY, () => this.ctx.rebalance());
  }

  /** Closes the connection (if open) and resolves when its process has exited. */
  drop(): Promise<void> {
    this.link.close();
    return this.gone;
  }

  private receive(frame: unknown): void {
    if (this.state === 'hello') return this.hello(frame);
    if (this.state === 'open') this.dispatch(frame);
  }

  private hello(frame: unknown): void {
    clearTimeout(this.helloTimer);
    let grant: Grant | null;
    try {
      grant = this.ctx.tokens.lookup(parseHello(frame));
    } catch (err) {
      const e = toSysError(err, 'hello');
      return this.refuse(e.errno, e.message);
    }
    if (!grant) return this.refuse('EACCES', 'the token is not one this server accepts');
    if (!this.ctx.admit(this)) return this.refuse('EAGAIN', `the server has ${this.ctx.limits.maxConnections} connections open, its limit; try again later`);
    this.grant = grant;
    this.state = 'spawning';
    this.link.limit = MAX_FRAME;
    this.link.pause(); // until the process exists: what came already waits in the link
    this.spawned = this.ctx.kernel.spawnChannel(grant.cred, { maxFds: this.ctx.limits.maxFds }).then(
      (proc) => {
        this.proc = proc;
        if (this.state === 'spawning') this.opened(proc); // else the client left meanwhile: closed() exits it
        return proc;
      },
      (err) => {
        const e = toSysError(err, 'spawn');
        this.refuse(e.errno, `the server cannot make a process for this connection: ${e.message}`);
        return null;
      },
    );
  }

  private opened(proc: ProcChannel): void {
    this.state = 'open';
    const welcome: Welcome = {
      rumpus: PROTOCOL_VERSION, pid: proc.pid, uid: proc.cred.uid, gid: proc.cred.gid, groups: [...proc.cred.groups], admin: this.grant!.admin,
    };
    this.link.send(welcome as never); // a map, not one of the frames between domains
    if (this.withinBudget) this.link.resume();
  }

  private dispatch(frame: unknown): void {
    let call: WireCall;
    try {
      call = parseCall(frame);
    } catch (err) {
      const e = toSysError(err, 'frame');
      return this.refuse(e.errno, e.message);
    }
    const { id } = call;
    if (this.inFlight.has(id)) return this.link.send(errorFrame(id, 'EINVAL', `call id ${id} is in flight already; ids must be unique among the calls in flight`));
    if (this.inFlight.size >= this.ctx.limits.maxCallsInFlight) {
      return this.link.send(errorFrame(id, 'EAGAIN', `${call.op}: this connection has ${this.ctx.limits.maxCallsInFlight} calls in flight, its limit; wait for some to finish`));
    }
    const held = this.link.frameSize + readLength(call);
    this.inFlight.set(id, held);
    this.heldByCalls += held;
    this.ctx.rebalance();
    this.run(call).then(
      (value) => this.answer(call, okFrame(id, value)),
      (err) => {
        const e = toSysError(err, call.op);
        this.answer(call, errorFrame(id, e.errno, e.message));
      },
    );
  }

  /** Sends a call's reply, unless the connection is gone; the reply to exit is the last frame. */
  private answer(call: WireCall, reply: Frame): void {
    this.heldByCalls -= this.inFlight.get(call.id) ?? 0;
    this.inFlight.delete(call.id);
    if (this.state !== 'open') return;
    if (call.kind === 'sys' && call.op === 'exit' && this.exited) return this.link.sendAndClose(reply, 'the process exited');
    try {
      this.link.send(reply);
    } catch (err) {
      // A reply over the largest frame (a directory of millions of names, say): its errno instead.
      const e = toSysError(err, call.op);
      this.link.send(errorFrame(call.id, e.errno, `${call.op}: ${e.message}`));
    }
    this.ctx.rebalance();
    if (!this.withinBudget) this.rebalanceWhenSent();
    if (call.kind === 'ctl' && call.op === 'halt' && reply[0] === OK) this.ctx.halt();
  }

  private async run(call: WireCall): Promise<unknown> {
    if (call.kind === 'ctl') return this.control(call);
    if (call.op === 'batch') throw new SysError('ENOSYS', 'batch: not served over a connection in protocol version 1; make its calls one by one');
    if (ADMIN_SYSCALLS.has(call.op) && !this.grant!.admin) {
      throw new SysError('EPERM', `${call.op}: needs an admin token over a connection (it names host files and changes what every client sees)`);
    }
    const result = await this.proc!.sys(call.op, argsFromWire(call.op, call.args));
    if (call.op === 'exit') this.exited = true;
    return resultToWire(call.op, result);
  }

  /** A control op: admin tokens only (EPERM); ENOSYS for one that is not. */
  private async control({ op, args }: WireCall): Promise<unknown> {
    if (!this.grant!.admin) throw new SysError('EPERM', `ctl ${op}: this connection's token is not an admin token`);
    const c = this.ctx.control;
    const noArgs = () => {
      const extra = Object.keys(args);
      if (extra.length > 0) throw new SysError('EINVAL', `ctl ${op}: takes no arguments, got '${extra[0]}'`);
    };
    switch (op) {
      case 'ps': noArgs(); return c.ps();
      case 'dmesg': noArgs(); return c.dmesg();
      case 'faults': noArgs(); return c.faults();
      case 'panicked': noArgs(); return c.panicked();
      case 'inject': return c.inject(args as unknown as FaultSpec);
      case 'clear': {
        const { component, ...rest } = args;
        if (Object.keys(rest).length > 0) throw new SysError('EINVAL', `ctl clear: takes only 'component', got '${Object.keys(rest)[0]}'`);
        if (component !== undefined && component !== null && typeof component !== 'string') throw new SysError('EINVAL', 'ctl clear: component must be a str');
        return c.clear(component ?? undefined);
      }
      case 'halt': noArgs(); return null; // halted once the reply is sent (answer)
      default: throw new SysError('ENOSYS', `ctl '${op}' is not a control op (known: ${CTL_OPS.join(', ')})`);
    }
  }

  /** The link closed: the process exits (its fds close) unless it did, and the connection is gone. */
  private async closed(): Promise<void> {
    this.state = 'closed';
    clearTimeout(this.helloTimer);
    await this.spawned;
    if (this.proc && !this.exited) await this.proc.sys('exit', {}).catch(() => {});
    this.markGone();
  }
}
