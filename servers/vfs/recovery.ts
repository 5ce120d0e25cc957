// What vfs does when a file system under it restarted, and when a handle it holds went stale.
//
// A file system that answers ENODEV no longer knows the mount: it restarted. vfs mounts it
// again with what it mounted it with (the same instance, for one that keeps its data on a
// device; an empty one for tmpfs), sends back its replay log (replay.ts: the changes since the
// last sync, which died with the old incarnation), points open files, cwds and covered
// directories at the handles of the new incarnation, and tries the op once more. What could not
// be given back is reported: the next fsync of a file written since its last one, and the next
// sync, fail with EIO rather than succeed on the new incarnation.
//
// A stale handle (ESTALE) in a syscall that walks a path is met by walking it again (as Linux
// does with LOOKUP_REVAL); in any other syscall it is an open file or cwd its file system lost:
// EIO. ESTALE never reaches a client. (ops.ts declares which syscalls walk a path.)

import { SysError, type Context, type FsArgs, type FsOps, type Handle, type ResultOf } from '../../kernel/api.js';
import { FsRequests, type FsClient, type FsOp, type Send } from './fs-requests.js';
import { MOUNT_POINT_MODE, type Mount, type MountTable, type Vnode } from './mounts.js';
import { refuseBadText } from './namei.js';
import type { OpenFile, ProcTable } from './procs.js';
import { CHANGING_OPS, REPLAY_LIMIT } from './replay.js';

const sameHandle = (a: Handle, b: Handle) => a.ino === b.ino && a.gen === b.gen;

/** Throws err when it says the file system restarted again (ENODEV); any other error is left to the caller. */
function rethrowIfGone(err: unknown): void {
  if (err instanceof SysError && err.errno === 'ENODEV') throw err;
}

/** Sends the ops of the syscalls to file systems, and mounts one again when it restarted. */
export class FsRecovery {
  /** unmountAll() began: no op reaches a file system any more, none is retried. */
  halting = false;
  private readonly remounting = new Map<Mount, Promise<void>>();
  /** Recovery's own requests: straight to the file system, never recovered themselves. */
  private readonly direct: FsRequests;

  constructor(
    private readonly ctx: Context,
    private readonly client: FsClient,
    private readonly mounts: MountTable,
    private readonly procs: ProcTable,
    /** Forgets what the name cache holds of a mount's files: called as it is mounted again. */
    private readonly forget: (m: Mount) => void,
  ) {
    this.direct = new FsRequests(client.send);
  }

  /**
   * The Send of the syscalls: an op of a mount's file system. A mount still mounted whose file
   * system restarted (ENODEV) is made again and the op tried once more (EIO if it restarted
   * again meanwhile). An op on a mount being unmounted waits for the outcome; on one that is
   * gone it fails with ESTALE (a path syscall then walks its path again). A change is logged
   * for replay while the mount is unsynced.
   */
  readonly send: Send = async <O extends FsOp>(mnt: Mount, op: O, args: FsArgs<O>): Promise<ResultOf<FsOps[O]>> => {
    if (this.halting) throw new SysError('EIO', `${op}: the kernel is halting`);
    if (mnt.state !== 'mounted') await this.enter(mnt, op); // the common case takes no extra turn
    const again = this.remounting.get(mnt);
    if (again) {
      // The file system is being mounted again and given back its replay log: until that is
      // over it is half replayed (a file the log truncates and then writes reads as empty), and
      // the handles of files made again are not yet known. The op waits, then names them.
      await again.catch(() => {});
      if (mnt.log) args = mnt.log.mapArgs(args);
    }
    let result: ResultOf<FsOps[O]>;
    try {
      result = await this.tracked(mnt, op, args);
    } catch (err) {
      if (!(err instanceof SysError && err.errno === 'ENODEV')) throw err;
      try {
        await this.enter(mnt, op); // an unmount under way decides first: gone, or still mounted
        await this.remount(mnt);
        await this.enter(mnt, op);
        if (mnt.log) args = mnt.log.mapArgs(args); // a file made again has a new handle
        result = await this.tracked(mnt, op, args);
      } catch (again) {
        // ENODEV is between vfs and a file system: a client hears that its call could not be made.
        if (!(again instanceof SysError && again.errno === 'ENODEV')) throw again;
        throw new SysError('EIO', `${op}: ${mnt.target}: its file system (${mnt.fs}) restarted again while the call was being made again`);
      }
    }
    if (CHANGING_OPS.has(op)) {
      mnt.unsynced = true;
      mnt.log?.record(op, args, result);
      // An unmount under way commits everything anyway.
      if (mnt.log && mnt.log.bytes > REPLAY_LIMIT && mnt.state === 'mounted') await this.syncMount(mnt);
    }
    return result;
  };

