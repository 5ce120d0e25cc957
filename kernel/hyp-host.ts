// The host side of hyp (see hyp.ts): Node.js file, clock and random calls (cryptography in
// hyp-crypto.ts), one instance per domain, each component's copy tagging its log lines with the
// component's name.

import * as fs from 'node:fs';
import { fromHostError, SysError } from '../ipc/errno.js';
import { claimFile, type Claimed } from './hyp-claim.js';
import { hostCrypto } from './hyp-crypto.js';
import type { FileOpenOptions, HostFile, Hyp, LogLevel } from './hyp.js';

const LEVELS: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };
/** The least level logged: RUMPUS_LOG (debug, info, warn, error), warn by default. */
const threshold = () => LEVELS[process.env.RUMPUS_LOG as LogLevel] ?? LEVELS.warn;

function host<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw err instanceof SysError ? err : fromHostError(err, what);
  }
}

/** The claims of this thread's open files, ended when the file is closed. */
const claims = new Map<HostFile, Claimed[]>();

const { O_RDONLY, O_RDWR, O_CREAT, O_NOFOLLOW, O_NONBLOCK } = fs.constants;

/** What kind of file `st` is, in words. */
function kind(st: fs.Stats): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSymbolicLink()) return 'a symbolic link';
  return 'not a regular file';
}

/** Why an open file may not be used, or null: see FileOpenOptions. */
function refusal(path: string, st: fs.Stats, owned: boolean): SysError | null {
  if (st.isDirectory()) return new SysError('EISDIR', `open ${path}: is a directory`);
  if (owned) {
    const uid = process.getuid?.();
    if (!st.isFile()) return new SysError('EPERM', `open ${path}: ${kind(st)}, where rumpus keeps a regular file of its own`);
    if (uid !== undefined && st.uid !== uid) return new SysError('EPERM', `open ${path}: owned by uid ${st.uid}, not by this user (uid ${uid})`);
    if (st.nlink !== 1) return new SysError('EPERM', `open ${path}: has ${st.nlink} links, where rumpus keeps a file of its own with one`);
  } else if (!st.isFile() && !st.isBlockDevice()) {
    return new SysError('EINVAL', `open ${path}: ${kind(st)}, not a regular file or a block device`);
  }
  return null;
}

/** A path the driver made, checked before it is removed or renamed: EISDIR, EPERM. */
function checkOwnedPath(path: string, what: string): void {
  const st = host(`${what} ${path}`, () => fs.lstatSync(path));
  if (st.isDirectory()) throw new SysError('EISDIR', `${what} ${path}: is a directory`);
  const uid = process.getuid?.();
  if (!st.isSymbolicLink() && uid !== undefined && st.uid !== uid) {
    throw new SysError('EPERM', `${what} ${path}: owned by uid ${st.uid}, not by this user (uid ${uid})`);
  }
}

/** See Hyp.fileIdentity. */
function identity(file: HostFile): string {
  const st = host('fstat', () => fs.fstatSync(file, { bigint: true }));
  return `${st.dev}:${st.ino}`;
}

function checkPos(pos: number, what: string): void {
  if (!Number.isSafeInteger(pos) || pos < 0) throw new SysError('EINVAL', `${what}: bad offset ${pos}`);
}

/** Closes a host file and ends its claims. */
function closeFile(file: HostFile): void {
  host('close', () => fs.closeSync(file));
  for (const c of claims.get(file) ?? []) c.release();
  claims.delete(file);
}

/**
 * Hyp instances whose host files can all be closed at once: the kernel's own thread's, closed at
 * halt — as a process's files are at its exit — so that a panic, which stops no component,
 * leaves no file open and no image claimed.
 */
export function hostHypGroup(): { hyp(tag: string): Hyp; closeAll(): void } {
  const open = new Set<HostFile>();
  return {
    hyp: (tag) => hostHyp(tag, open),
    closeAll() {
      for (const file of open) {
        try {
          closeFile(file);
        } catch {
          // closed already
        }
      }
      open.clear();
    },
  };
}

