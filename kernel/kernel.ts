// The core: boots a placement (domains, channels along `requires`, components in dependency
// order), mounts the default file systems, hands out client processes and carries their
// syscalls, injects faults, and halts leaving no thread or process behind. A fatal fault in the
// kernel's own thread cannot be survived: the kernel panics, with a report.
//
// Its parts, one concern each: boot-options.ts (the options and their check), domains.ts (the
// domains at run time: their threads and processes, spares, channels, control plane),
// topology.ts (which channels a placement makes, and each domain's plan), supervisor.ts
// (restarts, heartbeat, mending channels), faults.ts (faults and how they are reported),
// client-limits.ts (what one client may make the kernel hold), keep-core.ts (what components
// keep across their own restarts).

import { SysError } from '../ipc/errno.js';
import { MAX_IO } from '../ipc/frame.js';
import { batchEntries } from './batch.js';
import { CallsInFlight, MAX_PROCS } from './client-limits.js';
import type { WriteResult } from './api.js';
import { DirectFiles, type GrantedOpen, type Held, type Opening } from './direct-files.js';
import { checkBootOptions, placementSpecOf, type BootOptions, type BootSettings, type MountSpec } from './boot-options.js';
import { Domain, MAIN } from './domain.js';
import type { ThreadTransport } from './domain-host.js';
import { Domains, type DomainInfo } from './domains.js';
import { checkFault, describeFault, kernelThreadPanic, type FaultEffect, type FaultSpec } from './faults.js';
import { hostHyp, hostHypGroup } from './hyp-host.js';
import { KeepCore } from './keep-core.js';
import { bytesOf } from './names.js';
import { kindOf } from './topology.js';
import { resolvePlacement, type Placement } from './placement.js';
import { Proc, clientArgs, clientError, fullCredentials, type Credentials, type FullCredentials, type SyscallFn } from './proc.js';
import { Supervisor, type KernelEvent } from './supervisor.js';
import { validateRequest } from './validate.js';

/** A client process as its bare channel into the core (see Kernel.spawnChannel). */
export interface ProcChannel {
  pid: number;
  cred: FullCredentials;
  /** Its syscalls, bound to it: arguments and errors as vfs takes and gives them. */
  sys: SyscallFn;
}

/** Milliseconds halt() gives the calls under way to finish before it fails them with EIO. */
const HALT_GRACE_MS = 5_000;

export class Kernel {
  private readonly main: Domain;
  /** The domains at run time (the public domains() reports on them). */
  private readonly domainSet: Domains;
  private readonly supervisor: Supervisor;
  /** Between threads (and the main thread): 'ring' or 'postMessage'. */
  readonly transport: ThreadTransport;
  private nextPid = 1;
  /** halt() began: the promise of it. From then on nothing is restarted and no call gets in. */
  private halting: Promise<void> | null = null;
  /** Calls made through call() and not answered yet → how to fail each (halt() does, after a grace). */
  private readonly callsUnderWay = new Map<Promise<unknown>, (why: string) => void>();
  private panicReport: string | null = null;
  /** The client processes alive, with their credentials. */
  private readonly procs = new Map<number, FullCredentials>();
  /** spawn() calls not yet answered by vfs: they count against MAX_PROCS too. */
  private spawning = 0;
  /** Per client process, its syscalls not yet answered (bounded: client-limits.ts). */
  private readonly inFlight = new CallsInFlight();
  /** The grants of the fds read straight from their file systems (kernel/direct-files.ts). */
  private readonly direct: DirectFiles;
  /** crash-init faults, applied at a component's next start. */
  private readonly crashInit = new Set<string>();
  /** Faults armed and not cleared, as given. */
  readonly armed: FaultSpec[] = [];
  readonly events: KernelEvent[] = [];
  /** pid 1: the core's own client process, which made the boot mounts. */
  init!: Proc;
  /** The hyp of the components in the kernel's own thread. */
  private readonly mainHyps = hostHypGroup();

