// The name and attribute cache: what walks and getattrs found, so that a stat or open of a path
// walked before costs no call to its file system (as Linux's dcache and inode cache do).
//
// It can be kept right because every change to a mounted file system passes through vfs
// (fs-requests.ts): each op that changes names or attributes drops the entries it may have
// changed when its answer comes, whether it succeeded or failed, and counts a change of its
// mount. A walk or getattr fills the cache only if no change of its mount was answered between
// its sending and its answer (the answer may then predate the change). Reads drop the file's
// attributes too (ext2 and tmpfs move atime). A mount's entries are dropped when its file system
// may have restarted (Context.restarts, read at every use: no call), when vfs mounts it again
// (recovery.ts: its replay may give files new handles) and when it is unmounted.
//
// Entries are keyed by handle (inode number and generation: a reused inode has a new one), so
// two names of one inode share its attributes, and a file's attributes are right whichever
// name, fd or cwd reaches it. '..' is not cached (a directory moved elsewhere changes it), nor
// are missing names. At most NAME_CACHE_ENTRIES entries, names and attributes together. Which
// goes when it is full is chosen as CLOCK (second chance) does, Linux's page reclaim's way of
// approximating LRU with a referenced bit: a hit only sets its entry's bit, rather than moving
// the entry to the end of the map (a delete and an insert, on every hit of every walk); the
// oldest entry goes, unless its bit is set: then the bit is cleared and the entry moves to the end.

import type { Attr, Context, Handle, WalkResult, WalkStep } from '../../kernel/api.js';
import type { Mount, Vnode } from './mounts.js';

/** The most entries (a name in a directory, or one file's attributes) the cache holds. */
export const NAME_CACHE_ENTRIES = 8192;

/** A name's handle or a file's attributes; `used`: hit since it was put or last passed over (see the top). */
type Entry = ({ handle: Handle } | { attr: Attr }) & { used?: boolean };

/** What a mount's entries were filled under: the count of its changes and its file system's restarts. */
interface MountState {
  changes: number;
  restarts: number;
}

/** A name in a directory: [the directory's handle, the name]. */
export type NameAt = readonly [Handle, string];

/** A point in a mount's history, taken when a request is sent; fills made under it are checked against it. */
export type CacheMark = number;

const hkey = (h: Handle) => `${h.ino}:${h.gen}`;

/** The key of the name `name` in directory `dir` of mount m; the attribute key of a file. */
const nameKey = (m: Mount, dir: Handle, name: string) => `${m.id}/${hkey(dir)}/${name}`;
const attrKey = (m: Mount, h: Handle) => `${m.id}@${hkey(h)}`;

const isDirAttr = (a: Attr) => (a.mode & 0o170000) === 0o040000;
const isLinkAttr = (a: Attr) => (a.mode & 0o170000) === 0o120000;

/** What the cache could resolve of a walk: the steps it knew, and where the file system must go on. */
export interface CachedWalk {
  start: Attr;
  steps: WalkStep[];
  /** The directory the rest is walked from (the last step's, or the start). */
  from: Handle;
  /** The names it could not resolve (empty: all of them, or a symlink ended the walk). */
  rest: string[];
}

export class NameCache {
  private readonly entries = new Map<string, Entry>();
  private readonly states = new Map<number, MountState>();

  /**
   * @param restarts  Context.restarts: whether a file system may have restarted
   * @param covered  whether a directory has a mount on it: a walk stops there, as the path walk
   *   goes on in the mount (namei.ts), so what the covered one holds beyond is never asked for
   */
  constructor(
    private readonly restarts: Context['restarts'],
    private readonly covered: (v: Vnode) => boolean,
  ) {}

  /** The number of entries held (for tests). */
  get size(): number {
    return this.entries.size;
  }

  /** Mount m's state, its entries dropped first if its file system may have restarted since they were filled. */
  private state(m: Mount): MountState {
    const now = this.restarts(m.fs);
    let st = this.states.get(m.id);
    if (!st) {
      st = { changes: 0, restarts: now };
      this.states.set(m.id, st);
    } else if (st.restarts !== now) {
      this.dropMount(m);
      st.restarts = now;
    }
    return st;
  }

  /** Taken before a request that may fill the cache is sent. */
  mark(m: Mount): CacheMark {
    return this.state(m).changes;
  }

  /** Whether what a request sent at `mark` answered may still be kept. */
  private current(m: Mount, mark: CacheMark): boolean {
    return this.state(m).changes === mark;
  }

  private get(key: string): Entry | undefined {
    const e = this.entries.get(key);
    if (e) e.used = true;
    return e;
  }

  private put(key: string, e: Entry): void {
    this.entries.delete(key);
    this.entries.set(key, e);
    if (this.entries.size > NAME_CACHE_ENTRIES) this.evictOne();
  }

  /** Drops the oldest entry not used since it was put or last passed over (see the top); at most one pass. */
  private evictOne(): void {
    // An entry moved to the end is visited again only after every other: by then its bit is clear.
    for (const [key, e] of this.entries) {
      this.entries.delete(key);
      if (!e.used) return;
      e.used = false;
      this.entries.set(key, e);
    }
  }

