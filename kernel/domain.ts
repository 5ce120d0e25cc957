// The domain runtime: the same code hosts components in the kernel's main thread, in a worker
// thread and in a child process. It loads the components placed here, gives each a Context,
// routes each call — a direct call when the callee is in this domain, the peer domain's
// endpoint otherwise — and serves requests from peers, but only for the components each peer
// holds a channel to. Requests for '@domain' are the core's control plane and come only from
// the main domain; the other way, a domain reports to the core what the core cannot see (a
// channel between two domains that closed).
//
// A channel over a socket is made only with a peer that proves its name with the channel's key
// (kernel/sockets.ts), only when the core has announced it ('expect'), and never in place of a
// live one: a stranger who can connect to a domain's socket gets nothing, and changes nothing.
//
// Two things make failures survivable. A call whose callee's domain dies while the call is in
// flight, or that gets no reply before its deadline, is retried once the callee is back, when
// the op is idempotent; otherwise it fails with EIO. And faults are armed here, in the domain
// hosting the component, so they behave the same under every policy.

import { SysError, toSysError } from '../ipc/errno.js';
import { Endpoint, PeerLost } from '../ipc/endpoint.js';
import type { Link } from '../ipc/frame.js';
import type { ComponentDef, Context, Handlers, RestartInfo } from './api.js';
import type { PoolDomain, PoolFault } from './domain-pool.js';
import { ArmedFault, checkFault, corrupt, seededRandom, type FaultSpec } from './faults.js';
import type { Hyp } from './hyp.js';
import { openKeep } from './keep-stores.js';
import type { DomainKind } from './placement.js';
import { loadComponent } from './registry.js';
import type { Gate } from './sockets.js';
import { validateRequest } from './validate.js';

/**
 * The CommonJS bundle this code runs from (scripts/bundle.mjs names them NAME.bundle.cjs), or
 * undefined when it runs as ES modules: only CommonJS code has a __filename of its own (a worker
 * started from eval'd code has a global one, '[worker eval]').
 */
const BUNDLE = typeof __filename === 'string' && __filename.endsWith('.bundle.cjs') ? __filename : undefined;

/**
 * What the loader of a bundle (kernel/bundles.ts) tells of V8's code cache: whether the
 * bundle was compiled from it, and how to save what has been compiled since (only while the
 * build warms the caches).
 */
export const codeCache = (globalThis as { [key: symbol]: { used: boolean; save: (() => void) | null } | undefined })[Symbol.for('rumpus.codeCache')];

/** What a domain answers when it has loaded its plan. */
export interface LoadReply {
  /** The bundle its code came from, if any. */
  bundle?: string;
  /** Whether that bundle's code came from V8's code cache. */
  codeCache?: boolean;
}

/** What the core tells a domain to host and whom it may talk to. */
export interface DomainPlan {
  /** The domain's name: a domain started ahead as a spare learns it here. */
  domain: string;
  kind: DomainKind;
  /** A process domain: the unix socket where its peers reach it. */
  listen?: string;
  /**
   * module: the URL of a component a placement adds; a built-in one is found by name. pool:
   * the main domain hosts a proxy of each component of a pool domain, which hands its calls to
   * that pool (kernel/domain-pool.ts).
   */
  components: { name: string; module?: string; pool?: string }[];
  /** For each component outside this domain that a component here requires: its domain. */
  home: Record<string, string>;
  /** Peer domain → the components here that it may call. */
  accepts: Record<string, string[]>;
  /**
   * Peer domain → the key of the socket channel with it (HMAC-SHA256 key, 32 bytes), for each
   * peer this domain dials or is dialled by. Given over the domain's private link only.
   */
  keys?: Record<string, Uint8Array>;
  /** For each component this domain calls: its idempotent ops (retried across restarts). */
  idempotent: Record<string, string[]>;
  calls: CallPolicy;
}

