// The supervisor, as MINIX 3's reincarnation server: it notices a domain that exits, throws,
// runs out of memory (its thread or process ends), stops answering (the heartbeat) or loses its
// channel to the core, and restarts it in a fresh thread or process as its supervision says
// (supervisor-policy.ts) — with backoff, within its restart intensity, then its dependents under
// rest_for_one — or gives up on it, and on the domains that require it; giving up on an
// essential domain panics the kernel. A channel between two domains that closed while both ran
// is made again; if that fails, the domain that listens is restarted.

import { SysError } from '../ipc/errno.js';
import { MAIN } from './domain.js';
import type { Domains } from './domains.js';
import type { Placement } from './placement.js';
import type { Heartbeat } from './supervisor-policy.js';
import { pairKey, peerPairs, socketEnds } from './topology.js';

/** Something the supervisor saw or did, or a fault armed (Kernel.events, BootOptions.onEvent). */
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

/** What the supervisor uses of the domains: their states; launching, loading, connecting, controlling them. */
export type SupervisedDomains = Pick<Domains, 'states' | 'get' | 'launch' | 'load' | 'connect' | 'control' | 'peerDown'>;

/** What the supervisor needs of the kernel: its domains, and a few of its duties. */
export interface SupervisedKernel {
  readonly placement: Placement;
  readonly domains: SupervisedDomains;
  readonly heartbeat: Heartbeat;
  /** Starts a component of a domain's new incarnation, by its restart init path. */
  restartComponent(component: string): Promise<void>;
  /** Records an event, and reports it to the onEvent hook and the log. */
  log(e: Omit<KernelEvent, 'at'>): void;
  /** Stops the kernel with a report: an essential domain is lost for good. */
  panic(report: string): Promise<void>;
  /** Whether the kernel is halting (a panic halts it too): nothing is restarted or mended then. */
  stopping(): boolean;
}

/** How long a lost channel waits for the exit of a domain that died to be seen: its exit is the better reason. */
const EXIT_GRACE_MS = 250;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Supervises one kernel's domains; the kernel starts it after boot and stops its heartbeat at halt. */
export class Supervisor {
  /** Channels between domains being mended, by pairKey. */
  private readonly mending = new Map<string, Promise<void>>();
  private heartbeatTimer: ReturnType<typeof setInterval> | null = null;

  constructor(private readonly kernel: SupervisedKernel) {}

  /**
   * A domain exited or stopped answering: restart it as its supervision says, or give up.
   * Resolves when that is done; a domain already restarting, or given up on, is left to it.
   */
  failed(name: string, reason: string | Promise<string>): Promise<void> {
    const st = this.kernel.domains.get(name);
    if (this.kernel.stopping() || st.restarting || st.status === 'failed') return st.restarting ?? Promise.resolve();
    st.status = 'restarting';
    st.restarting = this.restart(name, reason).finally(() => {
      st.restarting = null;
    });
    return st.restarting;
  }

  /**
   * The core's channel to a running domain broke: the domain died (its exit may be reported
   * later) or went mad. Its exit, when it comes soon, is the reason given.
   */
  peerLost(peer: string, reason: string): void {
    const st = this.kernel.domains.states.get(peer);
    const host = st?.host;
    if (st?.status !== 'running' || !host) return;
    const broke = new Promise<string>((resolve) => setTimeout(() => resolve(`its channel to the core broke (${reason})`), EXIT_GRACE_MS).unref());
    void this.failed(peer, Promise.race([host.exited.then((why) => `its ${st.spec.kind} ${why}`), broke]));
  }

  /**
   * One end of the channel between two domains saw it close. If a domain died, its restart
   * makes the channel again; if both still run (both answer, and neither holds the channel any
   * more), the loss is reported and the channel made again, and if that fails, the domain that
   * listens is restarted as its supervision says. Reports from both ends, and any while it is
   * being mended, are one.
   */
  channelLost(from: string, peer: string, reason: string): void {
    const { placement, domains } = this.kernel;
    const key = pairKey(from, peer);
    if (this.kernel.stopping() || this.mending.has(key) || !peerPairs(placement).some(([x, y]) => pairKey(x, y) === key)) return;
    const a = domains.get(from);
    const b = domains.get(peer);
    const generations = [a.generation, b.generation];
    const bothRun = () => !this.kernel.stopping() && [a, b].every((s, i) => s.status === 'running' && !s.restarting && s.generation === generations[i]);
    // What a domain holds channels to; a domain that died (its exit not seen yet) never answers.
    const channels = (d: string) => domains.control(d, 'channels', {}, this.kernel.heartbeat.timeoutMs) as Promise<string[]>;
    const mend = async () => {
      await sleep(EXIT_GRACE_MS); // a domain that died is reported by its exit soon: that comes first
      if (!bothRun()) return;
      const [ofFrom, ofPeer] = await Promise.all([channels(from), channels(peer)]);
      if (!bothRun() || (ofFrom.includes(peer) && ofPeer.includes(from))) return;
      this.kernel.log({ kind: 'channel-lost', domain: from, components: a.spec.components, reason: `its channel to domain ${peer} closed while both ran (${reason}); making it again` });
      const [x, y] = [from, peer].sort();
      try {
        await domains.connect(x, y);
        this.kernel.log({ kind: 'reconnected', domain: from, components: a.spec.components, reason: `channel to domain ${peer} made again` });
      } catch (err) {
        if (!bothRun()) return;
        const [dialer, listener] = socketEnds(placement, x, y);
        void this.failed(listener, `its channel to domain ${dialer} could not be made again (${(err as Error).message})`);
      }
    };
    const p = mend().catch(() => {}).finally(() => this.mending.delete(key));
    this.mending.set(key, p);
  }