  /** Waits while m is being unmounted; ESTALE if it is gone. */
  async enter(m: Mount, op: string): Promise<void> {
    while (m.settled) await m.settled;
    if (m.state === 'gone') throw new SysError('ESTALE', `${op}: ${m.target} was unmounted while the call was under way`);
  }

  /** Makes a mount durable; its replay log is then empty. */
  async syncMount(m: Mount): Promise<void> {
    const mark = m.log?.mark();
    await this.send(m, 'sync', {});
    if (mark !== undefined) m.log?.clearBefore(mark);
  }

  /** Mounts m again after its file system restarted; callers that meet the same restart share one. */
  remount(m: Mount): Promise<void> {
    let p = this.remounting.get(m);
    if (!p) {
      p = this.mountAgain(m).finally(() => this.remounting.delete(m));
      this.remounting.set(m, p);
    }
    return p;
  }

  /** The mount-again of m under way, if any. */
  remountUnderWay(m: Mount): Promise<void> | undefined {
    return this.remounting.get(m);
  }

  /** Sends an op to m's file system, counted in m.inflight until it is answered. */
  private tracked<O extends FsOp>(m: Mount, op: O, args: FsArgs<O>): Promise<ResultOf<FsOps[O]>> {
    const sent = this.direct.send(m, op, args);
    m.inflight.add(sent);
    const done = () => m.inflight.delete(sent);
    sent.then(done, done);
    return sent;
  }

  private async mountAgain(m: Mount): Promise<void> {
    this.forget(m);
    try {
      await this.mountAndReplay(m);
    } finally {
      this.forget(m); // what was cached meanwhile may name files its replay made again
    }
  }

  private async mountAndReplay(m: Mount): Promise<void> {
    const r = await this.client.mount(m.fs, m.args);
    const fresh = r.root.ino !== m.root.ino || r.root.gen !== m.root.gen;
    m.fsid = r.fsid;
    m.root = r.root;
    this.ctx.hyp.log('warn', `${m.target}: ${m.fs} restarted; mounted again${fresh ? ' (its content was lost)' : ''}`);
    const files = new Set<OpenFile>();
    for (const q of this.procs.all()) {
      for (const f of q.fds) if (f?.node?.mnt === m) files.add(f);
      if (fresh && q.cwd?.mnt === m) q.cwd = null;
    }
    // The open files are opened again as soon as the new incarnation has them: those on its disk
    // before the replay, those the replay makes again as it makes them. A replayed unlink or
    // rename over an open file then leaves it open with no name, freed at its last close, as
    // the unlink did the first time, instead of freeing it under its fds.
    const unopened = new Set<OpenFile>();
    // A file the new incarnation does not have (yet) is left for later; ENODEV (it died too)
    // ends this mount-again, its replay log kept for the next.
    const openAgain = (f: OpenFile, h: Handle) => this.direct.open({ mnt: m, h }).then(() => unopened.delete(f), rethrowIfGone);
    for (const f of files) {
      unopened.add(f);
      await openAgain(f, f.node!.h);
    }
    const found = async (before: Handle, now: Handle) => {
      for (const f of unopened) if (sameHandle(f.node!.h, before)) await openAgain(f, now);
    };
    if (!r.intact && !(m.log && (await this.replay(m, files, found)))) {
      // Unless the file system kept it all (intact), what was written and not yet synced died
      // with the old incarnation: the next fsync of those files, and the next sync, must say so
      // rather than succeed on the new one.
      if (m.unsynced) m.lost = true;
      for (const f of files) if (f.unsynced) f.lost = true;
    }
    for (const f of unopened) await this.direct.open(f.node!).catch(() => {});
    if (fresh) for (const child of this.mounts.childrenOf(m)) await this.coverAgain(m, child);
  }

