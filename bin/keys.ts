// The passphrases of LUKS images, as the commands get them. With --key-file FILE, the file's
// exact bytes are the passphrase, newline and all (cryptsetup's --key-file rule), and '-' is
// standard input read to its end; the one key is used for every LUKS image of the command
// line. Without it, each LUKS image's passphrase is asked for on the terminal (/dev/tty, so that
// a pipe into standard input still works), echo off; with no terminal, one sentence asks for
// --key-file. An image that is not a LUKS container never gets a key.

import { closeSync, openSync, readSync, realpathSync, writeSync } from 'node:fs';
import { ReadStream, isatty } from 'node:tty';
import { SysError } from '../kernel/index.js';
import { hostFileError } from './host-errors.js';
import { imageName, imageStart } from './image-name.js';
import { UsageError, type Values } from './subcommand.js';

export const KEY_HELP = `  --key-file FILE     the passphrase of the LUKS images: FILE's exact bytes (a final newline
                      is part of it, as for cryptsetup's --key-file); '-' reads standard
                      input to its end. The one key is used for every LUKS image named.
                      Without it, each LUKS image's passphrase is asked for on the terminal`;

export const keyOptions = { 'key-file': { type: 'string' } } as const;

/** 'LUKS\xba\xbe': the start of a LUKS1 header (LUKS1 spec 1.2.3, §2.4) and of LUKS2's primary one (LUKS2 spec 1.1, §2.1). */
const LUKS_MAGIC = Buffer.from([0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe]);
/** 'SKUL\xba\xbe': a LUKS2 secondary header, which starts where the primary ends (16 KiB … 4 MiB, LUKS2 spec §2.1). */
const LUKS2_SECONDARY_MAGIC = Buffer.from([0x53, 0x4b, 0x55, 0x4c, 0xba, 0xbe]);
const LUKS2_HEADER_SIZES = Array.from({ length: 9 }, (_, i) => 16384 << i);

/**
 * Whether the host file starts as a LUKS container (or has a LUKS2 secondary header where one
 * would be) — at byte `start`, for a container in a partition; false when it cannot be read.
 */
export function isLuksImage(path: string, start = 0): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return false; // mounting it says why
  }
  try {
    const at = (offset: number, magic: Buffer) => {
      const buf = Buffer.alloc(magic.length);
      return readSync(fd, buf, 0, buf.length, start + offset) === buf.length && buf.equals(magic);
    };
    return at(0, LUKS_MAGIC) || LUKS2_HEADER_SIZES.some((size) => at(size, LUKS2_SECONDARY_MAGIC));
  } catch {
    return false;
  } finally {
    closeSync(fd);
  }
}

/**
 * The largest key file: 8 MiB, cryptsetup's default key-file size limit (--keyfile-size-max,
 * DEFAULT_KEYFILE_SIZE_MAXKB 8192 in its configure). A larger file, or an endless stream such
 * as /dev/zero, is refused after reading one byte more, never read on.
 */
export const KEY_FILE_MAX_BYTES = 8 << 20;

/**
 * A key file's exact bytes ('-': standard input's), read to its end but never beyond
 * KEY_FILE_MAX_BYTES + 1 bytes. EFBIG when it is larger than KEY_FILE_MAX_BYTES, EINVAL when
 * it is empty, the host's errno (in one sentence naming the file) when it cannot be read.
 */
export function readKeyFile(path: string): Uint8Array {
  const what = `key file ${path}`;
  let fd: number;
  try {
    fd = path === '-' ? 0 : openSync(path, 'r');
  } catch (err) {
    throw hostFileError(err, what);
  }
  const limit = KEY_FILE_MAX_BYTES + 1;
  const bytes = Buffer.alloc(limit);
  let length = 0;
  try {
    for (let n = -1; n !== 0 && length < limit; length += n) n = readSync(fd, bytes, length, limit - length, null);
  } catch (err) {
    throw hostFileError(err, what);
  } finally {
    if (fd !== 0) closeSync(fd);
  }
  if (length > KEY_FILE_MAX_BYTES) {
    throw new SysError('EFBIG', `${what} is larger than 8 MiB, the largest key file (as cryptsetup's default --keyfile-size-max)`);
  }
  if (length === 0) throw new SysError('EINVAL', `${what} is empty: a passphrase has at least one byte`);
  return new Uint8Array(bytes.subarray(0, length));
}

