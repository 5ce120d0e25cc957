// Placements: which component runs in which domain. A policy is a named placement; a JSON
// file can describe any other. Everything wrong with a placement is refused at boot with a
// sentence naming the problem.

import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SysError } from '../ipc/errno.js';
import type { ComponentDef } from './api.js';
import { BUILTIN, PURE_BUILTIN, loadComponent } from './registry.js';

/**
 * Where components run: the kernel's own thread, a worker thread, a child process, or a pool of
 * worker threads (piscina) that serves each call of its components on one of its workers, for
 * components declared pure only (ComponentDef.pure; kernel/domain-pool.ts).
 */
export const DOMAIN_KINDS = ['main', 'thread', 'process', 'pool'] as const;
export type DomainKind = (typeof DOMAIN_KINDS)[number];

export const POLICIES = ['monolithic', 'microkernel', 'multiprocess'] as const;
export type PolicyName = (typeof POLICIES)[number];

export interface DomainSpec {
  name: string;
  kind: DomainKind;
  components: string[];
  /** A pool: how many worker threads serve its calls (1–MAX_POOL_WORKERS). */
  workers?: number;
}

/** The most worker threads one pool domain may have. */
export const MAX_POOL_WORKERS = 64;

/** A pool's workers when the placement does not say: one per core the machine offers, at most MAX_POOL_WORKERS. */
export function defaultPoolWorkers(): number {
  return Math.min(availableParallelism(), MAX_POOL_WORKERS);
}

/**
 * A component module's specifier (a placement's `modules`) as one URL that every domain imports
 * alike: a URL stays, an absolute path becomes a file URL, and a package name or a relative path
 * is resolved here by Node's import rules, as main's import() resolves it. Left to each domain,
 * a thread started from a bundle resolved it from the working directory, or by require's rules
 * (a package's "require" export instead of its "import" one), and a process from its bundle's
 * place. One that does not resolve stays as it is, for loadComponent to say so.
 */
function moduleUrl(specifier: string): string {
  if (/^[a-z][a-z0-9+.-]*:/i.test(specifier)) return specifier;
  if (isAbsolute(specifier)) return pathToFileURL(specifier).href;
  try {
    return import.meta.resolve(specifier);
  } catch {
    return specifier;
  }
}

/** A placement as written: the JSON file's shape. */
export interface PlacementSpec {
  name: string;
  /** Domain name → its kind and the components it hosts. */
  domains: Record<string, { kind: DomainKind; components: string[]; workers?: number }>;
  /**
   * Extra components beside the built-in ones: name → module (in a file, a path relative to it;
   * else a URL, an absolute path or a package name: see moduleUrl).
   */
  modules?: Record<string, string>;
}

/** A placement checked against the components it places, ready to boot. */
export interface Placement {
  name: string;
  domains: DomainSpec[];
  /** Every component in the system, by name. */
  defs: Map<string, ComponentDef>;
  /** Every component's name → the URL of its module, undefined for a built-in one (found by name). */
  modules: Map<string, string | undefined>;
  /** Component name → the domain it runs in. */
  home: Map<string, string>;
  /** Components with everything they require before them: the start order. */
  order: string[];
}

function invalid(message: string): SysError {
  return new SysError('EINVAL', `placement: ${message}`);
}

/**
 * The three named policies, over the given components: monolithic puts them all in main;
 * microkernel gives each a thread domain, multiprocess a process domain, named after it — but
 * each of the `pure` ones (ComponentDef.pure) a pool domain of its own, named after it too.
 */
export function presetSpec(policy: PolicyName, components: readonly string[], pure: readonly string[] = PURE_BUILTIN): PlacementSpec {
  switch (policy) {
    case 'monolithic':
      return { name: policy, domains: { main: { kind: 'main', components: [...components] } } };
    case 'microkernel':
    case 'multiprocess': {
      const kind = policy === 'microkernel' ? 'thread' : 'process';
      return { name: policy, domains: Object.fromEntries(components.map((c) => [c, { kind: pure.includes(c) ? 'pool' : kind, components: [c] }])) };
    }
  }
}

