// The core: boots a placement (domains, channels along `requires`, components in dependency
// order), mounts the default file systems, hands out client processes, and halts leaving no
// thread or process behind.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import { SysError } from '../ipc/errno.js';
import { CONTROL, Domain, MAIN, type DomainPlan } from './domain.js';
import { THREAD_TRANSPORTS, startProcess, startThread, type HostedDomain, type ThreadTransport } from './domain-host.js';
import { ringPair } from '../ipc/ring-link.js';
import { hostHyp } from './hyp-host.js';
import { readPlacement, resolvePlacement, type Placement, type PlacementSpec } from './placement.js';
import { Proc, type Credentials } from './proc.js';

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
  /** Between threads (and the main thread): 'postMessage' (default) or 'ring' (shared memory). */
  transport?: ThreadTransport;
}

export const DEFAULT_MOUNTS: MountSpec[] = [
  { target: '/', fstype: 'tmpfs' },
  { target: '/tmp', fstype: 'tmpfs' },
  { target: '/dev', fstype: 'dev' },
];

export interface DomainInfo {
  name: string;
  kind: string;
  components: string[];
  /** OS process id or worker thread id; the kernel's own pid for main. */
  id: number;
}

export class Kernel {
  private readonly hosted = new Map<string, HostedDomain>();
  private socketDir: string | null = null;
  private nextPid = 1;
  private halted = false;
  /** pid 1: the core's own client process, which made the boot mounts. */
  init!: Proc;

  private constructor(
    readonly placement: Placement,
    private readonly main: Domain,
    readonly transport: ThreadTransport,
  ) {}

  /** Boots a kernel under the given policy. Any problem is refused with a SysError. */
  static async boot(options: BootOptions = {}): Promise<Kernel> {
    const spec = typeof options.policy === 'object' ? options.policy : readPlacement(options.policy ?? 'monolithic');
    const transport = options.transport ?? 'postMessage';
    if (!THREAD_TRANSPORTS.includes(transport)) {
      throw new SysError('EINVAL', `unknown transport '${transport}' (known: ${THREAD_TRANSPORTS.join(', ')})`);
    }
    const placement = await resolvePlacement(spec);
    const kernel = new Kernel(placement, new Domain(MAIN, 'main', { hyp: hostHyp }), transport);
    try {
      await kernel.startDomains();
      kernel.init = await kernel.spawn({ uid: 0, gid: 0 });
      for (const m of options.mounts ?? DEFAULT_MOUNTS) {
        if (m.target !== '/') await kernel.init.mkdir(m.target, { recursive: true, mode: 0o755 });
        await kernel.init.mount(m.target, m.fstype, { source: m.source, readonly: m.readonly });
      }
    } catch (err) {
      await kernel.halt();
      throw err;
    }
    return kernel;
  }

  /** A new client process: its own fd table and cwd in vfs, with these credentials. */
  async spawn(cred: Partial<Credentials> = {}): Promise<Proc> {
    const pid = this.nextPid++;
    const full: Credentials = { uid: cred.uid ?? 0, gid: cred.gid ?? 0 };
    await this.call('vfs', 'spawn', { pid, uid: full.uid, gid: full.gid });
    return new Proc(pid, full, (op, args) => this.call('vfs', op, { pid, ...args }));
  }

  /**
   * Calls any op of any component through the core's own channels: for administration and
   * tests. Client programs use processes from spawn().
   */
  call<T = unknown>(component: string, op: string, args: Record<string, unknown> = {}): Promise<T> {
    if (this.halted) return Promise.reject(new SysError('EIO', `${component}.${op}: the kernel has halted`));
    return this.main.kernelCall(component, op, args) as Promise<T>;
  }

  domains(): DomainInfo[] {
    return this.placement.domains.map((d) => ({
      name: d.name,
      kind: d.kind,
      components: [...d.components],
      id: d.kind === 'main' ? process.pid : (this.hosted.get(d.name)?.id ?? -1),
    }));
  }

  /** Unmounts everything (syncing), stops every component, ends every thread and process. */
  async halt(): Promise<void> {
    if (this.halted) return;
    try {
      if (this.init) await this.call('vfs', 'unmountAll', {}).catch(() => {});
      for (const c of [...this.placement.order].reverse()) await this.control(c, 'stop', { component: c }).catch(() => {});
    } finally {
      this.halted = true;
      this.main.closePeers('the kernel halted');
      await Promise.all([...this.hosted.values()].map((d) => d.kill()));
      this.hosted.clear();
      if (this.socketDir) rmSync(this.socketDir, { recursive: true, force: true });
    }
  }

