// tmpfs: an in-memory file system. Each mount is an independent instance.
//
// Restart story: a named instance (options.instance, which vfs always gives: the mount's target)
// is kept in ctx.keep as it changes (./kept.ts): every op's changes in one put, committed at
// fsync and sync. A restarted tmpfs rebuilds each kept instance, checks it before serving it,
// and serves it under its name again, with the same root handle: vfs's remount finds it with
// its content. Under a thread domain that is every acknowledged change; under a process domain,
// every change up to the last sync point (and, shipped within kernel/keep-stores.ts's SHIP_MS,
// most after it). A kept instance that fails its check is dropped and logged, as is kept state
// the core found damaged: vfs then gets an empty instance and says the content was lost.

import {
  FS_OPS, FsInstances, SysError, defineComponent, instanceOps, type Context, type FsOps, type Handlers, type RestartInfo,
} from '../../kernel/api.js';
import { InstanceKeeper, groupKept, rebuild } from './kept.js';
import { Tmpfs } from './tmpfs.js';

/** Default size of an instance: 1 GiB of content, a million inodes. */
const DEFAULT_BYTES = 1 << 30;
const DEFAULT_INODES = 1 << 20;

declare module '../../kernel/ops.js' {
  interface Components {
    tmpfs: FsOps;
  }
}

export default defineComponent({
  name: 'tmpfs',
  description: 'in-memory file system',
  requires: [],
  ops: FS_OPS,
  init: {
    fresh: (ctx) => serve(ctx, 0),
    restart: (ctx, info) => serve(ctx, info.generation, info),
  },
});

interface Instance {
  t: Tmpfs;
  /** Unnamed instances are not kept: nothing could find them again. */
  keeper: InstanceKeeper | null;
  /** Rebuilt from what an earlier incarnation kept. */
  rebuilt: boolean;
}

/** The handlers of incarnation `generation` (0 at boot), with the instances it was left. */
function serve(ctx: Context, generation: number, restart?: RestartInfo): Handlers<FsOps> {
  const instances = new FsInstances<Instance>('tmpfs', generation);
  const fs = instances.get;
  let nextKeptId = 1;
  const now = () => ctx.hyp.clockRealtime();

  if (restart?.keptLost) ctx.hyp.log('warn', `tmpfs: ${restart.keptLost}; its instances start empty`);
  const { instances: kept, stray } = groupKept(restart?.kept ?? new Map());
  const dropped = [...stray];
  for (const g of kept) {
    nextKeptId = Math.max(nextKeptId, g.id + 1);
    const name = (g.record as { name?: unknown } | undefined)?.name;
    const keeper = new InstanceKeeper(ctx.keep, g.id, String(name));
    try {
      const t = rebuild(g, now, keeper);
      keeper.flush(); // lets go of what was removed while open
      instances.add({ t, keeper, rebuilt: true }, keeper.name);
    } catch (err) {
      ctx.hyp.log('warn', `tmpfs: kept instance ${typeof name === 'string' ? `'${name}'` : g.id} dropped, its check failed: ${(err as Error).message}`);
      dropped.push(...g.keys);
    }
  }
  if (dropped.length) ctx.keep.put(dropped.map((k) => [k, undefined]));

  // Each op's changes go to the keep as one put, before its reply; fsync and sync commit.
  const flushed = <A extends { fsid: number }, R>(op: (a: A) => R) => (a: A): R => {
    try {
      return op(a);
    } finally {
      instances.find(a.fsid)?.keeper?.flush();
    }
  };
  const ops = instanceOps((fsid) => fs(fsid).t);
  const handlers = Object.fromEntries(Object.entries(ops).map(([name, op]) => [name, flushed(op as (a: { fsid: number }) => unknown)])) as unknown as typeof ops;

  return {
    mount({ options = {} }) {
      // Mounting a named instance again (after vfs or tmpfs restarted) gives back the same one.
      const named = typeof options.instance === 'string' ? instances.named(options.instance) : undefined;
      if (named) {
        // Rebuilt, it holds every change its predecessor acknowledged only if every put survived the crash at once.
        const intact = !named.instance.rebuilt || ctx.keep.immediate;
        return { fsid: named.fsid, root: named.instance.t.root, readonly: false, intact };
      }
      const size = options.size ?? DEFAULT_BYTES;
      const inodes = options.inodes ?? DEFAULT_INODES;
      if (!Number.isSafeInteger(size) || (size as number) < 4096) throw new SysError('EINVAL', 'tmpfs: option size must be an integer of at least 4096 bytes');
      if (!Number.isSafeInteger(inodes) || (inodes as number) < 1) throw new SysError('EINVAL', 'tmpfs: option inodes must be a positive integer');
      const random = ctx.hyp.random(4);
      const firstGeneration = ((random[0] << 23) | (random[1] << 15) | (random[2] << 7) | random[3]) >>> 0;
      const name = typeof options.instance === 'string' ? options.instance : undefined;
      const keeper = name === undefined ? null : new InstanceKeeper(ctx.keep, nextKeptId++, name);
      const limits = { maxBytes: size as number, maxInodes: inodes as number };
      const t = new Tmpfs(now, limits, firstGeneration, keeper ?? undefined);
      if (keeper) {
        keeper.attach(t);
        keeper.flush(); // the root and the instance record
      }
      const fsid = instances.add({ t, keeper, rebuilt: false }, name);
      return { fsid, root: t.root, readonly: false };
    },
    async unmount({ fsid }) {
      const { keeper } = instances.remove(fsid);
      if (!keeper) return;
      // Committed before it answers: a restart must not bring back an instance vfs let go of,
      // for the next mount at the same place to find.
      keeper.forget();
      await ctx.keep.commit();
    },
    ...handlers,
    fsync: async (a) => {
      handlers.fsync(a);
      await ctx.keep.commit();
    },
    sync: async (a) => {
      handlers.sync(a);
      await ctx.keep.commit();
    },
  };
}