/**
 * A placement with `component` moved into a domain of its own, named after it, of `kind`
 * (`workers`: a pool's worker threads); the rest as in `spec`, which is not changed. For
 * 'main', the component joins the main domain. A domain left empty by the move is dropped.
 */
export function placeComponent(spec: PlacementSpec, component: string, kind: DomainKind, workers?: number): PlacementSpec {
  const domains: PlacementSpec['domains'] = {};
  for (const [name, d] of Object.entries(spec.domains)) {
    const components = d.components.filter((c) => c !== component);
    if (components.length > 0 || name === 'main') domains[name] = { ...d, components };
  }
  const home = kind === 'main' ? 'main' : component;
  const there = domains[home]?.components ?? [];
  domains[home] = { kind, components: [...there.filter((c) => c !== component), component], ...(workers === undefined ? {} : { workers }) };
  if (domains.main?.components.length === 0) delete domains.main;
  return { ...spec, domains };
}

/** A policy name or the path of a placement JSON file → the placement's spec. */
export function readPlacement(policy: string): PlacementSpec {
  if ((POLICIES as readonly string[]).includes(policy)) return presetSpec(policy as PolicyName, BUILTIN);
  let text: string;
  try {
    text = readFileSync(policy, 'utf8');
  } catch (err) {
    throw new SysError('ENOENT', `policy '${policy}' is neither ${POLICIES.join(', ')} nor a readable placement file (${(err as Error).message})`);
  }
  let spec: unknown;
  try {
    spec = JSON.parse(text);
  } catch (err) {
    throw invalid(`${policy} is not valid JSON: ${(err as Error).message}`);
  }
  if (spec && typeof spec === 'object' && !Array.isArray(spec)) {
    const s = spec as PlacementSpec;
    if (s.modules && typeof s.modules === 'object') {
      const base = dirname(resolve(policy));
      s.modules = Object.fromEntries(Object.entries(s.modules).map(([k, v]) =>
        [k, typeof v === 'string' ? pathToFileURL(resolve(base, v)).href : v]));
    }
    if (typeof s.name !== 'string') s.name = policy;
  }
  return spec as PlacementSpec;
}

const DOMAIN_NAME = /^[a-z][a-z0-9-]*$/;