/** The hyp of component `tag`; `open`, if given, tracks the files it has open. */
export function hostHyp(tag: string, open?: Set<HostFile>): Hyp {
  return {
    clockRealtime: () => Date.now(),
    clockMonotonic: () => Number(process.hrtime.bigint()),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms))),

    random(n) {
      if (!Number.isSafeInteger(n) || n < 0 || n > 65536) throw new SysError('EINVAL', `random: bad length ${n}`);
      // Web Crypto's global loads on first use; importing node:crypto would slow every domain's start.
      return crypto.getRandomValues(new Uint8Array(n));
    },

    fileOpen(path: string, options: FileOpenOptions = {}): HostFile {
      if (!path) throw new SysError('EINVAL', 'fileOpen: empty path');
      const owned = options.owned === true || options.create === true;
      // libuv adds O_CLOEXEC to every open; O_NONBLOCK keeps a FIFO from blocking the domain.
      const flags = (options.readonly ? O_RDONLY : O_RDWR) | (options.create ? O_CREAT : 0) | (owned ? O_NOFOLLOW : 0) | O_NONBLOCK;
      return host(`open ${path}`, () => {
        let fd: number;
        try {
          fd = fs.openSync(path, flags, 0o600);
        } catch (err) {
          if (owned && (err as NodeJS.ErrnoException).code === 'ELOOP') {
            throw new SysError('ELOOP', `open ${path}: a symbolic link, not followed where rumpus keeps a file of its own`);
          }
          throw err;
        }
        const wrong = refusal(path, fs.fstatSync(fd), owned);
        if (wrong) {
          fs.closeSync(fd);
          throw wrong;
        }
        open?.add(fd);
        return fd;
      });
    },
    fileSize: (file) => host('fstat', () => fs.fstatSync(file).size),
    fileIdentity: identity,
    fileClaim(file, claim) {
      const id = identity(file);
      let path = `file ${file}`;
      try {
        path = fs.readlinkSync(`/proc/self/fd/${file}`);
      } catch {
        // no /proc: the message names the descriptor
      }
      const made = host(`claim ${path}`, () => claimFile(id, path, claim));
      claims.set(file, [...(claims.get(file) ?? []), made]);
    },
    filePread(file, buf, pos) {
      checkPos(pos, 'pread');
      return host('pread', () => {
        let done = 0;
        while (done < buf.length) {
          const n = fs.readSync(file, buf, done, buf.length - done, pos + done);
          if (n === 0) break;
          done += n;
        }
        return done;
      });
    },
    filePwrite(file, data, pos) {
      checkPos(pos, 'pwrite');
      host('pwrite', () => {
        let done = 0;
        while (done < data.length) done += fs.writeSync(file, data, done, data.length - done, pos + done);
      });
    },
    fileSync: (file) => host('fsync', () => fs.fdatasyncSync(file)),
    fileTruncate(file, size) {
      checkPos(size, 'truncate');
      host('truncate', () => fs.ftruncateSync(file, size));
    },
    fileClose(file) {
      closeFile(file);
      open?.delete(file);
    },
    fileUnlink(path) {
      checkOwnedPath(path, 'unlink');
      host(`unlink ${path}`, () => fs.unlinkSync(path));
    },
    fileRename(from, to) {
      checkOwnedPath(from, 'rename');
      host(`rename ${from} to ${to}`, () => {
        fs.linkSync(from, to); // fails with EEXIST rather than replace `to`
        fs.unlinkSync(from);
      });
    },

    ...hostCrypto,

    log(level, message) {
      if (LEVELS[level] >= threshold()) process.stderr.write(`rumpus[${tag}] ${level}: ${message}\n`);
    },
    consoleWrite: (text) => void process.stdout.write(text),
  };
}
