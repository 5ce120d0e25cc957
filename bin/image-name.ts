// IMAGE@N: partition N of the disk image IMAGE, wherever a command names an image. The rule for a
// host file whose own name ends in @digits: the suffix names a partition only when the whole
// text is not an existing host file (so `rumpus ls backup@2:/` lists the file backup@2 when it
// exists, and partition 2 of backup otherwise).

import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { SysError } from '../kernel/index.js';
import { readTable } from '../servers/dk/table.js';

/** An image as a command names it: a host file, or one partition of it. */
export interface ImageName {
  path: string;
  /** From 1, as `rumpus parts` numbers them. */
  partition?: number;
}

/** '@N' at the end, N decimal from 1. */
const PARTITION_SUFFIX = /^(.+)@([1-9][0-9]{0,9})$/;
/** '@digits' at the end, as a user may mistype a partition: @0, @02, a second @N. */
const DIGITS_SUFFIX = /^(.+)@([0-9]+)$/;

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * The image a text names: IMAGE@N (a partition) unless the whole text is an existing host file.
 * EINVAL, naming the text, for a suffix that is no partition number of an existing file: `@0` or
 * a leading zero (partitions count from 1), or a second `@N` (`disk.img@2@2`).
 */
export function imageName(text: string): ImageName {
  const m = DIGITS_SUFFIX.exec(text);
  if (m === null || exists(text)) return { path: text };
  const [, base, digits] = m;
  if (!PARTITION_SUFFIX.test(text)) {
    if (exists(base)) {
      const n = digits.replace(/^0+/, '');
      const fix = n === '' ? `they are numbered from 1, as \`rumpus parts ${base}\` lists them` : PARTITION_SUFFIX.test(`${base}@${n}`) ? `write it as ${base}@${n}` : 'the number is too large for a partition';
      throw new SysError('EINVAL', `${text}: no such file, and '@${digits}' names no partition: ${fix}`);
    }
    return { path: text };
  }
  const inner = DIGITS_SUFFIX.exec(base);
  if (inner !== null && !exists(base) && exists(inner[1])) {
    throw new SysError('EINVAL', `${text}: no such file, and a partition is named once, as ${inner[1]}@N`);
  }
  return { path: base, partition: Number(digits) };
}

/** An image as a map key: its real path, and its partition (after a NUL, which no path holds). */
export function imageKeyOf(realPath: string, partition: number | undefined): string {
  return partition === undefined ? realPath : `${realPath}\0${partition}`;
}

/** The image as the messages name it: PATH or PATH@N. */
export function shownImage(path: string, partition: number | undefined): string {
  return partition === undefined ? path : `${path}@${partition}`;
}

/**
 * Where an image's bytes start in its host file: 0 for a whole file, the partition's start
 * (dk's table reader, on the host file) for a partition; null when it cannot be told (no such
 * file, table or partition: mounting it says why).
 */
export async function imageStart(name: ImageName): Promise<number | null> {
  if (name.partition === undefined) return 0;
  let fd: number;
  try {
    fd = openSync(name.path, 'r');
  } catch {
    return null;
  }
  try {
    const size = statSync(name.path).size;
    const table = await readTable({
      name: name.path,
      size: size - (size % 512),
      read: async (offset, length) => {
        const buf = new Uint8Array(length);
        readSync(fd, buf, 0, length, offset);
        return buf;
      },
    });
    return table?.partitions.find((p) => p.number === name.partition && !p.extended)?.start ?? null;
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}
