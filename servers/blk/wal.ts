// A write-ahead log beside a host image, so that a commit — a batch of block writes a file
// system makes at a sync point — reaches the image entirely or not at all, whichever component
// dies, whenever. A commit is written to the log and made durable, then sealed with a trailer
// and made durable again, then applied to the image and synced, and only then is the log
// emptied. A sealed log is never removed before its whole commit is on the image: when the
// host refuses a write while it is applied (EFBIG, ENOSPC), the log stays, reads see the
// commit through it, and the next commit, or the next read-write attach, completes it. An
// unsealed log is a commit that never happened and is thrown away. The log's file is made by
// the first commit, not at attach: a unit that never commits — an image mounted read-write that
// carries its own log, a jbd2 journal, and writes around blk's commits — leaves no IMG.wal.
//
// A sealed log is bound to the image as the commit found it: for each 512-byte sector it logs,
// it records a sum of the sector's content before the commit. A torn apply leaves each logged
// sector with either its content before or after the commit; any other content means the image
// changed since (e2fsck -fy repaired it — it always rewrites the superblock, which every ext2
// commit logs — or another tool wrote it). Such a log is stale: it is never applied, and a
// read-write attach sets it aside (IMG.wal.stale-TIME) and refuses, once, with a sentence. The
// image's identity (device:inode) is recorded too, to explain a stale log; a copy of an image
// with its log (cp, a backup) still recovers, as its content proves the log belongs to it.
//
// Log layout, little-endian: per write [offset u64][length u32][data][sum of each sector before
// the commit, 8 bytes each]; then the trailer [magic 'RUMPUSW2' 8][writes u32][bytes of records
// u32][sum of the records 8][image identity, ASCII, NUL-padded 48].

import { SysError, type HostFile, type Hyp } from '../../kernel/api.js';

const MAGIC = new TextEncoder().encode('RUMPUSW2');
/** The first log format, which carried no proof of the image it belongs to. */
const MAGIC_V1 = new TextEncoder().encode('RUMPUSOK');
const IDENTITY = 48;
const TRAILER = 8 + 4 + 4 + 8 + IDENTITY;
const RECORD_HEAD = 12;
/** The unit of a torn write: each is found whole before or after a commit. */
const SECTOR = 512;
const SUM = 8;

/** One write of a commit: `data` at byte `offset`, both multiples of 512. */
export interface BlockWrite {
  offset: number;
  data: Uint8Array;
}

/** A sealed commit, as in a log. */
export interface Sealed {
  writes: BlockWrite[];
  /** Per write, the sums of its sectors before the commit. */
  before: Uint8Array[];
  identity: string;
}

/**
 * A commit's writes as the image will hold them, laid over reads of an image that does not hold
 * them (yet): the committed state without writing anything.
 */
export class Overlay {
  /** `writes`: sorted by offset, not overlapping. */
  constructor(private readonly writes: BlockWrite[]) {}

  /** Overwrites the parts of `buf` (read at byte `offset` of the image) that the commit wrote. */
  patch(offset: number, buf: Uint8Array): void {
    const end = offset + buf.length;
    let lo = 0;
    let hi = this.writes.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const w = this.writes[mid];
      if (w.offset + w.data.length <= offset) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < this.writes.length && this.writes[i].offset < end; i++) {
      const w = this.writes[i];
      const from = Math.max(offset, w.offset);
      const to = Math.min(end, w.offset + w.data.length);
      buf.set(w.data.subarray(from - w.offset, to - w.offset), from - offset);
    }
  }
}

/** The log of a read-write image. */
export class WriteAheadLog {
  /** A sealed commit not (wholly) on the image yet: the host refused one of its writes. */
  private pending: Sealed | null = null;
  /** The log's file: open from attach when one was there, else from the first commit. */
  private file: HostFile | null = null;
  readonly path: string;

  private constructor(
    private readonly hyp: Hyp,
    private readonly imagePath: string,
  ) {
    this.path = `${imagePath}.wal`;
  }

  /**
   * The log of an image attached read-write: a log left beside it is opened and a sealed commit
   * in it completed; none is created (the first commit does that). ELOOP/EPERM for a log path
   * that is not a regular file of this user's (see Hyp.fileOpen); EUCLEAN for a stale log (set
   * aside); the host's errno if it refuses a write of the commit (the log stays).
   */
  static open(hyp: Hyp, imagePath: string, image: HostFile): WriteAheadLog {
    const wal = new WriteAheadLog(hyp, imagePath);
    const file = wal.openFile(false);
    if (file === null) return wal;
    wal.file = file;
    try {
      wal.recover(image, file);
    } catch (err) {
      hyp.fileClose(file);
      throw err;
    }
    return wal;
  }

