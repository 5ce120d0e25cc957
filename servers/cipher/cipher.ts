// The cipher component's work, as plain functions over a hyp: key derivation (PBKDF2, argon2)
// and sector encryption (aes-xts-plain64), each argument checked before the host sees it. The
// component (index.ts) serves them as ops; a caller in the same domain that wants no component
// — a test, a tool — may call them directly, with the same checks and the same errors.

import { SysError, type Hyp } from '../../kernel/api.js';
import type { Argon2Type, DigestName } from '../../kernel/hyp.js';

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

/** Derives `length` bytes (1 … 1024; 4 … for argon2) from `passphrase` with `kdf`. EINVAL for bad arguments, ENOMEM (argon2). */
export async function derive(hyp: Hyp, kdf: unknown, passphrase: Uint8Array, length: number): Promise<Uint8Array> {
  const k = checkKdf(kdf);
  if (k.type === 'pbkdf2') {
    checkUint(length, 1, KDF_LIMITS.maxLength, 'key length');
    return hyp.pbkdf2(k.hash, passphrase, k.salt, k.iterations, length);
  }
  checkUint(length, 4, KDF_LIMITS.maxLength, 'key length');
  return hyp.argon2({ type: k.type, time: k.time, memory: k.memory, parallel: k.parallel }, passphrase, k.salt, length);
}

/** Checks a cipher name and its key: EINVAL naming an unknown cipher or a key of the wrong length. */
export function checkCipher(cipher: string, keyLength: number): void {
  if (!CIPHERS.includes(cipher)) fail(`unknown cipher '${cipher}' (rumpus has ${CIPHERS.join(', ')})`);
  if (keyLength !== 32 && keyLength !== 64) fail(`a ${cipher} key of ${keyLength} bytes, where it takes 32 or 64`);
}

/**
 * Encrypts or decrypts `data`, whole units of `sectorSize` (512 or 4096) bytes, with `cipher`:
 * the first unit's IV is `sector` (in 512-byte sectors, plain64), each next one's
 * sectorSize / 512 more (dm-crypt without iv_large_sectors, as cryptsetup sets up LUKS2).
 * EINVAL for an unknown cipher, a wrong key length, a bad sector size or partial unit.
 */
export function crypt(hyp: Hyp, direction: 'encrypt' | 'decrypt', cipher: string, key: Uint8Array, sector: number, sectorSize: number, data: Uint8Array): Uint8Array {
  checkCipher(cipher, key.length);
  if (sectorSize !== 512 && sectorSize !== 4096) fail(`sector size ${sectorSize}, not 512 or 4096`);
  if (data.length % sectorSize !== 0) fail(`${data.length} bytes are not whole ${sectorSize}-byte units`);
  checkUint(sector, 0, Number.MAX_SAFE_INTEGER - data.length / 512, 'sector');
  return hyp.aesXts(direction, key, sector, sectorSize, data);
}
