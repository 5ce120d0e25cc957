// The domain's side of Keep (./api.ts): one store per kind of domain, and what a restarting
// component is handed back. The component never knows which store it has.

import { SysError } from '../ipc/errno.js';
import type { Keep } from './api.js';
import { KEEP_MAX_BYTES, Segment, encodeEntry, entryDamage, entryKey, entryRemoves, entryValue, liveBytes, type Extent } from './keep.js';
import type { DomainKind } from './placement.js';

/**
 * A process domain ships what was put at most this long after the put (a sync point ships at
 * once): a crash loses at most this much of what was not committed, for one message per period.
 */
export const SHIP_MS = 100;
/**
 * ...or as soon as this many bytes wait, so that one shipment stays far below the largest frame
 * a pipe carries (64 MiB, ipc/stream-link.ts) whatever the component puts in one call (a tmpfs
 * write of MAX_IO is 16 MiB of records).
 */
const SHIP_BYTES = 4 << 20;
/** At most this many bytes of kept entries go back to a restarting process domain per message. */
export const LOAD_BYTES = 8 << 20;

/**
 * A thread domain's store: records written into a segment the core holds (./keep.ts), safe
 * from the domain's death once put() returns. When most of the segment is dead records, the live
 * ones are copied into a new segment, which is handed to the core (`adopt`) before anything is
 * written into it. A put that would take the store past its bound marks it overflowed: the next
 * restart drops it whole, and puts until then are not kept.
 */
export class SegmentKeep implements Keep {
  private liveBytes: number;

  /** Every put is in the core's shared memory when it returns, until the store overflows. */
  get immediate(): boolean {
    return !this.segment.overflowed;
  }

  private constructor(
    private segment: Segment,
    private live: Map<string, Extent>,
    private readonly adopt: (segment: SharedArrayBuffer) => void,
  ) {
    this.liveBytes = liveBytes(live);
  }

  /** Opens the segment the core gave, and what it keeps (the core checked it: EIO if it is damaged now). */
  static open(buffer: SharedArrayBuffer, adopt: (segment: SharedArrayBuffer) => void): { keep: SegmentKeep; kept: Map<string, unknown> } {
    const segment = new Segment(buffer);
    const { live, damage } = segment.scan();
    if (damage) throw new SysError('EIO', `kept state damaged after the core checked it: ${damage}`);
    const kept = new Map([...live].map(([k, x]) => [k, entryValue(segment.entry(x))]));
    return { keep: new SegmentKeep(segment, live, adopt), kept };
  }

  put(records: Iterable<readonly [string, unknown]>): void {
    if (this.segment.overflowed) return;
    const keys: string[] = [];
    const entries: Uint8Array[] = [];
    for (const [k, v] of records) {
      keys.push(k);
      entries.push(encodeEntry(k, v));
    }
    let extents = this.segment.append(entries);
    if (!extents) {
      // Past the bound. Only a compaction that frees room is worth its copy (of up to the whole
      // bound, in this thread): when the live records alone leave no room, the store is over.
      const need = entries.reduce((n, e) => n + 4 + e.length, 0);
      if (this.liveBytes + need > KEEP_MAX_BYTES) return this.segment.markOverflowed();
      this.compact();
      extents = this.segment.append(entries);
      if (!extents) return this.segment.markOverflowed();
    }
    keys.forEach((k, i) => {
      const old = this.live.get(k);
      if (old) this.liveBytes -= 4 + old.length;
      if (entryRemoves(entries[i])) this.live.delete(k);
      else {
        this.live.set(k, extents[i]);
        this.liveBytes += 4 + extents[i].length;
      }
    });
    if (this.segment.mostlyDead(this.liveBytes)) this.compact();
  }

  /** A put is in the core's memory when it returns: nothing to wait for. */
  commit(): Promise<void> {
    return Promise.resolve();
  }

