// The core's side of Keep (./api.ts): it holds what each component keeps, where a crash of the
// component's domain cannot take it, and before the component's restart checks it — every
// entry's checksum and shape — then hands it back, or drops it whole and says why.
//
// - a thread domain's records are in a segment (./keep.ts) the core holds: the domain asks for
//   it over the worker's port ({keepFor}) and hands over the one that replaces it after a
//   compaction ({keepSegment}) before writing into it. Node delivers a worker's messages before
//   its 'exit', so the core holds the newest segment by the time it restarts the domain. At a
//   restart the core checks the old segment and gives the new incarnation a compacted copy.
// - a process domain ships entries in reports (keepCommit); the core holds them by key and, at
//   a restart, sends the checked ones back in pieces (keepLoad).
// - a component in the kernel's own thread keeps nothing (keep-stores.ts says why).
// Only the domain that hosts a component now may reach its records.

import { SysError } from '../ipc/errno.js';
import type { DomainHost } from './domain-host.js';
import type { Domain } from './domain.js';
import { KEEP_MAX_BYTES, Segment, entryDamage, entryKey, entryRemoves, liveBytes } from './keep.js';
import { LOAD_BYTES } from './keep-stores.js';
import type { DomainKind } from './placement.js';

/** Where a component runs now. */
export interface ComponentSite {
  domain: string;
  kind: DomainKind;
  /** Its thread or process (null for main, or between incarnations). */
  host: DomainHost | null;
}

/** What a process domain shipped for one component: entry by key. */
interface Shipped {
  entries: Map<string, Uint8Array>;
  bytes: number;
  /** It outgrew KEEP_MAX_BYTES: dropped at the next restart. */
  overflowed: boolean;
}

export class KeepCore {
  private readonly segments = new Map<string, Segment>();
  private readonly shipped = new Map<string, Shipped>();
  /** A restarting process domain's checked entries, until it has loaded them all. */
  private readonly loading = new Map<string, Uint8Array[]>();
  /** Worker ports listened to already. */
  private readonly listening = new WeakSet<object>();

  /**
   * @param siteOf  where a component runs now
   * @param lost    told when a component's kept state was dropped, and why
   */
  constructor(
    main: Domain,
    private readonly siteOf: (component: string) => ComponentSite,
    private readonly lost: (component: string, reason: string) => void,
  ) {
    main.reports.set('keepCommit', (from, args) => this.commit(from, args));
    main.reports.set('keepLoad', (from, args) => this.load(from, args));
  }

  /**
   * Readies a component's store before it starts: empty at a fresh start; at a restart, what it
   * kept, checked. Returns why the kept state was dropped, when it was.
   */
  prepare(component: string, restart: boolean): string | undefined {
    const site = this.siteOf(component);
    if (site.kind === 'thread') {
      if (site.host) this.listen(site.host);
      const old = this.segments.get(component);
      const { live, damage } = restart && old ? old.scan() : { live: new Map(), damage: undefined };
      // The old incarnation is gone (its thread ended before the restart), so its segment goes
      // on as it is; copied only when it is mostly dead records.
      this.segments.set(component, damage || !old || !restart ? Segment.create() : old.mostlyDead(liveBytes(live)) ? old.compacted(live).segment : old);
      return damage && this.drop(component, damage);
    }
    if (site.kind === 'process') {
      const held = this.shipped.get(component);
      this.shipped.set(component, { entries: new Map(), bytes: 0, overflowed: false });
      this.loading.delete(component);
      if (!restart || !held) return undefined;
      const damage = held.overflowed ? `the kept state outgrew its bound of ${KEEP_MAX_BYTES} bytes` : this.damageOf(held);
      if (damage) return this.drop(component, damage);
      this.shipped.set(component, held);
      this.loading.set(component, [...held.entries.values()]);
    }
    return undefined;
  }

