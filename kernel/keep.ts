// What a kept record is made of, and the log of them that a thread domain writes into shared
// memory the core holds (see Keep in ./api.ts). The domain side (./keep-stores.ts) and the core
// side (./keep-core.ts) both read and write records through this file, so the format is in one
// place.
//
// An entry: [crc32 u32][key length u16][op u8][key, UTF-8][value]. op: 1 sets the key to the
// value in msgpack, 2 to the value's bytes as they are (a Uint8Array: no encoding, one copy),
// 0 removes it. The CRC-32 covers everything after itself, so any flipped bit in an entry is found.
//
// A segment: one growable SharedArrayBuffer, a 16-byte header — magic, `end` (the byte after the
// last record published), `overflowed` — then records [entry length u32][entry]. Records are
// written after `end`, and `end` moves past them only once all of one put() are there: a reader
// (the core, after the domain died) sees every put() whole or not at all.

import { crc32 } from 'node:zlib';
import { Packr } from 'msgpackr';

/**
 * The most bytes one component may keep, in all: 1 GiB — for tmpfs, about 1 GiB of content in
 * all its instances (a 4 KiB page is kept with some 25 bytes more). The core holds a second copy
 * of whatever is kept (a segment, or shipped records), so this bounds the host memory keeping
 * may add per component; a store that outgrows it is dropped whole at the next restart, and the
 * restart told so, rather than growing the kernel until the host runs out of memory.
 */
export const KEEP_MAX_BYTES = 1 << 30;

const SET = 1;
const SET_BYTES = 2;
const REMOVE = 0;
const ENTRY_HEADER = 7;
const MAGIC = 0x4b454550; // 'KEEP'
/** Header words: magic, end, overflowed, reserved. */
const HEADER = 16;
const END = 1;
const OVERFLOWED = 2;
/** A new segment's size; it grows (doubling) as records come. */
const FIRST_BYTES = 64 * 1024;

// Binary values come out as copies, never views of the (shared) memory they were read from.
const packr = new Packr({ useRecords: false, moreTypes: false, copyBuffers: true });
const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

/** An entry that sets `key` to `value`, or removes it (value undefined). */
export function encodeEntry(key: string, value: unknown): Uint8Array {
  const k = utf8.encode(key);
  if (k.length > 0xffff) throw new RangeError(`a kept record's key is longer than 65535 bytes`);
  const raw = value instanceof Uint8Array;
  const v = value === undefined ? new Uint8Array(0) : raw ? value : packr.pack(value);
  const entry = new Uint8Array(ENTRY_HEADER + k.length + v.length);
  const dv = new DataView(entry.buffer);
  dv.setUint16(4, k.length, true);
  entry[6] = value === undefined ? REMOVE : raw ? SET_BYTES : SET;
  entry.set(k, ENTRY_HEADER);
  entry.set(v, ENTRY_HEADER + k.length);
  dv.setUint32(0, crc32(entry.subarray(4)), true);
  return entry;
}

/** Why an entry is damaged (its checksum or its shape), or null when it is sound. */
export function entryDamage(entry: Uint8Array): string | null {
  if (entry.length < ENTRY_HEADER) return `an entry of ${entry.length} bytes is shorter than its header`;
  const dv = new DataView(entry.buffer, entry.byteOffset, entry.byteLength);
  if (dv.getUint32(0, true) !== crc32(entry.subarray(4))) return 'an entry fails its checksum';
  if (ENTRY_HEADER + dv.getUint16(4, true) > entry.length) return 'an entry\'s key runs past its end';
  if (entry[6] !== SET && entry[6] !== SET_BYTES && entry[6] !== REMOVE) return `an entry has an unknown op ${entry[6]}`;
  return null;
}

/** The key of a sound entry. */
export function entryKey(entry: Uint8Array): string {
  const n = entry[4] | (entry[5] << 8);
  return fromUtf8.decode(entry.subarray(ENTRY_HEADER, ENTRY_HEADER + n));
}

/** Whether a sound entry removes its key. */
export function entryRemoves(entry: Uint8Array): boolean {
  return entry[6] === REMOVE;
}

/** The value of a sound entry that sets its key (bytes: a copy). */
export function entryValue(entry: Uint8Array): unknown {
  const n = entry[4] | (entry[5] << 8);
  const v = entry.subarray(ENTRY_HEADER + n);
  return entry[6] === SET_BYTES ? v.slice() : packr.unpack(v);
}

/** A segment is compacted once it holds more than this many bytes, most of them dead records. */
const COMPACT_MIN_BYTES = 1 << 20;

/** Bytes the live records take in their segment (each entry and its length word). */
export function liveBytes(live: ReadonlyMap<string, Extent>): number {
  let n = 0;
  for (const x of live.values()) n += 4 + x.length;
  return n;
}

/** Where one live record lies in a segment: its entry's offset and length. */
export interface Extent {
  at: number;
  length: number;
}

/** A segment of kept records: see the top of this file. */
export class Segment {
  private readonly words: Int32Array;
  /**
   * A view of the whole buffer, made again when it grows. Measured on Node 20: a view that
   * tracks a growable buffer's length, a new view per write, or a DataView on it make a put
   * one to two orders of magnitude slower than bytes written through one kept Uint8Array.
   */
  private bytes: Uint8Array;

