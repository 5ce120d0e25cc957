// vfs's own restart (MINIX's DS is the model): vfs keeps, through ctx.keep, what a new
// incarnation needs to serve the same clients — each client process's credentials, umask and
// current directory and fd limit, and each mount — committed before the spawn, exit, umask, chdir, mount or
// unmount that changed it is answered. The
// An encrypted mount's record holds its key (the passphrase), which the core then holds as vfs's
// own memory does: mounting it again needs it, and no list of mounts shows it. The
// new incarnation gets those records back from the core (checked), and makes the processes and
// mounts again. The file systems' instances outlived the old vfs, and each mount names its
// instance by its mount point, so mounting the same again finds the same one with its content.

import type { Keep } from '../../kernel/api.js';
import type { Vfs } from './context.js';
import { MOUNT_POINT_MODE } from './mounts.js';
import { find, isDir, lookup } from './namei.js';
import { ROOT, newProc, type CredRecord, type ProcEntry } from './procs.js';
import { mountFs, type MountRequest } from './sys-mounts.js';

const PROC = 'proc:';
const MOUNT = 'mount:';

/** A kept mount: what was asked (with the target as vfs resolved it), and its place in mount order. */
interface KeptMount extends MountRequest {
  order: number;
}

/**
 * A kept process: its credentials, umask, the names from '/' to its current directory, its fd
 * limit, and the core's deadline for its calls (see PipeTable.callDeadline).
 */
interface KeptProc extends CredRecord {
  umask: number;
  cwd: string[];
  maxFds: number;
  callDeadlineMs: number;
}

const isId = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isIdList = (v: unknown): v is number[] => Array.isArray(v) && v.every(isId);
const isNameList = (v: unknown): v is string[] => Array.isArray(v) && v.every((n) => typeof n === 'string');
const isKeptProc = (v: Partial<KeptProc> | undefined): v is KeptProc =>
  isId(v?.uid) && isId(v?.gid) && isIdList(v?.groups) && isId(v?.umask) && v.umask <= 0o777 && isNameList(v?.cwd) && isId(v?.maxFds) && isId(v?.callDeadlineMs);

/**
 * What vfs keeps, as records in ctx.keep: `proc:<pid>` → KeptProc, and `mount:<target>` →
 * the mount's request and its order (a mount is made again after the one it covers). Each
 * change is committed before the syscall that made it is answered.
 */
export class VfsKeeper {
  private nextOrder = 1;
  /** The core's deadline for calls to vfs, as spawn last said (ms; 0: none). */
  private callDeadlineMs = 0;

  constructor(private readonly keep: Keep) {}

  /** A client process now exists (with the core's call deadline), or changed its umask or current directory. */
  processChanged(pr: ProcEntry, callDeadlineMs = this.callDeadlineMs): Promise<void> {
    this.callDeadlineMs = callDeadlineMs;
    const kept: KeptProc = { uid: pr.uid, gid: pr.gid, groups: [...pr.groups], umask: pr.umask, cwd: pr.cwdPath, maxFds: pr.maxFds, callDeadlineMs };
    return this.change(`${PROC}${pr.pid}`, kept);
  }

  exited(pid: number): Promise<void> {
    return this.change(`${PROC}${pid}`, undefined);
  }

  /** `m` is now mounted at m.target (resolved: absolute, no '..' or symlinks). */
  mounted(m: MountRequest): Promise<void> {
    const kept: KeptMount = { target: m.target, fstype: m.fstype, source: m.source, readonly: m.readonly, key: m.key, partition: m.partition, order: this.nextOrder++ };
    return this.change(`${MOUNT}${m.target}`, kept);
  }

  unmounted(target: string): Promise<void> {
    return this.change(`${MOUNT}${target}`, undefined);
  }

  private async change(key: string, value: unknown): Promise<void> {
    this.keep.put([[key, value]]);
    await this.keep.commit();
  }

  /**
   * Makes again, in a vfs that has none, the processes and mounts an earlier incarnation kept.
   * A record of the wrong shape (which the core's checksum would not catch: a bug, not damage)
   * is skipped with a warning rather than trusted.
   */
  async remake(vfs: Vfs, kept: ReadonlyMap<string, unknown>): Promise<void> {
    const mounts: KeptMount[] = [];
    const cwds: [ProcEntry, string[]][] = [];
    for (const [key, value] of kept) {
      const v = value as Partial<KeptMount> & Partial<KeptProc>;
      if (key.startsWith(PROC) && isId(Number(key.slice(PROC.length))) && isKeptProc(v)) {
        const pr = vfs.procs.spawn(Number(key.slice(PROC.length)), v, v.maxFds);
        pr.umask = v.umask;
        this.callDeadlineMs = v.callDeadlineMs;
        vfs.pipes.callDeadline(v.callDeadlineMs);
        cwds.push([pr, v.cwd]);
      } else if (key.startsWith(MOUNT) && typeof v?.target === 'string' && typeof v.fstype === 'string' && isId(v.order) && (v.key === undefined || v.key instanceof Uint8Array) && (v.partition === undefined || isId(v.partition))) {
        mounts.push(v as KeptMount);
      } else {
        vfs.ctx.hyp.log('warn', `vfs: kept record '${key}' is not one vfs makes; skipped`);
      }
    }
    mounts.sort((a, b) => a.order - b.order);
    this.nextOrder = (mounts.at(-1)?.order ?? 0) + 1;
    const root = newProc(0, ROOT);
    for (const m of mounts) {
      if (vfs.mounts.root) await mkdirs(vfs, root, m.target); // a file system that restarted empty lost it
      await mountFs(vfs, root, m);
    }
    for (const [pr, cwd] of cwds) if (cwd.length > 0) await findCwd(vfs, root, pr, cwd);
  }
}

/**
 * Finds a process's current directory again by the names that led to it (walked as root: the
 * process reached it once). One that is gone, or no longer a directory, leaves the process
 * without one: relative paths are ENOENT until it changes directory (ProcEntry.cwdGone).
 */
async function findCwd(vfs: Vfs, root: ProcEntry, pr: ProcEntry, names: string[]): Promise<void> {
  try {
    const f = await find(vfs, root, '/' + names.join('/'));
    if (!isDir(f.attr)) throw new Error('not a directory');
    pr.cwd = f.node;
    pr.cwdPath = f.path;
  } catch {
    pr.cwdGone = true;
    vfs.ctx.hyp.log('warn', `vfs: process ${pr.pid}'s current directory was not found again after the restart`);
  }
}

/** Makes a directory and its missing parents. */
async function mkdirs(vfs: Vfs, pr: ProcEntry, path: string): Promise<void> {
  let prefix = '';
  for (const name of path.split('/').filter(Boolean)) {
    prefix += `/${name}`;
    const f = await lookup(vfs, pr, prefix, { follow: true, allowMissing: true });
    if (f.node) continue;
    await vfs.fs.mkdir(f.parent!, f.name!, MOUNT_POINT_MODE & ~pr.umask, pr.uid, pr.gid);
  }
}
