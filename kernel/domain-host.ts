// Starting and stopping the domains that run outside the kernel's main thread: a worker
// thread or a child process, each with an endpoint the core uses to control it and to call
// the components it hosts.

import { spawn, type ChildProcess } from 'node:child_process';
import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { StreamLink } from '../ipc/stream-link.js';
import { PortLink, type PortLike } from '../ipc/port-link.js';
import { availableParallelism } from 'node:os';
import { CoreShare, Poller } from '../ipc/poller.js';
import { Doorbell } from '../ipc/ring.js';
import { RingLink, ringPair, type RingEnds } from '../ipc/ring-link.js';
import type { Link } from '../ipc/frame.js';
import type { DomainKind } from './placement.js';
import { BUILTIN } from './registry.js';

/** How threads talk: shared-memory rings (the fast path) or postMessage (the baseline). */
export const THREAD_TRANSPORTS = ['ring', 'postMessage'] as const;
export type ThreadTransport = (typeof THREAD_TRANSPORTS)[number];

/** Who may spin: the cores, shared with every worker (ipc/poller.ts). */
const coreShare = new CoreShare(CoreShare.allocate(availableParallelism()));

/** The main thread's doorbell and poller, shared by every kernel booted in this process. */
let mainPoller: Poller | null = null;
export function mainThreadPoller(): Poller {
  return (mainPoller ??= new Poller(new Doorbell(Doorbell.allocate(), coreShare), coreShare));
}

/** The kernel runs from TypeScript source (tests, through tsx) rather than compiled. */
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const THREAD_ENTRY = new URL(`./domain-thread${FROM_SOURCE ? '.ts' : '.js'}`, import.meta.url);
const PROCESS_ENTRY = new URL(`./domain-process${FROM_SOURCE ? '.ts' : '.js'}`, import.meta.url);

/**
 * A compiled entry's CommonJS bundle (scripts/bundle.mjs): one file, which more than halves
 * what a new domain spends loading its code; null from source. tsc rewrites every output, so a
 * bundle missing or older than its entry means tsc ran without the bundling step, and the
 * bundle would run stale code: the module graph is used instead.
 */
function bundleOf(entry: URL, variant = ''): string | null {
  if (FROM_SOURCE) return null;
  const path = fileURLToPath(entry);
  return notOlder(path.replace(/\.js$/, `${variant}.bundle.cjs`), path);
}

/** `file`, if it exists and is not older than `source` (what it was made from), else null. */
function notOlder(file: string, source: string): string | null {
  try {
    return statSync(file).mtimeMs >= statSync(source).mtimeMs ? file : null;
  } catch {
    return null;
  }
}

const THREAD_BUNDLE = bundleOf(THREAD_ENTRY);
const PROCESS_BUNDLE = bundleOf(PROCESS_ENTRY);
/**
 * V8's code for a bundle, saved beside it by the build (scripts/code-cache.mjs) from domains
 * that booted and served a first few calls: a domain that starts with it need not compile
 * again what they ran. Null when there is none or it is older than the bundle (a cache made for
 * other code, or by another Node, is also refused by V8 itself, which then compiles as usual).
 */
function codeCacheOf(bundle: string): string | null {
  return notOlder(`${bundle}.v8cache`, bundle);
}

/** Set while the build warms the code caches: each thread domain saves its own as its components stop. */
const SAVE_CODE_CACHE = 'RUMPUS_SAVE_CODE_CACHE';

/**
 * The eval'd entry of a thread domain that starts from a bundle: it compiles the bundle with
 * its code cache, if there is one, and runs it as Node runs a CommonJS module. What the bundle
 * needs of it is under globalThis[Symbol.for('rumpus.…')]: the code cache (see domain.ts), and
 * an import(), which code compiled from a code cache cannot run itself (kernel/dynamic-import.ts).
 */
const BUNDLE_LOADER = `
const { threadId, workerData } = require('node:worker_threads');
const { readFileSync, renameSync, writeFileSync } = require('node:fs');
const { dirname } = require('node:path');
const { Script } = require('node:vm');
const Module = require('node:module');
const { bundle, codeCache, saveCodeCache } = workerData.loader;
let cachedData;
try { if (codeCache) cachedData = readFileSync(codeCache); } catch {}
const script = new Script(Module.wrap(readFileSync(bundle, 'utf8')), { filename: bundle, cachedData });
globalThis[Symbol.for('rumpus.import')] = (specifier) => import(specifier);
globalThis[Symbol.for('rumpus.codeCache')] = {
  used: cachedData !== undefined && !script.cachedDataRejected,
  save: saveCodeCache ? () => {
    const file = bundle + '.v8cache', part = file + '.' + process.pid + '.' + threadId;
    writeFileSync(part, script.createCachedData());
    renameSync(part, file);
  } : null,
};
const module = { exports: {}, filename: bundle, id: bundle };
script.runInThisContext().call(module.exports, module.exports, Module.createRequire(bundle), module, bundle, dirname(bundle));
`;

/** Thread bundles that hold one built-in server only, for a domain that hosts no other. */
const ONE_SERVER_BUNDLES = new Map(BUILTIN.map((c) => [c as string, bundleOf(THREAD_ENTRY, `.${c}`)]));

/**
 * The bundle a thread domain hosting `components` starts from: the one with only its built-in
 * server, if it hosts one (a component a placement adds is imported from its own module from any
 * bundle), else the full one.
 */
function threadBundle(components: readonly string[]): string | null {
  const builtins = components.filter((c) => ONE_SERVER_BUNDLES.has(c));
  return (builtins.length === 1 ? ONE_SERVER_BUNDLES.get(builtins[0]) : null) ?? THREAD_BUNDLE;
}

