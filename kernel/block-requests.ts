// The checks every block device (blk, cgd) makes of a request on one of its units before it
// touches anything, with the same errors (BLOCK_OPS in kernel/api.ts): misaligned, past the end
// of the unit, larger than one transfer, a write to a read-only unit, a commit's writes that are
// not {offset, data}.

import { SysError } from '../ipc/errno.js';
import type { BlockWrite } from './block-unit.js';

/** What a request is checked against: a unit of the device named `device`. Sizes in bytes. */
export interface UnitBounds {
  /** The device's name, as its messages start: 'blk', 'cgd'. */
  device: string;
  unit: number;
  size: number;
  /** The alignment of every offset and length. */
  sectorSize: number;
  /** The largest single transfer. */
  maxIo: number;
  readonly: boolean;
}

/** Checks `length` bytes at `offset` for op `op`: aligned, inside the unit, within one transfer. EINVAL. */
export function checkRequest(b: UnitBounds, op: string, offset: number, length: number): void {
  if (offset % b.sectorSize || length % b.sectorSize) {
    throw new SysError('EINVAL', `${b.device}: ${op} of ${length} bytes at ${offset} is not aligned to ${b.sectorSize}-byte sectors`);
  }
  if (offset + length > b.size) {
    throw new SysError('EINVAL', `${b.device}: ${op} of ${length} bytes at ${offset} runs past the end of unit ${b.unit} (${b.size} bytes)`);
  }
  if (length > b.maxIo) throw new SysError('EINVAL', `${b.device}: ${op} of ${length} bytes exceeds the limit of ${b.maxIo}`);
}

/** EROFS when the unit is read-only. */
export function checkWritable(b: UnitBounds): void {
  if (b.readonly) throw new SysError('EROFS', `${b.device}: unit ${b.unit} is read-only`);
}

/**
 * A commit's writes, each checked as a write (EINVAL) before any is applied, then the unit
 * writable (EROFS): the list, typed.
 */
export function checkCommit(b: UnitBounds, writes: unknown): BlockWrite[] {
  if (!Array.isArray(writes)) throw new SysError('EINVAL', `${b.device}: commit needs an array of {offset, data}`);
  for (const w of writes) {
    if (!w || typeof w !== 'object' || !Number.isSafeInteger(w.offset) || w.offset < 0 || !(w.data instanceof Uint8Array)) {
      throw new SysError('EINVAL', `${b.device}: each write of a commit must be {offset: integer, data: Uint8Array}`);
    }
    checkRequest(b, 'commit', w.offset, w.data.length);
  }
  checkWritable(b);
  return writes as BlockWrite[];
}
