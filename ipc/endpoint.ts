// An endpoint turns a link into calls: it numbers outgoing requests, matches replies to them,
// serves incoming requests through a handler, and fails every call still in flight with EIO
// when the link goes away, so a dead peer never leaves a caller waiting.

import { SysError, isErrno, toSysError } from './errno.js';
import { ERR, OK, REQ, asFrame, type Frame, type Link } from './frame.js';

/** Serves one incoming request; a thrown error travels back as its errno and message. */
export type Serve = (to: string, op: string, args: unknown) => unknown;

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: SysError) => void;
  /** performance.now() after which the call fails with ETIMEDOUT. */
  deadline: number;
  what: string;
}

/** How often calls past their deadline are looked for, in milliseconds. */
const SWEEP_MS = 100;

/**
 * The peer went away with the call in flight (EIO). Kept apart from an EIO the callee itself
 * returned, because after a restart an idempotent call of this kind can be retried.
 */
export class PeerLost extends SysError {
  constructor(message: string) {
    super('EIO', message);
  }
}

export class Endpoint {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closedReason: string | null = null;
  /** Called once when the link is gone, after pending calls were failed. */
  onClose: (reason: string) => void = () => {};
  /**
   * While this answers true, no deadline runs out: each pending call's deadline moves on by the
   * time that passed (the core sets it to "a domain is being restarted", whose wait is no
   * callee's slowness).
   */
  holdDeadlines: () => boolean = () => false;

  /**
   * @param link  the transport
   * @param peer  who is on the other side, for error messages ("domain fs")
   * @param serve handles requests from the peer; null when the peer may not call us
   */
  constructor(
    private readonly link: Link,
    readonly peer: string,
    private readonly serve: Serve | null,
  ) {
    link.onFrame = (raw) => this.receive(raw);
    link.onClose = (reason) => this.closed(reason);
  }

  get inFlight(): number {
    return this.pending.size;
  }

  get isClosed(): boolean {
    return this.closedReason !== null;
  }

  /** Calls `op` of component `to` in the peer; without a reply after timeoutMs, ETIMEDOUT. */
  call(to: string, op: string, args: unknown, timeoutMs = Infinity): Promise<unknown> {
    if (this.closedReason !== null) {
      return Promise.reject(new PeerLost(`${to}.${op}: ${this.peer} is gone (${this.closedReason})`));
    }
    const id = this.nextId++;
    if (this.nextId > 0x7fffffff) this.nextId = 1;
    if (timeoutMs !== Infinity) this.startSweeping();
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, deadline: performance.now() + timeoutMs, what: `${to}.${op}` });
      try {
        this.link.send([REQ, id, to, op, args]);
      } catch (err) {
        this.pending.delete(id);
        reject(toSysError(err, `${to}.${op}: sending to ${this.peer}`));
      }
    });
  }

  private sweeper: ReturnType<typeof setInterval> | null = null;

  /** Fails calls past their deadline; stops itself when nothing is pending. */
  private startSweeping(): void {
    if (this.sweeper) return;
    let lastSweep = performance.now();
    this.sweeper = setInterval(() => {
      if (this.pending.size === 0) {
        clearInterval(this.sweeper!);
        this.sweeper = null;
        return;
      }
      const now = performance.now();
      const held = this.holdDeadlines() ? now - lastSweep : 0;
      lastSweep = now;
      for (const [id, p] of this.pending) {
        p.deadline += held;
        if (p.deadline > now) continue;
        this.pending.delete(id);
        p.reject(new SysError('ETIMEDOUT', `${p.what}: no reply from ${this.peer} in time`));
      }
    }, SWEEP_MS);
    this.sweeper.unref();
  }

  close(reason = 'closed'): void {
    this.link.close();
    this.closed(reason);
  }

  private receive(raw: unknown): void {
    const frame = asFrame(raw);
    if (!frame) {
      // Answer what we can; a frame without a usable id has no caller to tell.
      const id = Array.isArray(raw) && raw[0] === REQ && Number.isSafeInteger(raw[1]) ? (raw[1] as number) : 0;
      if (id) this.reply([ERR, id, 'EINVAL', `malformed request from ${this.peer}`]);
      return;
    }
    if (frame[0] === REQ) {
      this.request(frame[1], frame[2], frame[3], frame[4]);
      return;
    }
    const waiter = this.pending.get(frame[1]);
    if (!waiter) return; // a reply nobody waits for (a caller already failed): drop it
    this.pending.delete(frame[1]);
    if (frame[0] === OK) waiter.resolve(frame[2]);
    else waiter.reject(new SysError(isErrno(frame[2]) ? frame[2] : 'EIO', frame[3]));
  }

  private request(id: number, to: string, op: string, args: unknown): void {
    const serve = this.serve;
    if (!serve) {
      this.reply([ERR, id, 'EPERM', `${to}.${op}: ${this.peer} may not call into this domain`]);
      return;
    }
    let result: unknown;
    try {
      result = serve(to, op, args);
    } catch (err) {
      this.fail(id, err, to, op);
      return;
    }
    if (result instanceof Promise) {
      result.then((value) => this.reply([OK, id, value]), (err) => this.fail(id, err, to, op));
    } else {
      this.reply([OK, id, result]);
    }
  }

  private fail(id: number, err: unknown, to: string, op: string): void {
    const e = toSysError(err, `${to}.${op}`);
    this.reply([ERR, id, e.errno, e.message]);
  }

  private reply(frame: Frame): void {
    if (this.closedReason !== null) return;
    try {
      this.link.send(frame);
    } catch (err) {
      // A result that cannot be encoded still owes its caller an answer.
      if (frame[0] === OK) this.fail(frame[1], err, 'reply', 'encode');
    }
  }

  private closed(reason: string): void {
    if (this.closedReason !== null) return;
    this.closedReason = reason;
    if (this.sweeper) clearInterval(this.sweeper);
    const waiting = [...this.pending.values()];
    this.pending.clear();
    for (const w of waiting) w.reject(new PeerLost(`${this.peer} is gone: ${reason}`));
    this.onClose(reason);
  }
}
