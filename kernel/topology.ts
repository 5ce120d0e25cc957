// The channel topology of a placement: which domains get a channel between them, what carries
// it, which end of a socket channel dials and which listens, and the plan each domain is loaded
// with (whom it calls, who may call it). Pure functions of the placement, so a domain's restart
// makes exactly the channels its boot made.

import { MAIN, type CallPolicy, type DomainPlan } from './domain.js';
import type { DomainKind, Placement } from './placement.js';

/** Names the channel between two domains, either way round: pairKey(a, b) === pairKey(b, a). */
export const pairKey = (a: string, b: string): string => [a, b].sort().join('\0');

/** The kind of a domain of the placement; 'main' for MAIN, which a placement may leave out. */
export function kindOf(placement: Placement, domain: string): DomainKind {
  return domain === MAIN ? 'main' : placement.domains.find((d) => d.name === domain)!.kind;
}

/**
 * Where calls to a component go: its domain, but MAIN for a component of a pool domain, whose
 * calls the main domain hands to its pool (kernel/domain-pool.ts). A pool has no channels.
 */
export function routeOf(placement: Placement, component: string): string {
  const home = placement.home.get(component)!;
  return kindOf(placement, home) === 'pool' ? MAIN : home;
}

/**
 * Whether the channel between two non-main domains is a socket (a process on either end); one
 * between two threads is a MessageChannel (with shared-memory rings, as the transport says).
 */
export function overSocket(placement: Placement, x: string, y: string): boolean {
  return kindOf(placement, x) === 'process' || kindOf(placement, y) === 'process';
}

/**
 * Every pair of non-main domains that a `requires` edge joins, once each, as [x, y] with x < y.
 * Main is in no pair: the core, in main, holds a link to every domain from its launch.
 */
export function peerPairs(placement: Placement): [string, string][] {
  const pairs = new Map<string, [string, string]>();
  for (const [name, def] of placement.defs) {
    for (const r of def.requires) {
      const a = routeOf(placement, name);
      const b = routeOf(placement, r);
      if (a === b || a === MAIN || b === MAIN) continue;
      const [x, y] = [a, b].sort();
      pairs.set(pairKey(x, y), [x, y]);
    }
  }
  return [...pairs.values()];
}

/**
 * Of a socket channel's two domains: [the one that connects, the one that listens]. A process
 * domain listens and its peer connects; of two processes, the later one in the placement connects.
 */
export function socketEnds(placement: Placement, x: string, y: string): [dialer: string, listener: string] {
  const order = placement.domains.map((d) => d.name);
  const kx = kindOf(placement, x);
  return kindOf(placement, y) === 'process' && (kx !== 'process' || order.indexOf(x) > order.indexOf(y)) ? [x, y] : [y, x];
}

/** What a domain's plan needs beyond the placement: this boot's sockets, keys and call policy. */
export interface Wiring {
  /** The unix socket a process domain listens on. */
  socketPath(domain: string): string;
  /** The key of the socket channel between two domains (either way round). */
  channelKey(x: string, y: string): Uint8Array;
  /** Deadlines and retries of the calls the domain makes. */
  calls: CallPolicy;
}

/**
 * The plan a domain is loaded with: the components it hosts, where the components they require
 * live (and which of their ops are idempotent), which peer domains may call which of its
 * components, and the keys of its socket channels. The core (in MAIN) may call every component;
 * it holds a channel to every domain.
 */
export function planFor(placement: Placement, domain: string, wiring: Wiring): DomainPlan {
  const isMain = domain === MAIN;
  const components: DomainPlan['components'] = (placement.domains.find((d) => d.name === domain)?.components ?? [])
    .map((name) => ({ name, module: placement.modules.get(name) }));
  // The main domain hosts a proxy of each component of each pool domain.
  if (isMain) {
    for (const d of placement.domains) if (d.kind === 'pool') components.push(...d.components.map((name) => ({ name, module: placement.modules.get(name), pool: d.name })));
  }
  const home: Record<string, string> = {};
  const accepts: Record<string, string[]> = {};
  const idempotent: Record<string, string[]> = {};
  const callee = (name: string) => {
    home[name] = routeOf(placement, name);
    idempotent[name] = Object.entries(placement.defs.get(name)!.ops).filter(([, s]) => s.idempotent).map(([op]) => op);
  };
  for (const [name, def] of placement.defs) {
    const from = routeOf(placement, name);
    for (const r of def.requires) {
      const to = routeOf(placement, r);
      if (from === domain && to !== domain) callee(r);
      if (to === domain && from !== domain) {
        const list = (accepts[from] ??= []);
        if (!list.includes(r)) list.push(r);
      }
    }
  }
  if (isMain) for (const name of placement.home.keys()) if (routeOf(placement, name) !== MAIN) callee(name);
  if (!isMain) accepts[MAIN] = [...new Set([...(accepts[MAIN] ?? []), ...components.map((c) => c.name)])];
  const kind = kindOf(placement, domain);
  const keys: Record<string, Uint8Array> = {};
  for (const [x, y] of peerPairs(placement)) {
    if ((x === domain || y === domain) && overSocket(placement, x, y)) keys[x === domain ? y : x] = wiring.channelKey(x, y);
  }
  return {
    domain,
    kind,
    listen: kind === 'process' ? wiring.socketPath(domain) : undefined,
    components,
    home, accepts, idempotent, keys, calls: wiring.calls,
  };
}
