// A write-ahead log beside a host image, so that a commit — a batch of block writes a file
// system makes at a sync point — reaches the image entirely or not at all, whichever component
// dies, whenever. A commit is written to the log and made durable, then sealed with a trailer
// and made durable again, then applied to the image, and only then is the log emptied. When an
// image is attached, a sealed log left behind is applied again (idempotent: same blocks, same
// bytes); an unsealed one is a commit that never happened and is thrown away.
//
// Log layout, little-endian: per write [offset u64][length u32][data], then the trailer
// [magic 'RUMPUSOK' 8][writes u32][bytes of records u32].

import { SysError, type HostFile, type Hyp } from '../../kernel/api.js';

const MAGIC = new TextEncoder().encode('RUMPUSOK');
const TRAILER = 16;
const RECORD_HEAD = 12;

export interface BlockWrite {
  offset: number;
  data: Uint8Array;
}

export class WriteAheadLog {
  private constructor(
    private readonly hyp: Hyp,
    readonly path: string,
    private readonly file: HostFile,
  ) {}

  /** Opens (creating) the log of an image, and replays a sealed commit left in it. */
  static open(hyp: Hyp, imagePath: string, image: HostFile): WriteAheadLog {
    const path = `${imagePath}.wal`;
    let file: HostFile;
    try {
      file = hyp.fileOpen(path, { create: true });
    } catch (err) {
      throw new SysError((err as SysError).errno ?? 'EIO', `blk: cannot open the write-ahead log ${path}: ${(err as Error).message}`);
    }
    const wal = new WriteAheadLog(hyp, path, file);
    const replayed = wal.replay(image);
    if (replayed) hyp.log('warn', `${imagePath}: replayed a commit of ${replayed} writes from its write-ahead log`);
    return wal;
  }

  /** Applies `writes` to `image` atomically and durably. */
  commit(image: HostFile, writes: BlockWrite[]): void {
    const recordBytes = writes.reduce((n, w) => n + RECORD_HEAD + w.data.length, 0);
    const log = new Uint8Array(recordBytes);
    const view = new DataView(log.buffer);
    let at = 0;
    for (const w of writes) {
      view.setUint32(at, w.offset % 2 ** 32, true);
      view.setUint32(at + 4, Math.floor(w.offset / 2 ** 32), true);
      view.setUint32(at + 8, w.data.length, true);
      log.set(w.data, at + RECORD_HEAD);
      at += RECORD_HEAD + w.data.length;
    }
    this.hyp.filePwrite(this.file, log, 0);
    this.hyp.fileSync(this.file);
    this.hyp.filePwrite(this.file, trailer(writes.length, recordBytes), recordBytes);
    this.hyp.fileSync(this.file);
    for (const w of writes) this.hyp.filePwrite(image, w.data, w.offset);
    this.hyp.fileSync(image);
    this.hyp.fileTruncate(this.file, 0);
  }

  /** Closes the log and removes its (empty) file. */
  close(): void {
    this.hyp.fileClose(this.file);
    this.hyp.fileUnlink(this.path);
  }

  /** Applies a sealed commit found in the log; returns how many writes it had (0: none). */
  private replay(image: HostFile): number {
    const size = this.hyp.fileSize(this.file);
    if (size === 0) return 0;
    const log = new Uint8Array(size);
    this.hyp.filePread(this.file, log, 0);
    const writes = sealedWrites(log);
    if (writes) {
      for (const w of writes) this.hyp.filePwrite(image, w.data, w.offset);
      this.hyp.fileSync(image);
    }
    this.hyp.fileTruncate(this.file, 0);
    this.hyp.fileSync(this.file);
    return writes?.length ?? 0;
  }
}

function trailer(count: number, recordBytes: number): Uint8Array {
  const t = new Uint8Array(TRAILER);
  t.set(MAGIC, 0);
  const view = new DataView(t.buffer);
  view.setUint32(8, count, true);
  view.setUint32(12, recordBytes, true);
  return t;
}

/** The writes of a sealed log; null when the log holds no complete commit. */
function sealedWrites(log: Uint8Array): BlockWrite[] | null {
  if (log.length < TRAILER) return null;
  const t = log.subarray(log.length - TRAILER);
  if (!MAGIC.every((b, i) => t[i] === b)) return null;
  const view = new DataView(log.buffer, log.byteOffset, log.length);
  const count = view.getUint32(log.length - 8, true);
  const recordBytes = view.getUint32(log.length - 4, true);
  if (recordBytes !== log.length - TRAILER) return null;
  const writes: BlockWrite[] = [];
  let at = 0;
  for (let i = 0; i < count; i++) {
    if (at + RECORD_HEAD > recordBytes) return null;
    const offset = view.getUint32(at, true) + view.getUint32(at + 4, true) * 2 ** 32;
    const length = view.getUint32(at + 8, true);
    if (at + RECORD_HEAD + length > recordBytes) return null;
    writes.push({ offset, data: log.subarray(at + RECORD_HEAD, at + RECORD_HEAD + length) });
    at += RECORD_HEAD + length;
  }
  return at === recordBytes ? writes : null;
}
