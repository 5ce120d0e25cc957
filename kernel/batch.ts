// Batches: many syscalls of one client process in one message, which crosses client → vfs once
// (io_uring's submit is the model). The core checks a batch, and each op in it as if it came
// alone (kernel.ts), and sends it to vfs as one `batch` call; vfs runs the ops in order and
// answers each op's outcome (servers/vfs/sys-batch.ts). One op failing does not stop the
// others, but an op `linked` to the one before it runs only if that one succeeded (io_uring's
// IOSQE_IO_LINK, said here on the later op), and an fd argument may name the fd an earlier op of
// the same batch opened ({ fdOf: i }, as io_uring's direct descriptors serve a chain).

import { SysError, type Errno } from '../ipc/errno.js';
import { MAX_IO } from '../ipc/frame.js';
import { readAsks } from './client-limits.js';
import { isPlainObject } from './validate.js';

/**
 * The most ops one batch may hold; past it the batch is refused with EINVAL. Each op counts as
 * a call in flight (client-limits.ts), so a batch never holds more than MAX_CALLS_IN_FLIGHT.
 */
export const MAX_BATCH_OPS = 256;

/**
 * The most bytes one batch may move, in all: the data of its writes and what its reads ask for
 * (each read counted up to MAX_IO, as much as it may return). So a batch's request and its reply
 * each fit in one frame under every policy, as one op's do; past it, EINVAL.
 */
export const MAX_BATCH_BYTES = MAX_IO;

/** An fd or newfd argument of an op in a batch that names the fd op `fdOf` of the same batch made. */
export interface FdOf {
  fdOf: number;
}

/** The ops whose result is an fd, which a later op's FdOf may name. */
const FD_MAKERS: ReadonlySet<string> = new Set(['open', 'dup', 'dup2']);

/** The arguments that may be an FdOf. */
export const FD_ARGS: readonly string[] = ['fd', 'newfd'];

/** Whether an argument is an FdOf: a plain object with only `fdOf`. */
export function isFdOf(v: unknown): v is FdOf {
  return isPlainObject(v) && Object.hasOwn(v, 'fdOf') && Object.keys(v).length === 1;
}

/**
 * Why `ref`, an FdOf in op `at` of a batch whose ops are `ops`, names no fd, or null when it
 * names one: it must be the index of an earlier op that makes an fd (open, dup, dup2).
 */
export function fdOfProblem(ref: FdOf, at: number, ops: readonly { op: unknown }[]): string | null {
  const i = ref.fdOf;
  if (!Number.isSafeInteger(i) || i < 0 || i >= at) return `{ fdOf: ${String(i)} } must name an earlier op of the batch (0 to ${at - 1})`;
  if (!FD_MAKERS.has(ops[i].op as string)) return `{ fdOf: ${i} } names op ${i} (${String(ops[i].op)}), which makes no fd (open, dup and dup2 do)`;
  return null;
}

/** One op of a batch as the core sends it to vfs. */
export interface BatchEntry {
  op: string;
  /** Its arguments, checked as a client's (no pid: vfs adds the batch's). */
  args: Record<string, unknown>;
  /** Run only if the op before it succeeded; else it fails with ECANCELED. */
  linked: boolean;
  /** The error this op failed the core's check with, as it would have alone: vfs answers it in its place. */
  refused?: { errno: Errno; message: string };
}

/** What one op of a batch came to: its value, or its errno and sentence. */
export type BatchOutcome = { value: unknown } | { errno: Errno; message: string };

/**
 * Whether an outcome is a failure. Told by its errno, not by a value: a value that is undefined
 * (mkdir's, close's) may lose its key on the way (msgpackr).
 */
export function failedOutcome(o: BatchOutcome): o is { errno: Errno; message: string } {
  return 'errno' in o;
}

/**
 * A client's batch as the core sends it to vfs. `given` must be { ops: [...] }, at most
 * MAX_BATCH_OPS of them, each { op, args?, linked? }, moving at most MAX_BATCH_BYTES; else the
 * whole batch is refused with EINVAL and a sentence. Each op is checked by `check` (which
 * throws a SysError, as for a syscall alone) and its FdOf arguments by fdOfProblem; an op that
 * fails is sent refused, so that it fails in its place and the others run.
 */
export function batchEntries(given: unknown, check: (op: string, args: unknown) => Record<string, unknown>): BatchEntry[] {
  if (!isPlainObject(given) || !Array.isArray(given.ops) || Object.keys(given).some((k) => k !== 'ops')) {
    throw new SysError('EINVAL', 'batch: the arguments must be { ops: [...] }');
  }
  const ops: unknown[] = given.ops;
  if (ops.length > MAX_BATCH_OPS) throw new SysError('EINVAL', `batch: ${ops.length} ops, more than one batch may hold (${MAX_BATCH_OPS})`);
  const shapes = ops.map((o, i) => {
    const { op, args = {}, linked = false } = isPlainObject(o) ? o : {};
    if (!isPlainObject(o) || typeof op !== 'string' || typeof linked !== 'boolean' || Object.keys(o).some((k) => k !== 'op' && k !== 'args' && k !== 'linked')) {
      throw new SysError('EINVAL', `batch: op ${i} must be { op, args, linked } (an op's name, its arguments, true or false)`);
    }
    return { op, args, linked };
  });
  let bytes = 0;
  const entries = shapes.map(({ op, args, linked }, i): BatchEntry => {
    try {
      if (op === 'batch' || op === 'exit') throw new SysError('EINVAL', `${op} cannot be in a batch`);
      // Checked with a placeholder for each FdOf, which vfs replaces with the fd it names.
      const refs: [string, FdOf][] = [];
      const plain = isPlainObject(args) ? { ...args } : args;
      if (isPlainObject(plain)) {
        for (const key of FD_ARGS) {
          const v = plain[key];
          if (!isFdOf(v)) continue;
          const problem = fdOfProblem(v, i, shapes);
          if (problem !== null) throw new SysError('EINVAL', `${op}: argument '${key}': ${problem}`);
          refs.push([key, { fdOf: v.fdOf }]);
          plain[key] = 0;
        }
      }
      const checked = check(op, plain);
      bytes += movedBytes(op, checked);
      for (const [key, ref] of refs) checked[key] = ref;
      return { op, args: checked, linked };
    } catch (err) {
      if (!(err instanceof SysError)) throw err;
      return { op, args: {}, linked, refused: { errno: err.errno, message: err.message } };
    }
  });
  if (bytes > MAX_BATCH_BYTES) {
    throw new SysError('EINVAL', `batch: its writes and reads move ${bytes} bytes, more than one batch may (${MAX_BATCH_BYTES})`);
  }
  return entries;
}

/** The bytes an op moves: a write's data, what a read asks for (up to MAX_IO, the most it returns). */
function movedBytes(op: string, args: Record<string, unknown>): number {
  const asks = readAsks(op, args);
  if (asks > 0) return Math.min(asks, MAX_IO);
  if ((op === 'write' || op === 'pwrite') && args.data instanceof Uint8Array) return args.data.byteLength;
  return 0;
}
