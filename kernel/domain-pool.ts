// A pool domain at run time: a piscina pool of worker threads owned by the core, in the main
// thread, serving the pure components placed in it (ComponentDef.pure). Every call to one of
// them, from any domain, reaches the main domain, whose runtime hosts a proxy of each (so its
// routing, op counters and faults see it as any other component) and hands the call here; here
// it goes to a free worker (kernel/domain-pool-worker.ts), many at once to different workers.
//
// Supervision. A worker that dies (an exit, a crash, out of memory) fails only the call it was
// running. A worker whose event loop stops (a synchronous endless loop, the `hang` fault) is
// noticed by the kernel's heartbeat (boot option `heartbeat`), as a hung thread domain is: each
// try carries a beat, a few bytes of shared memory; while it runs the task, the worker counts a
// liveness tick into it at the start and every heartbeat period, and the core looks at it every
// period: a running task whose beat has not moved for the heartbeat timeout (as the core sees it:
// up to two periods more) has its worker terminated (piscina's abort signal) — seconds, well
// within any caller's deadline, while a task that runs long with its event loop free (argon2 on
// libuv's threadpool) keeps ticking and is not cut off. The beat is shared memory rather than a
// message so that a task costs no more than its call and its reply: a tick message at each start
// woke the core once more per call. The call
// deadline stays the last resort: a call with no reply by then has its worker terminated too.
// Either way the call is tried again on another worker — every op of a pure component is
// idempotent — up to the call policy's tries, then it fails (EIO, or ETIMEDOUT for one cut
// off), and piscina starts a worker in place of the lost one. A call that waited its whole
// deadline in the queue for a free worker is tried again likewise, with no worker lost. Each lost worker counts as a
// restart of the pool domain, reported as the supervisor reports a restart, and within its
// restart intensity (supervisor-policy.ts: at most N in T ms, with the same backoff before the
// retry): past it the pool is given up on and its calls fail with EIO at once, as a domain the
// supervisor gave up on.
//
// The workers start at the first call, not at boot: a pure component has no state to build
// before it is used, and the cipher of an encrypted disk is idle until a key is derived, so
// a boot does not pay for threads that may never run (issue 13's bound on a microkernel boot).
// Their init (init.fresh, once per worker) then runs on the first call's way.

import { Piscina } from 'piscina';
import { SysError, type Errno } from '../ipc/errno.js';
import { ownBytes } from '../ipc/frame.js';
import { poolScript } from './bundles.js';
import type { CallPolicy } from './domain.js';
import type { FaultType } from './faults.js';
import type { Heartbeat } from './supervisor-policy.js';

/** A fault the core armed for one call (evaluated in the main domain), for the worker to carry out. */
export interface PoolFault {
  type: FaultType;
  /** delay: milliseconds, jitter applied. */
  ms?: number;
  /** error: the errno returned. */
  errno?: Errno;
}

/** One call, as a worker serves it. */
export interface PoolTask {
  /** This try's liveness beat: Int32 [ticks, the worker's thread id] (see the comment at the top). */
  beat: SharedArrayBuffer;
  component: string;
  op: string;
  args: unknown;
  fault?: PoolFault;
}

/** A worker's answer: a result that is a movable Uint8Array comes bare, anything else wrapped. */
export type PoolReply = { ok: unknown } | { errno: Errno; message: string };

/** What each worker is told at its start (piscina's workerData). */
export interface PoolWorkerData {
  domain: string;
  /** module: the URL of a component a placement adds; a built-in one is found by name. */
  components: { name: string; module?: string }[];
  /** From TypeScript source: the URL of tsx's ESM API, registered before the components are imported. */
  tsx?: string;
  /** How often a worker running a task counts a liveness tick into its beat, in milliseconds (0: never). */
  tickMs: number;
}

/** What a pool needs from the core. */
export interface PoolConfig extends Omit<PoolWorkerData, 'tsx' | 'tickMs'> {
  workers: number;
  calls: CallPolicy;
  /** The kernel's heartbeat: a running task's worker that does not tick for its timeout is hung. */
  heartbeat: Heartbeat;
  /** Each worker's JS heap limit in MiB (undefined: Node's default). */
  memoryLimitMb?: number;
  /**
   * A worker was lost (`reason`): the core counts and reports it, and answers how many
   * milliseconds to wait before the call is tried again, or null when the pool is given up on.
   */
  workerLost(reason: string): number | null;
}

