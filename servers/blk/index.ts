// blk: block devices backed by a host file (through hyp) or by RAM. A unit is attached once
// and then read and written in whole sectors; a request that is misaligned or runs past the
// end is refused with EINVAL before anything touches the backing store.
//
// An image is claimed by its identity (device, inode), whatever path names it: read-write by one
// unit, in any kernel or process, and read-only by any number of units while nobody writes it
// (hyp's fileClaim, and this blk's own table of units). A second attach gets EBUSY naming the
// holder — unless it comes from the same holder (a file system's mount, after that file system
// restarted): that one takes the unit over.
//
// Restart story: a fresh start and a restart are the same: units are forgotten, and each
// attacher (ext2's device, cgd) attaches again when it meets ENXIO. The claims of the dead blk are
// stale — the thread or process that held them is gone — and the new attach takes them over. A
// commit the dead blk had sealed in an image's log is completed by the next read-write attach.

import {
  BLOCK_OPS, SysError, checkCommit, checkRequest, checkWritable, defineComponent, op, type HostFile, type Hyp, type UnitBounds, type UnitInfo,
} from '../../kernel/api.js';
import { committedOverlay, WriteAheadLog, type Overlay } from './wal.js';

/** Largest single transfer, in bytes. */
const MAX_IO = 64 * 1024 * 1024;
const SECTOR_SIZES = [512, 1024, 2048, 4096];

interface Unit {
  unit: number;
  /** The host path, or 'ram'. */
  source: string;
  size: number;
  sectorSize: number;
  readonly: boolean;
  file: HostFile | null;
  ram: Uint8Array | null;
  /** The host file's identity ('dev:ino'), or null for RAM. */
  identity: string | null;
  /** Who attached it, if it said (a file system's mount): the same holder may take it over. */
  holder: string | undefined;
  /** The log that makes commits to a writable host file atomic (null for RAM and read-only units). */
  wal: WriteAheadLog | null;
  /** Read-only: a sealed commit left in the image's log, laid over reads. */
  overlay: Overlay | null;
}

/**
 * Opens and claims a host image (creating it and setting it to `size` bytes, if given), after
 * checking `units` for another unit of the same image. EBUSY if the image is taken.
 */
function openImage(hyp: Hyp, units: Map<number, Unit>, close: (u: Unit) => void, a: { path: string; size?: number; readonly: boolean; holder?: string }): { file: HostFile; identity: string } {
  const file = hyp.fileOpen(a.path, { readonly: a.readonly, create: a.size !== undefined });
  try {
    const identity = hyp.fileIdentity(file);
    for (const other of units.values()) {
      if (other.identity !== identity) continue;
      if (a.holder !== undefined && other.holder === a.holder) {
        // The same holder again: the file system that attached it restarted. It takes the unit over.
        hyp.log('info', `blk: ${a.path}: unit ${other.unit} taken over by its holder ${a.holder}`);
        units.delete(other.unit);
        close(other);
      } else if (!a.readonly || !other.readonly) {
        const as = other.source !== a.path ? `, opened as ${other.source}` : '';
        const by = other.holder !== undefined ? `, for ${other.holder}` : '';
        throw new SysError('EBUSY', `blk: ${a.path} is already attached ${other.readonly ? 'read-only' : 'read-write'} in this kernel (unit ${other.unit}${by}${as})`);
      }
    }
    hyp.fileClaim(file, { exclusive: !a.readonly, note: `attached ${a.readonly ? 'read-only' : 'read-write'}${a.holder !== undefined ? ` for ${a.holder}` : ''}` });
    if (a.size !== undefined) hyp.fileTruncate(file, a.size);
    return { file, identity };
  } catch (err) {
    hyp.fileClose(file);
    throw err;
  }
}

function info(u: Unit): UnitInfo {
  return { unit: u.unit, source: u.source, size: u.size, sectorSize: u.sectorSize, sectors: u.size / u.sectorSize, readonly: u.readonly };
}

/** The ops of blk. */
const BLK_OPS = {
  /**
   * Attaches a device: {path} for a host file, or {ram: bytes}. With {path, size} the file
   * is created if missing and set to exactly `size` bytes (for mkfs). `holder` names who
   * attaches (a mount): the same holder attaching the same image again takes its unit over.
   * EBUSY if the image is attached read-write elsewhere (or read-only, for a read-write
   * attach), in this kernel or another; EUCLEAN for a stale write-ahead log. A read-write host
   * file's commits are atomic through a write-ahead log beside it (IMG.wal), made by the first
   * commit: a user that only writes and flushes (a file system journaling into the image
   * itself) leaves none. A sealed commit an earlier attach left in that log is completed first.
   */
  attach: op<UnitInfo>()({ args: { path: 'string?', size: 'uint?', ram: 'uint?', sectorSize: 'uint?', readonly: 'boolean?', holder: 'string?' }, idempotent: false }),
  /**
   * The identity of the host file at `path` ('device:inode'): the same for every path that
   * names that file (a relative one, a symlink, a hard link), as attach compares them. The
   * host's errors of opening it read-only (ENOENT, EACCES…).
   */
  identify: op<string>()({ args: { path: 'string' }, idempotent: true }),
  ...BLOCK_OPS,
};