export interface CallPolicy {
  /** A call with no reply after this long fails with ETIMEDOUT (or is retried). */
  timeoutMs: number;
  /** An idempotent call is tried at most this many times. */
  tries: number;
  /** How long a retry waits for a restarted callee's channel to come back. */
  reconnectMs: number;
}

/** The control target: ops the core invokes on a domain. */
export const CONTROL = '@domain';

/** The main domain's name; it hosts the core. */
export const MAIN = 'main';

/**
 * What the core tells a domain to start a component: fresh, or a restart with its info (the
 * kept records the domain reads from its store: kernel/keep-stores.ts); and a fault armed for
 * this start.
 */
export interface StartArgs {
  component: string;
  restart?: Omit<RestartInfo, 'kept'>;
  crashInit?: boolean;
}

interface Hosted {
  def: ComponentDef;
  handlers: Handlers | null;
  /** Resolves when start() has returned: requests that come earlier wait for it. */
  started: Promise<void>;
  markStarted: () => void;
  requires: Set<string>;
  stats: { served: number; failed: number };
  faults: ArmedFault[];
  /** A proxy's pool, which runs the component's calls (and the faults armed for them). */
  pool?: PoolDomain;
}

export interface DomainHooks {
  /** Builds the hyp instance for one component of this domain. */
  hyp(tag: string): Hyp;
  /** The main domain: the pool that runs the components of pool domain `domain`. */
  pool?(domain: string): PoolDomain;
  /**
   * Opens a link to a peer that is not attached by the core (a socket to a process), as
   * `self`, proving itself with the channel's `key`; hands it to `adopt` once the peer has
   * proved itself too. Fails with a SysError.
   */
  connect?(peer: string, address: string, self: string, key: Uint8Array, adopt: (link: Link) => void): Promise<void>;
  /** Listens at an address for links from peers; those that prove their name go through `gate`. */
  listen?(address: string, gate: Gate): Promise<void>;
  /** Ends this domain at once (an injected crash). */
  die(reason: string): never;
  /** Stops this domain from answering, for good (an injected hang). */
  hang(reason: string): never;
  /** Grows this domain's memory for good (an injected leak). */
  leak(reason: string): void;
  /** The current channel to a peer closed (not replaced by a new one). */
  peerLost?(peer: string, reason: string): void;
  /**
   * The core: while peer domain `peer` is being restarted, a promise settled when that is over
   * (restarted, or given up on); null otherwise.
   */
  restarting?(peer: string): Promise<void> | null;
  /** The core: whether any domain is being restarted now (its calls' deadlines wait meanwhile: Endpoint.holdDeadlines). */
  restartsUnderWay?(): boolean;
  /**
   * A thread domain: asks the core for the shared memory where a component keeps its records,
   * and hands it the memory replacing it (kernel/keep-stores.ts).
   */
  keepSegment?: {
    get(component: string): Promise<SharedArrayBuffer>;
    adopt(component: string, segment: SharedArrayBuffer): void;
  };
}

export class Domain {
  private readonly hosted = new Map<string, Hosted>();
  private readonly home = new Map<string, string>();
  private readonly accepts = new Map<string, Set<string>>();
  private readonly keys = new Map<string, Uint8Array>();
  /** Peers the core announced a new socket channel from (see expect()). */
  private readonly expected = new Set<string>();
  private readonly idempotent = new Map<string, Set<string>>();
  private readonly peers = new Map<string, Endpoint>();
  /** Per peer domain: how many times its channel was lost or made again (Context.restarts). */
  private readonly peerChanges = new Map<string, number>();
  /** Callers waiting for a peer's channel to come back. */
  private readonly peerWaiters = new Map<string, ((ok: boolean) => void)[]>();
  /** Peers the core gave up on: calls to them fail at once. */
  private readonly downPeers = new Set<string>();
  /** Why every channel was closed for good (the kernel halted): calls fail at once with EIO. */
  private closedFor: string | null = null;
  /** Why calls are no longer retried (the kernel is halting), or null while they are. */
  private noRetry: string | null = null;
  /** From the plan: every call is made after load(). */
  private calls!: CallPolicy;
  /** Resolves once load() has run: a request that comes earlier (a restart) waits for it. */
  private readonly loaded: Promise<void>;
  private markLoaded!: () => void;
  private isLoaded = false;
  private readonly corruptRandom = seededRandom(7);
  /** Control ops beyond the built-in ones, added by the entry that runs this domain. */
  readonly control = new Map<string, (args: any) => unknown>();
  /**
   * Reports other domains may make to this one (the main domain, where the core is), by op:
   * `from` is the reporting domain, as its channel says, never as its arguments do.
   */
  readonly reports = new Map<string, (from: string, args: unknown) => unknown>();