/** When the kernel runs from TypeScript source, its domains need the same loader. */
function tsLoader(): string | null {
  return FROM_SOURCE ? import.meta.resolve('tsx/esm/api') : null;
}

export interface HostedDomain {
  readonly name: string;
  readonly kind: Exclude<DomainKind, 'main'>;
  /** The core's link to the domain. */
  readonly link: Link;
  /** Resolves when the thread or process has ended, with how it ended. */
  readonly exited: Promise<string>;
  /** The OS process id (process domains) or thread id (thread domains). */
  readonly id: number;
  /** Ends the domain: politely, then by force after `graceMs`. */
  kill(graceMs?: number): Promise<void>;
  /** A thread domain's doorbell, for peers that write to its rings. */
  readonly bell?: SharedArrayBuffer;
  /** A thread domain's worker, for messages beside the core's link (kernel/keep-core.ts). */
  readonly port?: PortLike;
  /** Hands a thread domain one end of a channel to a peer thread domain. */
  attachPort?(peer: string, port: import('node:worker_threads').MessagePort, ends?: RingEnds): void;
}

/**
 * The environment of a new domain. msgpackr's native add-on takes ~15 ms to load in each new
 * thread or process, and the frames between domains are small: its JavaScript decoder does.
 */
const domainEnv = () => ({ ...process.env, MSGPACKR_NATIVE_ACCELERATION_DISABLED: 'true' });

/** Limits for a new domain: its JS heap, in MiB (undefined: Node's default). */
export interface DomainLimits {
  memoryMb?: number;
}

/**
 * @param components  what the domain will be asked to load, if known (a spare's is not): picks
 *   the bundle it starts from
 */
export function startThread(name: string, transport: ThreadTransport, limits: DomainLimits = {}, components: readonly string[] = []): HostedDomain {
  const loader = tsLoader();
  const bell = Doorbell.allocate();
  const hostBell = new Doorbell(bell, coreShare);
  hostBell.resume(); // the thread runs (loads its code) until its poller first sleeps
  const poller = mainThreadPoller();
  const ends = transport === 'ring' ? ringPair(poller.bell.buffer, bell) : null;
  const bundle = loader ? null : threadBundle(components);
  const workerData = {
    name, bell, coreShare: coreShare.buffer, ends: ends?.b,
    loader: bundle ? { bundle, codeCache: codeCacheOf(bundle), saveCodeCache: process.env[SAVE_CODE_CACHE] === '1' } : undefined,
  };
  const resourceLimits = limits.memoryMb ? { maxOldGenerationSizeMb: limits.memoryMb } : undefined;
  const options = { workerData, execArgv: [], resourceLimits, env: domainEnv() };
  const worker = loader
    ? new Worker(`import(${JSON.stringify(loader)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(THREAD_ENTRY.href)}); })`, { ...options, eval: true })
    : bundle ? new Worker(BUNDLE_LOADER, { ...options, eval: true }) : new Worker(THREAD_ENTRY, options);
  const link = ends ? new RingLink(ends.a, worker, poller) : new PortLink(worker);
  let exitReason = 'exited';
  worker.on('error', (err) => {
    const oom = (err as NodeJS.ErrnoException).code === 'ERR_WORKER_OUT_OF_MEMORY';
    exitReason = oom ? `ran out of memory (limit ${limits.memoryMb ?? 'default'} MiB)` : `threw ${err.name}: ${err.message}`;
  });
  const exited = new Promise<string>((resolve) =>
    worker.once('exit', (code) => {
      hostBell.retire(); // it may have died while counted as running
      const reason = exitReason === 'exited' ? `exited with code ${code}` : exitReason;
      link.lost(`thread domain ${name} ${reason}`);
      resolve(reason);
    }),
  );
  return {
    name,
    kind: 'thread',
    link,
    exited,
    id: worker.threadId,
    bell,
    port: worker,
    async kill() {
      await worker.terminate();
      await exited;
    },
    attachPort(peer, port, ends) {
      worker.postMessage({ attach: peer, port, ends }, [port]);
    },
  };
}

export function startProcess(name: string, limits: DomainLimits = {}): HostedDomain {
  const loader = tsLoader();
  const args = [
    ...(limits.memoryMb ? [`--max-old-space-size=${limits.memoryMb}`] : []),
    ...(loader ? ['--import', import.meta.resolve('tsx')] : []),
    PROCESS_BUNDLE ?? fileURLToPath(PROCESS_ENTRY), name,
  ];
  const child: ChildProcess = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit', 'pipe'], env: domainEnv() });
  const pipe = child.stdio[3] as import('node:net').Socket;
  const link = new StreamLink(pipe);
  let spawnError = '';
  child.on('error', (err) => {
    spawnError = err.message;
  });
  const exited = new Promise<string>((resolve) =>
    child.once('exit', (code, signal) => {
      const reason = spawnError ? `failed: ${spawnError}`
        : signal ? `was killed by ${signal}${signal === 'SIGABRT' ? ' (out of memory?)' : ''}`
        : `exited with code ${code}`;
      resolve(reason);
    }),
  );
  // 'close' comes after 'exit', once the process handle and its pipes are released.
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  return {
    name,
    kind: 'process',
    link,
    exited,
    id: child.pid ?? -1,
    async kill(graceMs = 2000) {
      pipe.destroy(); // the domain exits when the core's pipe closes
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await closed;
      clearTimeout(timer);
    },
  };
}
