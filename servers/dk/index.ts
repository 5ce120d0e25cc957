// dk: partitions of a disk image as block devices of their own (NetBSD's wedges, dk(4)). A unit
// of dk is one partition of an MBR (primary or logical) or GPT disk (table.ts): the byte range
// of the disk the table gives it, every request bounded by it and moved by its start, and served
// by a unit of blk under it. blk holds an image once, so dk holds one blk unit per disk (as the
// holder `dk:PATH`) shared by all the partition units attached on it: read-write as soon as one
// of them is (a read-write attach over a disk held read-only attaches it again read-write, which
// blk's same-holder rule lets take the read-only unit over), read-only otherwise, and detached
// with the last one. A partition is attached read-write by one unit, or read-only by any number;
// the holder of a unit (a file system's mount) attaching its partition again takes it over, as
// in blk. A commit is one blk commit, so it stays atomic (blk's write-ahead log).
//
// Restart story: a fresh start and a restart are the same: units are forgotten, and each
// attacher (ext2's device, cgd) attaches again when it meets ENXIO. The blk units the dead
// incarnation held are taken over by the new one's attach of the same disk, as the same holder.

import {
  BLOCK_OPS, BlockUnit, MAX_IO, SysError, checkCommit, checkRequest, checkWritable, defineComponent, op, type Context, type Handlers,
  type UnitBounds, type UnitInfo,
} from '../../kernel/api.js';
import { namePartitionSentence, probeTable, requireTable, SECTOR, type DiskReader, type PartitionTable } from './table.js';

/** The ops of dk: those of any block device on its units, and the table of a disk. */
const DK_OPS = {
  /**
   * Attaches partition `partition` (its number, as `rumpus parts` lists it) of the disk image at
   * `path`: the unit is that partition. `holder` names who attaches (a mount): the same holder
   * attaching the same partition again takes its unit over. EINVAL for a disk without a
   * partition table, a number it does not have, or an extended partition; EBUSY if the partition
   * is attached read-write (or read-only, for a read-write attach) by another; EUCLEAN for a
   * damaged table; and blk's errors (ENOENT, EBUSY for the image held elsewhere…).
   */
  attach: op<UnitInfo>()({ args: { path: 'string', partition: 'uint', readonly: 'boolean?', holder: 'string?' }, idempotent: false }),
  ...BLOCK_OPS,
  /**
   * The partition table of the disk image at `path` (table.ts's PartitionTable: scheme, disk
   * size, sector size, partitions with start and size in bytes, type and its name; notes on
   * what was read around). EINVAL when it has none, EUCLEAN when it is damaged.
   */
  table: op<PartitionTable>()({ args: { path: 'string' }, idempotent: true }),
  /**
   * For a user about to take a whole image (a file system's mount), on the blk unit `unit` it
   * attached: nothing when the image has no partition table (only a valid MBR or a GPT counts:
   * table.ts's probeTable); EINVAL when it has one, the sentence naming its partitions as
   * `name@N` ('disk.img has an MBR partition table: name a partition, disk.img@1 (FAT32 (LBA),
   * 16 MiB) or disk.img@2 (Linux, 48 MiB)'); EUCLEAN for a damaged one.
   */
  probe: op<void>()({ args: { unit: 'uint', name: 'string' }, idempotent: true }),
};

declare module '../../kernel/ops.js' {
  interface Components {
    dk: typeof DK_OPS;
  }
}

export default defineComponent({
  name: 'dk',
  description: 'disk partitions (MBR, GPT) as block devices on blk',
  requires: ['blk'],
  ops: DK_OPS,
  init: {
    fresh: (ctx) => serve(ctx),
  },
});

/** A disk image some partition units are attached on, and the blk unit they share. */
interface Disk {
  /** The image's identity (blk's identify): every spelling of its path shares one Disk. */
  id: string;
  path: string;
  blk: BlockUnit;
  readonly: boolean;
  /** Partition units attached on it. */
  users: number;
}

interface Unit {
  unit: number;
  path: string;
  partition: number;
  /** The partition's byte range on the disk. */
  start: number;
  size: number;
  readonly: boolean;
  holder: string | undefined;
  disk: Disk;
}

/** The bytes of a blk unit as the table reader reads them. */
function reader(path: string, blk: BlockUnit): DiskReader {
  return { name: path, size: blk.size, read: (offset, length) => blk.read(offset, length) };
}

