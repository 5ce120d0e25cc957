// The domain runtime: the same code hosts components in the kernel's main thread, in a worker
// thread and in a child process. It loads the components placed here, gives each a Context,
// routes each call — a direct call when the callee is in this domain, the peer domain's
// endpoint otherwise — and serves requests from peers, but only for the components each peer
// holds a channel to. Requests for '@domain' are the core's control plane and come only from
// the main domain.

import { SysError, toSysError } from '../ipc/errno.js';
import { Endpoint } from '../ipc/endpoint.js';
import type { Link } from '../ipc/frame.js';
import type { ComponentDef, Context, Handlers, StartInfo } from './api.js';
import type { Hyp } from './hyp.js';
import type { DomainKind } from './placement.js';
import { loadComponent } from './registry.js';
import { validateArgs } from './validate.js';

/** What the core tells a domain to host and whom it may talk to. */
export interface DomainPlan {
  domain: string;
  kind: DomainKind;
  components: { name: string; module: string }[];
  /** For each component outside this domain that a component here requires: its domain. */
  home: Record<string, string>;
  /** Peer domain → the components here that it may call. */
  accepts: Record<string, string[]>;
}

/** The control target: ops the core invokes on a domain. */
export const CONTROL = '@domain';

/** The main domain's name; it hosts the core. */
export const MAIN = 'main';

interface Hosted {
  def: ComponentDef;
  handlers: Handlers | null;
  requires: Set<string>;
  stats: { served: number; failed: number };
}

export interface DomainHooks {
  /** Builds the hyp instance for one component of this domain. */
  hyp(tag: string): Hyp;
  /** Opens links to peers that are not attached by the core (e.g. sockets to processes). */
  connect?(peer: string, address: string): Promise<Link>;
}

export class Domain {
  private readonly hosted = new Map<string, Hosted>();
  private readonly home = new Map<string, string>();
  private readonly accepts = new Map<string, Set<string>>();
  private readonly peers = new Map<string, Endpoint>();
  /** Control ops beyond the built-in ones, added by the entry that runs this domain. */
  readonly control = new Map<string, (args: any) => unknown>();

  constructor(
    readonly name: string,
    readonly kind: DomainKind,
    private readonly hooks: DomainHooks,
  ) {
    this.control.set('load', (plan: DomainPlan) => this.load(plan));
    this.control.set('start', (a: { component: string; info: StartInfo }) => this.start(a.component, a.info));
    this.control.set('stop', (a: { component: string }) => this.stop(a.component));
    this.control.set('connect', (a: { peer: string; address: string }) => this.connect(a.peer, a.address));
    this.control.set('ping', () => ({ domain: this.name, components: [...this.hosted.keys()] }));
    this.control.set('stats', () => this.stats());
  }

  get components(): string[] {
    return [...this.hosted.keys()];
  }

  /** Imports the components placed here (without starting them) and records the routes. */
  async load(plan: DomainPlan): Promise<void> {
    for (const [c, d] of Object.entries(plan.home)) this.home.set(c, d);
    for (const [peer, list] of Object.entries(plan.accepts)) this.accepts.set(peer, new Set(list));
    for (const { name, module } of plan.components) {
      const def = await loadComponent(name, module);
      this.hosted.set(name, { def, handlers: null, requires: new Set(def.requires), stats: { served: 0, failed: 0 } });
      for (const r of def.requires) if (!this.home.has(r)) this.home.set(r, this.name);
    }
  }

  /** Runs a component's start(); the components it requires are already started. */
  async start(name: string, info: StartInfo): Promise<void> {
    const h = this.hosted.get(name);
    if (!h) throw new SysError('ENXIO', `domain ${this.name} does not host component ${name}`);
    const ctx: Context = {
      name,
      hyp: this.hooks.hyp(name),
      call: (to, op, args) => this.callFrom(h, to, op, args) as Promise<any>,
    };
    try {
      h.handlers = await h.def.start(ctx, info);
    } catch (err) {
      throw toSysError(err, `${name}: start`);
    }
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
    this.peers.get(peer)?.close('replaced');
    const ep = new Endpoint(link, `domain ${peer}`, (to, op, args) => this.serveFrom(peer, to, op, args));
    ep.onClose = () => {
      if (this.peers.get(peer) === ep) this.peers.delete(peer);
    };
    this.peers.set(peer, ep);
    return ep;
  }