  /**
   * For tests: flips one bit in the last record kept for `component`, as a stray write would.
   * Returns false when nothing is kept for it.
   */
  damage(component: string): boolean {
    const segment = this.segments.get(component);
    if (this.siteOf(component).kind === 'thread' && segment && segment.used > 0) {
      new Uint8Array(segment.buffer)[segment.end - 1] ^= 0x10;
      return true;
    }
    const last = [...(this.shipped.get(component)?.entries.values() ?? [])].pop();
    if (!last) return false;
    last[last.length - 1] ^= 0x10;
    return true;
  }

  private drop(component: string, damage: string): string {
    const reason = `${component}'s kept state was dropped: ${damage}`;
    this.lost(component, reason);
    return reason;
  }

  /** Why a process domain's shipped entries cannot be trusted, or undefined. */
  private damageOf(held: Shipped): string | undefined {
    for (const [key, entry] of held.entries) {
      const damage = entryDamage(entry);
      if (damage) return damage;
      if (entryKey(entry) !== key) return 'an entry is held under another key than its own';
    }
    return undefined;
  }

  /** A thread domain asks for its component's segment, or hands over the one replacing it. */
  private listen(host: DomainHost): void {
    const port = host.port;
    if (!port || this.listening.has(port)) return;
    this.listening.add(port);
    port.on('message', (msg: unknown) => {
      if (!msg || typeof msg !== 'object' || Array.isArray(msg)) return;
      const { keepFor, keepSegment, segment } = msg as { keepFor?: unknown; keepSegment?: unknown; segment?: unknown };
      const component = typeof keepFor === 'string' ? keepFor : typeof keepSegment === 'string' ? keepSegment : null;
      if (component === null || !this.segments.has(component) || this.siteOf(component).host !== host) return;
      if (keepFor !== undefined) port.postMessage({ keep: component, segment: this.segments.get(component)!.buffer });
      else if (segment instanceof SharedArrayBuffer && segment.growable) this.segments.set(component, new Segment(segment));
    });
  }

  /** The component named in a report, if the reporting domain hosts it. */
  private reporter(from: string, args: unknown): string {
    const component = (args as { component?: unknown } | null)?.component;
    if (typeof component !== 'string' || !this.shipped.has(component) || this.siteOf(component).domain !== from) {
      throw new SysError('EPERM', `keep: domain ${from} does not host '${String(component)}'`);
    }
    return component;
  }

  /** keepCommit {component, entries}: applied whole, or refused whole (EINVAL). */
  private commit(from: string, args: unknown): void {
    const held = this.shipped.get(this.reporter(from, args))!;
    const entries = (args as { entries?: unknown }).entries;
    if (!Array.isArray(entries)) throw new SysError('EINVAL', 'keepCommit: entries must be a list');
    for (const e of entries) {
      const damage = e instanceof Uint8Array ? entryDamage(e) : 'an entry is not bytes';
      if (damage) throw new SysError('EINVAL', `keepCommit: ${damage}`);
    }
    if (held.overflowed) return;
    for (const e of entries as Uint8Array[]) {
      const key = entryKey(e);
      held.bytes -= held.entries.get(key)?.length ?? 0;
      held.entries.delete(key);
      if (entryRemoves(e)) continue;
      held.entries.set(key, new Uint8Array(e)); // a copy: not a view that holds the whole frame it came in
      held.bytes += e.length;
    }
    if (held.bytes > KEEP_MAX_BYTES) {
      held.overflowed = true;
      held.entries.clear();
    }
  }

  /** keepLoad {component, from}: checked entries from index `from`, and where to go on (null: done). */
  private load(from: string, args: unknown): { entries: Uint8Array[]; next: number | null } {
    const component = this.reporter(from, args);
    const start = (args as { from?: unknown }).from;
    const list = this.loading.get(component) ?? [];
    if (!Number.isSafeInteger(start) || (start as number) < 0) throw new SysError('EINVAL', 'keepLoad: from must be an index');
    const entries: Uint8Array[] = [];
    let at = start as number;
    for (let bytes = 0; at < list.length && (entries.length === 0 || bytes + list[at].length <= LOAD_BYTES); at++) {
      entries.push(list[at]);
      bytes += list[at].length;
    }
    if (at < list.length) return { entries, next: at };
    this.loading.delete(component);
    return { entries, next: null };
  }
}