  /** File v's attributes, if known. */
  attr(v: Vnode): Attr | undefined {
    this.state(v.mnt);
    const e = this.get(attrKey(v.mnt, v.h));
    return e && 'attr' in e ? e.attr : undefined;
  }

  /** What directory `dir` holds under `name`, if known. */
  private child(m: Mount, dir: Handle, name: string): Handle | undefined {
    const e = this.get(nameKey(m, dir, name));
    return e && 'handle' in e ? e.handle : undefined;
  }

  /**
   * As much of a walk of `names` from dir as the cache knows, stopping where the file system
   * would stop (after a symlink), after a directory with a mount on it, or where the cache
   * knows no more ('..', a name or attributes it does not hold, something not a directory);
   * undefined when it knows not even dir's attributes.
   */
  walk(dir: Vnode, names: readonly string[]): CachedWalk | undefined {
    const m = dir.mnt;
    const start = this.attr(dir);
    if (!start) return undefined;
    const steps: WalkStep[] = [];
    let at = dir.h;
    let atAttr = start;
    let i = 0;
    for (; i < names.length; i++) {
      if (names[i] === '..' || !isDirAttr(atAttr)) break;
      const handle = this.child(m, at, names[i]);
      const attr = handle && this.attr({ mnt: m, h: handle });
      if (!handle || !attr) break;
      steps.push({ handle, attr });
      at = handle;
      atAttr = attr;
      if (isLinkAttr(attr) || this.covered({ mnt: m, h: handle })) return { start, steps, from: at, rest: [] };
    }
    return { start, steps, from: at, rest: names.slice(i) };
  }

  /** Keeps what a walk of `names` from dir, sent at `mark`, found. */
  walked(dir: Vnode, names: readonly string[], r: WalkResult, mark: CacheMark): void {
    const m = dir.mnt;
    if (!this.current(m, mark)) return;
    this.putAttr(m, dir.h, r.start);
    let at = dir.h;
    r.steps.forEach((step, i) => {
      if (names[i] !== '..') this.put(nameKey(m, at, names[i]), { handle: step.handle });
      this.putAttr(m, step.handle, step.attr);
      at = step.handle;
    });
  }

  /** Keeps file v's attributes `a`, answered by a request sent at `mark`. */
  gotAttr(v: Vnode, a: Attr, mark: CacheMark): void {
    if (this.current(v.mnt, mark)) this.putAttr(v.mnt, v.h, a);
  }

  /** Keeps that `name` in dir is the new file `step`, answered by a request sent at `mark`. */
  made(dir: Vnode, name: string, step: WalkStep, mark: CacheMark): void {
    if (!this.current(dir.mnt, mark)) return;
    this.put(nameKey(dir.mnt, dir.h, name), { handle: step.handle });
    this.putAttr(dir.mnt, step.handle, step.attr);
  }

  private putAttr(m: Mount, h: Handle, a: Attr): void {
    this.put(attrKey(m, h), { attr: Object.freeze({ ...a }) });
  }

  /**
   * A change of mount m was answered (or failed): drops the attributes of `files`, the names
   * `names` ([directory, name]), and the names `removed` with the attributes of the file each
   * held — as held() said before the change was sent (`before`, one per name), or as the cache
   * says now. When neither knows, that file may have any handle: every attribute of m is
   * dropped (a rename over a name never walked does that).
   */
  changed(m: Mount, files: readonly Handle[], names: readonly NameAt[] = [], removed: readonly NameAt[] = [], before: readonly (Handle | undefined)[] = []): void {
    const st = this.state(m);
    st.changes++;
    for (const h of files) this.entries.delete(attrKey(m, h));
    for (const [dir, name] of names) this.entries.delete(nameKey(m, dir, name));
    let unknown = false;
    removed.forEach(([dir, name], i) => {
      const key = nameKey(m, dir, name);
      const e = this.entries.get(key);
      const was = before[i];
      if (was) this.entries.delete(attrKey(m, was));
      if (e && 'handle' in e) this.entries.delete(attrKey(m, e.handle));
      else if (!was) unknown = true;
      this.entries.delete(key);
    });
    if (unknown) this.dropWhere((key) => key.startsWith(`${m.id}@`));
  }

  /**
   * The files that names `names` ([directory, name]) hold now, as far as the cache knows
   * (undefined for one it does not): taken before a change that removes or replaces them.
   */
  held(m: Mount, names: readonly NameAt[]): (Handle | undefined)[] {
    this.state(m);
    return names.map(([dir, name]) => {
      const e = this.entries.get(nameKey(m, dir, name));
      return e && 'handle' in e ? e.handle : undefined;
    });
  }

  /** Forgets everything of mount m, and refuses what requests sent before now answer. */
  dropMount(m: Mount): void {
    const st = this.states.get(m.id);
    if (st) st.changes++;
    this.dropWhere((key) => key.startsWith(`${m.id}/`) || key.startsWith(`${m.id}@`));
  }

  private dropWhere(test: (key: string) => boolean): void {
    for (const key of [...this.entries.keys()]) if (test(key)) this.entries.delete(key);
  }
}
