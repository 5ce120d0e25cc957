// Host files that must be the server's own: the directory a unix socket is in, the socket, and
// the files it writes for others to trust (a generated token, a pidfile). In a directory others
// can write (/tmp), another user can plant a symlink or a file at any of these names before us;
// so a directory is checked with lstat (never through a symlink), a file is written fresh (a new
// temporary file, O_EXCL|O_NOFOLLOW, renamed over the name) and removed only when it is still
// the one we wrote.

import { randomBytes } from 'node:crypto';
import { closeSync, constants, lstatSync, openSync, renameSync, unlinkSync, writeSync, type Stats } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { SysError, fromHostError } from '../ipc/errno.js';

const octal = (mode: number) => (mode & 0o7777).toString(8).padStart(4, '0');

/** What a path is, in words, for a sentence ("a symbolic link", "a regular file", …). */
export function kindOf(st: Stats): string {
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isFile()) return 'a regular file';
  if (st.isDirectory()) return 'a directory';
  if (st.isSocket()) return 'a socket';
  if (st.isFIFO()) return 'a fifo';
  return 'a device';
}

/** lstat, or null when nothing is at `path`. */
export function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new SysError('EACCES', `cannot examine ${path}: ${(err as Error).message}`);
  }
}

const myUid = (): number | undefined => process.getuid?.();

/**
 * Checks that `dir` is a private directory of this process's user, by lstat: not a symlink, a
 * directory, owned by our uid, no group or other permission bits. ENOENT when it is missing,
 * EACCES (saying what is wrong) otherwise.
 */
export function checkPrivateDir(dir: string): void {
  const st = lstatOrNull(dir);
  if (st === null) throw new SysError('ENOENT', `directory ${dir} does not exist`);
  const uid = myUid();
  if (!st.isDirectory()) throw new SysError('EACCES', `${dir} is ${kindOf(st)}, not a directory; a private directory must be a real one`);
  if (uid !== undefined && st.uid !== uid) throw new SysError('EACCES', `${dir} belongs to uid ${st.uid}, not to this server's uid ${uid}; use a directory of your own`);
  if ((st.mode & 0o077) !== 0) {
    throw new SysError('EACCES', `${dir} has mode ${octal(st.mode)}: others can enter it; make it 0700 (chmod 700 ${dir}) or use another directory`);
  }
}

/** Checks, after listening, that `path` is our socket with mode 0600: EACCES, saying what is there, otherwise. */
export function checkOwnSocket(path: string): void {
  const st = lstatOrNull(path);
  const uid = myUid();
  if (st === null) throw new SysError('EACCES', `the socket ${path} vanished after listen`);
  if (!st.isSocket()) throw new SysError('EACCES', `${path} is ${kindOf(st)} after listen, not our socket`);
  if (uid !== undefined && st.uid !== uid) throw new SysError('EACCES', `the socket ${path} belongs to uid ${st.uid}, not to this server`);
  if ((st.mode & 0o777) !== 0o600) throw new SysError('EACCES', `the socket ${path} has mode ${octal(st.mode)}, not 0600`);
}

/** The identity of a file written by writeFresh: removeOwn removes only that file. */
export interface WrittenFile {
  path: string;
  dev: number;
  ino: number;
}

/**
 * Refuses (EACCES) to write into a directory that others can write, unless it is sticky (as /tmp)
 * and what is at `path` is absent or ours: there another user could replace or read the file.
 */
function checkWritableDir(path: string): void {
  const dir = dirname(path);
  const st = lstatOrNull(dir);
  if (st === null) throw new SysError('ENOENT', `cannot write ${path}: directory ${dir} does not exist`);
  if ((st.mode & 0o022) === 0) return;
  const uid = myUid();
  const there = lstatOrNull(path);
  const sticky = (st.mode & 0o1000) !== 0;
  if (!sticky || (there !== null && uid !== undefined && there.uid !== uid)) {
    throw new SysError('EACCES', `refusing to write ${path}: ${dir} has mode ${octal(st.mode)} and others can write it${sticky ? `, and ${path} belongs to uid ${there!.uid}` : ''}; use a directory of your own`);
  }
}

/**
 * Writes `text` to `path` as a new file of `mode`: a temporary file beside it created with
 * O_CREAT|O_EXCL|O_NOFOLLOW, then renamed over `path` (a symlink or file planted there is
 * replaced, never followed or reused). Fails with a SysError: ENOENT (no such directory), EACCES
 * (see checkWritableDir), or the host's errno (EIO when rumpus does not know it).
 */
export function writeFresh(path: string, text: string, mode: number): WrittenFile {
  checkWritableDir(path);
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}`);
  let fd: number;
  try {
    fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
  } catch (err) {
    throw fromHostError(err, `cannot write ${path}`);
  }
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
  const st = lstatSync(temp);
  try {
    renameSync(temp, path);
  } catch (err) {
    unlinkSync(temp);
    throw fromHostError(err, `cannot write ${path}`);
  }
  return { path, dev: st.dev, ino: st.ino };
}

/** Removes the file writeFresh wrote, if it is still that file (not followed through a symlink; another file left alone). */
export function removeOwn(file: WrittenFile): void {
  const st = lstatOrNull(file.path);
  if (st === null || !st.isFile() || st.dev !== file.dev || st.ino !== file.ino) return;
  try {
    unlinkSync(file.path);
  } catch {
    // gone meanwhile
  }
}
