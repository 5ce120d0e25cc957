// The rumpus command's standard output and error, treated as coreutils treat them: output into
// a pipe whose reader has gone (EPIPE) ends the command quietly — status 141, as a shell shows a
// program killed by SIGPIPE — and any other failure to write is one line on stderr, never a
// stack trace. Nothing is written to a stream after it failed.

import { bytesOf, isErrno, strerror, toByteString, type SysError } from '../kernel/index.js';

/**
 * Thrown by writeOut once standard output failed (or the shell's, redirected to a file): not a
 * SysError, so that no command reports it as a problem with one of its operands; the command
 * stops, and the shell or the top level says so in one line, naming the output — or nothing,
 * when the reader has gone (`broken`).
 */
export class OutputFailed extends Error {
  /** The error code: 'EPIPE' when the reader has gone. */
  readonly code: string;

  /**
   * `detail`: what went wrong, shown when `code` is no errno; `output`: the output as named to
   * the user; `said`: what to say instead of strerror's words.
   */
  constructor(code: string, detail: string, output = 'standard output', said?: string) {
    super(`${output}: ${said ?? (isErrno(code) ? strerror(code) : detail)}`);
    this.code = code;
  }

  /** A failed write to a file the output was redirected to, `shown` as the user named it: `shown: problem(err)`. */
  static ofFile(shown: string, err: SysError): OutputFailed {
    return new OutputFailed(err.errno, err.message, shown, problem(err));
  }

  /** The reader of the pipe has gone: stop quietly, as a program killed by SIGPIPE. */
  get broken(): boolean {
    return this.code === 'EPIPE';
  }
}

/** The exit status of a command whose standard output's reader has gone: 128 + SIGPIPE. */
export const BROKEN_PIPE_STATUS = 141;

/** Why standard output can no longer be written to, once it failed. */
let outFailure: OutputFailed | null = null;
let errFailed = false;

function failure(err: NodeJS.ErrnoException): OutputFailed {
  return new OutputFailed(err.code ?? 'EIO', err.message);
}

/**
 * Catches errors on both streams, so that a failed write is never an unhandled 'error' event
 * (which Node prints with a stack trace). Call once, before anything is written.
 */
export function guardStdio(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    outFailure ??= failure(err);
  });
  process.stderr.on('error', () => {
    errFailed = true;
  });
}

/**
 * Writes to standard output; resolves once the text is handed on, so that a long output waits
 * for a slow reader. Rejects with OutputFailed when standard output failed, now or before.
 */
export function writeOut(text: string | Uint8Array): Promise<void> {
  if (outFailure) return Promise.reject(outFailure);
  return new Promise((resolve, reject) => {
    process.stdout.write(exactBytes(text), (err) => {
      if (!err) return resolve();
      outFailure ??= failure(err);
      reject(outFailure);
    });
  });
}

/** How standard output failed, if it did (writes made with process.stdout.write directly too). */
export function outputFailure(): OutputFailed | null {
  return outFailure;
}

/** Writes to standard error; dropped once standard error failed (there is nowhere to say so). */
export function writeErr(text: string): void {
  if (!errFailed) process.stderr.write(exactBytes(text));
}

/** A lone surrogate that stands for a byte that is not part of valid UTF-8 (kernel/names.ts). */
const BYTE_ESCAPE = /[\uDC80-\uDCFF]/;

/**
 * Text to write: a string in client form that carries bytes that are not UTF-8 (a name from an
 * image, in a message or a listing) as those exact bytes, as GNU tools print a name, instead of
 * the U+FFFD that encoding it as UTF-8 would make of them.
 */
function exactBytes(text: string | Uint8Array): string | Uint8Array {
  if (typeof text !== 'string' || !BYTE_ESCAPE.test(text)) return text;
  try {
    return bytesOf(toByteString(text));
  } catch {
    return text; // a lone surrogate that stands for no byte: as Node writes it
  }
}

/**
 * Errnos whose strerror(3) words name a kind of trouble but not which one, so that the
 * component's sentence is what tells the user: damage (EUCLEAN, EIO: the sentence names what is
 * damaged) and ENOSPC (a full disk, no free inodes, a full journal transaction, a full htree, a
 * tmpfs limit, no free LUKS keyslot all read "No space left on device").
 */
const SENTENCE_SHOWN: ReadonlySet<string> = new Set(['EUCLEAN', 'EIO', 'ENOSPC']);

/**
 * Whether `message` says more than strerror's `words`: it is not empty, not the words, and not
 * a name followed by the words ("key file k: No space left on device"), which the command
 * already says by naming its operand.
 */
function saysMore(message: string, words: string): boolean {
  return message !== '' && message !== words && !message.endsWith(`: ${words}`);
}

/**
 * What a command prints after `cmd: path: ` for a SysError: strerror(3)'s words, as POSIX tools
 * print them, and for damage or ENOSPC (SENTENCE_SHOWN) the sentence of the component that
 * refused, in parentheses, when it says more than the words: "Structure needs cleaning (ext2:
 * inode 12: …)", "No space left on device (ext2: no free inodes left)".
 */
export function problem(err: SysError): string {
  const words = strerror(err.errno);
  return SENTENCE_SHOWN.has(err.errno) && saysMore(err.message, words) ? `${words} (${err.message})` : words;
}

/**
 * One line saying what went wrong with something thrown that no command expected (a bug), with
 * its errno when it has one: what a last-resort handler prints instead of a stack trace.
 */
export function describeUnexpected(err: unknown): string {
  const e = err as { message?: unknown; code?: unknown } | null;
  const message = typeof e?.message === 'string' && e.message ? e.message.split('\n')[0] : String(err);
  const code = typeof e?.code === 'string' && isErrno(e.code) ? ` (${e.code}: ${strerror(e.code)})` : '';
  return `internal error: ${message}${code}`;
}