  /**
   * Opens the log's file read-write, creating it if `create`; null when it is not there and not
   * to be created. ELOOP/EPERM/EISDIR… with a sentence naming it (what is there, if not a
   * regular file of this user's, is refused: Hyp.fileOpen's `owned`).
   */
  private openFile(create: true): HostFile;
  private openFile(create: false): HostFile | null;
  private openFile(create: boolean): HostFile | null {
    try {
      return this.hyp.fileOpen(this.path, create ? { create: true } : { owned: true });
    } catch (err) {
      if (!create && (err as SysError).errno === 'ENOENT') return null;
      throw new SysError((err as SysError).errno ?? 'EIO', `blk: cannot open the write-ahead log of ${this.imagePath}: ${(err as Error).message}`);
    }
  }

  /** Applies `writes` to `image` atomically and durably. */
  commit(image: HostFile, writes: BlockWrite[]): void {
    const file = (this.file ??= this.openFile(true));
    if (this.pending) this.apply(image, this.pending);
    const read = (offset: number, length: number) => {
      const old = new Uint8Array(length);
      this.hyp.filePread(image, old, offset);
      return old;
    };
    const { sealed, records, trailer } = sealCommit(writes, read, this.hyp.fileIdentity(image));
    this.hyp.filePwrite(file, records, 0);
    this.hyp.fileSync(file);
    this.hyp.filePwrite(file, trailer, records.length);
    this.hyp.fileTruncate(file, records.length + trailer.length); // the trailer ends the log, whatever was there
    this.hyp.fileSync(file);
    this.pending = sealed;
    this.apply(image, sealed);
  }

  /** Overwrites the parts of `buf`, read at `offset` of the image, that a pending commit writes. */
  patch(offset: number, buf: Uint8Array): void {
    if (this.pending) new Overlay(this.pending.writes).patch(offset, buf);
  }

  /** Closes the log, and removes its file (if it has one) unless it holds a commit not yet on the image. */
  close(): void {
    if (this.file === null) return;
    this.hyp.fileClose(this.file);
    if (this.pending) {
      this.hyp.log('warn', `blk: ${this.path} is kept: its commit is not wholly on ${this.imagePath}; the next read-write attach completes it`);
    } else {
      this.hyp.fileUnlink(this.path);
    }
  }

  /** Writes a sealed commit to the image, syncs it, then empties the log; throws, keeping it, if the host refuses. */
  private apply(image: HostFile, sealed: Sealed): void {
    try {
      for (const w of sealed.writes) this.hyp.filePwrite(image, w.data, w.offset);
      this.hyp.fileSync(image);
    } catch (err) {
      const e = err as SysError;
      throw new SysError(e.errno ?? 'EIO', `blk: a sealed commit could not be written to ${this.imagePath} (${e.message}); it is kept in ${this.path}, and the next commit or read-write attach completes it`);
    }
    this.pending = null;
    this.hyp.fileTruncate(this.file!, 0); // a pending commit came from the log's file
    this.hyp.fileSync(this.file!);
  }

  /** Completes a sealed commit found in the log, throws away a torn one, refuses a stale one. */
  private recover(image: HostFile, file: HostFile): void {
    const found = readLog(this.hyp, file, this.path);
    if (found === null) {
      this.hyp.fileTruncate(file, 0);
      return;
    }
    const stale = staleness(this.hyp, image, found, this.path);
    if (stale !== null) {
      const aside = `${this.path}.stale-${new Date(this.hyp.clockRealtime()).toISOString().replace(/[:.]/g, '-')}`;
      this.hyp.fileRename(this.path, aside);
      throw new SysError('EUCLEAN', `blk: ${stale} The log was not applied; it is kept as ${aside}, and the next attach uses ${this.imagePath} as it is.`);
    }
    this.pending = found;
    this.apply(image, found);
    this.hyp.log('warn', `blk: ${this.imagePath}: completed a commit of ${found.writes.length} writes from its write-ahead log`);
  }
}

/**
 * For a read-only attach: the sealed commit in the image's log, as an overlay, or null if there
 * is none. Nothing is written. EUCLEAN for a stale log; ELOOP/EPERM for a log path that is not a
 * regular file of this user's.
 */