const CTRL_C = 0x03;
const CTRL_D = 0x04;
const CTRL_U = 0x15;
const BACKSPACE = [0x08, 0x7f];

/**
 * Asks on the controlling terminal (/dev/tty), echo off: the bytes typed up to Enter, without
 * it. Backspace removes a character, Ctrl-U the line; Ctrl-C or Ctrl-D give up (ECANCELED).
 * null when the process has no controlling terminal.
 */
export async function promptOnTerminal(question: string): Promise<Uint8Array | null> {
  let fd: number;
  try {
    fd = openSync('/dev/tty', 'r+');
  } catch {
    fd = -1;
  }
  if (fd < 0 || !isatty(fd)) {
    if (fd >= 0) closeSync(fd);
    return null;
  }
  const input = new ReadStream(fd);
  // Echo off before the question shows: what is typed as soon as it does must not be echoed.
  input.setRawMode(true);
  try {
    writeSync(fd, question);
    return await new Promise<Uint8Array>((resolve, reject) => {
      let typed: number[] = [];
      input.on('data', (chunk: Buffer) => {
        for (const b of chunk) {
          if (b === 0x0d || b === 0x0a) return resolve(Uint8Array.from(typed));
          if (b === CTRL_C || (b === CTRL_D && typed.length === 0)) return reject(new SysError('ECANCELED', 'no passphrase given'));
          if (b === CTRL_U) typed = [];
          else if (BACKSPACE.includes(b)) {
            // One character: a UTF-8 lead byte and its continuation bytes (10xxxxxx).
            while (typed.length && (typed.pop()! & 0xc0) === 0x80);
          } else typed.push(b);
        }
      });
      input.on('error', (err) => reject(hostFileError(err, '/dev/tty')));
    });
  } finally {
    input.setRawMode(false);
    writeSync(fd, '\n');
    input.destroy(); // closes fd
  }
}

/**
 * The keys of one command's LUKS images: --key-file's bytes for each, or each asked for once on
 * the terminal, by the image's real path.
 */
export class Keys {
  private fileKey: Uint8Array | null = null;
  private readonly asked = new Map<string, Uint8Array>();

  constructor(
    /** --key-file, or undefined to ask. */
    private readonly keyFile: string | undefined,
  ) {}

  /** From the command's --key-file. */
  static of(v: Values): Keys {
    return new Keys(typeof v['key-file'] === 'string' ? v['key-file'] : undefined);
  }

  /** The passphrase of `image` (IMAGE or IMAGE@N) when it is a LUKS container, else undefined. */
  async keyFor(image: string): Promise<Uint8Array | undefined> {
    const name = imageName(image);
    const start = await imageStart(name);
    if (start === null || !isLuksImage(name.path, start)) return undefined;
    return this.key(image);
  }

  /** The passphrase for `image` whatever it holds: the key file's, or asked for with `question`. */
  async key(image: string, question = `Enter passphrase for ${image}: `): Promise<Uint8Array> {
    if (this.keyFile !== undefined) return (this.fileKey ??= readKeyFile(this.keyFile));
    const real = realPathOr(image);
    const known = this.asked.get(real);
    if (known) return known;
    const typed = await this.ask(image, question);
    this.asked.set(real, typed);
    return typed;
  }

  /**
   * A passphrase for `image` typed at the prompt. ENOKEY when there is no terminal (a sentence
   * that asks for --key-file), EINVAL when it is empty.
   */
  async ask(image: string, question: string): Promise<Uint8Array> {
    const typed = await promptOnTerminal(question);
    if (typed === null) throw new SysError('ENOKEY', `${image}: there is no terminal to ask for its passphrase on; give it with --key-file FILE`);
    if (typed.length === 0) throw new SysError('EINVAL', `${image}: an empty passphrase (a passphrase has at least one byte)`);
    return typed;
  }
}

function realPathOr(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

/** --key-file with a server: its images are mounted there, with their keys. */
export function noKeyWithServer(v: Values): void {
  if (typeof v['key-file'] === 'string') {
    throw new UsageError(`--key-file opens images in a kernel booted here; the server mounted its images with their keys`);
  }
}