  /**
   * @param name  the domain's name; a spare, started before it is needed, is told it by load()
   */
  constructor(
    public name: string,
    readonly kind: DomainKind,
    private readonly hooks: DomainHooks,
  ) {
    this.loaded = new Promise((resolve) => (this.markLoaded = resolve));
    this.control.set('load', (plan: DomainPlan) => this.load(plan));
    this.control.set('start', (a: StartArgs) => this.start(a));
    this.control.set('stop', (a: { component: string }) => this.stop(a.component));
    this.control.set('connect', (a: { peer: string; address: string }) => this.connect(a.peer, a.address));
    this.control.set('ping', () => ({ domain: this.name, components: [...this.hosted.keys()] }));
    this.control.set('stats', () => this.stats());
    this.control.set('inject', (a: { fault: FaultSpec }) => this.inject(a.fault));
    this.control.set('clear', (a: { component?: string }) => this.clear(a.component));
    this.control.set('peerDown', (a: { peer: string }) => this.peerDown(a.peer));
    this.control.set('expect', (a: { peer: string }) => this.expect(a.peer));
    this.control.set('channels', () => [...this.peers].filter(([, ep]) => !ep.isClosed).map(([name]) => name));
  }

  get components(): string[] {
    return [...this.hosted.keys()];
  }

  /** Imports the components placed here (without starting them) and records the routes. */
  async load(plan: DomainPlan): Promise<LoadReply> {
    this.name = plan.domain;
    this.calls = plan.calls;
    for (const [c, d] of Object.entries(plan.home)) this.home.set(c, d);
    for (const [peer, list] of Object.entries(plan.accepts)) this.accepts.set(peer, new Set(list));
    for (const [peer, key] of Object.entries(plan.keys ?? {})) this.keys.set(peer, key);
    for (const [c, ops] of Object.entries(plan.idempotent)) this.idempotent.set(c, new Set(ops));
    for (const { name, module, pool } of plan.components) {
      const def = await loadComponent(name, module);
      let markStarted!: () => void;
      const started = new Promise<void>((resolve) => (markStarted = resolve));
      const runner = pool === undefined ? undefined : this.hooks.pool?.(pool);
      if (pool !== undefined && !runner) throw new SysError('ENOTSUP', `domain ${this.name} cannot host the proxy of pool domain ${pool}`);
      this.hosted.set(name, { def, handlers: null, started, markStarted, requires: new Set(def.requires), stats: { served: 0, failed: 0 }, faults: [], pool: runner });
      for (const r of def.requires) if (!this.home.has(r)) this.home.set(r, this.name);
    }
    if (plan.listen) {
      if (!this.hooks.listen) throw new SysError('ENOTSUP', `domain ${this.name} cannot listen`);
      await this.hooks.listen(plan.listen, { self: this.name, keyFor: (peer) => this.keys.get(peer), admit: (peer, link) => this.admit(peer, link) });
    }
    this.isLoaded = true;
    this.markLoaded();
    return { bundle: BUNDLE, codeCache: codeCache?.used };
  }