function serve(ctx: Context): Handlers<typeof DK_OPS> {
  const units = new Map<number, Unit>();
  /** By identity (blk's identify). */
  const disks = new Map<string, Disk>();
  let nextUnit = 1;
  /** Attaches and detaches one at a time: each changes `disks` across awaits. */
  let changing: Promise<unknown> = Promise.resolve();
  const serially = <T>(fn: () => Promise<T>): Promise<T> => {
    const result = changing.then(fn, fn);
    changing = result.catch(() => {});
    return result;
  };

  const get = (unit: number): Unit => {
    const u = units.get(unit);
    if (!u) throw new SysError('ENXIO', `dk: no unit ${unit}`);
    return u;
  };
  const info = (u: Unit): UnitInfo => ({
    unit: u.unit, source: `${u.path}@${u.partition}`, size: u.size, sectorSize: SECTOR, sectors: u.size / SECTOR, readonly: u.readonly,
  });
  /** What dk's requests on u are checked against: the partition. */
  const bounds = (u: Unit): UnitBounds => ({ device: 'dk', unit: u.unit, size: u.size, sectorSize: SECTOR, maxIo: MAX_IO, readonly: u.readonly });

  const identify = (path: string) => ctx.call('blk', 'identify', { path }) as Promise<string>;
  /**
   * The disk `id` (at `path`), held read-write if `readonly` is false; one more user of it. The
   * blk holder is named by the identity, so that any spelling of the path takes it over.
   */
  const useDisk = async (id: string, path: string, readonly: boolean): Promise<Disk> => {
    const held = disks.get(id);
    const attach = () => BlockUnit.attach(ctx, 'blk', { path, readonly: readonly || undefined, holder: `dk:${id}` });
    if (held === undefined) {
      const d: Disk = { id, path, blk: await attach(), readonly, users: 1 };
      disks.set(id, d);
      return d;
    }
    if (held.readonly && !readonly) {
      held.blk = await attach(); // blk hands the read-only unit over to it: the same holder
      held.readonly = false;
    }
    held.users++;
    return held;
  };
  const releaseDisk = async (d: Disk): Promise<void> => {
    if (--d.users > 0) return;
    disks.delete(d.id);
    await d.blk.detach();
  };

  return {
    attach: ({ path, partition, readonly = false, holder }) => serially(async () => {
      const id = await identify(path);
      for (const other of [...units.values()]) {
        if (other.disk.id !== id || other.partition !== partition) continue;
        if (holder !== undefined && other.holder === holder) {
          // The same holder again (the file system that attached it restarted): it takes the unit over.
          ctx.hyp.log('info', `dk: ${path}@${partition}: unit ${other.unit} taken over by its holder ${holder}`);
          units.delete(other.unit);
          await releaseDisk(other.disk);
        } else if (!readonly || !other.readonly) {
          const by = other.holder !== undefined ? `, for ${other.holder}` : '';
          throw new SysError('EBUSY', `dk: ${path}@${partition} is already attached ${other.readonly ? 'read-only' : 'read-write'} (unit ${other.unit}${by})`);
        }
      }
      const disk = await useDisk(id, path, readonly);
      try {
        const table = await requireTable(reader(path, disk.blk));
        const p = table.partitions.find((q) => q.number === partition);
        if (p === undefined) {
          throw new SysError('EINVAL', `dk: ${path} has no partition ${partition} (its partitions: ${table.partitions.map((q) => q.number).join(', ') || 'none'})`);
        }
        if (p.extended) throw new SysError('EINVAL', `dk: ${path}@${partition} is an extended partition: the container of the logical ones (from ${path}@5)`);
        for (const note of table.notes) ctx.hyp.log('warn', `dk: ${path}: ${note}`);
        const u: Unit = { unit: nextUnit++, path, partition, start: p.start, size: p.size, readonly, holder, disk };
        units.set(u.unit, u);
        return info(u);
      } catch (err) {
        await releaseDisk(disk).catch(() => {});
        throw err;
      }
    }),
    detach: ({ unit }) => serially(async () => {
      const u = get(unit);
      units.delete(unit);
      await releaseDisk(u.disk);
    }),
    info: ({ unit }) => info(get(unit)),
    read({ unit, offset, length }) {
      const u = get(unit);
      checkRequest(bounds(u), 'read', offset, length);
      return u.disk.blk.read(u.start + offset, length);
    },
    write({ unit, offset, data }) {
      const u = get(unit);
      checkRequest(bounds(u), 'write', offset, data.length);
      checkWritable(bounds(u));
      return u.disk.blk.write(u.start + offset, data);
    },
    flush: ({ unit }) => get(unit).disk.blk.flush(),
    commit({ unit, writes }) {
      const u = get(unit);
      const list = checkCommit(bounds(u), writes);
      return u.disk.blk.commit(list.map((w) => ({ offset: u.start + w.offset, data: w.data })));
    },
    async table({ path }) {
      const held = disks.get(await identify(path));
      if (held !== undefined) return requireTable(reader(path, held.blk));
      const blk = await BlockUnit.attach(ctx, 'blk', { path, readonly: true });
      try {
        return await requireTable(reader(path, blk));
      } finally {
        await blk.detach();
      }
    },
    async probe({ unit, name }) {
      const { size } = await ctx.call('blk', 'info', { unit });
      const table = await probeTable({ name, size, read: (offset, length) => ctx.call('blk', 'read', { unit, offset, length }) });
      if (table !== null) throw new SysError('EINVAL', `dk: ${namePartitionSentence(name, table)}`);
    },
    async stop() {
      for (const d of disks.values()) await d.blk.detach().catch(() => {});
      disks.clear();
      units.clear();
    },
  };
}
