// A tmpfs directory's entries: a name → inode map, plus the entries in the order they were
// added, each with a sequence number, so that readdir resumes from a cookie in O(log n) instead
// of walking (or copying) every name before it. Removing an entry leaves a dead slot that is
// swept once dead slots outnumber live ones, so the order list costs at most twice the entries.

interface Slot {
  name: string;
  ino: number;
  /** Increases with every entry added to this directory: the readdir cookie after this entry. */
  seq: number;
  live: boolean;
}

/** Dead slots are swept when there are more than this many and they outnumber the live ones. */
const SWEEP_MIN = 64;

export class DirEntries {
  private readonly byName = new Map<string, Slot>();
  /** Every slot not yet swept, in increasing seq. */
  private order: Slot[] = [];
  private dead = 0;
  private lastSeq = 0;

  get size(): number {
    return this.byName.size;
  }

  get(name: string): number | undefined {
    return this.byName.get(name)?.ino;
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** Adds name → ino after every entry already there. The name must be absent. */
  add(name: string, ino: number): void {
    const slot: Slot = { name, ino, seq: ++this.lastSeq, live: true };
    this.byName.set(name, slot);
    this.order.push(slot);
  }

  /** Removes name; nothing if it is absent. */
  delete(name: string): void {
    const slot = this.byName.get(name);
    if (!slot) return;
    this.byName.delete(name);
    slot.live = false;
    if (++this.dead > SWEEP_MIN && this.dead > this.byName.size) {
      this.order = this.order.filter((s) => s.live);
      this.dead = 0;
    }
  }

  /**
   * Up to `count` (at least 1) entries that come after cookie (0: from the start), and the
   * cookie to continue from. An entry present for the whole listing is returned exactly once,
   * whatever else changes; one added meanwhile comes after every other, so it is returned
   * unless the listing had already ended; one removed meanwhile is not returned after its
   * removal; a renamed one takes a new place, so it may be returned under both names.
   */
  list(cookie: number, count: number): { entries: { name: string; ino: number }[]; cookie: number; eof: boolean } {
    const entries: { name: string; ino: number }[] = [];
    let i = this.firstAfter(cookie);
    let next = cookie;
    for (; i < this.order.length && entries.length < Math.max(1, count); i++) {
      const slot = this.order[i];
      if (!slot.live) continue;
      entries.push({ name: slot.name, ino: slot.ino });
      next = slot.seq;
    }
    while (i < this.order.length && !this.order[i].live) i++;
    return { entries, cookie: next, eof: i >= this.order.length };
  }

  /** Index of the first slot whose seq is greater than cookie (binary search: order is sorted). */
  private firstAfter(cookie: number): number {
    let lo = 0;
    let hi = this.order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.order[mid].seq <= cookie) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