  /** A new, empty segment that may grow to hold KEEP_MAX_BYTES of records. */
  static create(bytes = FIRST_BYTES): Segment {
    const sab = new SharedArrayBuffer(Math.max(HEADER, Math.min(bytes, HEADER + KEEP_MAX_BYTES)), { maxByteLength: HEADER + KEEP_MAX_BYTES });
    const s = new Segment(sab);
    s.words[0] = MAGIC;
    Atomics.store(s.words, END, HEADER);
    return s;
  }

  constructor(readonly buffer: SharedArrayBuffer) {
    this.words = new Int32Array(buffer, 0, HEADER / 4);
    this.bytes = new Uint8Array(buffer, 0, buffer.byteLength);
  }

  /** The view, after the buffer grew (here, or in another thread). */
  private views(): Uint8Array {
    if (this.bytes.length !== this.buffer.byteLength) this.bytes = new Uint8Array(this.buffer, 0, this.buffer.byteLength);
    return this.bytes;
  }

  /** The byte after the last record published. */
  get end(): number {
    return Atomics.load(this.words, END);
  }

  /** Bytes of records published (what the bound counts). */
  get used(): number {
    return this.end - HEADER;
  }

  /** The writer outgrew KEEP_MAX_BYTES: what it kept is incomplete, and must be dropped. */
  get overflowed(): boolean {
    return Atomics.load(this.words, OVERFLOWED) !== 0;
  }

  markOverflowed(): void {
    Atomics.store(this.words, OVERFLOWED, 1);
  }

  /**
   * Writes entries after the published end, growing the buffer as needed, then publishes them
   * all at once. Returns where each landed, or null (nothing published) when they would take
   * the segment past KEEP_MAX_BYTES.
   */
  append(entries: readonly Uint8Array[]): Extent[] | null {
    let at = this.end;
    const need = entries.reduce((n, e) => n + 4 + e.length, 0);
    if (at + need > HEADER + KEEP_MAX_BYTES) return null;
    if (at + need > this.buffer.byteLength) {
      this.buffer.grow(Math.min(HEADER + KEEP_MAX_BYTES, Math.max(at + need, this.buffer.byteLength * 2)));
    }
    const bytes = this.views();
    const out: Extent[] = [];
    for (const e of entries) {
      bytes[at] = e.length;
      bytes[at + 1] = e.length >>> 8;
      bytes[at + 2] = e.length >>> 16;
      bytes[at + 3] = e.length >>> 24;
      bytes.set(e, at + 4);
      out.push({ at: at + 4, length: e.length });
      at += 4 + e.length;
    }
    Atomics.store(this.words, END, at);
    return out;
  }

  /** A copy of the entry at `x`. */
  entry(x: Extent): Uint8Array {
    return this.views().slice(x.at, x.at + x.length);
  }

  /**
   * Reads every published record, checking each: key → where its live entry lies (removed
   * keys are absent), in the order keys were first set. `damage` says what is wrong when
   * anything is; then nothing read may be trusted.
   */
  scan(): { live: Map<string, Extent>; damage?: string } {
    const live = new Map<string, Extent>();
    const fail = (damage: string) => ({ live: new Map<string, Extent>(), damage });
    if (this.words[0] !== MAGIC) return fail('the segment\'s header is not a kept-state header');
    if (this.overflowed) return fail(`the kept state outgrew its bound of ${KEEP_MAX_BYTES} bytes`);
    const end = this.end;
    if (end < HEADER || end > this.buffer.byteLength) return fail(`the segment's end ${end} lies outside it`);
    const bytes = this.views();
    for (let at = HEADER; at < end; ) {
      if (at + 4 > end) return fail(`a record at byte ${at} is cut short`);
      const length = (bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24)) >>> 0;
      if (at + 4 + length > end) return fail(`a record at byte ${at} runs past the end`);
      const entry = bytes.subarray(at + 4, at + 4 + length);
      const damage = entryDamage(entry);
      if (damage) return fail(`${damage} (at byte ${at})`);
      const key = entryKey(entry);
      if (entryRemoves(entry)) live.delete(key);
      else live.set(key, { at: at + 4, length });
      at += 4 + length;
    }
    return { live };
  }

  /** Whether the segment is worth compacting, its live records taking `live` bytes: big, and mostly dead records. */
  mostlyDead(live: number): boolean {
    return this.used > COMPACT_MIN_BYTES && this.used > 2 * live;
  }

  /** A new segment with only the live records of this one (the same entries, in the same order). */
  compacted(live: ReadonlyMap<string, Extent>): { segment: Segment; live: Map<string, Extent> } {
    const segment = Segment.create(HEADER + Math.max(FIRST_BYTES, liveBytes(live) * 2));
    const keys = [...live.keys()];
    const extents = segment.append(keys.map((k) => this.entry(live.get(k)!)))!;
    return { segment, live: new Map(keys.map((k, i) => [k, extents[i]])) };
  }
}
