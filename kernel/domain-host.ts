// Starting and stopping the domains that run outside the kernel's main thread: a worker
// thread or a child process (its code from bundles.ts), each with a link the core uses to
// control it and to call the components it hosts.

import { spawn, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { Worker, type MessagePort } from 'node:worker_threads';
import { StreamLink } from '../ipc/stream-link.js';
import { PortLink, type PortLike } from '../ipc/port-link.js';
import { CoreShare, Poller } from '../ipc/poller.js';
import { Doorbell } from '../ipc/ring.js';
import { RingLink, ringPair, type RingEnds } from '../ipc/ring-link.js';
import type { Link } from '../ipc/frame.js';
import { processScript, threadScript } from './bundles.js';
import type { DomainKind } from './placement.js';

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

/**
 * The thread or process a domain runs in (not to be confused with the components a domain
 * hosts: domain.ts calls those `hosted`). One per incarnation: a restart gets a new one.
 */
export interface DomainHost {
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
  attachPort?(peer: string, port: MessagePort, ends?: RingEnds): void;
}

/**
 * The environment of a new domain. msgpackr's native add-on takes ~15 ms to load in each new
 * thread or process, and the frames between domains are small: its JavaScript decoder does.
 */
const domainEnv = (extra: Record<string, string>) => ({ ...process.env, MSGPACKR_NATIVE_ACCELERATION_DISABLED: 'true', ...extra });

/** Limits for a new domain: its JS heap, in MiB (undefined: Node's default). */
export interface DomainLimits {
  memoryMb?: number;
}

/**
 * Starts a thread domain: a worker thread, linked to the core by a ring or by its port.
 *
 * @param components  what the domain will be asked to load, if known (a spare's is not): picks
 *   the bundle it starts from
 */
export function startThread(name: string, transport: ThreadTransport, limits: DomainLimits = {}, components: readonly string[] = []): DomainHost {
  const bell = Doorbell.allocate();
  const hostBell = new Doorbell(bell, coreShare);
  hostBell.resume(); // the thread runs (loads its code) until its poller first sleeps
  const poller = mainThreadPoller();
  const ends = transport === 'ring' ? ringPair(poller.bell.buffer, bell) : null;
  const { script, eval: isCode, loader, env } = threadScript(components);
  const workerData = { name, bell, coreShare: coreShare.buffer, ends: ends?.b, loader };
  const resourceLimits = limits.memoryMb ? { maxOldGenerationSizeMb: limits.memoryMb } : undefined;
  const worker = new Worker(script, { workerData, execArgv: [], resourceLimits, env: domainEnv(env), eval: isCode });
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

/** Starts a process domain: a child process that talks to the core over a pipe on its fd 3. */
export function startProcess(name: string, limits: DomainLimits = {}): DomainHost {
  const entry = processScript();
  const args = [...(limits.memoryMb ? [`--max-old-space-size=${limits.memoryMb}`] : []), ...entry.args, name];
  const child: ChildProcess = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit', 'pipe'], env: domainEnv(entry.env) });
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
