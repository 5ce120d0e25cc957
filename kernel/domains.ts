// A kernel's domains at run time: the state of each, the thread or process each runs in
// (launched from a spare started ahead, when one is ready), the plan each is loaded with, the
// channels between them, and the control plane through which the core drives them. What to do
// when one fails is the supervisor's (supervisor.ts); this module only does what it is told.

import { createHmac, randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import { SysError } from '../ipc/errno.js';
import { ringPair } from '../ipc/ring-link.js';
import { CONTROL, MAIN, type CallPolicy, type Domain, type LoadReply } from './domain.js';
import { startProcess, startThread, type DomainHost, type ThreadTransport } from './domain-host.js';
import { PoolDomain } from './domain-pool.js';
import type { DomainSpec, Placement } from './placement.js';
import { makeSocketDir } from './sockets.js';
import { RestartRecord, combine, type Heartbeat, type Supervision } from './supervisor-policy.js';
import type { KernelEvent } from './supervisor.js';
import { pairKey, peerPairs, planFor, socketEnds, type Wiring } from './topology.js';

export interface DomainInfo {
  name: string;
  kind: string;
  components: string[];
  /** OS process id or worker thread id; the kernel's own pid for main; for a pool, its first worker's thread id (-1 before its first call). */
  id: number;
  /** A pool: how many worker threads it runs, and the thread ids of those running now (none before its first call). */
  workers?: number;
  threads?: number[];
  status: 'running' | 'restarting' | 'failed';
  restarts: number;
  /** Milliseconds since this incarnation started. */
  uptimeMs: number;
  /** The CommonJS bundle the domain's code was loaded from, as the domain tells; absent for ES modules. */
  bundle?: string;
  /** Whether V8 compiled that bundle from its code cache (npm run build saves one per bundle). */
  codeCache?: boolean;
}

/** One domain of the placement at run time. */
export interface DomainState {
  readonly spec: DomainSpec;
  /** The thread or process of its current incarnation; null for main, between incarnations, and once given up on. */
  host: DomainHost | null;
  status: DomainInfo['status'];
  /** Counts launches: a callback from an older incarnation finds it changed. */
  generation: number;
  restarts: number;
  /** performance.now() of its current incarnation's launch. */
  startedAt: number;
  readonly record: RestartRecord;
  readonly supervision: Supervision;
  /** A restart is under way: the promise of it. */
  restarting: Promise<void> | null;
  bundle?: string;
  codeCache?: boolean;
}

type RemoteKind = 'thread' | 'process';

/** What the domains are made of and answer to. */
export interface DomainsConfig {
  placement: Placement;
  /** The kernel's own domain: it holds the core's link to every other. */
  main: Domain;
  transport: ThreadTransport;
  /** Each domain's JS heap limit in MiB (undefined: Node's default). */
  memoryLimitMb?: number;
  calls: CallPolicy;
  /** The heartbeat, which also notices a pool's hung worker (kernel/domain-pool.ts). */
  heartbeat: Heartbeat;
  /** Each component's supervision; a domain's is the combination of its components'. */
  supervision: ReadonlyMap<string, Supervision>;
  /** Whether the kernel is halting: no spare is started then. */
  halting(): boolean;
  /** The thread or process of a domain's current incarnation ended, e.g. "its thread exited with code 1". */
  exited(domain: string, reason: string): void;
  /** Records what happened to a pool's workers, as the supervisor records its events. */
  log(e: Omit<KernelEvent, 'at'>): void;
}

export class Domains {
  /** Every domain of the placement, by name. */
  readonly states = new Map<string, DomainState>();
  /**
   * One idle domain of each kind in use, started ahead: a failed domain is replaced by the
   * spare, which has already paid for its thread or process and its code, and a new spare is
   * started in the background.
   */
  private readonly spares = new Map<RemoteKind, DomainHost>();
  /** Where process domains listen (a private temporary directory), if there are any. */
  socketDir: string | null = null;
  /** This boot's secret, from which each socket channel's key is derived (see channelKey). */
  private readonly secret = randomBytes(32);
  private readonly wiring: Wiring;
  /** The pool of each pool domain, by name (kernel/domain-pool.ts). */
  private readonly pools = new Map<string, PoolDomain>();
  private launchCount = 0;

  constructor(private readonly cfg: DomainsConfig) {
    for (const d of cfg.placement.domains) {
      const supervision = combine(d.components.map((c) => cfg.supervision.get(c)!));
      this.states.set(d.name, {
        spec: d, host: null, status: 'running', generation: 0, restarts: 0, startedAt: performance.now(),
        record: new RestartRecord(supervision), supervision, restarting: null,
      });
      if (d.kind === 'pool') {
        this.pools.set(d.name, new PoolDomain({
          domain: d.name, workers: d.workers!, calls: cfg.calls, heartbeat: cfg.heartbeat, memoryLimitMb: cfg.memoryLimitMb,
          components: d.components.map((name) => ({ name, module: cfg.placement.modules.get(name) })),
          workerLost: (reason) => this.workerLost(d.name, reason),
        }));
      }
    }
    this.wiring = {
      socketPath: (domain) => join(this.socketDir!, `${domain}.sock`),
      channelKey: (x, y) => this.channelKey(x, y),
      calls: cfg.calls,
    };
  }

  /** Launches of every domain so far, all counted together: it changes whenever any domain (re)starts. */
  get launches(): number {
    return this.launchCount;
  }

  /** The state of a domain of the placement. */
  get(name: string): DomainState {
    return this.states.get(name)!;
  }

  /** Starts every pool's workers now (PoolDomain.warm); resolves once all are up. */
  warmPools(): Promise<void> {
    return Promise.all([...this.pools.values()].map((p) => p.warm())).then(() => {});
  }

  /** The pool of a pool domain. */
  pool(name: string): PoolDomain {
    const pool = this.pools.get(name);
    if (!pool) throw new SysError('EINVAL', `domain ${name} is not a pool domain`);
    return pool;
  }

  /** What the kernel tells of each domain (Kernel.domains()), in the placement's order. */
  info(): DomainInfo[] {
    const now = performance.now();
    return this.cfg.placement.domains.map((d) => {
      const st = this.get(d.name);
      const threads = this.pools.get(d.name)?.threadIds();
      return {
        name: d.name,
        kind: d.kind,
        components: [...d.components],
        id: d.kind === 'main' ? process.pid : threads ? (threads[0] ?? -1) : (st.host?.id ?? -1),
        ...(threads ? { workers: d.workers, threads } : {}),
        status: st.status,
        restarts: st.restarts,
        uptimeMs: now - st.startedAt,
        bundle: st.bundle,
        codeCache: st.codeCache,
      };
    });
  }

  /**
   * Boots every domain: launches the threads and processes, loads each its plan, makes the
   * channels and starts the components (through `start`) in dependency order. Each step waits
   * for what it needs and no more, so the domains that load first start their components while
   * others still load: a channel waits for the two domains it joins, a component for its
   * domain, for the components it requires and for the channels to them.
   */
  async startAll(start: (component: string) => Promise<void>): Promise<void> {
    const { placement, main } = this.cfg;
    const remote = placement.domains.filter((d) => d.kind === 'thread' || d.kind === 'process');
    if (remote.some((d) => d.kind === 'process')) this.socketDir = makeSocketDir();
    for (const d of remote) this.launch(d.name);
    const mainLoaded = main.load(planFor(placement, MAIN, this.wiring));
    const loaded = new Map<string, Promise<unknown>>([[MAIN, mainLoaded]]);
    for (const d of remote) loaded.set(d.name, this.load(d.name));
    // A pool's components are started as proxies in main (see routeOf in topology.ts).
    for (const name of this.pools.keys()) loaded.set(name, mainLoaded);
    const channels = new Map<string, Promise<void>>();
    for (const [x, y] of peerPairs(placement)) {
      channels.set(pairKey(x, y), Promise.all([loaded.get(x), loaded.get(y)]).then(() => this.connect(x, y)));
    }
    const started = new Map<string, Promise<void>>();
    const startInOrder = (c: string): Promise<void> => {
      let p = started.get(c);
      if (!p) {
        const home = placement.home.get(c)!;
        const requires = placement.defs.get(c)!.requires;
        p = Promise.all([
          loaded.get(home),
          ...requires.map(startInOrder),
          ...requires.map((r) => channels.get(pairKey(home, placement.home.get(r)!))),
        ]).then(() => start(c));
        started.set(c, p);
      }
      return p;
    };
    await Promise.all([...loaded.values(), ...channels.values(), ...placement.order.map(startInOrder)]);
  }

  /** Gives a domain a thread or process — the spare, if one is ready — and links the core to it. */
  launch(name: string): void {
    const st = this.get(name);
    const kind = st.spec.kind as RemoteKind;
    let host = this.spares.get(kind);
    if (host) {
      this.spares.delete(kind);
      this.prepareSpare(kind);
    } else {
      host = this.startHost(kind, name, st.spec.components);
    }
    const generation = ++st.generation;
    this.launchCount++;
    const mine = host;
    st.host = mine;
    st.startedAt = performance.now();
    this.cfg.main.addPeer(name, mine.link);
    void mine.exited.then((reason) => {
      if (st.generation === generation && st.host === mine) this.cfg.exited(name, `its ${kind} ${reason}`);
    });
  }

  /** Has a launched domain import its components and learn its routes. */
  async load(name: string): Promise<void> {
    const st = this.get(name);
    const reply = await this.control(name, 'load', planFor(this.cfg.placement, name, this.wiring)) as LoadReply;
    st.bundle = reply.bundle;
    st.codeCache = reply.codeCache;
  }

  /** Makes the channel between two loaded domains: a MessageChannel between threads, a socket otherwise. */
  async connect(x: string, y: string): Promise<void> {
    const hx = this.get(x).host!;
    const hy = this.get(y).host!;
    if (hx.kind === 'thread' && hy.kind === 'thread') {
      const { port1, port2 } = new MessageChannel();
      const ends = this.cfg.transport === 'ring' ? ringPair(hx.bell!, hy.bell!) : null;
      hx.attachPort!(y, port1, ends?.a);
      hy.attachPort!(x, port2, ends?.b);
      return;
    }
    const [dialer, listener] = socketEnds(this.cfg.placement, x, y);
    await this.control(listener, 'expect', { peer: dialer });
    await this.control(dialer, 'connect', { peer: listener, address: this.wiring.socketPath(listener) });
  }

  /**
   * A control op (load, start, connect, ping…) for a domain. Control ops may be slow on a busy
   * machine: they get at least 30 s. EIO when the domain is not running.
   */
  async control(domain: string, op: string, args: unknown, timeoutMs = Math.max(this.cfg.calls.timeoutMs, 30_000)): Promise<unknown> {
    // The main domain hosts the proxies of the pools' components: it answers for the pools.
    if (domain === MAIN || this.pools.has(domain)) return this.cfg.main.control.get(op)!(args);
    const ep = this.cfg.main.peer(domain);
    if (!ep) throw new SysError('EIO', `domain ${domain} is not running`);
    return ep.call(CONTROL, op, args, timeoutMs);
  }

  /** A control op for the domain that hosts `component`; during a restart, for its new incarnation. */
  async controlComponent(component: string, op: string, args: unknown): Promise<unknown> {
    const where = this.cfg.placement.home.get(component)!;
    const restarting = this.get(where).restarting;
    if (restarting && op !== 'start') await restarting; // a fault armed during a restart is for the new incarnation
    return this.control(where, op, args);
  }

  /** Tells the core and every other domain that `name` is down for good: calls to it fail at once. */
  async peerDown(name: string): Promise<void> {
    this.cfg.main.peerDown(name);
    for (const other of this.states.keys()) {
      if (other !== MAIN && other !== name) await this.control(other, 'peerDown', { peer: name }).catch(() => {});
    }
  }

  /** Starts a spare of each kind of domain the placement uses. */
  prepareSpares(): void {
    for (const d of this.cfg.placement.domains) if (d.kind === 'thread' || d.kind === 'process') this.prepareSpare(d.kind);
  }

  /** Ends every thread and process, spares included, and removes the socket directory. */
  async closeAll(): Promise<void> {
    await Promise.all([...this.states.values()].map((s) => s.host?.kill(0)));
    await Promise.all([...this.spares.values()].map((h) => h.kill(0)));
    await Promise.all([...this.pools.values()].map((p) => p.close()));
    this.spares.clear();
    for (const s of this.states.values()) s.host = null;
    if (this.socketDir) rmSync(this.socketDir, { recursive: true, force: true });
  }

  /**
   * The key of the socket channel between two domains: HMAC-SHA256 of their names under this
   * boot's secret. Only those two domains are given it, so neither can pose as a third.
   */
  channelKey(x: string, y: string): Uint8Array {
    return createHmac('sha256', this.secret).update(JSON.stringify(['channel', ...[x, y].sort()])).digest();
  }

  /**
   * A pool lost a worker: counted as a restart of the pool domain and reported, within the
   * domain's restart intensity; returns the backoff before the call is tried again, or null
   * when the intensity is exceeded (or the restart type is temporary) and the pool is given up
   * on: then its calls fail with EIO.
   */
  private workerLost(name: string, reason: string): number | null {
    const st = this.get(name);
    if (st.status === 'failed') return null;
    const components = st.spec.components;
    const delay = st.supervision.restart === 'temporary' ? null : st.record.next(performance.now());
    if (delay === null) {
      st.status = 'failed';
      const why = st.supervision.restart === 'temporary' ? 'temporary' : `more than ${st.supervision.intensity.max} restarts in ${st.supervision.intensity.withinMs} ms`;
      this.cfg.log({ kind: 'gave-up', domain: name, components, reason: `${why} (last: a worker lost at ${reason})` });
      return null;
    }
    st.restarts++;
    this.cfg.log({ kind: 'failed', domain: name, components, reason: `a worker was lost at ${reason}; the call is tried again on another, and a new worker takes the lost one's place` });
    return delay;
  }

  /** Starts an idle spare domain of a kind (replacing itself if it dies unused). */
  private prepareSpare(kind: RemoteKind): void {
    if (this.cfg.halting() || this.spares.has(kind)) return;
    const spare = this.startHost(kind, `spare ${kind}`);
    this.spares.set(kind, spare);
    void spare.exited.then(() => {
      if (this.spares.get(kind) === spare) this.spares.delete(kind);
    });
  }

  /**
   * Starts a thread or process for a domain, with the kernel's memory limit.
   *
   * @param components  what it will host; a spare's are not known yet
   */
  private startHost(kind: RemoteKind, name: string, components: readonly string[] = []): DomainHost {
    const limits = { memoryMb: this.cfg.memoryLimitMb };
    return kind === 'thread' ? startThread(name, this.cfg.transport, limits, components) : startProcess(name, limits);
  }
}