  /** Pings every running domain each heartbeat period; one that does not answer in time has failed. */
  startHeartbeat(): void {
    const { periodMs, timeoutMs } = this.kernel.heartbeat;
    if (periodMs <= 0) return;
    const inFlight = new Set<string>();
    this.heartbeatTimer = setInterval(() => {
      for (const [name, st] of this.kernel.domains.states) {
        if (name === MAIN || st.status !== 'running' || inFlight.has(name)) continue;
        inFlight.add(name);
        const gen = st.generation;
        this.kernel.domains.control(name, 'ping', {}, timeoutMs)
          .catch((err: SysError) => {
            if (err.errno === 'ETIMEDOUT' && st.generation === gen) void this.failed(name, `it stopped answering (no heartbeat reply in ${timeoutMs} ms)`);
          })
          .finally(() => inFlight.delete(name));
      }
    }, periodMs);
    this.heartbeatTimer.unref();
  }

  /** Stops the pings (at halt). */
  stopHeartbeat(): void {
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = null;
  }

  private async restart(name: string, reason: string | Promise<string>): Promise<void> {
    const { kernel } = this;
    const st = kernel.domains.get(name);
    kernel.log({ kind: 'failed', domain: name, components: st.spec.components, reason: await reason });
    for (;;) {
      await st.host?.kill(0);
      st.host = null;
      const delay = st.supervision.restart === 'temporary' ? null : st.record.next(performance.now());
      if (delay === null) return this.giveUp(name);
      if (delay > 0) await sleep(delay);
      if (kernel.stopping()) return;
      st.restarts++;
      try {
        await this.relaunch(name);
        st.status = 'running';
        kernel.log({ kind: 'restarted', domain: name, components: st.spec.components, reason: `incarnation ${st.restarts + 1}` });
        break;
      } catch (err) {
        if (kernel.stopping()) return;
        kernel.log({ kind: 'failed', domain: name, components: st.spec.components, reason: `while starting: ${(err as Error).message}` });
      }
    }
    if (st.supervision.strategy === 'rest_for_one') {
      for (const dep of this.dependentDomains(name)) await this.failed(dep, `rest_for_one after domain ${name} restarted`);
    }
  }

  /** A new incarnation of a domain: fresh thread or process, its channels, its components. */
  private async relaunch(name: string): Promise<void> {
    const { placement, domains } = this.kernel;
    const st = domains.get(name);
    domains.launch(name);
    const gen = st.generation;
    await domains.load(name);
    for (const [x, y] of peerPairs(placement)) {
      if ((x === name || y === name) && domains.get(x === name ? y : x).host) await domains.connect(x, y);
    }
    for (const c of placement.order.filter((c) => st.spec.components.includes(c))) {
      if (st.generation !== gen) throw new SysError('EIO', `domain ${name} died again while starting`);
      await this.kernel.restartComponent(c);
    }
  }

  /** Domains hosting components that require one of `name`'s components, other than it. */
  private dependentDomains(name: string): string[] {
    const { placement, domains } = this.kernel;
    const mine = new Set(domains.get(name).spec.components);
    const out = new Set<string>();
    for (const [c, def] of placement.defs) {
      const where = placement.home.get(c)!;
      if (where !== name && where !== MAIN && def.requires.some((r) => mine.has(r))) out.add(where);
    }
    return [...out];
  }

  /** Intensity exceeded (or temporary): the domain stays down, its dependents stop, maybe the kernel. */
  private async giveUp(name: string): Promise<void> {
    const { kernel } = this;
    const st = kernel.domains.get(name);
    st.status = 'failed';
    const why = st.supervision.restart === 'temporary' ? 'temporary' : `more than ${st.supervision.intensity.max} restarts in ${st.supervision.intensity.withinMs} ms`;
    kernel.log({ kind: 'gave-up', domain: name, components: st.spec.components, reason: why });
    await kernel.domains.peerDown(name);
    if (st.supervision.essential) {
      await kernel.panic(`essential domain ${name} (${st.spec.components.join(', ')}) failed and cannot be restarted`);
      return;
    }
    for (const dep of this.dependentDomains(name)) {
      const d = kernel.domains.get(dep);
      if (d.status === 'failed') continue;
      d.status = 'failed';
      kernel.log({ kind: 'gave-up', domain: dep, components: d.spec.components, reason: `it requires domain ${name}, which failed` });
      const host = d.host;
      d.host = null;
      await host?.kill(0);
    }
  }
}
