// The core: boots a placement (domains, channels along `requires`, components in dependency
// order), mounts the default file systems, hands out client processes, supervises the domains
// — restarting one that exits, throws, stops answering or runs out of memory, and making again a
// channel between two domains that broke while both ran — injects faults, and halts leaving no
// thread or process behind. Socket channels are keyed from a per-boot secret (kernel/sockets.ts).
// A fatal fault in the kernel's own thread cannot be survived: the kernel panics, with a report.

import { createHmac, randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import { SysError } from '../ipc/errno.js';
import { ringPair } from '../ipc/ring-link.js';
import { CONTROL, Domain, MAIN, type CallPolicy, type DomainPlan, type LoadReply } from './domain.js';
import { THREAD_TRANSPORTS, startProcess, startThread, type HostedDomain, type ThreadTransport } from './domain-host.js';
import { checkFault, type FaultSpec } from './faults.js';
import { hostHyp, hostHypGroup } from './hyp-host.js';
import { KeepCore } from './keep-core.js';
import { readPlacement, resolvePlacement, type DomainKind, type DomainSpec, type Placement, type PlacementSpec } from './placement.js';
import { Proc, clientArgs, type Credentials } from './proc.js';
import { makeSocketDir } from './sockets.js';
import { validateRequest } from './validate.js';
import type { MountInfo } from './api.js';
import {
  DEFAULT_HEARTBEAT, RestartRecord, combine, supervisionFor, type Heartbeat, type Supervision,
} from './supervisor.js';

export interface MountSpec {
  /** Where: created (with parents) if missing. */
  target: string;
  /** The file-system component: 'tmpfs', 'dev', 'ext2', … */
  fstype: string;
  /** What: a host image path for ext2; unused by tmpfs and dev. */
  source?: string;
  readonly?: boolean;
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
  /** Per component: restart type, intensity, backoff, strategy, essential (see supervisor.ts). */
  supervision?: Record<string, Partial<Supervision>>;
  heartbeat?: Partial<Heartbeat>;
  /** Each domain's JS heap limit in MiB; a domain over it is ended and restarted. */
  memoryLimitMb?: number;
  /** Deadlines and retries of calls between components. */
  calls?: Partial<CallPolicy>;
  /** Faults armed at boot (a fault plan). */
  faults?: FaultSpec[];
  /** Called for every supervision event, as it happens. */
  onEvent?: (e: KernelEvent) => void;
}

export const DEFAULT_MOUNTS: MountSpec[] = [
  { target: '/', fstype: 'tmpfs' },
  { target: '/tmp', fstype: 'tmpfs' },
  { target: '/dev', fstype: 'dev' },
];

const DEFAULT_CALLS: CallPolicy = { timeoutMs: 60_000, tries: 3, reconnectMs: 15_000 };

/**
 * Syscalls one client process may have in flight at once. Each one holds memory in the core and
 * in vfs (its arguments, its promise) until it is answered, so a client that fires calls without
 * waiting is refused the excess with EAGAIN rather than made to grow the kernel. 1024 is far
 * more than any one program pipelines (the syscall suite never has more than a few).
 */
export const MAX_CALLS_IN_FLIGHT = 1024;

/**
 * Bytes one client process's reads in flight (read, pread) may ask for in all. Each is answered
 * with a buffer of up to its length, held until the reply is taken: without this bound,
 * MAX_CALLS_IN_FLIGHT reads of the largest size would make the kernel hold gigabytes. A read is
 * let through whatever its length when none of the process's reads is in flight (vfs bounds
 * the size of one).
 */
export const MAX_READ_BYTES_IN_FLIGHT = 256 * 1024 * 1024;

/**
 * Client processes alive at once. Each holds an fd table and a cwd in vfs until it exits;
 * spawn() past this fails with EAGAIN, as fork(2) does at RLIMIT_NPROC.
 */
export const MAX_PROCS = 1024;

/** Milliseconds halt() gives the calls under way to finish before it fails them with EIO. */
const HALT_GRACE_MS = 5_000;

export interface KernelEvent {
  /** performance.now() of the event. */
  at: number;
  /**
   * channel-lost: a channel between two running domains closed (domain and components: one end);
   * reconnected: it was made again; kept-lost: a component's kept state failed its check at its
   * restart and was dropped (kernel/keep-core.ts).
   */
  kind: 'failed' | 'restarted' | 'gave-up' | 'panic' | 'fault' | 'channel-lost' | 'reconnected' | 'kept-lost';
  domain: string;
  components: string[];
  reason: string;
}

export interface DomainInfo {
  name: string;
  kind: string;
  components: string[];
  /** OS process id or worker thread id; the kernel's own pid for main. */
  id: number;
  status: 'running' | 'restarting' | 'failed';
  restarts: number;
  /** Milliseconds since this incarnation started. */
  uptimeMs: number;
  /** The CommonJS bundle the domain's code was loaded from, as the domain tells; absent for ES modules. */
  bundle?: string;
  /** Whether V8 compiled that bundle from its code cache (npm run build saves one per bundle). */
  codeCache?: boolean;
}

interface DomainState {
  spec: DomainSpec;
  hosted: HostedDomain | null;
  status: DomainInfo['status'];
  generation: number;
  restarts: number;
  startedAt: number;
  record: RestartRecord;
  supervision: Supervision;
  /** A restart is under way: the promise of it. */
  restarting: Promise<void> | null;
  bundle?: string;
  codeCache?: boolean;
}

export class Kernel {
  private readonly states = new Map<string, DomainState>();
  /**
   * One idle domain of each kind in use, started ahead: a failed domain is replaced by the
   * spare, which has already paid for its thread or process and its code, and a new spare is
   * started in the background.
   */
  private readonly spares = new Map<'thread' | 'process', HostedDomain>();
  /** Where process domains listen (a private temporary directory), if there are any. */
  socketDir: string | null = null;
  /** This boot's secret, from which each socket channel's key is derived (see channelKey). */
  private readonly secret = randomBytes(32);
  /** Channels between domains being mended, by pairKey. */
  private readonly mending = new Map<string, Promise<void>>();
  private nextPid = 1;
  /** halt() began: the promise of it. From then on nothing is restarted and no call gets in. */
  private halting: Promise<void> | null = null;
  /** Calls made through call() and not answered yet → how to fail each (halt() does, after a grace). */
  private readonly callsUnderWay = new Map<Promise<unknown>, (why: string) => void>();
  private panicReport: string | null = null;
  private heartbeatTimer: ReturnType<typeof setInterval> | null = null;
  /** What vfs must be told again if it restarts: the client processes and the mounts. */
  private readonly procs = new Map<number, Readonly<Credentials>>();
  /** spawn() calls not yet answered by vfs: they count against MAX_PROCS too. */
  private spawning = 0;
  /** Per client pid: its syscalls not yet answered, and the bytes its reads among them ask for (absent when none). */
  private readonly inFlight = new Map<number, { calls: number; readBytes: number }>();
  private mountTable: MountSpec[] = [];
  /** crash-init faults, applied at a component's next start. */
  private readonly crashInit = new Set<string>();
  /** Faults armed and not cleared, as given. */
  readonly armed: FaultSpec[] = [];
  readonly events: KernelEvent[] = [];
  /** pid 1: the core's own client process, which made the boot mounts. */
  init!: Proc;
  /** The hyp of the components in the kernel's own thread. */
  private readonly mainHyps = hostHypGroup();

  private constructor(
    readonly placement: Placement,
    readonly transport: ThreadTransport,
    private readonly options: BootOptions,
    private readonly calls: CallPolicy,
    private readonly heartbeat: Heartbeat,
  ) {
    this.main = new Domain(MAIN, 'main', {
      hyp: this.mainHyps.hyp,
      die: (reason) => this.fatal(reason),
      hang: (reason) => this.fatal(`${reason} (a hang in the kernel's own thread would freeze it)`),
      leak: (reason) => this.fatal(`${reason} (a leak in the kernel's own thread grows the whole kernel until it dies)`),
      // The channel to a domain broke: it died (its exit may be reported later) or went mad.
      // Its exit is the better reason, when it comes soon.
      peerLost: (peer, reason) => {
        const st = this.states.get(peer);
        const h = st?.hosted;
        if (st?.status !== 'running' || !h) return;
        const broke = new Promise<string>((resolve) => setTimeout(() => resolve(`its channel to the core broke (${reason})`), 250).unref());
        void this.failed(peer, Promise.race([h.exited.then((why) => `its ${st.spec.kind} ${why}`), broke]));
      },
    });
    this.main.reports.set('channelLost', (from, args) => {
      const { peer, reason } = (args ?? {}) as { peer?: unknown; reason?: unknown };
      if (typeof peer !== 'string' || !this.states.has(peer)) throw new SysError('EINVAL', `channelLost: '${String(peer)}' is not a domain`);
      this.channelLost(from, peer, String(reason).slice(0, 200));
    });
    this.kept = new KeepCore(this.main, (c) => {
      const domain = this.placement.home.get(c)!;
      return { domain, kind: domain === MAIN ? 'main' : this.kindOf(domain), hosted: this.states.get(domain)?.hosted ?? null };
    }, (c, reason) => this.log({ kind: 'kept-lost', domain: this.placement.home.get(c)!, components: [c], reason }));
  }

  private readonly main: Domain;
  /** What components keep across their restarts (kernel/keep-core.ts); `damage()` is for tests. */
  readonly kept: KeepCore;

  /** Boots a kernel under the given policy. Any problem is refused with a SysError. */
  static async boot(options: BootOptions = {}): Promise<Kernel> {
    const spec = typeof options.policy === 'object' ? options.policy : readPlacement(options.policy ?? 'monolithic');
    const transport = options.transport ?? 'ring';
    if (!THREAD_TRANSPORTS.includes(transport)) {
      throw new SysError('EINVAL', `unknown transport '${transport}' (known: ${THREAD_TRANSPORTS.join(', ')})`);
    }
    const placement = await resolvePlacement(spec);
    for (const c of Object.keys(options.supervision ?? {})) {
      if (!placement.defs.has(c)) throw new SysError('EINVAL', `supervision: unknown component '${c}'`);
    }
    const faults = (options.faults ?? []).map((f) => checkFault(f, [...placement.defs.keys()]));
    const kernel = new Kernel(placement, transport, options, { ...DEFAULT_CALLS, ...options.calls }, { ...DEFAULT_HEARTBEAT, ...options.heartbeat });
    try {
      await kernel.startDomains();
      kernel.init = await kernel.spawn({ uid: 0, gid: 0 });
      await kernel.bootMounts(options.mounts ?? DEFAULT_MOUNTS);
      for (const f of faults) await kernel.inject(f);
      kernel.startHeartbeat();
      for (const kind of new Set(placement.domains.map((d) => d.kind))) if (kind !== 'main') kernel.prepareSpare(kind);
    } catch (err) {
      await kernel.halt();
      throw err;
    }
    return kernel;
  }

  /**
   * A new client process: its own fd table and cwd in vfs, with these credentials (default
   * root). Only the holder of the kernel can make one; a process cannot. EAGAIN when
   * MAX_PROCS processes are alive.
   */
  async spawn(cred: Partial<Credentials> = {}): Promise<Proc> {
    if (this.procs.size + this.spawning >= MAX_PROCS) {
      throw new SysError('EAGAIN', `spawn: ${MAX_PROCS} client processes are alive already; one must exit first`);
    }
    const pid = this.nextPid++;
    const full: Readonly<Credentials> = Object.freeze({ uid: cred.uid ?? 0, gid: cred.gid ?? 0 });
    this.spawning++;
    try {
      await this.call('vfs', 'spawn', { pid, uid: full.uid, gid: full.gid });
    } finally {
      this.spawning--;
    }
    this.procs.set(pid, full);
    return new Proc(pid, full, (op, args) => this.syscall(pid, op, args));
  }

  /**
   * Calls any op of any component through the core's own channels: for administration and
   * tests. Client programs use processes from spawn().
   */
  call<T = unknown>(component: string, op: string, args: Record<string, unknown> = {}): Promise<T> {
    if (this.panicReport !== null) return Promise.reject(new SysError('EIO', `${component}.${op}: kernel panic: ${this.panicReport}`));
    if (this.halting) return Promise.reject(new SysError('EIO', `${component}.${op}: the kernel has halted`));
    // Checked here as well as where it lands: a transport would carry some bad arguments as good
    // ones (validate.ts). A component in the main domain is checked by the direct call itself.
    const def = this.placement.defs.get(component);
    if (def && this.placement.home.get(component) !== MAIN) {
      try {
        validateRequest(def, op, args);
      } catch (err) {
        return Promise.reject(err);
      }
    }
    return new Promise<T>((resolve, reject) => {
      const call = this.main.kernelCall(component, op, args);
      this.callsUnderWay.set(call, (why) => reject(new SysError('EIO', `${component}.${op}: ${why} while the call was under way`)));
      call.then(
        (result) => { this.callsUnderWay.delete(call); resolve(result as T); },
        (err) => { this.callsUnderWay.delete(call); reject(err); },
      );
    });
  }

  /** Arms a fault in the component's domain (crash-init: for its next start). */
  async inject(fault: FaultSpec): Promise<void> {
    const f = checkFault(fault, [...this.placement.defs.keys()]);
    this.log({ kind: 'fault', domain: this.placement.home.get(f.component)!, components: [f.component], reason: `armed ${describeFault(f)}` });
    if (f.type === 'crash-init') this.crashInit.add(f.component);
    else await this.control(f.component, 'inject', { fault: f });
    this.armed.push(f);
  }

  /** Disarms the faults of one component, or of all. */
  async clearFaults(component?: string): Promise<void> {
    if (component !== undefined && !this.placement.defs.has(component)) throw new SysError('EINVAL', `clear: unknown component '${component}'`);
    this.armed.splice(0, this.armed.length, ...this.armed.filter((f) => component !== undefined && f.component !== component));
    for (const c of component ? [component] : [...this.placement.defs.keys()]) {
      this.crashInit.delete(c);
      if (this.states.get(this.placement.home.get(c)!)?.status !== 'failed') await this.control(c, 'clear', { component: c }).catch(() => {});
    }
  }

  /** Per component, calls hit so far by each type of armed fault, in the domains running now. */
  async faultHits(): Promise<Record<string, Record<string, number>>> {
    const out: Record<string, Record<string, number>> = {};
    for (const [name, st] of this.states) {
      if (st.status !== 'running') continue;
      const stats = await this.controlDomain(name, 'stats', {}).catch(() => ({}));
      for (const [c, v] of Object.entries(stats as Record<string, { faultHits: Record<string, number> }>)) out[c] = v.faultHits;
    }
    return out;
  }

  /** The report of the panic that stopped this kernel, or null. */
  get panicked(): string | null {
    return this.panicReport;
  }

  domains(): DomainInfo[] {
    const now = performance.now();
    return this.placement.domains.map((d) => {
      const st = this.states.get(d.name)!;
      return {
        name: d.name,
        kind: d.kind,
        components: [...d.components],
        id: d.kind === 'main' ? process.pid : (st.hosted?.id ?? -1),
        status: st.status,
        restarts: st.restarts,
        uptimeMs: now - st.startedAt,
        bundle: st.bundle,
        codeCache: st.codeCache,
      };
    });
  }

  /** Resolves when no restart is under way (for tests and the fault campaign). */
  async settled(): Promise<void> {
    for (;;) {
      const pending = [...this.states.values()].map((s) => s.restarting).filter(Boolean);
      if (pending.length === 0) return;
      await Promise.all(pending);
    }
  }

  /**
   * Unmounts everything (syncing), stops every component, ends every thread and process. Calls
   * made from now on fail with EIO; calls under way get HALT_GRACE_MS to finish, then fail with
   * EIO (at once, after a panic) — before anything is unmounted, so none meets a file system
   * going away. Nothing is restarted. Calling it again returns the same promise.
   */
  halt(): Promise<void> {
    return (this.halting ??= this.shutDown());
  }

  private async shutDown(): Promise<void> {
    this.stopHeartbeat();
    this.main.stopRetrying(this.haltReason());
    try {
      if (this.panicReport === null) {
        await this.settled(); // a panic may come from a restart itself
        await this.callsDone(HALT_GRACE_MS);
      }
      this.failCalls();
      if (this.init && this.panicReport === null) {
        await this.main.kernelCall('vfs', 'unmountAll', {}).catch(() => {});
        for (const c of [...this.placement.order].reverse()) await this.control(c, 'stop', { component: c }).catch(() => {});
      }
    } finally {
      this.failCalls();
      this.mainHyps.closeAll(); // after a panic, nothing stopped the components of this thread
      this.main.closePeers(this.haltReason());
      await Promise.all([...this.states.values()].map((s) => s.hosted?.kill(0)));
      await Promise.all([...this.spares.values()].map((h) => h.kill(0)));
      this.spares.clear();
      for (const s of this.states.values()) s.hosted = null;
      if (this.socketDir) rmSync(this.socketDir, { recursive: true, force: true });
    }
  }

  private haltReason(): string {
    return this.panicReport === null ? 'the kernel halted' : `kernel panic: ${this.panicReport}`;
  }

  /** Fails every call under way with EIO. */
  private failCalls(): void {
    for (const cutOff of this.callsUnderWay.values()) cutOff(this.haltReason());
    this.callsUnderWay.clear();
  }

  /** Resolves when every call under way has been answered, or after `ms` milliseconds. */
  private async callsDone(ms: number): Promise<void> {
    let timer!: ReturnType<typeof setTimeout>;
    const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
    await Promise.race([Promise.allSettled([...this.callsUnderWay.keys()]), late]);
    clearTimeout(timer);
  }

  // ---- syscalls ------------------------------------------------------------------------

  /**
   * The syscall boundary: a call from client process `pid`, which the core bound when it made
   * the process; only client syscalls, with their own arguments (clientArgs), at most
   * MAX_CALLS_IN_FLIGHT at once and reads asking for MAX_READ_BYTES_IN_FLIGHT in all (EAGAIN
   * beyond). Mounts are remembered, to be made again if vfs restarts.
   */
  private async syscall(pid: number, op: string, given: Record<string, unknown>): Promise<unknown> {
    const args = clientArgs(op, given);
    const load = this.inFlight.get(pid) ?? { calls: 0, readBytes: 0 };
    if (load.calls >= MAX_CALLS_IN_FLIGHT) {
      throw new SysError('EAGAIN', `${op}: process ${pid} has ${MAX_CALLS_IN_FLIGHT} calls in flight already; wait for some to finish`);
    }
    // A length that is not a byte count is vfs's to refuse; it asks for nothing here.
    const asks = (op === 'read' || op === 'pread') && Number.isSafeInteger(args.length) ? Math.max(0, args.length as number) : 0;
    if (asks > 0 && load.readBytes > 0 && load.readBytes + asks > MAX_READ_BYTES_IN_FLIGHT) {
      throw new SysError('EAGAIN', `${op}: process ${pid} has reads of ${load.readBytes} bytes in flight already, and at most ${MAX_READ_BYTES_IN_FLIGHT} may be; wait for some to finish`);
    }
    load.calls++;
    load.readBytes += asks;
    this.inFlight.set(pid, load);
    try {
      const result = await this.call('vfs', op, { ...args, pid });
      if (op === 'exit') this.procs.delete(pid);
      if (op === 'mount' || op === 'unmount') {
        const now = await this.call<MountInfo[]>('vfs', 'mounts', { pid });
        if (op === 'unmount') this.mountTable = this.mountTable.filter((m) => now.some((x) => x.target === m.target));
        else this.mountTable.push({ ...(args as Omit<MountSpec, 'target'>), target: now[now.length - 1].target });
      }
      return result;
    } finally {
      load.calls--;
      load.readBytes -= asks;
      if (load.calls === 0) this.inFlight.delete(pid);
    }
  }

  // ---- boot ----------------------------------------------------------------------------

  /**
   * The boot mounts, in order, by init; what they mount, to be made again if vfs restarts, is
   * asked once at the end rather than after each (as syscall() does).
   */
  private async bootMounts(mounts: MountSpec[]): Promise<void> {
    for (const m of mounts) {
      if (m.target !== '/') await this.init.mkdir(m.target, { recursive: true, mode: 0o755 });
      await this.call('vfs', 'mount', { pid: this.init.pid, target: m.target, fstype: m.fstype, source: m.source, readonly: m.readonly });
    }
    const made = await this.call<MountInfo[]>('vfs', 'mounts', { pid: this.init.pid });
    this.mountTable = mounts.map((m, i) => ({ ...m, target: made[i].target }));
  }

  private async startDomains(): Promise<void> {
    const { placement } = this;
    const remote = placement.domains.filter((d) => d.kind !== 'main');
    if (remote.some((d) => d.kind === 'process')) this.socketDir = makeSocketDir();
    for (const d of placement.domains) {
      const supervision = combine(d.components.map((c) => supervisionFor(c, placement.defs.get(c)!.essential === true, this.options.supervision?.[c])));
      this.states.set(d.name, {
        spec: d, hosted: null, status: 'running', generation: 0, restarts: 0, startedAt: performance.now(),
        record: new RestartRecord(supervision), supervision, restarting: null,
      });
    }
    for (const d of remote) this.launch(d.name);
    // Each step waits for what it needs and no more, so the domains that load first start their
    // components while others still load: a channel waits for the two domains it joins, a
    // component for its domain, for the components it requires and for the channels to them.
    const mainSpec = placement.domains.find((d) => d.kind === 'main');
    const loaded = new Map<string, Promise<unknown>>([[MAIN, this.main.load(this.planFor(MAIN, mainSpec?.components ?? []))]]);
    for (const d of remote) loaded.set(d.name, this.loadDomain(d.name));
    const channels = new Map<string, Promise<void>>();
    for (const [x, y] of this.peerPairs()) {
      channels.set(pairKey(x, y), Promise.all([loaded.get(x), loaded.get(y)]).then(() => this.connectPair(x, y)));
    }
    const started = new Map<string, Promise<void>>();
    const start = (c: string): Promise<void> => {
      let p = started.get(c);
      if (!p) {
        const home = placement.home.get(c)!;
        const requires = placement.defs.get(c)!.requires;
        p = Promise.all([
          loaded.get(home),
          ...requires.map(start),
          ...requires.map((r) => channels.get(pairKey(home, placement.home.get(r)!))),
        ]).then(() => this.startComponent(c, false));
        started.set(c, p);
      }
      return p;
    };
    await Promise.all([...loaded.values(), ...channels.values(), ...placement.order.map(start)]);
  }

  /** Gives a domain a thread or process — the spare, if one is ready — and links the core to it. */
  private launch(name: string): void {
    const st = this.states.get(name)!;
    const kind = st.spec.kind as 'thread' | 'process';
    let h = this.spares.get(kind);
    if (h) {
      this.spares.delete(kind);
      this.prepareSpare(kind);
    } else {
      h = this.startDomain(kind, name, st.spec.components);
    }
    const generation = ++st.generation;
    const hosted = h;
    st.hosted = hosted;
    st.startedAt = performance.now();
    this.main.addPeer(name, hosted.link);
    void hosted.exited.then((reason) => {
      if (st.generation === generation && st.hosted === hosted) void this.failed(name, `its ${kind} ${reason}`);
    });
  }

  /** Has a domain import its components and learn its routes. */
  private async loadDomain(name: string): Promise<void> {
    const st = this.states.get(name)!;
    const reply = await this.controlDomain(name, 'load', this.planFor(name, st.spec.components)) as LoadReply;
    st.bundle = reply.bundle;
    st.codeCache = reply.codeCache;
  }

  /** @param components  what it will host; a spare's are not known yet */
  private startDomain(kind: 'thread' | 'process', name: string, components: readonly string[] = []): HostedDomain {
    const limits = { memoryMb: this.options.memoryLimitMb };
    return kind === 'thread' ? startThread(name, this.transport, limits, components) : startProcess(name, limits);
  }

  /** Starts an idle spare domain of a kind (replacing itself if it dies unused). */
  private prepareSpare(kind: 'thread' | 'process'): void {
    if (this.halting || this.spares.has(kind)) return;
    const spare = this.startDomain(kind, `spare ${kind}`);
    this.spares.set(kind, spare);
    void spare.exited.then(() => {
      if (this.spares.get(kind) === spare) this.spares.delete(kind);
    });
  }

  private async startComponent(c: string, restart: boolean): Promise<void> {
    const st = this.states.get(this.placement.home.get(c)!)!;
    const crashInit = this.crashInit.delete(c);
    // vfs comes back empty: it is told the client processes and the mounts again.
    const memo = restart && c === 'vfs'
      ? { procs: [...this.procs].map(([pid, cred]) => ({ pid, ...cred })), mounts: this.mountTable }
      : undefined;
    const keptLost = this.kept.prepare(c, restart);
    await this.control(c, 'start', { component: c, restart: restart ? { generation: st.restarts + 1, memo, keptLost } : undefined, crashInit });
  }

  private socketPath(domain: string): string {
    return join(this.socketDir!, `${domain}.sock`);
  }

  /** Which components a domain hosts, where its components' dependencies live, who may call it. */
  private planFor(domain: string, components: string[]): DomainPlan {
    const { placement } = this;
    const isMain = domain === MAIN;
    const home: Record<string, string> = {};
    const accepts: Record<string, string[]> = {};
    const idempotent: Record<string, string[]> = {};
    const callee = (name: string) => {
      home[name] = placement.home.get(name)!;
      idempotent[name] = Object.entries(placement.defs.get(name)!.ops).filter(([, s]) => s.idempotent).map(([op]) => op);
    };
    for (const [name, def] of placement.defs) {
      const from = placement.home.get(name)!;
      for (const r of def.requires) {
        const to = placement.home.get(r)!;
        if (from === domain && to !== domain) callee(r);
        if (to === domain && from !== domain) {
          const list = (accepts[from] ??= []);
          if (!list.includes(r)) list.push(r);
        }
      }
    }
    // The core, in main, holds a channel to every component.
    if (isMain) for (const [name, where] of placement.home) if (where !== MAIN) callee(name);
    if (!isMain) accepts[MAIN] = [...new Set([...(accepts[MAIN] ?? []), ...components])];
    const kind = isMain ? 'main' : this.kindOf(domain);
    const keys: Record<string, Uint8Array> = {};
    for (const [x, y] of this.peerPairs()) {
      if ((x === domain || y === domain) && this.overSocket(x, y)) keys[x === domain ? y : x] = this.channelKey(x, y);
    }
    return {
      domain,
      kind,
      listen: kind === 'process' ? this.socketPath(domain) : undefined,
      components: components.map((name) => ({ name, module: placement.modules.get(name) })),
      home, accepts, idempotent, keys, calls: this.calls,
    };
  }

  /** The kind of a domain of the placement. */
  private kindOf(domain: string): DomainKind {
    return this.placement.domains.find((d) => d.name === domain)!.kind;
  }

  /** Whether the channel between two non-main domains is a socket (a process on either end). */
  private overSocket(x: string, y: string): boolean {
    return this.kindOf(x) === 'process' || this.kindOf(y) === 'process';
  }

  /**
   * The key of the socket channel between two domains: HMAC-SHA256 of their names under this
   * boot's secret. Only those two domains are given it, so neither can pose as a third.
   */
  private channelKey(x: string, y: string): Uint8Array {
    return createHmac('sha256', this.secret).update(JSON.stringify(['channel', ...[x, y].sort()])).digest();
  }

  /** Every pair of non-main domains that a `requires` edge joins. */
  private peerPairs(): [string, string][] {
    const { placement } = this;
    const pairs = new Map<string, [string, string]>();
    for (const [name, def] of placement.defs) {
      for (const r of def.requires) {
        const a = placement.home.get(name)!;
        const b = placement.home.get(r)!;
        if (a === b || a === MAIN || b === MAIN) continue;
        const [x, y] = [a, b].sort();
        pairs.set(pairKey(x, y), [x, y]);
      }
    }
    return [...pairs.values()];
  }

  /** A channel between two domains: a MessageChannel between threads, a socket otherwise. */
  private async connectPair(x: string, y: string): Promise<void> {
    const hx = this.states.get(x)!.hosted!;
    const hy = this.states.get(y)!.hosted!;
    if (hx.kind === 'thread' && hy.kind === 'thread') {
      const { port1, port2 } = new MessageChannel();
      const ends = this.transport === 'ring' ? ringPair(hx.bell!, hy.bell!) : null;
      hx.attachPort!(y, port1, ends?.a);
      hy.attachPort!(x, port2, ends?.b);
      return;
    }
    const [dialer, listener] = this.socketEnds(x, y);
    await this.controlDomain(listener, 'expect', { peer: dialer });
    await this.controlDomain(dialer, 'connect', { peer: listener, address: this.socketPath(listener) });
  }

  /** Of a socket channel's two domains: [the one that connects, the one that listens]. */
  private socketEnds(x: string, y: string): [dialer: string, listener: string] {
    // A process domain listens; its peer connects (of two processes, the later one).
    const order = this.placement.domains.map((d) => d.name);
    return this.kindOf(y) === 'process' && (this.kindOf(x) !== 'process' || order.indexOf(x) > order.indexOf(y)) ? [x, y] : [y, x];
  }

  /** A control op for the domain that hosts `component`. */
  private async control(component: string, op: string, args: unknown): Promise<unknown> {
    const where = this.placement.home.get(component)!;
    const restarting = this.states.get(where)!.restarting;
    if (restarting && op !== 'start') await restarting; // a fault armed during a restart is for the new incarnation
    return this.controlDomain(where, op, args);
  }

  /** Control ops (load, start, connect…) may be slow on a busy machine; they get at least 30 s. */
  private async controlDomain(domain: string, op: string, args: unknown, timeoutMs = Math.max(this.calls.timeoutMs, 30_000)): Promise<unknown> {
    if (domain === MAIN) return this.main.control.get(op)!(args);
    const ep = this.main.peer(domain);
    if (!ep) throw new SysError('EIO', `domain ${domain} is not running`);
    return ep.call(CONTROL, op, args, timeoutMs);
  }

  // ---- supervision ---------------------------------------------------------------------

  private log(e: Omit<KernelEvent, 'at'>): void {
    const event = { at: performance.now(), ...e };
    this.events.push(event);
    this.options.onEvent?.(event);
    if (e.kind !== 'fault') hostHyp('kernel').log(e.kind === 'restarted' ? 'info' : 'warn', `${e.kind}: domain ${e.domain} (${e.components.join(', ')}): ${e.reason}`);
  }

  /** A fatal fault in the kernel's own thread: panic, and report how. */
  private fatal(reason: string): never {
    const report = `${reason}; under the ${this.placement.name} policy the fault is in the kernel's own thread, so the whole kernel stops`;
    void this.panic(report);
    throw new SysError('EIO', `kernel panic: ${report}`);
  }

  /** Stops everything: every call from now on fails with EIO and the report. */
  private async panic(report: string): Promise<void> {
    if (this.panicReport !== null || this.halting) return;
    this.panicReport = report;
    this.log({ kind: 'panic', domain: MAIN, components: this.placement.domains.find((d) => d.kind === 'main')?.components ?? [], reason: report });
    await this.halt();
  }

  /** A domain exited or stopped answering: restart it as its supervision says, or give up. */
  private failed(name: string, reason: string | Promise<string>): Promise<void> {
    const st = this.states.get(name)!;
    if (this.halting || this.panicReport !== null || st.restarting || st.status === 'failed') return st.restarting ?? Promise.resolve();
    st.status = 'restarting';
    st.restarting = this.restart(name, reason).finally(() => {
      st.restarting = null;
    });
    return st.restarting;
  }

  private async restart(name: string, reason: string | Promise<string>): Promise<void> {
    const st = this.states.get(name)!;
    this.log({ kind: 'failed', domain: name, components: st.spec.components, reason: await reason });
    for (;;) {
      await st.hosted?.kill(0);
      st.hosted = null;
      const delay = st.supervision.restart === 'temporary' ? null : st.record.next(performance.now());
      if (delay === null) return this.giveUp(name);
      if (delay > 0) await new Promise((r) => setTimeout(r, delay));
      if (this.halting) return;
      st.restarts++;
      try {
        await this.relaunch(name);
        st.status = 'running';
        this.log({ kind: 'restarted', domain: name, components: st.spec.components, reason: `incarnation ${st.restarts + 1}` });
        break;
      } catch (err) {
        if (this.halting) return;
        this.log({ kind: 'failed', domain: name, components: st.spec.components, reason: `while starting: ${(err as Error).message}` });
      }
    }
    if (st.supervision.strategy === 'rest_for_one') {
      for (const dep of this.dependentDomains(name)) await this.failed(dep, `rest_for_one after domain ${name} restarted`);
    }
  }

  /** A new incarnation of a domain: fresh thread or process, its channels, its components. */
  private async relaunch(name: string): Promise<void> {
    const st = this.states.get(name)!;
    this.launch(name);
    const gen = st.generation;
    await this.loadDomain(name);
    for (const [x, y] of this.peerPairs()) {
      if ((x === name || y === name) && this.states.get(x === name ? y : x)!.hosted) await this.connectPair(x, y);
    }
    for (const c of this.placement.order.filter((c) => st.spec.components.includes(c))) {
      if (st.generation !== gen) throw new SysError('EIO', `domain ${name} died again while starting`);
      await this.startComponent(c, true);
    }
  }

  /** Domains hosting components that require one of `name`'s components, other than it. */
  private dependentDomains(name: string): string[] {
    const mine = new Set(this.states.get(name)!.spec.components);
    const out = new Set<string>();
    for (const [c, def] of this.placement.defs) {
      const where = this.placement.home.get(c)!;
      if (where !== name && where !== MAIN && def.requires.some((r) => mine.has(r))) out.add(where);
    }
    return [...out];
  }

  /** Intensity exceeded (or temporary): the domain stays down, its dependents stop, maybe the kernel. */
  private async giveUp(name: string): Promise<void> {
    const st = this.states.get(name)!;
    st.status = 'failed';
    this.log({ kind: 'gave-up', domain: name, components: st.spec.components, reason: `${st.supervision.restart === 'temporary' ? 'temporary' : `more than ${st.supervision.intensity.max} restarts in ${st.supervision.intensity.withinMs} ms`}` });
    this.main.peerDown(name);
    for (const other of this.states.keys()) {
      if (other !== MAIN && other !== name) await this.controlDomain(other, 'peerDown', { peer: name }).catch(() => {});
    }
    if (st.supervision.essential) {
      await this.panic(`essential domain ${name} (${st.spec.components.join(', ')}) failed and cannot be restarted`);
      return;
    }
    for (const dep of this.dependentDomains(name)) {
      const d = this.states.get(dep)!;
      if (d.status === 'failed') continue;
      d.status = 'failed';
      this.log({ kind: 'gave-up', domain: dep, components: d.spec.components, reason: `it requires domain ${name}, which failed` });
      const h = d.hosted;
      d.hosted = null;
      await h?.kill(0);
    }
  }

  /**
   * One end of the channel between two domains saw it close. If a domain died, its restart
   * makes the channel again; if both still run (both answer, and neither holds the channel any
   * more), the loss is reported and the channel made again, and if that fails, the domain that
   * listens is restarted as its supervision says. Reports from both ends, and any while it is
   * being mended, are one.
   */
  private channelLost(from: string, peer: string, reason: string): void {
    const key = pairKey(from, peer);
    if (this.halting || this.mending.has(key) || !this.peerPairs().some(([x, y]) => pairKey(x, y) === key)) return;
    const a = this.states.get(from)!;
    const b = this.states.get(peer)!;
    const generations = [a.generation, b.generation];
    const bothRun = () => !this.halting && [a, b].every((s, i) => s.status === 'running' && !s.restarting && s.generation === generations[i]);
    // What a domain holds channels to; a domain that died (its exit not seen yet) never answers.
    const channels = (d: string) => this.controlDomain(d, 'channels', {}, this.heartbeat.timeoutMs) as Promise<string[]>;
    const mend = async () => {
      // A domain that died is reported by its exit soon; give that the chance to come first.
      await new Promise((resolve) => setTimeout(resolve, 250));
      if (!bothRun()) return;
      const [ofFrom, ofPeer] = await Promise.all([channels(from), channels(peer)]);
      if (!bothRun() || (ofFrom.includes(peer) && ofPeer.includes(from))) return;
      this.log({ kind: 'channel-lost', domain: from, components: a.spec.components, reason: `its channel to domain ${peer} closed while both ran (${reason}); making it again` });
      const [x, y] = [from, peer].sort();
      try {
        await this.connectPair(x, y);
        this.log({ kind: 'reconnected', domain: from, components: a.spec.components, reason: `channel to domain ${peer} made again` });
      } catch (err) {
        if (!bothRun()) return;
        const [dialer, listener] = this.socketEnds(x, y);
        void this.failed(listener, `its channel to domain ${dialer} could not be made again (${(err as Error).message})`);
      }
    };
    const p = mend().catch(() => {}).finally(() => this.mending.delete(key));
    this.mending.set(key, p);
  }

  private startHeartbeat(): void {
    const { periodMs, timeoutMs } = this.heartbeat;
    if (periodMs <= 0) return;
    const inFlight = new Set<string>();
    this.heartbeatTimer = setInterval(() => {
      for (const [name, st] of this.states) {
        if (name === MAIN || st.status !== 'running' || inFlight.has(name)) continue;
        inFlight.add(name);
        const gen = st.generation;
        this.controlDomain(name, 'ping', {}, timeoutMs)
          .catch((err: SysError) => {
            if (err.errno === 'ETIMEDOUT' && st.generation === gen) void this.failed(name, `it stopped answering (no heartbeat reply in ${timeoutMs} ms)`);
          })
          .finally(() => inFlight.delete(name));
      }
    }, periodMs);
    this.heartbeatTimer.unref();
  }

  private stopHeartbeat(): void {
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = null;
  }
}

/** Names the channel between two domains, either way round. */
const pairKey = (a: string, b: string): string => [a, b].sort().join('\0');

export function describeFault(f: FaultSpec): string {
  const parts = [`${f.component} ${f.type}`];
  if (f.ms !== undefined) parts.push(`${f.ms}ms${f.jitter ? `±${f.jitter}` : ''}`);
  if (f.errno) parts.push(f.errno);
  if (f.op) parts.push(`--op ${f.op}`);
  if (f.after) parts.push(`--after ${f.after}`);
  if (f.prob !== undefined) parts.push(`--prob ${f.prob} --seed ${f.seed ?? 1}`);
  if (f.count !== undefined) parts.push(`--count ${f.count}`);
  return parts.join(' ');
}

export const boot = Kernel.boot;