export function committedOverlay(hyp: Hyp, imagePath: string, image: HostFile): Overlay | null {
  const path = `${imagePath}.wal`;
  let file: HostFile;
  try {
    file = hyp.fileOpen(path, { readonly: true, owned: true });
  } catch (err) {
    if ((err as SysError).errno === 'ENOENT') return null;
    throw new SysError((err as SysError).errno ?? 'EIO', `blk: cannot read the write-ahead log of ${imagePath}: ${(err as Error).message}`);
  }
  try {
    const found = readLog(hyp, file, path);
    if (found === null) return null;
    const stale = staleness(hyp, image, found, path);
    if (stale !== null) throw new SysError('EUCLEAN', `blk: ${stale} It is not used; a read-write attach sets it aside.`);
    hyp.log('info', `blk: ${imagePath}: read through the sealed commit of ${found.writes.length} writes in its write-ahead log`);
    return new Overlay(found.writes);
  } finally {
    hyp.fileClose(file);
  }
}

/** The sealed commit in a log; null for an empty or torn (unsealed) one; EUCLEAN for a damaged or old one. */
function readLog(hyp: Hyp, file: HostFile, path: string): Sealed | null {
  const size = hyp.fileSize(file);
  if (size === 0) return null;
  const log = new Uint8Array(size);
  hyp.filePread(file, log, 0);
  const found = decodeLog(log);
  if (typeof found === 'string') throw new SysError('EUCLEAN', `blk: ${path} holds a sealed commit that cannot be used: ${found}; move it aside to attach the image as it is`);
  return found;
}

/** Why a sealed commit does not belong to the image as it is now, or null if it does. */
function staleness(hyp: Hyp, image: HostFile, sealed: Sealed, path: string): string | null {
  for (let i = 0; i < sealed.writes.length; i++) {
    const w = sealed.writes[i];
    const now = new Uint8Array(w.data.length);
    hyp.filePread(image, now, w.offset);
    for (let s = 0; s < w.data.length; s += SECTOR) {
      const sector = now.subarray(s, s + SECTOR);
      if (equal(sector, w.data.subarray(s, s + SECTOR))) continue;
      const sum = sectorSums(sector);
      if (equal(sum, sealed.before[i].subarray((s / SECTOR) * SUM, (s / SECTOR + 1) * SUM))) continue;
      const identity = hyp.fileIdentity(image);
      const other = identity === sealed.identity ? '' : ` (the log was written for file ${sealed.identity}; this image is ${identity})`;
      return `${path} holds a sealed commit for the image as it was, but the image has changed since: the sector at byte ${w.offset + s} holds neither what the commit found there nor what it wrote (e2fsck or another tool wrote it)${other}.`;
    }
  }
  return null;
}

/** Sorts writes and merges those that overlap or touch into one (a later write wins). */
function merge(writes: BlockWrite[]): BlockWrite[] {
  const order = writes.map((w, i) => ({ w, i })).sort((a, b) => a.w.offset - b.w.offset || a.i - b.i);
  const out: BlockWrite[] = [];
  for (let k = 0; k < order.length; ) {
    let end = order[k].w.offset + order[k].w.data.length;
    let j = k + 1;
    while (j < order.length && order[j].w.offset <= end) end = Math.max(end, order[j].w.offset + order[j].w.data.length), j++;
    const run = order.slice(k, j);
    if (run.length === 1) out.push(run[0].w);
    else {
      const start = run[0].w.offset;
      const data = new Uint8Array(end - start);
      for (const { w } of run.sort((a, b) => a.i - b.i)) data.set(w.data, w.offset - start);
      out.push({ offset: start, data });
    }
    k = j;
  }
  return out;
}

/** 64-bit sums of each 512-byte sector of `data`. */
function sectorSums(data: Uint8Array): Uint8Array {
  const sums = new Uint8Array((data.length / SECTOR) * SUM);
  const view = new DataView(data.buffer, data.byteOffset, data.length);
  const out = new DataView(sums.buffer);
  for (let s = 0; s < data.length; s += SECTOR) sumInto(view, s, s + SECTOR, out, (s / SECTOR) * SUM);
  return sums;
}

/** A 64-bit sum of `data` (a multiple of 4 bytes). */
function sum64(data: Uint8Array): Uint8Array {
  const sum = new Uint8Array(SUM);
  sumInto(new DataView(data.buffer, data.byteOffset, data.length), 0, data.length, new DataView(sum.buffer), 0);
  return sum;
}

/**
 * Writes at `at` of `out` a 64-bit sum of bytes [start, end) of `view`, a multiple of 4 bytes
 * (sectors; log records): two murmur3-style 32-bit lanes, to tell content apart (not to resist
 * an adversary).
 */