  /** Sends a restarted file system what its predecessor took with it; true when all went back. */
  private async replay(m: Mount, files: Set<OpenFile>, found: (before: Handle, now: Handle) => Promise<void>): Promise<boolean> {
    const log = m.log!;
    if (log.empty) return true;
    const incarnation = this.ctx.restarts(m.fs);
    try {
      await log.replay((op, args) => this.direct.send(m, op as FsOp, args), found);
    } catch (err) {
      // The file system died again (ENODEV, or EIO for a change in flight): the next
      // incarnation gets the whole log again.
      if (this.ctx.restarts(m.fs) !== incarnation) throw err;
      rethrowIfGone(err);
      this.ctx.hyp.log('warn', `${m.target}: replaying the changes since its last sync failed: ${(err as Error).message}`);
      log.clear();
      return false;
    }
    for (const f of files) f.node = { mnt: m, h: log.map(f.node!.h) };
    for (const q of this.procs.all()) if (q.cwd?.mnt === m) q.cwd = { mnt: m, h: log.map(q.cwd.h) };
    for (const child of this.mounts.childrenOf(m)) this.mounts.recover(child, { mnt: m, h: log.map(child.covered!.h) });
    return true;
  }

  /** Makes a child mount's directory again in a file system that came back empty. */
  private async coverAgain(m: Mount, child: Mount): Promise<void> {
    const names = child.target.slice(m.target.length).split('/').filter(Boolean);
    let dir: Vnode = { mnt: m, h: m.root };
    for (const name of names) {
      const w = await this.direct.walk(dir, [name]);
      const h: Handle = w.steps.length
        ? w.steps[0].handle
        : (await this.direct.mkdir(dir, name, MOUNT_POINT_MODE, 0, 0)).handle;
      dir = { mnt: m, h };
    }
    this.mounts.recover(child, dir);
  }
}

type Handler = (a: Record<string, unknown>) => unknown;

/**
 * The syscall handlers as clients reach them: each meets a stale handle as ops.ts declares
 * (`walksPath`), and a path syscall first refuses text arguments that hold NUL, and paths that
 * are not byte strings (namei.ts's refuseBadText).
 */
export function handleStale<H extends { [op: string]: (a: never) => unknown }>(
  handlers: H, walksPath: { readonly [K in keyof H]: boolean }, mounts: MountTable,
): H {
  const guarded: Record<string, Handler> = {};
  for (const [op, handler] of Object.entries(handlers) as [string, Handler][]) {
    guarded[op] = walksPath[op] ? walkAgainWhenStale(op, handler, mounts) : staleIsLost(op, handler);
  }
  return guarded as unknown as H; // the same ops, each wrapped
}

/**
 * A path syscall, made again from its walk when it meets a stale handle: what it walked to was
 * removed, or its file system came back empty after a restart, between the walk and the op. A
 * file system checks a call's handles before it changes anything, so the op that met one
 * changed nothing. A handle still stale after a walk per mount and one more names something
 * that is gone: ENOENT, as a walk that came later would say.
 */
function walkAgainWhenStale(op: string, handler: Handler, mounts: MountTable): Handler {
  return async (a) => {
    refuseBadText(op, a);
    for (let walks = 1; ; walks++) {
      try {
        return await handler(a);
      } catch (err) {
        if (!(err instanceof SysError && err.errno === 'ESTALE')) throw err;
        if (walks > mounts.all().length) throw new SysError('ENOENT', `${op}: removed while the call ran (${err.message})`);
      }
    }
  };
}

/**
 * Any other syscall: a stale handle there is an open file (or cwd) whose object its file
 * system lost with a restart, which no new walk can find: EIO.
 */
function staleIsLost(op: string, handler: Handler): Handler {
  return (a) => {
    const result = handler(a);
    if (!(result instanceof Promise)) return result;
    return result.catch((err: unknown) => {
      if (err instanceof SysError && err.errno === 'ESTALE') throw new SysError('EIO', `${op}: its file was lost with its file system (${err.message})`);
      throw err;
    });
  };
}