  /** Runs a component's init (fresh, or restart when it has one); the components it requires are already started. */
  async start({ component, restart, crashInit }: StartArgs): Promise<void> {
    await this.loaded;
    const h = this.hosted.get(component);
    if (!h) throw new SysError('ENXIO', `domain ${this.name} does not host component ${component}`);
    if (h.pool) {
      // A proxy: its pool's workers run the component's init, each at its start.
      h.handlers = {};
      h.markStarted();
      return;
    }
    if (crashInit) this.hooks.die(`injected crash-init in ${component}`);
    const segments = this.hooks.keepSegment;
    const { keep, kept } = await openKeep(component, restart !== undefined, {
      kind: this.kind,
      segment: segments && (() => segments.get(component)),
      adopt: segments && ((s) => segments.adopt(component, s)),
      report: (op, args) => this.report(op, args),
    });
    const ctx: Context = {
      name: component,
      hyp: this.hooks.hyp(component),
      call: (to, op, args) => this.callFrom(h, to, op, args) as Promise<any>,
      keep,
      restarts: (to) => this.peerChanges.get(this.home.get(to) ?? '') ?? 0,
    };
    try {
      const { init } = h.def;
      h.handlers = await (restart && init.restart ? init.restart(ctx, { ...restart, kept }) : init.fresh(ctx));
    } catch (err) {
      throw toSysError(err, `${component}: ${restart ? 'init (restart)' : 'init'}`);
    }
    h.markStarted();
  }

  async stop(name: string): Promise<void> {
    const h = this.hosted.get(name);
    const handlers = h?.handlers;
    if (!h || !handlers) return;
    h.handlers = null;
    await handlers.stop?.();
  }

  /** Makes `link` the channel to peer domain `peer`; requests from it are checked against accepts. */
  addPeer(peer: string, link: Link): Endpoint {
    const ep = new Endpoint(link, `domain ${peer}`, (to, op, args) => this.serveFrom(peer, to, op, args));
    const underWay = this.hooks.restartsUnderWay;
    if (underWay) ep.holdDeadlines = underWay;
    this.setPeer(peer, ep);
    return ep;
  }

  /**
   * The core announces that `peer` will open a new socket channel to this domain (it was
   * restarted, or the old channel broke): whatever is left of the old channel is closed, and the
   * next proven hello from `peer` is admitted, once.
   */
  expect(peer: string): void {
    if (peer === MAIN || !this.keys.has(peer)) throw new SysError('EINVAL', `domain ${this.name} has no socket channel with '${peer}'`);
    const old = this.peers.get(peer);
    if (old) {
      this.peers.delete(peer); // closed by the core's decision: nothing to report
      this.peerChanged(peer);
      old.close('the core replaces this channel');
    }
    this.expected.add(peer);
  }

  /**
   * Takes the link of a peer that proved its name (see kernel/sockets.ts) as its channel, if
   * the core announced it and no live channel from it exists; otherwise throws EACCES or EBUSY.
   */
  admit(peer: string, link: Link): void {
    if (this.peers.get(peer)?.isClosed === false) throw new SysError('EBUSY', `domain ${this.name} already holds a live channel from ${peer}`);
    if (!this.expected.delete(peer)) throw new SysError('EACCES', `domain ${this.name} expects no channel from ${peer} now`);
    this.addPeer(peer, link);
  }

  /** Opens this domain's side of a channel to a peer at a transport address. */
  async connect(peer: string, address: string): Promise<void> {
    if (!this.hooks.connect) throw new SysError('ENOTSUP', `domain ${this.name} cannot open connections`);
    const key = this.keys.get(peer);
    if (!key) throw new SysError('EINVAL', `domain ${this.name} has no socket channel with '${peer}'`);
    await this.hooks.connect(peer, address, this.name, key, (link) => this.addPeer(peer, link));
  }

  peer(name: string): Endpoint | undefined {
    return this.peers.get(name);
  }

  /** Closes every channel for good; calls pending on them, or made later, fail with EIO at once. */
  closePeers(reason: string): void {
    this.closedFor = reason;
    this.stopRetrying(reason);
    for (const ep of [...this.peers.values()]) ep.close(reason);
    this.peers.clear();
  }

