// Writes smaller than the encryption sector: a container made by cryptsetup on a file encrypts
// 4096-byte sectors, while ext2 writes 1 KiB blocks. cgd takes any 512-aligned write and
// read-modify-writes the encryption sectors it touches in part: the writes of one request are
// gathered into extents of whole encryption sectors, each read (only where no write covers
// a sector whole), patched and encrypted again as one piece.

import type { BlockWrite } from '../../kernel/api.js';

/** A write at a byte offset of the payload, in plaintext. */
export type PlainWrite = BlockWrite;

/** Whole encryption sectors [at, end) of the payload, and the writes that fall in them, in order. */
export interface Extent {
  at: number;
  end: number;
  writes: PlainWrite[];
}

/** [offset, offset+length) widened to whole sectors of `sectorSize` bytes. */
export function widen(offset: number, length: number, sectorSize: number): { at: number; end: number } {
  return { at: offset - (offset % sectorSize), end: Math.ceil((offset + length) / sectorSize) * sectorSize };
}

/** The extents of `writes`: their widened ranges, those that overlap or touch merged; each write in its own, in order. */
export function extentsOf(writes: PlainWrite[], sectorSize: number): Extent[] {
  const ranges = writes.map((w) => widen(w.offset, w.data.length, sectorSize)).sort((a, b) => a.at - b.at);
  const extents: Extent[] = [];
  for (const r of ranges) {
    const last = extents.at(-1);
    if (last && r.at <= last.end) last.end = Math.max(last.end, r.end);
    else extents.push({ at: r.at, end: r.end, writes: [] });
  }
  for (const w of writes) {
    let lo = 0;
    let hi = extents.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (extents[mid].at <= w.offset) lo = mid;
      else hi = mid - 1;
    }
    extents[lo].writes.push(w);
  }
  return extents;
}

/**
 * The runs of sectors of extent `e` that its writes do not cover whole — whose old content
 * must be read first — as [at, end) byte ranges of the payload.
 */
export function partlyWritten(e: Extent, sectorSize: number): { at: number; end: number }[] {
  const sectors = (e.end - e.at) / sectorSize;
  const covered = new Uint32Array(sectors); // bytes of each sector some write covers (overlaps counted once)
  const piece = 512;
  const seen = new Uint8Array((e.end - e.at) / piece);
  for (const w of e.writes) {
    for (let p = (w.offset - e.at) / piece; p < (w.offset - e.at + w.data.length) / piece; p++) {
      if (seen[p]) continue;
      seen[p] = 1;
      covered[Math.floor((p * piece) / sectorSize)] += piece;
    }
  }
  const runs: { at: number; end: number }[] = [];
  for (let s = 0; s < sectors; s++) {
    if (covered[s] === sectorSize) continue;
    const at = e.at + s * sectorSize;
    const last = runs.at(-1);
    if (last && last.end === at) last.end = at + sectorSize;
    else runs.push({ at, end: at + sectorSize });
  }
  return runs;
}