  private compact(): void {
    const { segment, live } = this.segment.compacted(this.live);
    this.adopt(segment.buffer);
    this.segment = segment;
    this.live = live;
  }
}

/**
 * A process domain's store: entries wait here (the latest per key) and are shipped to the core
 * in one message — at commit(), SHIP_MS after a put, or once SHIP_BYTES wait — which the core
 * applies whole. Shipping whole puts only (never part of one) keeps a put all or nothing.
 */
export class ShippedKeep implements Keep {
  /** Puts reach the core only when shipped. */
  readonly immediate = false;
  private waiting = new Map<string, Uint8Array>();
  private waitingBytes = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** The last shipment: a commit resolves after it, and fails if any shipment failed. */
  private shipped: Promise<unknown> = Promise.resolve();

  constructor(private readonly ship: (entries: Uint8Array[]) => Promise<unknown>) {}

  put(records: Iterable<readonly [string, unknown]>): void {
    for (const [k, v] of records) {
      const entry = encodeEntry(k, v);
      this.waitingBytes += entry.length - (this.waiting.get(k)?.length ?? 0);
      this.waiting.delete(k); // a key set again moves to the end: entries go in the order of their last put
      this.waiting.set(k, entry);
    }
    if (this.waitingBytes >= SHIP_BYTES) void this.send().catch(() => {});
    else this.timer ??= setTimeout(() => void this.send().catch(() => {}), SHIP_MS);
  }

  commit(): Promise<void> {
    return this.send();
  }

  private send(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.waiting.size > 0) {
      const entries = [...this.waiting.values()];
      this.waiting = new Map();
      this.waitingBytes = 0;
      this.shipped = Promise.all([this.shipped, this.ship(entries)]);
    }
    return this.shipped.then(() => {});
  }
}

/** A component in the kernel's own thread never restarts without the kernel panicking: nothing is kept, at no cost. */
const NOTHING_KEPT: Keep = {
  put() {},
  commit: () => Promise.resolve(),
  immediate: false,
};

/** What a domain offers the store of a component it hosts. */
export interface KeepSite {
  kind: DomainKind;
  /** A thread domain: asks the core for the component's segment. */
  segment?(): Promise<SharedArrayBuffer>;
  /** A thread domain: hands the core the segment that replaces the one it holds. */
  adopt?(segment: SharedArrayBuffer): void;
  /** Reports to the core (a process domain ships and loads through these). */
  report(op: 'keepCommit' | 'keepLoad', args: Record<string, unknown>): Promise<unknown>;
}

/**
 * The Keep of a component starting in a domain, and — when it restarts — the records it kept,
 * as the core checked them (entries are checked again here: a damaged one fails the start).
 */
export async function openKeep(component: string, restarting: boolean, site: KeepSite): Promise<{ keep: Keep; kept: Map<string, unknown> }> {
  if (site.kind === 'thread' && site.segment && site.adopt) {
    const { keep, kept } = SegmentKeep.open(await site.segment(), site.adopt);
    return { keep, kept: restarting ? kept : new Map() };
  }
  if (site.kind === 'process') {
    const keep = new ShippedKeep((entries) => site.report('keepCommit', { component, entries }));
    return { keep, kept: restarting ? await loadKept(component, site) : new Map() };
  }
  return { keep: NOTHING_KEPT, kept: new Map() };
}

/** Fetches a process domain's kept entries from the core, LOAD_BYTES at a time. */
async function loadKept(component: string, site: KeepSite): Promise<Map<string, unknown>> {
  const kept = new Map<string, unknown>();
  for (let from: number | null = 0; from !== null; ) {
    const batch = (await site.report('keepLoad', { component, from })) as { entries: Uint8Array[]; next: number | null };
    for (const entry of batch.entries) {
      const damage = entryDamage(entry);
      if (damage) throw new SysError('EIO', `kept state damaged on its way back: ${damage}`);
      kept.set(entryKey(entry), entryValue(entry));
    }
    from = batch.next;
  }
  return kept;
}