  private constructor(readonly placement: Placement, private readonly settings: BootSettings) {
    this.transport = settings.transport;
    this.main = new Domain(MAIN, 'main', {
      hyp: this.mainHyps.hyp,
      pool: (domain) => this.domainSet.pool(domain),
      die: (reason) => this.fatal('die', reason),
      hang: (reason) => this.fatal('hang', reason),
      leak: (reason) => this.fatal('leak', reason),
      peerLost: (peer, reason) => this.supervisor.peerLost(peer, reason),
      restarting: (domain) => this.domainSet.states.get(domain)?.restarting ?? null,
      restartsUnderWay: () => [...this.domainSet.states.values()].some((s) => s.restarting !== null),
    });
    this.main.reports.set('channelLost', (from, args) => {
      const { peer, reason } = (args ?? {}) as { peer?: unknown; reason?: unknown };
      if (typeof peer !== 'string' || !this.domainSet.states.has(peer)) throw new SysError('EINVAL', `channelLost: '${String(peer)}' is not a domain`);
      this.supervisor.channelLost(from, peer, String(reason).slice(0, 200));
    });
    this.domainSet = new Domains({
      placement, main: this.main, transport: settings.transport, memoryLimitMb: settings.memoryLimitMb,
      calls: settings.calls, heartbeat: settings.heartbeat, supervision: settings.supervision,
      halting: () => this.halting !== null,
      exited: (name, reason) => void this.supervisor.failed(name, reason),
      log: (e) => this.log(e),
    });
    this.direct = new DirectFiles((c) => this.domainSet.states.get(placement.home.get(c) ?? '')?.generation ?? 0, () => this.domainSet.launches);
    this.supervisor = new Supervisor({
      placement, domains: this.domainSet, heartbeat: settings.heartbeat,
      restartComponent: (c) => this.startComponent(c, true),
      log: (e) => this.log(e),
      panic: (report) => this.panic(report),
      stopping: () => this.halting !== null || this.panicReport !== null,
    });
    this.kept = new KeepCore(this.main, (c) => {
      const domain = placement.home.get(c)!;
      return { domain, kind: kindOf(placement, domain), host: this.domainSet.get(domain)?.host ?? null };
    }, (c, reason) => this.log({ kind: 'kept-lost', domain: placement.home.get(c)!, components: [c], reason }));
  }

  /** What components keep across their restarts (kernel/keep-core.ts). */
  private readonly kept: KeepCore;

  /** Boots a kernel under the given policy. Any problem, a bad option first, is refused with a SysError. */
  static async boot(options: BootOptions = {}): Promise<Kernel> {
    const placement = await resolvePlacement(placementSpecOf(options));
    const settings = checkBootOptions(options, placement);
    const kernel = new Kernel(placement, settings);
    try {
      // A boot mount with a key derives it at once, in the cipher's pool if it has one: its
      // workers start beside the other domains rather than inside the mount's deadline.
      const warming = settings.mounts.some((m) => m.key !== undefined) ? kernel.domainSet.warmPools() : null;
      await kernel.domainSet.startAll((c) => kernel.startComponent(c, false));
      kernel.init = await kernel.spawn({ uid: 0, gid: 0 });
      await warming;
      await kernel.bootMounts(settings.mounts);
      for (const f of settings.faults) await kernel.inject(f);
      kernel.supervisor.startHeartbeat();
      kernel.domainSet.prepareSpares();
    } catch (err) {
      await kernel.halt();
      throw err;
    }
    return kernel;
  }

  /** Where process domains listen (a private temporary directory), if there are any. */
  get socketDir(): string | null {
    return this.domainSet.socketDir;
  }

  /**
   * A new client process: its own fd table and cwd in vfs, with these credentials (default
   * root, no supplementary groups). Only the holder of the kernel can make one; a process
   * cannot. EINVAL for credentials that are not ids (fullCredentials); EAGAIN when MAX_PROCS
   * processes are alive.
   */
  async spawn(cred: Partial<Credentials> = {}): Promise<Proc> {
    const { pid, cred: full } = await this.spawnChannel(cred);
    return new Proc(pid, full, (op, args) => this.syscall(pid, op, args, clientError));
  }