  /**
   * Takes a link whose peer is not known yet (an accepted socket): its first request must be
   * '@domain.hello' with the peer's domain name, which must be one this domain expects.
   */
  acceptLink(link: Link): void {
    let peer: string | null = null;
    const ep = new Endpoint(link, 'an unidentified domain', (to, op, args) => {
      if (peer !== null) return this.serveFrom(peer, to, op, args);
      const from = (args as { from?: unknown } | null)?.from;
      if (to !== CONTROL || op !== 'hello' || typeof from !== 'string') {
        throw new SysError('EPERM', `${to}.${op}: a peer must say hello first`);
      }
      if (!this.accepts.has(from) && ![...this.home.values()].includes(from)) {
        throw new SysError('EPERM', `domain ${this.name} expects no channel from '${from}'`);
      }
      peer = from;
      this.peers.get(from)?.close('replaced');
      this.peers.set(from, ep);
      ep.onClose = () => {
        if (this.peers.get(from) === ep) this.peers.delete(from);
      };
      return { domain: this.name };
    });
  }

  /** Opens this domain's side of a channel to a peer at a transport address. */
  async connect(peer: string, address: string): Promise<void> {
    if (!this.hooks.connect) throw new SysError('ENOTSUP', `domain ${this.name} cannot open connections`);
    const ep = this.addPeer(peer, await this.hooks.connect(peer, address));
    await ep.call(CONTROL, 'hello', { from: this.name });
  }

  peer(name: string): Endpoint | undefined {
    return this.peers.get(name);
  }

  /** Closes every channel; pending calls on them fail with EIO. */
  closePeers(reason: string): void {
    for (const ep of [...this.peers.values()]) ep.close(reason);
    this.peers.clear();
  }

  /**
   * A call made by the core itself (as a client of vfs, or for administration): the core
   * holds a channel to every component.
   */
  kernelCall(to: string, op: string, args: unknown): Promise<unknown> {
    return this.route(to, op, args);
  }

  /** Runs an op of a component hosted here: validation, the handler, errno normalisation. */
  async dispatch(to: string, op: string, args: unknown): Promise<unknown> {
    const h = this.hosted.get(to);
    if (!h) throw new SysError('ENXIO', `no component '${to}' in domain ${this.name}`);
    const where = `${to}.${op}`;
    try {
      const spec = Object.hasOwn(h.def.ops, op) ? h.def.ops[op] : undefined;
      if (!spec) throw new SysError('ENOSYS', `${to}: unknown op '${op}'`);
      validateArgs(where, spec, args);
      const handlers = h.handlers;
      if (!handlers) throw new SysError('ENXIO', `${to} is not running`);
      const result = await handlers[op](args);
      h.stats.served++;
      return result;
    } catch (err) {
      h.stats.served++;
      h.stats.failed++;
      throw toSysError(err, where);
    }
  }

  private callFrom(caller: Hosted, to: string, op: string, args: unknown): Promise<unknown> {
    if (!caller.requires.has(to)) {
      return Promise.reject(new SysError('EPERM', `${caller.def.name} may not call ${to}.${op}: '${to}' is not in its requires`));
    }
    return this.route(to, op, args);
  }

  private route(to: string, op: string, args: unknown): Promise<unknown> {
    if (this.hosted.has(to)) return this.dispatch(to, op, args);
    const where = this.home.get(to);
    if (where === undefined) return Promise.reject(new SysError('ENXIO', `no component named '${to}'`));
    const ep = this.peers.get(where);
    if (!ep) return Promise.reject(new SysError('EIO', `${to}.${op}: no channel to domain ${where}`));
    return ep.call(to, op, args);
  }

  private serveFrom(peer: string, to: string, op: string, args: unknown): unknown {
    if (to === CONTROL) {
      const fn = peer === MAIN ? this.control.get(op) : undefined;
      if (!fn) throw new SysError(peer === MAIN ? 'ENOSYS' : 'EPERM', `${CONTROL}.${op}: not a control op for ${peer}`);
      return fn(args);
    }
    if (!this.accepts.get(peer)?.has(to)) {
      throw new SysError('EPERM', `domain ${peer} holds no channel to ${to} in domain ${this.name}`);
    }
    return this.dispatch(to, op, args);
  }

  private stats(): Record<string, { served: number; failed: number }> {
    return Object.fromEntries([...this.hosted].map(([n, h]) => [n, { ...h.stats }]));
  }
}
