// Claims on host files by identity (device, inode), for hyp's fileClaim: so that one image is
// never written by two block devices at once, whichever spelling of its path each was given,
// whichever thread or process each runs in.
//
// A claim is a lock file in a per-user runtime directory ($XDG_RUNTIME_DIR/rumpus, else
// $TMPDIR/rumpus-UID, mode 0700 and refused unless it is this user's alone): DEV-INO.w for the
// writer, DEV-INO.r.TOKEN for each reader. A claimer first announces itself (O_EXCL, by link()
// of a complete file, so a lock is never seen half written) and then looks for conflicting
// holders; two racing claimers may both back off, never both win. A lock names its holder: the
// process, the thread (its Linux task id and that task's start time, so a reused id is not
// mistaken for it) and a token. A holder in another thread or process is alive while that task
// is; one in this thread while its token is held here (until the file is closed). A lock whose
// holder is gone is stale: it is moved aside, checked to be the one judged stale, and removed.

import { linkSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SysError } from '../ipc/errno.js';
import type { FileClaim } from './hyp.js';

/** Who holds a lock, as written in it. */
interface Holder extends FileClaim {
  pid: number;
  /** The holder's thread: its task id and the task's start time (clock ticks since boot), when /proc has them. */
  tid: number | null;
  start: string | null;
  token: string;
  /** The path the holder opened, for messages. */
  path: string;
}

/** This thread's task id and start time, read once: null where there is no /proc. */
let self: { tid: number; start: string } | null | undefined;
function thisTask(): { tid: number; start: string } | null {
  if (self === undefined) {
    try {
      const tid = Number(readlinkSync('/proc/thread-self').split('/')[2]);
      self = { tid, start: taskStart(process.pid, tid)! };
      if (self.start === null) self = null;
    } catch {
      self = null;
    }
  }
  return self;
}

/** A task's start time (field 22 of /proc/PID/task/TID/stat), or null if it does not exist. */
function taskStart(pid: number, tid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

/** Tokens of the claims this thread holds. */
const held = new Set<string>();

function alive(h: Holder): boolean {
  if (!(h.pid > 0)) return false; // a damaged lock
  const me = thisTask();
  if (h.pid === process.pid && (me === null || h.tid === me.tid)) return held.has(h.token) || me === null;
  if (me !== null && h.tid !== null) return taskStart(h.pid, h.tid) === h.start;
  try {
    process.kill(h.pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The per-user directory of the locks, made 0700 if missing; EPERM unless it is ours alone. */
function runtimeDir(): string {
  const uid = process.getuid?.() ?? 0;
  const dir = process.env.XDG_RUNTIME_DIR ? join(process.env.XDG_RUNTIME_DIR, 'rumpus') : join(tmpdir(), `rumpus-${uid}`);
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const st = lstatSync(dir);
  if (!st.isDirectory() || st.uid !== uid || (st.mode & 0o077) !== 0) {
    throw new SysError('EPERM', `the claims directory ${dir} must be a directory of uid ${uid} with mode 0700 (it is ${st.isDirectory() ? `mode ${(st.mode & 0o777).toString(8)}, uid ${st.uid}` : 'not a directory'})`);
  }
  return dir;
}

function readHolder(path: string): Holder | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    const h = JSON.parse(text) as Holder;
    if (Number.isSafeInteger(h.pid) && typeof h.token === 'string') return h;
  } catch {
    // not a lock we wrote: nobody holds it
  }
  return { pid: 0, tid: null, start: null, token: '', path: '?', exclusive: false, note: 'a damaged lock' };
}

/** Creates `lock` holding `h`, complete or not at all; false if it exists. */
function announce(dir: string, lock: string, h: Holder): boolean {
  const tmp = join(dir, `.${h.token}.new`);
  writeFileSync(tmp, JSON.stringify(h), { mode: 0o600, flag: 'wx' });
  try {
    linkSync(tmp, lock);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    unlinkSync(tmp);
  }
}

/** The live holder of `lock`, or null once it is absent or was stale and has been removed. */
function liveHolder(lock: string, me: Holder): Holder | null {
  const h = readHolder(lock);
  if (h === null || alive(h)) return h;
  const aside = `${lock}.stale-${me.token}`;
  try {
    renameSync(lock, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const moved = readHolder(aside);
  if (moved && moved.token !== h.token) {
    // Another claimer replaced the stale lock with its own between our read and our rename.
    try {
      linkSync(aside, lock);
    } catch {
      // a third one took the name: it holds the claim now, and ours fails in any case
    }
    unlinkSync(aside);
    return moved;
  }
  unlinkSync(aside);
  return null;
}

function busy(path: string, h: Holder): SysError {
  const who = h.pid === process.pid ? `another kernel in this process (pid ${h.pid})` : `rumpus pid ${h.pid}`;
  return new SysError('EBUSY', `${path} is held by ${who}: ${h.note}${h.path !== path ? ` (as ${h.path})` : ''}`);
}

/** A claim made: `release()` ends it. */
export interface Claimed {
  release(): void;
}

/**
 * Claims the file of identity `id` ('dev:ino') opened at `path`; EBUSY naming a live holder
 * that conflicts, EPERM for a runtime directory not ours alone.
 */
export function claimFile(id: string, path: string, claim: FileClaim): Claimed {
  const dir = runtimeDir();
  const task = thisTask();
  const me: Holder = {
    pid: process.pid, tid: task?.tid ?? null, start: task?.start ?? null,
    token: Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, '0')).join(''),
    path, exclusive: claim.exclusive, note: claim.note,
  };
  const base = join(dir, id.replace(':', '-'));
  const writer = `${base}.w`;
  const mine = claim.exclusive ? writer : `${base}.r.${me.token}`;
  held.add(me.token);
  const release = () => {
    held.delete(me.token);
    try {
      if (readHolder(mine)?.token === me.token) unlinkSync(mine);
    } catch {
      // already gone
    }
  };
  try {
    if (claim.exclusive) {
      for (let tries = 0; !announce(dir, writer, me); tries++) {
        const h = liveHolder(writer, me);
        if (h) throw busy(path, h);
        if (tries >= 3) throw new SysError('EBUSY', `${path}: its claim keeps changing hands`);
      }
      const readers = readdirSync(dir).filter((name) => name.startsWith(`${id.replace(':', '-')}.r.`) && !name.includes('.stale-'));
      for (const name of readers) {
        const h = liveHolder(join(dir, name), me);
        if (h) throw busy(path, h);
      }
    } else {
      announce(dir, mine, me);
      const h = liveHolder(writer, me);
      if (h) throw busy(path, h);
    }
  } catch (err) {
    release();
    throw err;
  }
  return { release };
}
