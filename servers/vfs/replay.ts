// The replay log of a mount whose file system keeps its data on a device (ext2). Such a file
// system commits only at sync points; what it changed since the last one lives in its memory
// and dies with it. The vfs outlives it, so it keeps every change it sent since the last sync
// of the mount and, when the file system comes back after a restart, sends them again: the
// restart loses nothing the clients were told had happened. Replaying is tolerant of changes
// that had reached the disk after all (a commit the file system made on its own): a directory
// that exists is found instead of made, a name already gone is not removed twice, and appends
// are logged as writes at the offset they landed on, so they cannot land twice.

import { SysError, type Handle, type WalkResult, type WalkStep } from '../../kernel/api.js';

/** File-system ops that change something: the ones logged. */
export const CHANGING_OPS = new Set(['create', 'mkdir', 'symlink', 'mknod', 'link', 'unlink', 'rmdir', 'rename', 'setattr', 'write', 'append']);

/** Beyond this many bytes held by the log the vfs syncs the mount, which empties the log. */
export const REPLAY_LIMIT = 16 * 1024 * 1024;

/**
 * What one entry costs beyond the bytes of its data, names and symlink target: the entry, its
 * argument object and handles on the heap (about 160 bytes measured per chmod on Node 20;
 * rounded up). Every change a client makes is charged, so a stream of chmods or renames syncs
 * the mount like a stream of writes does, instead of growing vfs without bound.
 */
export const ENTRY_COST = 256;

/** Bytes of the variable-sized arguments an entry keeps: data, and strings (names, targets). */
function argumentBytes(args: Record<string, unknown>): number {
  let n = 0;
  for (const v of Object.values(args)) {
    if (v instanceof Uint8Array) n += v.length;
    else if (typeof v === 'string') n += v.length; // names and targets are byte strings: a byte a char
  }
  return n;
}

interface Entry {
  op: string;
  args: Record<string, unknown>;
  /** Its place in the order of recording (mark(), clearBefore()). */
  seq: number;
  /** What it is charged to bytes. */
  cost: number;
}

const key = (h: Handle) => `${h.ino}:${h.gen}`;
const isHandle = (v: unknown): v is Handle => !!v && typeof v === 'object' && 'ino' in v && 'gen' in v;

export class ReplayLog {
  private entries: Entry[] = [];
  /** Bytes held: each entry's ENTRY_COST plus its data, names and target. */
  bytes = 0;
  /** Handles of the lost incarnation → the same files in the new one. */
  private readonly moved = new Map<string, Handle>();
  /** The seq of the next entry recorded; never goes back, not even at clear(). */
  private nextSeq = 0;

  get empty(): boolean {
    return this.entries.length === 0;
  }

  /** Remembers a change the file system acknowledged (fsid left out: it changes with a restart). */
  record(op: string, args: Record<string, unknown>, result: unknown): void {
    const { fsid: _fsid, ...rest } = args;
    // A callee keeps no buffer it was given (the component API's rule): the log keeps a copy.
    if (rest.data instanceof Uint8Array) rest.data = rest.data.slice();
    if (op === 'append') {
      // Where it landed: replayed as a write there, so it cannot be appended twice.
      const { end, written } = result as { end: number; written: number };
      this.push('write', { h: rest.h, offset: end - written, data: rest.data });
    } else if (op === 'create' || op === 'mkdir' || op === 'symlink' || op === 'mknod') {
      // The handle it made, to find the file made again in its place.
      this.push(op, { ...rest, made: (result as WalkStep).handle });
    } else {
      this.push(op, rest);
    }
  }

  private push(op: string, args: Record<string, unknown>): void {
    const cost = ENTRY_COST + argumentBytes(args);
    this.entries.push({ op, args, seq: this.nextSeq++, cost });
    this.bytes += cost;
  }


  clear(): void {
    this.entries = [];
    this.bytes = 0;
  }

  /**
   * Where the log is now: taken when a sync point (fsync, sync) is sent, and given back to
   * clearBefore() once the file system says it committed everything.
   */
  mark(): number {
    return this.nextSeq;
  }

  /**
   * Forgets the changes recorded before `mark`: their replies came before the sync point was
   * sent, so the file system made them before it committed. A change recorded since may have
   * reached the file system after the commit (its reply crossed the sync's on the way back), so
   * it stays; replaying one that was committed after all is harmless (see above).
   */
  clearBefore(mark: number): void {
    this.entries = this.entries.filter((e) => e.seq >= mark);
    this.bytes = this.entries.reduce((n, e) => n + e.cost, 0);
  }

  /** A handle of the old incarnation as it is in the new one (unchanged if it was on disk). */
  map(h: Handle): Handle {
    return this.moved.get(key(h)) ?? h;
  }

  /** The same arguments, with handles of files made again replaced. */
  mapArgs<A extends object>(args: A): A {
    return Object.fromEntries(Object.entries(args).map(([k, v]) => [k, isHandle(v) ? this.map(v) : v])) as A;
  }

  /**
   * Sends every logged change again to the file system, in order. Afterwards map() tells where
   * the files made again are now, and the log itself speaks of the new incarnation.
   *
   * @param found  told of each file a logged change made, as soon as the new incarnation has
   *   it again (old handle, new handle), before the next change is sent
   */
  async replay(call: (op: string, args: Record<string, unknown>) => Promise<unknown>, found?: (before: Handle, now: Handle) => Promise<void>): Promise<void> {
    this.moved.clear();
    const madeAgain = async (before: Handle, now: Handle) => {
      this.moved.set(key(before), now);
      await found?.(before, now);
    };
    for (const e of this.entries) {
      const made = e.args.made as Handle | undefined;
      const { made: _made, ...args } = this.mapArgs(e.args);
      try {
        const r = await call(e.op, e.op === 'create' ? { ...args, excl: false } : args);
        if (made) await madeAgain(made, (r as WalkStep).handle);
      } catch (err) {
        if (!(err instanceof SysError)) throw err;
        if (made && err.errno === 'EEXIST') {
          // On disk after all: the file is there; find it.
          const w = (await call('walk', { dir: args.dir, names: [args.name] })) as WalkResult;
          if (w.steps.length) await madeAgain(made, w.steps[0].handle);
          continue;
        }
        const alreadyDone = (err.errno === 'ENOENT' && ['unlink', 'rmdir', 'rename'].includes(e.op)) || (err.errno === 'EEXIST' && e.op === 'link');
        if (!alreadyDone) throw err;
      }
    }
    for (const e of this.entries) e.args = this.mapArgs(e.args);
  }
}
