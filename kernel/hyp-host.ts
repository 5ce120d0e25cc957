// The host side of hyp (see hyp.ts): Node.js file, clock and random calls, one instance per
// domain, each component's copy tagging its log lines with the component's name.

import * as fs from 'node:fs';
import { isErrno, SysError } from '../ipc/errno.js';
import type { FileOpenOptions, HostFile, Hyp, LogLevel } from './hyp.js';

const LEVELS: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };
/** The least level logged: RUMPUS_LOG (debug, info, warn, error), warn by default. */
const threshold = () => LEVELS[process.env.RUMPUS_LOG as LogLevel] ?? LEVELS.warn;

/** A Node.js system error becomes a SysError with the same errno and the host's words. */
function hostError(err: unknown, what: string): SysError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (isErrno(code)) return new SysError(code, `${what}: ${(err as Error).message}`);
  return new SysError('EIO', `${what}: ${err instanceof Error ? err.message : String(err)}`);
}

function host<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw hostError(err, what);
  }
}

function checkPos(pos: number, what: string): void {
  if (!Number.isSafeInteger(pos) || pos < 0) throw new SysError('EINVAL', `${what}: bad offset ${pos}`);
}

export function hostHyp(tag: string): Hyp {
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
      const flags = options.readonly ? 'r' : options.create ? fs.constants.O_RDWR | fs.constants.O_CREAT : 'r+';
      return host(`open ${path}`, () => {
        const fd = fs.openSync(path, flags, 0o600);
        if (fs.fstatSync(fd).isDirectory()) {
          fs.closeSync(fd);
          throw new SysError('EISDIR', `open ${path}: is a directory`);
        }
        return fd;
      });
    },
    fileSize: (file) => host('fstat', () => fs.fstatSync(file).size),
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
    fileClose: (file) => host('close', () => fs.closeSync(file)),
    fileUnlink: (path) => host(`unlink ${path}`, () => fs.unlinkSync(path)),

    log(level, message) {
      if (LEVELS[level] >= threshold()) process.stderr.write(`rumpus[${tag}] ${level}: ${message}\n`);
    },
    consoleWrite: (text) => void process.stdout.write(text),
  };
}