  /**
   * A new client process as spawn() makes it, given as its bare channel: its pid, credentials,
   * and its syscall function, which takes arguments as vfs does (paths as byte strings) and
   * fails with messages as vfs writes them. For a server that carries a remote client's calls
   * (kernel/serve/server.ts), which does its own conversions. `limits.maxFds`: how many fds the
   * process may have open (vfs's MAX_FDS at most, and by default). Fails as spawn().
   */
  async spawnChannel(cred: Partial<Credentials> = {}, limits: { maxFds?: number } = {}): Promise<ProcChannel> {
    const full = fullCredentials(cred);
    if (this.procs.size + this.spawning >= MAX_PROCS) {
      throw new SysError('EAGAIN', `spawn: ${MAX_PROCS} client processes are alive already; one must exit first`);
    }
    const pid = this.nextPid++;
    this.spawning++;
    try {
      // vfs is told the deadline its calls have across a boundary (none in the kernel's own thread).
      const callDeadlineMs = this.placement.home.get('vfs') === MAIN ? 0 : this.settings.calls.timeoutMs;
      const maxFds = limits.maxFds === undefined ? {} : { maxFds: limits.maxFds };
      await this.call('vfs', 'spawn', { pid, uid: full.uid, gid: full.gid, groups: [...full.groups], callDeadlineMs, ...maxFds });
    } finally {
      this.spawning--;
    }
    this.procs.set(pid, full);
    return { pid, cred: full, sys: (op, args) => this.syscall(pid, op, args) };
  }

