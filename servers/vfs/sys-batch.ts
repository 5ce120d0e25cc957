// The batch syscall: a client's ops run in order, in one vfs op, so that one crossing from the
// client serves them all (kernel/batch.ts says what a batch is and how the core checks it);
// consecutive lookups (LOOKUPS), which no order can change, run at once.
// Each op runs through the same handler, with the same argument check, as when it comes alone.

import {
  FD_ARGS, SysError, failedOutcome, fdOfProblem, isFdOf, validateOp, type BatchEntry, type BatchOutcome,
} from '../../kernel/api.js';
import { VFS_OPS, type VfsHandlers, type VfsOp } from './ops.js';

/** A syscall's handler as the batch calls it. */
type Handler = (a: Record<string, unknown>) => unknown;

/**
 * Ops that are never in a batch: the core's own, the batch itself, and exit, which would leave
 * the ops after it no process. The core sends none of them; vfs refuses one all the same.
 */
const NOT_IN_A_BATCH: ReadonlySet<string> = new Set(['spawn', 'usedDirectly', 'halting', 'unmountAll', 'batch', 'exit']);

/**
 * Ops that change nothing (not even an atime) and name no fd: consecutive ones, none linked to
 * the op before it, run at once, since no order among them can change what each finds. A
 * file system then gets their calls back to back (cp's lstat of a directory's entries, 256 to a
 * batch) rather than one per round trip. Their outcomes stay in order, each its own.
 */
const LOOKUPS: ReadonlySet<string> = new Set(['stat', 'lstat']);

/** Whether op `i` of a batch is a lookup that may run at once with the lookups beside it. */
function isLookup(ops: unknown[], i: number): boolean {
  const entry = ops[i] as BatchEntry | undefined;
  return typeof entry?.op === 'string' && LOOKUPS.has(entry.op) && !entry.linked;
}

/** The batch syscall over `handlers`, the syscalls as vfs serves them (each guarded as recovery.ts guards it). */
export function batchCall(handlers: { readonly [K in Exclude<VfsOp, 'batch'>]: (a: never) => unknown }): VfsHandlers<'batch'> {
  const byName = handlers as unknown as Record<string, Handler>; // each checked by validateOp before its call
  return {
    batch: async ({ pid, ops }) => {
      if (!Array.isArray(ops)) throw new SysError('EINVAL', 'batch: ops must be an array');
      const outcomes: BatchOutcome[] = [];
      for (let i = 0; i < ops.length; ) {
        let end = i + 1;
        if (isLookup(ops, i)) while (end < ops.length && isLookup(ops, end)) end++;
        const run = [];
        for (let k = i; k < end; k++) run.push(runOp(byName, pid, ops, k, outcomes));
        outcomes.push(...(await Promise.all(run)));
        i = end;
      }
      return outcomes;
    },
  };
}

/** Op `i` of a batch, once those before it gave `outcomes`: what it came to. Only a fault of vfs itself (no SysError) is thrown. */
async function runOp(handlers: Record<string, Handler>, pid: number, ops: unknown[], i: number, outcomes: BatchOutcome[]): Promise<BatchOutcome> {
  const entry = ops[i] as BatchEntry;
  try {
    if (typeof entry?.op !== 'string') throw new SysError('EINVAL', `batch: op ${i} names no op`);
    if (entry.refused) return { errno: entry.refused.errno, message: entry.refused.message };
    const { op } = entry;
    if (entry.linked && i > 0 && failedOutcome(outcomes[i - 1])) {
      throw new SysError('ECANCELED', `${op}: not run: op ${i - 1} (${(ops[i - 1] as BatchEntry).op}), to which it is linked, failed`);
    }
    if (NOT_IN_A_BATCH.has(op)) throw new SysError('EINVAL', `${op} cannot be in a batch`);
    const args: Record<string, unknown> = { ...entry.args };
    for (const key of FD_ARGS) {
      const ref = args[key];
      if (!isFdOf(ref)) continue;
      const problem = fdOfProblem(ref, i, ops as BatchEntry[]);
      if (problem !== null) throw new SysError('EINVAL', `${op}: argument '${key}': ${problem}`);
      const made = outcomes[ref.fdOf];
      if (failedOutcome(made)) throw new SysError('EBADF', `${op}: argument '${key}': op ${ref.fdOf} (${(ops[ref.fdOf] as BatchEntry).op}), whose fd it names, failed`);
      args[key] = made.value;
    }
    args.pid = pid; // the batch's: an op's own arguments never say who calls
    validateOp('vfs', VFS_OPS, op, args);
    return { value: await handlers[op](args) };
  } catch (err) {
    if (!(err instanceof SysError)) throw err;
    return { errno: err.errno, message: err.message };
  }
}