  /**
   * The kernel is halting: from now on a call is sent at most once — none waits for a peer to
   * come back or is sent again after a timeout — and calls waiting for a peer fail now, with EIO.
   */
  stopRetrying(reason: string): void {
    this.noRetry ??= reason;
    for (const peer of [...this.peerWaiters.keys()]) {
      const waiters = this.peerWaiters.get(peer)!;
      this.peerWaiters.delete(peer);
      for (const w of waiters) w(false);
    }
  }

  /** The core gave up on a peer: calls waiting for it to come back fail now. */
  peerDown(peer: string): void {
    this.downPeers.add(peer);
    const waiters = this.peerWaiters.get(peer) ?? [];
    this.peerWaiters.delete(peer);
    for (const w of waiters) w(false);
  }

  /**
   * A call made by the core itself (as a client of vfs, or for administration): the core
   * holds a channel to every component.
   */
  kernelCall(to: string, op: string, args: unknown): Promise<unknown> {
    return this.route(to, op, args);
  }

  /**
   * kernelCall, but the answer of a component of this domain that answers at once comes back
   * as it is, or as a SysError thrown, not through a promise: for the core's syscall entry
   * (kernel.ts), which then makes one promise where a chain of async functions made several.
   * Otherwise a promise, as kernelCall's.
   */
  kernelCallNow(to: string, op: string, args: unknown): unknown {
    return this.hosted.has(to) ? this.dispatch(to, op, args) : this.route(to, op, args);
  }

  /**
   * Runs an op of a component hosted here: faults, validation, the handler, errno
   * normalisation, counting. Returns the result, or a promise of it when the handler (or a
   * fault, or the component's start) makes the call wait; fails with a SysError, thrown or as
   * the promise's rejection.
   */
  dispatch(to: string, op: string, args: unknown): unknown {
    const h = this.hosted.get(to);
    // The common case, apart for speed: a component started here with no fault armed (spent
    // ones included), not a pool's proxy. Its handler's answer comes back as it came, a value
    // with no turn of the event loop. It does what dispatchFully does with no fault.
    if (h === undefined || h.handlers === null || h.faults.length > 0 || h.pool !== undefined) return this.dispatchFully(to, op, args);
    try {
      validateRequest(h.def, op, args);
      const result = h.handlers[op](args);
      if (!isThenable(result)) return this.served(h, result, undefined);
      return Promise.resolve(result).then((r) => this.served(h, r, undefined), (err: unknown) => this.failed(h, to, op, err));
    } catch (err) {
      return this.failed(h, to, op, err);
    }
  }

  /** dispatch, for every case: one that waits for the domain's load or the component's start, a fault armed, a pool's proxy. */
  private async dispatchFully(to: string, op: string, args: unknown): Promise<unknown> {
    if (!this.hosted.has(to)) await this.loaded;
    const h = this.hosted.get(to);
    if (!h) throw new SysError('ENXIO', `no component '${to}' in domain ${this.name}`);
    const where = `${to}.${op}`;
    let fault: ArmedFault | undefined;
    try {
      validateRequest(h.def, op, args);
      if (!h.handlers) await h.started; // a request that came while the component was starting
      const handlers = h.handlers;
      // Stopped (the kernel is halting): EIO, as every call cut off by a halt, under every policy.
      if (!handlers) throw new SysError('EIO', `${to} has stopped`);
      fault = h.faults.find((f) => f.hit(op));
      if (h.pool) return this.served(h, await h.pool.run(to, op, args, fault && poolFault(fault)), fault);
      if (fault) await this.before(fault, where);
      const result = await handlers[op](args);
      if (fault?.spec.type === 'drop') return new Promise(() => {}); // the reply is lost
      return this.served(h, result, fault);
    } catch (err) {
      return this.failed(h, to, op, err);
    }
  }

  /** Counts a call that failed, and throws its error as a SysError. */
  private failed(h: Hosted, to: string, op: string, err: unknown): never {
    h.stats.served++;
    h.stats.failed++;
    throw toSysError(err, `${to}.${op}`);
  }