  /**
   * Calls any op of any component through the core's own channels: for administration and
   * tests. Client programs use processes from spawn().
   */
  call<T = unknown>(component: string, op: string, args: Record<string, unknown> = {}): Promise<T> {
    try {
      return Promise.resolve(this.callNow(component, op, args) as T);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * call(), but an answer given at once by a component in the kernel's own thread comes back as
   * it is (or thrown, as a SysError), not as a promise: see syscall(). A call that has to wait
   * is a promise, counted under way until it settles, so that halt() can cut it off.
   */
  private callNow(component: string, op: string, args: Record<string, unknown>): unknown {
    if (this.panicReport !== null) throw new SysError('EIO', `${component}.${op}: kernel panic: ${this.panicReport}`);
    if (this.halting) throw new SysError('EIO', `${component}.${op}: the kernel has halted`);
    // Checked here as well as where it lands: a transport would carry some bad arguments as good
    // ones (validate.ts). A component in the main domain is checked by the direct call itself.
    const def = this.placement.defs.get(component);
    if (def && this.placement.home.get(component) !== MAIN) validateRequest(def, op, args);
    const answer = this.main.kernelCallNow(component, op, args);
    if (!(answer instanceof Promise)) return answer; // answered: never under way
    return new Promise((resolve, reject) => {
      this.callsUnderWay.set(answer, (why) => reject(new SysError('EIO', `${component}.${op}: ${why} while the call was under way`)));
      answer.then(
        (result) => { this.callsUnderWay.delete(answer); resolve(result); },
        (err) => { this.callsUnderWay.delete(answer); reject(err); },
      );
    });
  }

  /** Arms a fault in the component's domain (crash-init: for its next start). */
  async inject(fault: FaultSpec): Promise<void> {
    const f = checkFault(fault, [...this.placement.defs.keys()]);
    this.log({ kind: 'fault', domain: this.placement.home.get(f.component)!, components: [f.component], reason: `armed ${describeFault(f)}` });
    // A crash-init strikes at a component's next start; in a pool, at its next worker's (domain.ts).
    if (f.type === 'crash-init' && kindOf(this.placement, this.placement.home.get(f.component)!) !== 'pool') this.crashInit.add(f.component);
    else await this.domainSet.controlComponent(f.component, 'inject', { fault: f });
    this.armed.push(f);
  }

  /** Disarms the faults of one component, or of all. */
  async clearFaults(component?: string): Promise<void> {
    if (component !== undefined && !this.placement.defs.has(component)) throw new SysError('EINVAL', `clear: unknown component '${component}'`);
    this.armed.splice(0, this.armed.length, ...this.armed.filter((f) => component !== undefined && f.component !== component));
    for (const c of component ? [component] : [...this.placement.defs.keys()]) {
      this.crashInit.delete(c);
      if (this.domainSet.get(this.placement.home.get(c)!).status !== 'failed') await this.domainSet.controlComponent(c, 'clear', { component: c }).catch(() => {});
    }
  }

  /** Per component, calls hit so far by each type of armed fault, in the domains running now. */
  async faultHits(): Promise<Record<string, Record<string, number>>> {
    const out: Record<string, Record<string, number>> = {};
    for (const [name, st] of this.domainSet.states) {
      if (st.status !== 'running') continue;
      const stats = await this.domainSet.control(name, 'stats', {}).catch(() => ({}));
      for (const [c, v] of Object.entries(stats as Record<string, { faultHits: Record<string, number> }>)) out[c] = v.faultHits;
    }
    return out;
  }

  /**
   * Per component, the calls it served so far (failed ones included) in the domains running
   * now: a restarted domain counts from 0 again.
   */
  async callCounts(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const [name, st] of this.domainSet.states) {
      if (st.status !== 'running') continue;
      const stats = await this.domainSet.control(name, 'stats', {}).catch(() => ({}));
      for (const [c, v] of Object.entries(stats as Record<string, { served: number }>)) out[c] = v.served;
    }
    return out;
  }

  /**
   * For tests: flips one bit of what `component` keeps for its restart, as a stray write
   * would; false when it keeps nothing.
   */
  damageKept(component: string): boolean {
    return this.kept.damage(component);
  }

  /** The report of the panic that stopped this kernel, or null. */
  get panicked(): string | null {
    return this.panicReport;
  }

  /** Each domain: its kind, components, thread or process id, status, restarts, uptime, code. */
  domains(): DomainInfo[] {
    return this.domainSet.info();
  }

  /** Resolves when no restart is under way (for tests and the fault campaign). */
  async settled(): Promise<void> {
    for (;;) {
      const pending = [...this.domainSet.states.values()].map((s) => s.restarting).filter(Boolean);
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
    this.supervisor.stopHeartbeat();
    this.main.stopRetrying(this.haltReason());
    try {
      if (this.panicReport === null) {
        await this.settled(); // a panic may come from a restart itself
        // Calls waiting on a pipe or FIFO would wait out the grace: vfs ends them first. Not
        // awaited: a vfs that hangs must not hold halt up beyond the grace.
        if (this.init) this.main.kernelCall('vfs', 'halting', {}).catch(() => {});
        await this.callsDone(HALT_GRACE_MS);
      }
      this.failCalls();
      if (this.init && this.panicReport === null) {
        await this.main.kernelCall('vfs', 'unmountAll', {}).catch(() => {});
        for (const c of [...this.placement.order].reverse()) await this.domainSet.controlComponent(c, 'stop', { component: c }).catch(() => {});
      }
    } finally {
      this.failCalls();
      this.mainHyps.closeAll(); // after a panic, nothing stopped the components of this thread
      this.main.closePeers(this.haltReason());
      await this.domainSet.closeAll();
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
   * the process; only client syscalls, with their own arguments (clientArgs), or a batch of them
   * (`batch`, { ops }: kernel/batch.ts, each op checked as if alone), at most
   * MAX_CALLS_IN_FLIGHT at once and reads asking for MAX_READ_BYTES_IN_FLIGHT in all (EAGAIN
   * beyond). A failure is given as `failure` makes it: as vfs gave it by default, in client
   * form for a Proc.
   */
  private syscall(pid: number, op: string, given: Record<string, unknown>, failure: (err: unknown) => unknown = asVfsGaveIt): Promise<unknown> {
    // Not an async function, for speed: a syscall answered at once (getpid, and under the
    // monolithic policy whatever vfs answers from its tables and cache) makes one promise,
    // settled already, and costs its caller one turn of the event loop.
    let args: Record<string, unknown>;
    let answered: () => void;
    try {
      if (op === 'batch') {
        const ops = batchEntries(given, (inner, innerArgs) => this.batchOpArgs(pid, inner, innerArgs));
        answered = this.inFlight.admitBatch(pid, ops);
        args = { ops };
      } else {
        args = clientArgs(op, given);
        answered = this.inFlight.admit(pid, op, args);
      }
    } catch (err) {
      return Promise.reject(failure(err));
    }
    args.pid = pid; // on the fresh copy, which the caller cannot reach
    const done = op === 'pread' || op === 'pwrite' ? this.dataCall(op, args, failure) : this.toVfs(op, args, failure);
    // Answered at once, it is in flight until its caller can take the answer, a turn later, as
    // under every policy: calls made one after another without waiting count together.
    done.then(answered, answered);
    return done;
  }

  /** A checked syscall (`args` with its pid) sent to vfs; its answer, or its failure as `failure` makes it. */
  private toVfs(op: string, args: Record<string, unknown>, failure: (err: unknown) => unknown): Promise<unknown> {
    const pid = args.pid as number;
    let opening: Opening | undefined;
    const failed = (err: unknown) => {
      if (opening) this.direct.notOpened(opening);
      return failure(err);
    };
    try {
      this.direct.before(pid, op, args);
      const used = this.direct.takeUsed();
      // Sent first on the same channel, so vfs has dropped those files' attributes before this call.
      // By call(), whose failure is a rejection, never a throw: a note that cannot be sent (the
      // kernel halted, vfs is down) is dropped, and this call meets the failure as its own.
      if (used) this.call('vfs', 'usedDirectly', { files: used }).catch(() => {});
      if (op === 'open') {
        opening = this.direct.opening(pid);
        args.grant = true;
      }
      const answer = this.callNow('vfs', op, args);
      if (answer instanceof Promise) {
        return answer.then((result) => this.syscallDone(pid, op, result, opening), (err: unknown) => { throw failed(err); });
      }
      return Promise.resolve(this.syscallDone(pid, op, answer, opening));
    } catch (err) {
      return Promise.reject(failed(err));
    }
  }

  /**
   * A pread or pwrite: directly when its fd's grant allows (kernel/direct-files.ts) — a pread of
   * an fd open for reading, a pwrite of some data on an armed write grant —, else through vfs;
   * a pwrite through vfs on a write grant arms it once it succeeds.
   */
  private dataCall(op: 'pread' | 'pwrite', args: Record<string, unknown>, failure: (err: unknown) => unknown): Promise<unknown> {
    const pid = args.pid as number;
    const g = this.direct.grant(pid, args.fd);
    if (g === undefined) return this.toVfs(op, args, failure);
    if (op === 'pread' ? g.read : g.write && g.armed && (args.data as Uint8Array).length > 0) return this.directCall(g, op, args, failure);
    const done = this.toVfs(op, args, failure);
    if (op === 'pwrite' && g.write) done.then(() => this.direct.arm(pid, args.fd as number, g), () => {});
    return done;
  }

  /**
   * A pread or pwrite on an fd with a grant: one call to the file system's read or write. When
   * vfs or the file system restarted before or during the call, or the handle turned out stale,
   * the grant ends and the call goes through vfs, which recovers; so too when the kernel halted
   * or panicked, so that the call fails as any does. Any other error is the file system's, as vfs
   * would have passed it on. Its arguments are checked first as vfs checks them (clientArgs
   * leaves their types to vfs): EINVAL, with vfs's sentence.
   */
  private directCall(g: Held, op: 'pread' | 'pwrite', args: Record<string, unknown>, failure: (err: unknown) => unknown): Promise<unknown> {
    const pid = args.pid as number;
    try {
      validateRequest(this.placement.defs.get('vfs')!, op, args);
    } catch (err) {
      return Promise.reject(failure(err));
    }
    const viaVfs = () => {
      this.direct.drop(pid, args.fd as number);
      return this.toVfs(op, args, failure);
    };
    const answered = (result: unknown) => {
      this.direct.used(g);
      if (!this.direct.good(g)) return viaVfs();
      return op === 'pread' ? result : (result as WriteResult).written;
    };
    const failed = (err: unknown) => {
      this.direct.used(g);
      const stopped = this.halting !== null || this.panicReport !== null;
      if (stopped || !this.direct.good(g) || (err instanceof SysError && (err.errno === 'ESTALE' || err.errno === 'ENODEV'))) return viaVfs();
      throw failure(err);
    };
    const fsArgs = op === 'pread'
      ? { fsid: g.fsid, h: g.h, offset: args.offset, length: Math.min(args.length as number, MAX_IO) }
      : { fsid: g.fsid, h: g.h, offset: args.offset, data: args.data };
    let result: unknown;
    try {
      result = this.callNow(g.fs, op === 'pread' ? 'read' : 'write', fsArgs);
    } catch (err) {
      result = Promise.reject(err);
    }
    return result instanceof Promise ? result.then(answered, failed) : Promise.resolve(answered(result));
  }

  /**
   * One op of a batch checked as the syscall it would be alone: clientArgs, and, when vfs is in
   * another domain, vfs's own check of its arguments, which callNow makes of a call alone (vfs
   * checks each op again as it runs it, servers/vfs/sys-batch.ts).
   */
  private batchOpArgs(pid: number, op: string, given: unknown): Record<string, unknown> {
    const args = clientArgs(op, given);
    const vfs = this.placement.defs.get('vfs');
    if (vfs && this.placement.home.get('vfs') !== MAIN) validateRequest(vfs, op, { ...args, pid });
    return args;
  }

  /**
   * A syscall's result, once vfs answered it: a process that exited is gone; an open (under way
   * as `opening`, DirectFiles.opening) has its grant kept if it may be, and its fd answered.
   */
  private syscallDone(pid: number, op: string, result: unknown, opening: Opening | undefined): unknown {
    if (op === 'exit') this.procs.delete(pid);
    if (opening) return this.direct.opened(opening, result as GrantedOpen);
    return result;
  }

  // ---- boot ------------------------------------------------------------------------------

  /** The boot mounts, in order, by init. */
  private async bootMounts(mounts: MountSpec[]): Promise<void> {
    for (const m of mounts) {
      // The target is a byte string (boot-options.ts); init takes a path as its bytes.
      if (m.target !== '/') await this.init.mkdir(bytesOf(m.target), { recursive: true, mode: 0o755 });
      await this.call('vfs', 'mount', { pid: this.init.pid, target: m.target, fstype: m.fstype, source: m.source, readonly: m.readonly, key: m.key as Uint8Array | undefined, partition: m.partition });
      if (m.mode !== undefined) await this.init.chmod(bytesOf(m.target), m.mode);
    }
  }

  /**
   * Starts a component in its domain: fresh at boot, by its restart init path in a new
   * incarnation of its domain. A crash-init fault armed for it strikes now.
   */
  private async startComponent(c: string, restart: boolean): Promise<void> {
    const st = this.domainSet.get(this.placement.home.get(c)!);
    const crashInit = this.crashInit.delete(c);
    const keptLost = this.kept.prepare(c, restart);
    await this.domainSet.controlComponent(c, 'start', { component: c, restart: restart ? { generation: st.restarts, keptLost } : undefined, crashInit });
  }

  // ---- events and panics ---------------------------------------------------------------

  private log(e: Omit<KernelEvent, 'at'>): void {
    const event = { at: performance.now(), ...e };
    this.events.push(event);
    this.settings.onEvent?.(event);
    if (e.kind !== 'fault') hostHyp('kernel').log(e.kind === 'restarted' ? 'info' : 'warn', `${e.kind}: domain ${e.domain} (${e.components.join(', ')}): ${e.reason}`);
  }

  /** A fatal fault in the kernel's own thread: panic, and report how. */
  private fatal(effect: FaultEffect, reason: string): never {
    const report = kernelThreadPanic(effect, reason, this.placement.name);
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
}

/** A syscall's failure as vfs gave it (a ProcChannel's: the server converts it itself). */
const asVfsGaveIt = (err: unknown): unknown => err;

export const boot = Kernel.boot;