function sumInto(view: DataView, start: number, end: number, out: DataView, at: number): void {
  let a = 0x2f1b3c4d ^ (end - start);
  let b = 0x9747b28c;
  for (let i = start; i < end; i += 4) {
    const k = view.getUint32(i, true);
    let m = Math.imul(k, 0xcc9e2d51);
    m = Math.imul((m << 15) | (m >>> 17), 0x1b873593);
    a ^= m;
    a = (Math.imul((a << 13) | (a >>> 19), 5) + 0xe6546b64) | 0;
    b = Math.imul(b ^ k, 0x85ebca6b);
    b ^= b >>> 13;
  }
  out.setUint32(at, fmix(a), true);
  out.setUint32(at + 4, fmix(b), true);
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Seals a commit against the image's content before it (`read(offset, length)` of the image, and
 * its `identity`): the log's records, and the trailer that seals them (written, and synced, after
 * them). Overlapping or touching writes are merged (a later one wins).
 */
export function sealCommit(writes: BlockWrite[], read: (offset: number, length: number) => Uint8Array, identity: string): { sealed: Sealed; records: Uint8Array; trailer: Uint8Array } {
  const merged = merge(writes);
  const sealed: Sealed = { writes: merged, before: merged.map((w) => sectorSums(read(w.offset, w.data.length))), identity };
  const size = sealed.writes.reduce((n, w) => n + RECORD_HEAD + w.data.length + (w.data.length / SECTOR) * SUM, 0);
  const records = new Uint8Array(size);
  const view = new DataView(records.buffer);
  let at = 0;
  sealed.writes.forEach((w, i) => {
    view.setUint32(at, w.offset % 2 ** 32, true);
    view.setUint32(at + 4, Math.floor(w.offset / 2 ** 32), true);
    view.setUint32(at + 8, w.data.length, true);
    records.set(w.data, at + RECORD_HEAD);
    records.set(sealed.before[i], at + RECORD_HEAD + w.data.length);
    at += RECORD_HEAD + w.data.length + sealed.before[i].length;
  });
  const trailer = new Uint8Array(TRAILER);
  const t = new DataView(trailer.buffer);
  trailer.set(MAGIC, 0);
  t.setUint32(8, sealed.writes.length, true);
  t.setUint32(12, size, true);
  trailer.set(sum64(records), 16);
  trailer.set(new TextEncoder().encode(sealed.identity).subarray(0, IDENTITY), 24);
  return { sealed, records, trailer };
}

/** The sealed commit of a log; null when it holds none (torn); a reason when it is sealed but unusable. */
function decodeLog(log: Uint8Array): Sealed | null | string {
  const t = log.subarray(Math.max(0, log.length - TRAILER));
  if (log.length >= 16 && MAGIC_V1.every((b, i) => log[log.length - 16 + i] === b)) return 'it was written by an earlier rumpus, without the proof that it belongs to the image';
  if (log.length < TRAILER || !MAGIC.every((b, i) => t[i] === b)) return null;
  const tv = new DataView(log.buffer, log.byteOffset + log.length - TRAILER, TRAILER);
  const count = tv.getUint32(8, true);
  const size = tv.getUint32(12, true);
  if (size !== log.length - TRAILER || size % 4) return null;
  const records = log.subarray(0, size);
  // Records are durable before the trailer is written: a sum that does not match is a trailer torn while sealing.
  if (!equal(sum64(records), t.subarray(16, 24))) return null;
  const identity = new TextDecoder().decode(t.subarray(24)).replace(/\0+$/, '');
  const view = new DataView(records.buffer, records.byteOffset, records.length);
  const writes: BlockWrite[] = [];
  const before: Uint8Array[] = [];
  let at = 0;
  for (let i = 0; i < count; i++) {
    if (at + RECORD_HEAD > size) return 'its records are cut short';
    const offset = view.getUint32(at, true) + view.getUint32(at + 4, true) * 2 ** 32;
    const length = view.getUint32(at + 8, true);
    const sums = (length / SECTOR) * SUM;
    if (length % SECTOR || at + RECORD_HEAD + length + sums > size) return 'a record is cut short or not whole sectors';
    if (writes.length && offset < writes[writes.length - 1].offset + writes[writes.length - 1].data.length) return 'its records overlap';
    writes.push({ offset, data: records.subarray(at + RECORD_HEAD, at + RECORD_HEAD + length) });
    before.push(records.subarray(at + RECORD_HEAD + length, at + RECORD_HEAD + length + sums));
    at += RECORD_HEAD + length + sums;
  }
  return at === size ? { writes, before, identity } : 'its records do not fill it';
}
