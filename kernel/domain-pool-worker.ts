// Entry of a pool domain's worker (a piscina worker thread; kernel/domain-pool.ts owns the
// pool). Each worker loads every component of its pool and starts each once, fresh — a pure
// component keeps nothing, so no call needs another's state and no restart needs a past — then
// serves tasks {component, op, args}: validated as every domain validates a request, answered
// with the result or the error as errno and sentence. An injected fault the core armed for the
// call (evaluated where it is armed, in the main domain) is carried out here, in this worker
// only: a crash ends this worker, not the pool.

import { parentPort, threadId } from 'node:worker_threads';
import { move, workerData } from 'piscina';
import { SysError, toSysError } from '../ipc/errno.js';
import type { ComponentDef, Context, Handlers } from './api.js';
import { remoteHooks } from './domain-hooks.js';
import { dynamicImport } from './dynamic-import.js';
import { BEAT_THREAD, BEAT_TICKS, POOL_WORKER_READY, type PoolReply, type PoolTask, type PoolWorkerData } from './domain-pool.js';
import { openKeep } from './keep-stores.js';
import { loadComponent } from './registry.js';
import { validateRequest } from './validate.js';

const { domain, components, tsx, tickMs } = workerData as PoolWorkerData;

/** Each component's definition and handlers, once its init has run in this worker. */
type Served = Map<string, { def: ComponentDef; handlers: Handlers }>;

/** Loads and starts this worker's components. */
async function startComponents(): Promise<Served> {
  const served: Served = new Map();
  if (tsx) (await dynamicImport<{ register(): void }>(tsx)).register();
  for (const { name, module } of components) {
    const def = await loadComponent(name, module);
    const ctx: Context = {
      name,
      hyp: remoteHooks.hyp(name),
      call: (to, op) => Promise.reject(new SysError('EPERM', `${name} may not call ${to}.${String(op)}: a component in a pool requires nothing`)),
      keep: (await openKeep(name, false, { kind: 'pool', report: () => Promise.reject(new SysError('EPERM', 'a pool keeps nothing')) })).keep,
      restarts: () => 0, // it calls nothing
    };
    served.set(name, { def, handlers: await def.init.fresh(ctx) });
  }
  return served;
}

/**
 * A result's Uint8Array that is the whole of its own ArrayBuffer is moved (transferred) to the
 * core rather than copied: nothing else can see that memory. A view into a larger buffer (a
 * Buffer from Node's shared pool, say) is copied.
 */
function movable(result: unknown): result is Uint8Array {
  return result instanceof Uint8Array && result.buffer instanceof ArrayBuffer && result.byteOffset === 0 && result.byteLength === result.buffer.byteLength;
}

/**
 * Counts ticks into the task's beat, now and every tickMs until stopped, while this worker's
 * event loop turns (kernel/domain-pool.ts cuts off a task whose beat stops). Returns the stop.
 */
function tickWhileRunning(task: PoolTask): () => void {
  if (tickMs <= 0) return () => {};
  const beat = new Int32Array(task.beat);
  Atomics.store(beat, BEAT_THREAD, threadId);
  const tick = () => Atomics.add(beat, BEAT_TICKS, 1);
  tick();
  const timer = setInterval(tick, tickMs);
  return () => clearInterval(timer);
}

/** Serves one task with the components started. */
async function serve(served: Served, task: PoolTask): Promise<PoolReply | Uint8Array> {
  const where = `${task.component}.${task.op}`;
  const stopTicking = tickWhileRunning(task);
  try {
    const c = served.get(task.component);
    if (!c) throw new SysError('ENXIO', `no component '${task.component}' in pool domain ${domain}`);
    validateRequest(c.def, task.op, task.args);
    const fault = task.fault;
    switch (fault?.type) {
      case 'crash':
      case 'crash-init':
        return remoteHooks.die(`injected ${fault.type} at ${where} (a worker of pool domain ${domain})`);
      case 'hang':
        return remoteHooks.hang(`injected hang at ${where}`);
      case 'leak':
        remoteHooks.leak(`injected leak at ${where}`);
        break;
      case 'delay':
        await new Promise((resolve) => setTimeout(resolve, fault.ms ?? 0));
        break;
      case 'error':
        throw new SysError(fault.errno ?? 'EIO', `${where}: injected ${fault.errno ?? 'EIO'}`);
    }
    const result = await c.handlers[task.op](task.args);
    return movable(result) ? move(result) as unknown as Uint8Array : { ok: result };
  } catch (err) {
    const e = toSysError(err, where);
    return { errno: e.errno, message: e.message };
  } finally {
    stopTicking();
  }
}

/**
 * What piscina calls for each task, once it resolves: piscina awaits a module's export before
 * the worker takes its first task, so the components start here, at the worker's start (not at
 * the module's top level: from TypeScript source piscina loads this module through tsx's require
 * hook, which takes no top-level await). Then the worker tells the core it is up
 * (POOL_WORKER_READY); a start that fails answers every task with its error.
 */
export default startComponents().then(
  (served) => {
    parentPort?.postMessage(POOL_WORKER_READY);
    return (task: PoolTask) => serve(served, task);
  },
  (err: unknown) => {
    const e = toSysError(err, `pool domain ${domain}: init`);
    parentPort?.postMessage(POOL_WORKER_READY);
    return (): PoolReply => ({ errno: e.errno, message: e.message });
  },
);