/** Checks a placement spec, loads its components' definitions, and works out the start order. */
export async function resolvePlacement(spec: unknown): Promise<Placement> {
  if (!spec || typeof spec !== 'object' || Array.isArray(spec)) throw invalid('must be a JSON object with "domains"');
  const s = spec as Partial<PlacementSpec>;
  if (!s.domains || typeof s.domains !== 'object' || Array.isArray(s.domains)) {
    throw invalid('"domains" must be an object mapping domain names to {kind, components}');
  }
  const modules = new Map<string, string | undefined>(BUILTIN.map((c) => [c, undefined]));
  if (s.modules !== undefined) {
    if (typeof s.modules !== 'object' || s.modules === null) throw invalid('"modules" must map component names to module paths');
    for (const [name, url] of Object.entries(s.modules)) {
      if (typeof url !== 'string') throw invalid(`module path for component '${name}' must be a string`);
      if (modules.has(name)) throw invalid(`module '${name}' has the name of a built-in component`);
      modules.set(name, moduleUrl(url));
    }
  }

  const domains: DomainSpec[] = [];
  const home = new Map<string, string>();
  for (const [name, d] of Object.entries(s.domains)) {
    if (!DOMAIN_NAME.test(name)) throw invalid(`domain name '${name}' must be lower-case letters, digits and dashes`);
    if (!d || typeof d !== 'object') throw invalid(`domain '${name}' must be an object {kind, components}`);
    if (!(DOMAIN_KINDS as readonly string[]).includes(d.kind)) {
      throw invalid(`domain '${name}' has unknown kind '${String(d.kind)}' (known: ${DOMAIN_KINDS.join(', ')})`);
    }
    if ((d.kind === 'main') !== (name === 'main')) {
      throw invalid(`the domain named 'main' is the kernel's own thread and must be of kind main, and no other domain can be (domain '${name}' has kind ${d.kind})`);
    }
    if (!Array.isArray(d.components) || !d.components.every((c) => typeof c === 'string')) {
      throw invalid(`domain '${name}' must list its components as an array of names`);
    }
    if (d.components.length === 0) throw invalid(`domain '${name}' hosts no components (leave it out, or place a component in it)`);
    if (d.workers !== undefined && d.kind !== 'pool') throw invalid(`domain '${name}' is of kind ${d.kind}: only a pool domain has "workers"`);
    if (d.workers !== undefined && !(Number.isInteger(d.workers) && d.workers >= 1 && d.workers <= MAX_POOL_WORKERS)) {
      throw invalid(`domain '${name}' has "workers": ${JSON.stringify(d.workers)}; it must be an integer from 1 to ${MAX_POOL_WORKERS}`);
    }
    for (const c of d.components) {
      if (!modules.has(c)) throw invalid(`domain '${name}' places unknown component '${c}' (known: ${[...modules.keys()].join(', ')})`);
      const other = home.get(c);
      if (other !== undefined) throw invalid(`component '${c}' is placed twice, in domain '${other}' and in domain '${name}'`);
      home.set(c, name);
    }
    domains.push({ name, kind: d.kind, components: [...d.components], ...(d.kind === 'pool' ? { workers: d.workers ?? defaultPoolWorkers() } : {}) });
  }
  for (const c of modules.keys()) {
    if (!home.has(c)) throw invalid(`component '${c}' is not placed in any domain`);
  }

  const defs = new Map<string, ComponentDef>();
  for (const [name, url] of modules) defs.set(name, await loadComponent(name, url));
  for (const [name, def] of defs) {
    for (const r of def.requires) {
      if (!defs.has(r)) throw invalid(`component '${name}' requires '${r}', which is not in the system`);
    }
  }
  for (const d of domains) if (d.kind === 'pool') for (const c of d.components) checkPoolable(defs.get(c)!, d.name);
  return { name: typeof s.name === 'string' ? s.name : 'custom', domains, defs, modules, home, order: startOrder(defs) };
}

/**
 * Refuses a component in a pool domain unless it is declared pure and requires nothing: a pool
 * runs each call on any of its workers, each with its own copy of the component, and retries a
 * call whose worker died, which only a stateless, idempotent component survives unchanged.
 */
function checkPoolable(def: ComponentDef, domain: string): void {
  if (def.pure !== true) {
    throw invalid(`component '${def.name}' cannot run in pool domain '${domain}': it is not declared pure (a pool serves each call on any of its workers and retries it on another when one dies; only a component whose ops keep no state can be served so)`);
  }
  if (def.requires.length > 0) {
    throw invalid(`component '${def.name}' cannot run in pool domain '${domain}': a pure component requires nothing, and it requires ${def.requires.map((r) => `'${r}'`).join(', ')}`);
  }
}

/** Dependencies first; a cycle in `requires` is refused, naming its members. */
function startOrder(defs: Map<string, ComponentDef>): string[] {
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, path: string[]) => {
    const st = state.get(name);
    if (st === 'done') return;
    if (st === 'visiting') {
      const cycle = [...path.slice(path.indexOf(name)), name];
      throw invalid(`'requires' has a cycle: ${cycle.join(' → ')}`);
    }
    state.set(name, 'visiting');
    for (const r of defs.get(name)!.requires) visit(r, [...path, name]);
    state.set(name, 'done');
    order.push(name);
  };
  for (const name of [...defs.keys()].sort()) visit(name, []);
  return order;
}