declare module '../../kernel/ops.js' {
  interface Components {
    blk: typeof BLK_OPS;
  }
}

export default defineComponent({
  name: 'blk',
  description: 'block devices on host files or RAM',
  requires: [],
  ops: BLK_OPS,
  init: {
    fresh(ctx) {
      const units = new Map<number, Unit>();
      let nextUnit = 1;
      const { hyp } = ctx;

      const get = (unit: number): Unit => {
        const u = units.get(unit);
        if (!u) throw new SysError('ENXIO', `blk: no unit ${unit}`);
        return u;
      };
      const close = (u: Unit) => {
        try {
          u.wal?.close();
        } finally {
          if (u.file !== null) hyp.fileClose(u.file); // and with it the claim
        }
      };
      /** What blk's requests on u are checked against. */
      const bounds = (u: Unit): UnitBounds => ({ device: 'blk', unit: u.unit, size: u.size, sectorSize: u.sectorSize, maxIo: MAX_IO, readonly: u.readonly });

      return {
        attach(a) {
          const { path, size, ram, sectorSize = 512, readonly = false, holder } = a;
          if ((path === undefined) === (ram === undefined)) throw new SysError('EINVAL', 'blk: attach needs exactly one of path and ram');
          if (!SECTOR_SIZES.includes(sectorSize)) throw new SysError('EINVAL', `blk: sector size ${sectorSize} is not one of ${SECTOR_SIZES.join(', ')}`);
          if (size !== undefined && (readonly || path === undefined)) throw new SysError('EINVAL', 'blk: size is for creating a writable host file');
          let u: Unit;
          if (path !== undefined) {
            const { file, identity } = openImage(hyp, units, close, { path, size, readonly, holder });
            let wal: WriteAheadLog | null = null;
            let overlay: Overlay | null = null;
            let bytes: number;
            try {
              bytes = hyp.fileSize(file);
              if (readonly) overlay = committedOverlay(hyp, path, file);
              else wal = WriteAheadLog.open(hyp, path, file);
            } catch (err) {
              hyp.fileClose(file);
              throw err;
            }
            u = { unit: nextUnit++, source: path, size: bytes - (bytes % sectorSize), sectorSize, readonly, file, ram: null, identity, holder, wal, overlay };
          } else {
            if (ram! % sectorSize || ram! > 2 ** 31) {
              throw new SysError('EINVAL', `blk: a RAM disk must be a multiple of ${sectorSize} bytes, at most 2 GiB`);
            }
            u = { unit: nextUnit++, source: 'ram', size: ram!, sectorSize, readonly, file: null, ram: new Uint8Array(ram!), identity: null, holder, wal: null, overlay: null };
          }
          units.set(u.unit, u);
          return info(u);
        },
        detach({ unit }) {
          const u = get(unit);
          units.delete(unit);
          close(u);
        },
        info: ({ unit }) => info(get(unit)),
        identify({ path }) {
          const file = hyp.fileOpen(path, { readonly: true, create: false });
          try {
            return hyp.fileIdentity(file);
          } finally {
            hyp.fileClose(file);
          }
        },
        read({ unit, offset, length }) {
          const u = get(unit);
          checkRequest(bounds(u), 'read', offset, length);
          if (u.ram) return u.ram.slice(offset, offset + length);
          const buf = new Uint8Array(length);
          hyp.filePread(u.file!, buf, offset); // past the host file's end (it shrank): zeros
          u.overlay?.patch(offset, buf);
          u.wal?.patch(offset, buf); // a commit the host refused part of: reads see it whole
          return buf;
        },
        write({ unit, offset, data }) {
          const u = get(unit);
          checkRequest(bounds(u), 'write', offset, data.length);
          checkWritable(bounds(u));
          if (u.ram) u.ram.set(data, offset);
          else hyp.filePwrite(u.file!, data, offset);
        },
        flush({ unit }) {
          const u = get(unit);
          if (u.file !== null && !u.readonly) hyp.fileSync(u.file);
        },
        commit({ unit, writes }) {
          const u = get(unit);
          const list = checkCommit(bounds(u), writes);
          if (u.wal) u.wal.commit(u.file!, list);
          else for (const w of list) u.ram!.set(w.data, w.offset); // checkCommit refused a read-only unit
        },
        stop() {
          for (const u of units.values()) close(u);
          units.clear();
        },
      };
    },
  },
});
