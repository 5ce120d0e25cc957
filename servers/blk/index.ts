// blk: block devices backed by a host file (through hyp) or by RAM. A unit is attached once
// and then read and written in whole sectors; a request that is misaligned or runs past the
// end is refused with EINVAL before anything touches the backing store.

import { SysError, defineComponent, type HostFile } from '../../kernel/api.js';

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
}

function info(u: Unit) {
  return { unit: u.unit, source: u.source, size: u.size, sectorSize: u.sectorSize, sectors: u.size / u.sectorSize, readonly: u.readonly };
}

export default defineComponent({
  name: 'blk',
  description: 'block devices on host files or RAM',
  requires: [],
  ops: {
    /** Attaches a device: {path} for a host file, or {ram: bytes}. → info */
    attach: { args: { path: 'string?', ram: 'uint?', sectorSize: 'uint?', readonly: 'boolean?' }, idempotent: false },
    detach: { args: { unit: 'uint' }, idempotent: false },
    /** → {unit, source, size, sectorSize, sectors, readonly} */
    info: { args: { unit: 'uint' }, idempotent: true },
    /** Reads `length` bytes at byte `offset`, both multiples of the sector size. */
    read: { args: { unit: 'uint', offset: 'uint', length: 'uint' }, idempotent: true },
    /** Writes data at byte `offset`; offset and length multiples of the sector size. */
    write: { args: { unit: 'uint', offset: 'uint', data: 'bytes' }, idempotent: true },
    /** Makes every completed write durable. */
    flush: { args: { unit: 'uint' }, idempotent: true },
  },
  start(ctx) {
    const units = new Map<number, Unit>();
    let nextUnit = 1;
    const { hyp } = ctx;

    const get = (unit: number): Unit => {
      const u = units.get(unit);
      if (!u) throw new SysError('ENXIO', `blk: no unit ${unit}`);
      return u;
    };
    const check = (u: Unit, op: string, offset: number, length: number) => {
      if (offset % u.sectorSize || length % u.sectorSize) {
        throw new SysError('EINVAL', `blk: ${op} of ${length} bytes at ${offset} is not aligned to ${u.sectorSize}-byte sectors`);
      }
      if (offset + length > u.size) {
        throw new SysError('EINVAL', `blk: ${op} of ${length} bytes at ${offset} runs past the end of unit ${u.unit} (${u.size} bytes)`);
      }
      if (length > MAX_IO) throw new SysError('EINVAL', `blk: ${op} of ${length} bytes exceeds the limit of ${MAX_IO}`);
    };

    return {
      attach({ path, ram, sectorSize = 512, readonly = false }: { path?: string; ram?: number; sectorSize?: number; readonly?: boolean }) {
        if ((path === undefined) === (ram === undefined)) throw new SysError('EINVAL', 'blk: attach needs exactly one of path and ram');
        if (!SECTOR_SIZES.includes(sectorSize)) throw new SysError('EINVAL', `blk: sector size ${sectorSize} is not one of ${SECTOR_SIZES.join(', ')}`);
        let u: Unit;
        if (path !== undefined) {
          const file = hyp.fileOpen(path, { readonly });
          const bytes = hyp.fileSize(file);
          const size = bytes - (bytes % sectorSize);
          u = { unit: nextUnit++, source: path, size, sectorSize, readonly, file, ram: null };
        } else {
          if (ram! % sectorSize || ram! > 2 ** 31) {
            throw new SysError('EINVAL', `blk: a RAM disk must be a multiple of ${sectorSize} bytes, at most 2 GiB`);
          }
          u = { unit: nextUnit++, source: 'ram', size: ram!, sectorSize, readonly, file: null, ram: new Uint8Array(ram!) };
        }
        units.set(u.unit, u);
        return info(u);
      },
      detach({ unit }: { unit: number }) {
        const u = get(unit);
        units.delete(unit);
        if (u.file !== null) hyp.fileClose(u.file);
      },
      info: ({ unit }: { unit: number }) => info(get(unit)),
      read({ unit, offset, length }: { unit: number; offset: number; length: number }) {
        const u = get(unit);
        check(u, 'read', offset, length);
        if (u.ram) return u.ram.slice(offset, offset + length);
        const buf = new Uint8Array(length);
        hyp.filePread(u.file!, buf, offset); // past the host file's end (it shrank): zeros
        return buf;
      },
      write({ unit, offset, data }: { unit: number; offset: number; data: Uint8Array }) {
        const u = get(unit);
        check(u, 'write', offset, data.length);
        if (u.readonly) throw new SysError('EROFS', `blk: unit ${unit} is read-only`);
        if (u.ram) u.ram.set(data, offset);
        else hyp.filePwrite(u.file!, data, offset);
      },
      flush({ unit }: { unit: number }) {
        const u = get(unit);
        if (u.file !== null && !u.readonly) hyp.fileSync(u.file);
      },
      stop() {
        for (const u of units.values()) if (u.file !== null) hyp.fileClose(u.file);
        units.clear();
      },
    };
  },
});