/** What a worker posts to the core once its components have started (kernel/domain-pool-worker.ts). */
export const POOL_WORKER_READY = 'rumpus.pool.ready';

/** The fields of a try's beat (PoolTask.beat), each an Int32. */
export const BEAT_TICKS = 0;
export const BEAT_THREAD = 1;

/** A try whose worker's liveness is watched: its beat, the ticks last seen and when they last moved (Date.now()). */
interface WatchedTry {
  beat: Int32Array;
  hung: (threadId: number) => void;
  seen: number;
  movedAt: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class PoolDomain {
  private pool: Piscina | null = null;
  /**
   * Resolves when the pool's first workers have started their components (or after a bound):
   * a call's deadline counts from then, so that a cold start is not taken for a hung call.
   * Workers that replace lost ones get no call before they are up (piscina waits for them).
   */
  private up: Promise<void> = Promise.resolve();
  /** Why calls fail at once (halted, or given up on), or null while the pool serves. */
  private closedFor: string | null = null;
  /** The tries running, whose beats the watcher looks at (see watch). */
  private readonly watched = new Set<WatchedTry>();
  private watcher: ReturnType<typeof setInterval> | null = null;

  constructor(private readonly cfg: PoolConfig) {}

  /** The thread ids of the workers running now (none before the first call). */
  threadIds(): number[] {
    return this.pool?.threads.map((t) => t.threadId) ?? [];
  }

  /**
   * Runs one call on a worker, trying again on another after a lost worker or a lost reply.
   * Errors: the op's own; EIO when every try lost its worker, or the pool was given up on or
   * halted; ETIMEDOUT when the last try got no reply in time.
   */
  async run(component: string, op: string, args: unknown, fault?: PoolFault): Promise<unknown> {
    const { timeoutMs, tries } = this.cfg.calls;
    const where = `${component}.${op}`;
    for (let attempt = 1; ; attempt++) {
      if (this.closedFor !== null) throw new SysError('EIO', `${where}: ${this.closedFor}`);
      const { copy, transfer } = ownBytes(args, 0);
      const beat = new Int32Array(new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT));
      const task: PoolTask = { beat: beat.buffer as SharedArrayBuffer, component, op, args: copy, fault: attempt === 1 ? fault : undefined };
      const workers = this.workers();
      const deadline = new AbortController();
      let timer: ReturnType<typeof setTimeout> | undefined;
      let settled = false;
      // Whether the deadline cut off a running call (its worker terminated, replaced at once) or
      // one still queued (no worker lost).
      let terminated = false;
      // Set when the running task's worker stopped ticking: it is hung, and terminated.
      let hung: string | null = null;
      // Once the worker has answered (or is gone) its ticks are over: nothing more to watch.
      const stopWatching = this.watch(beat, (threadId) => {
        hung = `its worker (thread ${threadId}) stopped answering (no liveness tick in ${this.cfg.heartbeat.timeoutMs} ms) and was terminated`;
        deadline.abort();
      });
      void this.up.then(() => {
        if (settled) return;
        timer = setTimeout(() => {
          const before = new Set(workers.threads);
          deadline.abort();
          terminated = workers.threads.some((w) => !before.has(w));
        }, timeoutMs);
      });
      let lost: string;
      try {
        const reply = await workers.run(task, { signal: deadline.signal, transferList: transfer }) as PoolReply | Uint8Array;
        stopWatching();
        if (task.fault?.type === 'drop') {
          // The reply is lost on its way: the caller waits out its deadline, as for any domain.
          await new Promise((resolve) => deadline.signal.aborted ? resolve(null) : deadline.signal.addEventListener('abort', resolve));
          if (attempt >= tries) throw new SysError('ETIMEDOUT', `${where}: no reply in ${timeoutMs} ms`);
          continue;
        }
        if (reply instanceof Uint8Array) return reply;
        if ('errno' in reply) throw new SysError(reply.errno, reply.message);
        return reply.ok;
      } catch (err) {
        if (err instanceof SysError) throw err;
        if (this.closedFor !== null) throw new SysError('EIO', `${where}: ${this.closedFor}`);
        if (deadline.signal.aborted && !terminated && hung === null) {
          // It waited its whole deadline for a free worker: as a call to a busy domain, it times out.
          if (attempt >= tries) throw new SysError('ETIMEDOUT', `${where}: no worker of pool domain ${this.cfg.domain} was free for ${timeoutMs} ms, ${tries} ${tries === 1 ? 'try' : 'tries'}`);
          continue;
        }
        lost = hung ?? (deadline.signal.aborted ? `no reply in ${timeoutMs} ms: its worker was terminated` : `its worker died (${(err as Error).message})`);
      } finally {
        settled = true;
        clearTimeout(timer);
        stopWatching();
      }
      const wait = this.cfg.workerLost(`${where}: ${lost}`);
      if (wait === null) this.giveUp(`pool domain ${this.cfg.domain} lost more workers than its restart intensity allows`);
      if (this.closedFor !== null) throw new SysError('EIO', `${where}: ${this.closedFor}`);
      if (attempt >= tries) throw new SysError(deadline.signal.aborted ? 'ETIMEDOUT' : 'EIO', `${where}: ${lost}, ${tries} ${tries === 1 ? 'try' : 'tries'}`);
      if (wait! > 0) await sleep(wait!);
    }
  }