  /** Counts a call served, and corrupts its reply if a fault says so. */
  private served(h: Hosted, result: unknown, fault: ArmedFault | undefined): unknown {
    if (fault?.spec.type === 'corrupt') result = corrupt(result, this.corruptRandom);
    h.stats.served++;
    return result;
  }

  /** The part of a fault that happens before the op runs. */
  private async before(fault: ArmedFault, where: string): Promise<void> {
    switch (fault.spec.type) {
      case 'crash':
        return this.hooks.die(`injected crash at ${where}`);
      case 'hang':
        return this.hooks.hang(`injected hang at ${where}`);
      case 'delay':
        await new Promise((resolve) => setTimeout(resolve, fault.delayMs()));
        return;
      case 'error':
        throw new SysError(fault.spec.errno ?? 'EIO', `${where}: injected ${fault.spec.errno ?? 'EIO'}`);
      case 'leak':
        return this.hooks.leak(`injected leak at ${where}`);
      default:
        return; // drop and corrupt act on the reply; crash-init acts at start
    }
  }

  private inject(raw: unknown): void {
    const spec = checkFault(raw, [...this.hosted.keys()]);
    // The core keeps a crash-init for the next start; a pool's component never starts again,
    // its next worker does: that worker dies at the call that would have started it.
    if (spec.type === 'crash-init' && !this.hosted.get(spec.component)!.pool) return;
    this.hosted.get(spec.component)!.faults.push(new ArmedFault(spec));
  }

  private clear(component?: string): void {
    for (const [name, h] of this.hosted) if (!component || component === name) h.faults = [];
  }

  private callFrom(caller: Hosted, to: string, op: string, args: unknown): Promise<unknown> {
    if (!caller.requires.has(to)) {
      return Promise.reject(new SysError('EPERM', `${caller.def.name} may not call ${to}.${op}: '${to}' is not in its requires`));
    }
    return this.route(to, op, args);
  }

  private async route(to: string, op: string, args: unknown): Promise<unknown> {
    if (this.hosted.has(to)) return this.dispatch(to, op, args);
    const where = this.home.get(to);
    if (where === undefined) throw new SysError('ENXIO', `no component named '${to}'`);
    const retriable = this.idempotent.get(to)?.has(op) ?? false;
    for (let attempt = 1; ; attempt++) {
      if (this.closedFor !== null) throw new SysError('EIO', `${to}.${op}: ${this.closedFor}`);
      // A domain's new incarnation has a channel before its components start; a call sent then
      // would spend its deadline on the start, and a try on an incarnation that dies in its init.
      const restart = this.hooks.restarting?.(where);
      if (restart) await restart.catch(() => {});
      const ep = this.peers.get(where);
      if (!ep || ep.isClosed) {
        // Not sent yet: whatever the op, it can wait for the callee to come back.
        if (attempt > this.calls.tries || !(await this.peerBack(where))) {
          throw new SysError('EIO', `${to}.${op}: ${this.noRetry ?? `${to} is down and was not restarted`}`);
        }
        continue;
      }
      try {
        return await ep.call(to, op, args, this.calls.timeoutMs);
      } catch (err) {
        const lost = err instanceof PeerLost;
        if (!lost && !(err instanceof SysError && err.errno === 'ETIMEDOUT')) throw err;
        if (this.noRetry !== null) throw new SysError('EIO', `${to}.${op}: ${this.noRetry}`); // never retried into a halting kernel
        if (!retriable || attempt >= this.calls.tries) {
          if (!lost) throw err;
          throw new SysError('EIO', `${to}.${op}: ${to} failed while the call was in flight${retriable ? ', and did not come back' : ''} (${err.message})`);
        }
        if (lost && !(await this.peerBack(where))) {
          throw new SysError('EIO', `${to}.${op}: ${to} failed and was not restarted (${err.message})`);
        }
      }
    }
  }

