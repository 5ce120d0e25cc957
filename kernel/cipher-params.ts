// What a cipher takes, shared by the cipher component and its callers (cgd's LUKS code), as
// FS_OPS is shared by the file systems and vfs: the key derivation functions with their
// parameters (named as the LUKS2 JSON names them), the ciphers, and the checks of both that
// an op argument or a header from outside passes before anything uses it.

import { SysError } from '../ipc/errno.js';
import type { Argon2Type, DigestName } from './hyp.js';

/** PBKDF2 with HMAC-`hash` (RFC 8018), as LUKS1 keyslots and LUKS2 'pbkdf2' keyslots use it. */
export interface Pbkdf2Kdf {
  type: 'pbkdf2';
  hash: DigestName;
  iterations: number;
  salt: Uint8Array;
}

/** argon2i/argon2id (RFC 9106), as LUKS2 keyslots use it: memory in KiB, cpus → parallel. */
export interface Argon2Kdf {
  type: Argon2Type;
  time: number;
  memory: number;
  parallel: number;
  salt: Uint8Array;
}

/** A key derivation function with its parameters (the LUKS2 JSON's names). */
export type Kdf = Pbkdf2Kdf | Argon2Kdf;

/** The hashes PBKDF2 takes here. */
export const KDF_HASHES: readonly DigestName[] = ['sha1', 'sha224', 'sha256', 'sha384', 'sha512', 'ripemd160'];
/** The ciphers (cipher-mode-iv, as dm-crypt spells them) that encrypt and decrypt take. */
export const CIPHERS: readonly string[] = ['aes-xts-plain64'];

const UINT32_MAX = 2 ** 32 - 1;
/**
 * Bounds: past them a parameter is absurd rather than strong (4 GiB of memory, 1 KiB of key), or
 * more than the host takes (PBKDF2 iterations: node:crypto's signed 32-bit bound).
 */
export const KDF_LIMITS = { maxMemory: 4 * 1024 * 1024, maxParallel: 16, maxLength: 1024, maxSalt: 1024, maxIterations: 2 ** 31 - 1 } as const;

function fail(message: string): never {
  throw new SysError('EINVAL', `cipher: ${message}`);
}

function checkUint(value: unknown, low: number, high: number, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < low || value > high) {
    fail(`${what} ${String(value)} is outside ${low} … ${high}`);
  }
  return value;
}

function checkSalt(value: unknown, min: number): Uint8Array {
  if (!(value instanceof Uint8Array)) fail('the KDF salt must be bytes');
  if (value.length < min || value.length > KDF_LIMITS.maxSalt) fail(`a KDF salt of ${value.length} bytes (${min} … ${KDF_LIMITS.maxSalt})`);
  return value;
}

/**
 * Checks a KDF description that came from outside (an op's argument, a header's JSON) and
 * returns it typed. EINVAL naming an unknown type or hash, or the parameter out of bounds.
 */
export function checkKdf(kdf: unknown): Kdf {
  if (typeof kdf !== 'object' || kdf === null) fail('the KDF must be an object');
  const k = kdf as Record<string, unknown>;
  switch (k.type) {
    case 'pbkdf2': {
      if (typeof k.hash !== 'string' || !KDF_HASHES.includes(k.hash as DigestName)) fail(`unknown PBKDF2 hash '${String(k.hash)}'`);
      return { type: 'pbkdf2', hash: k.hash as DigestName, iterations: checkUint(k.iterations, 1, KDF_LIMITS.maxIterations, 'PBKDF2 iterations'), salt: checkSalt(k.salt, 1) };
    }
    case 'argon2i':
    case 'argon2id': {
      const parallel = checkUint(k.parallel, 1, KDF_LIMITS.maxParallel, `${k.type} parallel`);
      return {
        type: k.type,
        time: checkUint(k.time, 1, UINT32_MAX, `${k.type} time`),
        memory: checkUint(k.memory, 8 * parallel, KDF_LIMITS.maxMemory, `${k.type} memory (KiB)`),
        parallel,
        salt: checkSalt(k.salt, 8),
      };
    }
    default:
      return fail(`unknown KDF type '${String(k.type)}'`);
  }
}

/** Checks a cipher name and its key: EINVAL naming an unknown cipher or a key of the wrong length. */
export function checkCipher(cipher: string, keyLength: number): void {
  if (!CIPHERS.includes(cipher)) fail(`unknown cipher '${cipher}' (rumpus has ${CIPHERS.join(', ')})`);
  if (keyLength !== 32 && keyLength !== 64) fail(`a ${cipher} key of ${keyLength} bytes, where it takes 32 or 64`);
}

/** Checks the length of a key to derive with `kdf`: 1 … 1024 bytes (argon2: 4 …). EINVAL. */
export function checkDerivedLength(kdf: Kdf, length: number): void {
  checkUint(length, kdf.type === 'pbkdf2' ? 1 : 4, KDF_LIMITS.maxLength, 'key length');
}

/**
 * Checks a run of sectors to encrypt or decrypt: `sectorSize` 512 or 4096, `length` bytes in
 * whole units of it, and the IV of the first (`sector`, in 512-byte sectors) with room for the
 * rest. EINVAL.
 */
export function checkCipherUnits(sector: number, sectorSize: number, length: number): void {
  if (sectorSize !== 512 && sectorSize !== 4096) fail(`sector size ${sectorSize}, not 512 or 4096`);
  if (length % sectorSize !== 0) fail(`${length} bytes are not whole ${sectorSize}-byte units`);
  checkUint(sector, 0, Number.MAX_SAFE_INTEGER - length / 512, 'sector');
}