  /**
   * Looks at a try's beat every heartbeat period until stopped (the returned function): once the
   * task has started (a first tick), a beat that has not moved for the heartbeat timeout calls
   * `hung` with the worker's thread id, once. Nothing to look at with no heartbeat. One timer
   * looks at every try running, and runs only while there is one.
   */
  private watch(beat: Int32Array, hung: (threadId: number) => void): () => void {
    const { periodMs } = this.cfg.heartbeat;
    if (periodMs <= 0) return () => {};
    const watched: WatchedTry = { beat, hung, seen: 0, movedAt: Date.now() };
    this.watched.add(watched);
    this.watcher ??= setInterval(() => this.lookAtBeats(), periodMs);
    return () => this.unwatch(watched);
  }

  private unwatch(watched: WatchedTry): void {
    this.watched.delete(watched);
    if (this.watched.size > 0 || this.watcher === null) return;
    clearInterval(this.watcher);
    this.watcher = null;
  }

  /** One heartbeat period's look at the beats of the tries running (see watch). */
  private lookAtBeats(): void {
    const now = Date.now();
    for (const w of this.watched) {
      const ticks = Atomics.load(w.beat, BEAT_TICKS);
      if (ticks === 0 || ticks !== w.seen) {
        w.seen = ticks;
        w.movedAt = now;
      } else if (now - w.movedAt >= this.cfg.heartbeat.timeoutMs) {
        this.unwatch(w);
        w.hung(Atomics.load(w.beat, BEAT_THREAD));
      }
    }
  }

  /** Fails every call from now on with EIO, and ends the workers. */
  giveUp(reason: string): void {
    this.closedFor ??= reason;
    void this.close(reason);
  }

  /**
   * Starts the workers now rather than at the first call; resolves once they are up. For a
   * boot that will call the pool at once (a mount that derives a key): the calls' deadlines
   * then do not include a cold start.
   */
  warm(): Promise<void> {
    if (this.closedFor === null) this.workers();
    return this.up;
  }

  /** Ends every worker (the calls they run fail with EIO); later calls fail with EIO at once. */
  async close(reason = 'the kernel halted'): Promise<void> {
    this.closedFor ??= reason;
    const pool = this.pool;
    this.pool = null;
    await pool?.destroy();
  }

  /** The piscina pool, started at the first call (see the comment at the top). */
  private workers(): Piscina {
    if (this.pool) return this.pool;
    const { domain, components, workers, memoryLimitMb } = this.cfg;
    const { filename, tsx } = poolScript();
    const pool = new Piscina({
      filename,
      minThreads: workers,
      maxThreads: workers,
      workerData: { domain, components, tsx, tickMs: this.cfg.heartbeat.periodMs } satisfies PoolWorkerData,
      resourceLimits: memoryLimitMb === undefined ? undefined : { maxOldGenerationSizeMb: memoryLimitMb },
      // A worker that exits between calls (none of its calls fails) is replaced by piscina;
      // the 'error' it emits for that is not a call's to report.
    });
    pool.on('error', () => {});
    let ready = 0;
    this.up = new Promise((resolve) => {
      const bound = setTimeout(resolve, Math.max(this.cfg.calls.timeoutMs, 30_000)).unref();
      pool.on('message', (m: unknown) => {
        if (m === POOL_WORKER_READY && ++ready === workers) {
          clearTimeout(bound);
          resolve();
        }
      });
    });
    this.pool = pool;
    return pool;
  }
}