  // ---- boot ----------------------------------------------------------------------------

  private async startDomains(): Promise<void> {
    const { placement } = this;
    const remote = placement.domains.filter((d) => d.kind !== 'main');
    if (remote.some((d) => d.kind === 'process')) this.socketDir = mkdtempSync(join(tmpdir(), 'rumpus-'));
    for (const d of remote) {
      const h = d.kind === 'thread' ? startThread(d.name, this.transport) : startProcess(d.name, this.socketPath(d.name));
      this.hosted.set(d.name, h);
      this.main.addPeer(d.name, h.link);
    }
    const mainSpec = placement.domains.find((d) => d.kind === 'main');
    await Promise.all([
      this.main.load(this.planFor(MAIN, mainSpec?.components ?? [], true)),
      ...remote.map((d) => this.controlDomain(d.name, 'load', this.planFor(d.name, d.components, false))),
    ]);
    await this.connectPeers();
    for (const c of placement.order) await this.control(c, 'start', { component: c, info: { restart: false, generation: 0 } });
  }

  private socketPath(domain: string): string {
    return join(this.socketDir!, `${domain}.sock`);
  }

  /** Which components a domain hosts, where its components' dependencies live, who may call it. */
  private planFor(domain: string, components: string[], isMain: boolean): DomainPlan {
    const { placement } = this;
    const home: Record<string, string> = {};
    const accepts: Record<string, string[]> = {};
    for (const [name, def] of placement.defs) {
      const from = placement.home.get(name)!;
      for (const r of def.requires) {
        const to = placement.home.get(r)!;
        if (from === domain && to !== domain) home[r] = to;
        if (to === domain && from !== domain) {
          const list = (accepts[from] ??= []);
          if (!list.includes(r)) list.push(r);
        }
      }
    }
    // The core, in main, holds a channel to every component.
    for (const [name, where] of placement.home) {
      if (where === domain) continue;
      if (isMain) home[name] = where;
    }
    if (!isMain) accepts[MAIN] = [...new Set([...(accepts[MAIN] ?? []), ...components])];
    return {
      domain,
      kind: isMain ? 'main' : placement.domains.find((d) => d.name === domain)!.kind,
      components: components.map((name) => ({ name, module: placement.modules.get(name)! })),
      home,
      accepts,
    };
  }

  /** A channel for every pair of non-main domains that a `requires` edge joins. */
  private async connectPeers(): Promise<void> {
    const { placement } = this;
    const pairs = new Map<string, [string, string]>();
    for (const [name, def] of placement.defs) {
      for (const r of def.requires) {
        const a = placement.home.get(name)!;
        const b = placement.home.get(r)!;
        if (a === b || a === MAIN || b === MAIN) continue;
        const [x, y] = [a, b].sort();
        pairs.set(`${x}\0${y}`, [x, y]);
      }
    }
    const order = placement.domains.map((d) => d.name);
    for (const [x, y] of pairs.values()) {
      const hx = this.hosted.get(x)!;
      const hy = this.hosted.get(y)!;
      if (hx.kind === 'thread' && hy.kind === 'thread') {
        const { port1, port2 } = new MessageChannel();
        const ends = this.transport === 'ring' ? ringPair(hx.bell!, hy.bell!) : null;
        hx.attachPort!(y, port1, ends?.a);
        hy.attachPort!(x, port2, ends?.b);
      } else {
        // A process domain listens; its peer connects (of two processes, the later one).
        const [dialer, listener] =
          hy.kind === 'process' && (hx.kind === 'thread' || order.indexOf(x) > order.indexOf(y)) ? [x, y] : [y, x];
        await this.controlDomain(dialer, 'connect', { peer: listener, address: this.socketPath(listener) });
      }
    }
  }

  /** A control op for the domain that hosts `component`. */
  private control(component: string, op: string, args: unknown): Promise<unknown> {
    const where = this.placement.home.get(component)!;
    if (where === MAIN) return Promise.resolve(this.main.control.get(op)!(args));
    return this.controlDomain(where, op, args);
  }

  private controlDomain(domain: string, op: string, args: unknown): Promise<unknown> {
    const ep = this.main.peer(domain);
    if (!ep) return Promise.reject(new SysError('EIO', `domain ${domain} is not running`));
    return ep.call(CONTROL, op, args);
  }
}

export const boot = Kernel.boot;