  /** A report to the core (see `reports`), from this domain. */
  private report(op: string, args: unknown): Promise<unknown> {
    const core = this.peers.get(MAIN);
    if (!core) return Promise.reject(new SysError('EIO', `${CONTROL}.${op}: domain ${this.name} has no channel to the core`));
    return core.call(CONTROL, op, args, this.calls.timeoutMs);
  }

  /** Waits until the channel to `peer` is back (a restart); false when it will not be. */
  private peerBack(peer: string): Promise<boolean> {
    const ep = this.peers.get(peer);
    if (ep && !ep.isClosed) return Promise.resolve(true);
    if (this.downPeers.has(peer) || this.noRetry !== null) return Promise.resolve(false);
    return new Promise((resolve) => {
      const list = this.peerWaiters.get(peer) ?? [];
      this.peerWaiters.set(peer, list);
      const timer = setTimeout(() => {
        list.splice(list.indexOf(done), 1);
        resolve(false);
      }, this.calls.reconnectMs);
      const done = (ok: boolean) => {
        clearTimeout(timer);
        resolve(ok);
      };
      list.push(done);
    });
  }

  /** The channel to `peer` was lost or made again: it may have restarted (Context.restarts). */
  private peerChanged(peer: string): void {
    this.peerChanges.set(peer, (this.peerChanges.get(peer) ?? 0) + 1);
  }

  private setPeer(peer: string, ep: Endpoint): void {
    this.downPeers.delete(peer);
    const old = this.peers.get(peer);
    this.peers.set(peer, ep);
    this.peerChanged(peer);
    old?.close('replaced');
    ep.onClose = (reason) => {
      if (this.peers.get(peer) !== ep) return;
      this.peers.delete(peer);
      this.peerChanged(peer);
      this.hooks.peerLost?.(peer, reason);
      // Only the two ends see a channel between domains break: the core is told, to mend it.
      if (peer !== MAIN) void this.report('channelLost', { peer, reason }).catch(() => {});
    };
    const waiters = this.peerWaiters.get(peer) ?? [];
    this.peerWaiters.delete(peer);
    for (const w of waiters) w(true);
  }

  private serveFrom(peer: string, to: string, op: string, args: unknown): unknown {
    if (to === CONTROL) {
      if (peer !== MAIN) {
        const report = this.reports.get(op);
        if (!report) throw new SysError('EPERM', `${CONTROL}.${op}: not a report domain ${peer} may make`);
        return report(peer, args);
      }
      const fn = this.control.get(op);
      if (!fn) throw new SysError('ENOSYS', `${CONTROL}.${op}: not a control op for ${peer}`);
      return fn(args);
    }
    if (!this.isLoaded) return this.loaded.then(() => this.serveFrom(peer, to, op, args));
    if (!this.accepts.get(peer)?.has(to)) {
      throw new SysError('EPERM', `domain ${peer} holds no channel to ${to} in domain ${this.name}`);
    }
    return this.dispatch(to, op, args);
  }

  /** Per component: calls served and failed, and calls hit by each type of fault. */
  private stats(): Record<string, { served: number; failed: number; faultHits: Record<string, number> }> {
    return Object.fromEntries([...this.hosted].map(([n, h]) => {
      const faultHits: Record<string, number> = {};
      for (const f of h.faults) faultHits[f.spec.type] = (faultHits[f.spec.type] ?? 0) + f.hits;
      return [n, { ...h.stats, faultHits }];
    }));
  }
}

/** Whether a handler's answer is a promise (or any thenable, which await would wait for too). */
function isThenable(v: unknown): v is PromiseLike<unknown> {
  return v !== null && (typeof v === 'object' || typeof v === 'function') && typeof (v as { then?: unknown }).then === 'function';
}

/**
 * What a pool's worker is to do for a fault that hit a call: everything but corrupt, which
 * acts on the reply here; a delay carries its length, drawn here from the fault's seed.
 */
function poolFault(fault: ArmedFault): PoolFault | undefined {
  const { type, errno } = fault.spec;
  if (type === 'corrupt') return undefined;
  return { type, errno, ms: type === 'delay' ? fault.delayMs() : undefined };
}
