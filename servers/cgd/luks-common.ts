// Helpers both LUKS formats use: errors, byte comparison, rounding, UUIDs, wiping.

import { checkKdf, SysError, type Errno, type Hyp, type Kdf } from '../../kernel/api.js';
import type { LuksCrypto, RawDevice } from './luks-types.js';

/** A SysError from the LUKS library: the message starts 'cgd: '. */
export function luksError(errno: Errno, message: string): SysError {
  return new SysError(errno, `cgd: ${message}`);
}

/** `err` worded as the library's: 'cgd: ' before a SysError's sentence that lacks it (one from the cipher component). */
export function asLuksError(err: unknown): unknown {
  return err instanceof SysError && !err.message.startsWith('cgd: ') ? luksError(err.errno, err.message) : err;
}

/** The cipher component's bounds on a KDF that came from a header, as an EINVAL of the library's. */
export function checkedKdf(kdf: Kdf, what: string): Kdf {
  try {
    return checkKdf(kdf);
  } catch (err) {
    throw luksError('EINVAL', `${what}: ${(err as Error).message.replace(/^cipher: /, '')}`);
  }
}

/**
 * `work`'s result; a failure that is no SysError — a bug, or input no check foresaw — becomes
 * EIO with a sentence, so that nothing but SysErrors leaves the library.
 */
export async function surfaced<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof SysError) throw err;
    const what = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    throw luksError('EIO', `an unexpected failure in the LUKS code (${what})`);
  }
}

/** `crypto` whose failures read as the library's own (asLuksError). */
export function guarded(crypto: LuksCrypto): LuksCrypto {
  const wrap = <A extends unknown[]>(fn: (...args: A) => Promise<Uint8Array>) => async (...args: A): Promise<Uint8Array> => {
    try {
      return await fn(...args);
    } catch (err) {
      throw asLuksError(err);
    }
  };
  return {
    hyp: crypto.hyp,
    derive: wrap((kdf, passphrase, length) => crypto.derive(kdf, passphrase, length)),
    encrypt: wrap((cipher, key, sector, sectorSize, data) => crypto.encrypt(cipher, key, sector, sectorSize, data)),
    decrypt: wrap((cipher, key, sector, sectorSize, data) => crypto.decrypt(cipher, key, sector, sectorSize, data)),
  };
}

/** Bytes equal, in time independent of where they differ. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/** `n` rounded up to a multiple of `unit`. */
export const roundUp = (n: number, unit: number): number => Math.ceil(n / unit) * unit;

/** A random RFC 4122 version 4 UUID, as cryptsetup makes one. */
function randomUuid(hyp: Hyp): string {
  const b = hyp.random(16);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Checks a UUID given by the caller (36 characters, as cryptsetup's --uuid). */
export function uuidFrom(hyp: Hyp, uuid: string | undefined): string {
  if (uuid === undefined) return randomUuid(hyp);
  if (!/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(uuid)) throw luksError('EINVAL', `'${uuid}' is not a UUID`);
  return uuid.toLowerCase();
}

/** Zeroes [start, end) of the device: old headers and keyslots leave nothing behind. */
export async function wipe(dev: RawDevice, start: number, end: number): Promise<void> {
  const chunk = new Uint8Array(1024 * 1024);
  for (let at = start; at < end; at += chunk.length) await dev.write(at, chunk.subarray(0, Math.min(chunk.length, end - at)));
}
