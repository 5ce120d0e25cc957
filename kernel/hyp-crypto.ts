// The host side of hyp's cryptography (see hyp.ts): node:crypto for digests, PBKDF2 and
// AES-XTS, the argon2 package (ranisalt/node-argon2, native, on libuv's thread pool) for argon2.
// Both are loaded on first use, so that a domain that never derives a key does not pay for them.

import { SysError } from '../ipc/errno.js';
import type { Argon2Params, DigestName, Hyp } from './hyp.js';

type NodeCrypto = typeof import('node:crypto');
type Argon2Module = typeof import('argon2');

const DIGESTS: ReadonlySet<string> = new Set<DigestName>(['sha1', 'sha224', 'sha256', 'sha384', 'sha512', 'ripemd160']);
const ARGON2_TYPES = { argon2i: 1, argon2id: 2 } as const;
/** Bounds of Argon2Params (see hyp.ts). */
const ARGON2_MAX_MEMORY = 4 * 1024 * 1024;
const ARGON2_MAX_PARALLEL = 16;
const MAX_DERIVED = 1024;
const UINT32_MAX = 2 ** 32 - 1;
/** node:crypto's bound on PBKDF2 iterations (a signed 32-bit int). */
const PBKDF2_MAX_ITERATIONS = 2 ** 31 - 1;

let nodeCryptoModule: NodeCrypto | undefined;
/** node:crypto, loaded synchronously on first use (getBuiltinModule: no import() needed). */
function nodeCrypto(): NodeCrypto {
  nodeCryptoModule ??= process.getBuiltinModule('node:crypto');
  return nodeCryptoModule;
}

let argon2Module: Promise<Argon2Module> | undefined;
function argon2Lib(): Promise<Argon2Module> {
  argon2Module ??= import('argon2').then((m) => ((m as { default?: Argon2Module }).default ?? m));
  return argon2Module;
}

function checkDigest(hash: string, what: string): void {
  if (typeof hash !== 'string' || !DIGESTS.has(hash)) throw new SysError('EINVAL', `${what}: unknown hash '${String(hash)}'`);
}

function checkInteger(value: number, low: number, high: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < low || value > high) {
    throw new SysError('EINVAL', `${what} ${value} is outside ${low} … ${high}`);
  }
}

/** A copy of `b` as a plain Uint8Array (not a Buffer over a shared pool), as results cross domains. */
const plain = (b: Uint8Array): Uint8Array => new Uint8Array(b);

/** Writes the plain64 IV of `sector` into `iv` (16 bytes, little-endian, zero above 2^53). */
function plain64(iv: Uint8Array, sector: number): void {
  iv.fill(0);
  let n = sector;
  for (let i = 0; i < 8 && n > 0; i++) {
    iv[i] = n % 256;
    n = Math.floor(n / 256);
  }
}

/** See Hyp.aesXts. */
function aesXts(direction: 'encrypt' | 'decrypt', key: Uint8Array, sector: number, sectorSize: number, data: Uint8Array): Uint8Array {
  if (direction !== 'encrypt' && direction !== 'decrypt') throw new SysError('EINVAL', `aesXts: unknown direction '${String(direction)}'`);
  if (key.length !== 32 && key.length !== 64) throw new SysError('EINVAL', `aesXts: a key of ${key.length} bytes, where aes-xts takes 32 or 64`);
  if (sectorSize !== 512 && sectorSize !== 4096) throw new SysError('EINVAL', `aesXts: sector size ${sectorSize}, not 512 or 4096`);
  if (data.length % sectorSize !== 0) throw new SysError('EINVAL', `aesXts: ${data.length} bytes are not whole ${sectorSize}-byte units`);
  const step = sectorSize / 512;
  checkInteger(sector, 0, Number.MAX_SAFE_INTEGER - (data.length / sectorSize) * step, 'aesXts: sector');
  const c = nodeCrypto();
  const algorithm = key.length === 32 ? 'aes-128-xts' : 'aes-256-xts';
  const out = new Uint8Array(data.length);
  const iv = new Uint8Array(16);
  for (let at = 0, s = sector; at < data.length; at += sectorSize, s += step) {
    plain64(iv, s);
    let cipher;
    try {
      cipher = direction === 'encrypt' ? c.createCipheriv(algorithm, key, iv) : c.createDecipheriv(algorithm, key, iv);
    } catch (err) {
      // OpenSSL refuses a key whose two halves are equal (XTS's tweak key must differ).
      const duplicated = /duplicated keys/.test((err as Error).message);
      throw new SysError('EINVAL', duplicated ? 'aesXts: the two halves of the key are equal, which XTS refuses (its tweak key must differ from its data key)'
        : `aesXts: the host refused the key (${(err as Error).message})`);
    }
    cipher.setAutoPadding(false);
    const n = cipher.update(data.subarray(at, at + sectorSize)).copy(out, at);
    cipher.final().copy(out, at + n);
  }
  return out;
}

/** The cryptography calls of a host hyp (see Hyp). */
export const hostCrypto: Pick<Hyp, 'digest' | 'pbkdf2' | 'argon2' | 'aesXts'> = {
  digest(hash: DigestName, data: Uint8Array): Uint8Array {
    checkDigest(hash, 'digest');
    return plain(nodeCrypto().createHash(hash).update(data).digest());
  },

  async pbkdf2(hash, password, salt, iterations, length) {
    checkDigest(hash, 'pbkdf2');
    checkInteger(iterations, 1, PBKDF2_MAX_ITERATIONS, 'pbkdf2: iterations');
    checkInteger(length, 1, MAX_DERIVED, 'pbkdf2: length');
    const c = nodeCrypto();
    const key = await new Promise<Buffer>((resolve, reject) => {
      c.pbkdf2(password, salt, iterations, length, hash, (err, derived) => (err ? reject(err) : resolve(derived)));
    }).catch((err: Error) => {
      throw new SysError('EINVAL', `pbkdf2: ${err.message}`);
    });
    return plain(key);
  },

  async argon2(params: Argon2Params, password, salt, length) {
    const type = params.type;
    if (!Object.hasOwn(ARGON2_TYPES, type)) throw new SysError('EINVAL', `argon2: unknown type '${String(type)}'`);
    checkInteger(params.parallel, 1, ARGON2_MAX_PARALLEL, 'argon2: parallel');
    checkInteger(params.time, 1, UINT32_MAX, 'argon2: time');
    checkInteger(params.memory, 8 * params.parallel, ARGON2_MAX_MEMORY, 'argon2: memory (KiB)');
    checkInteger(length, 4, MAX_DERIVED, 'argon2: length');
    if (salt.length < 8) throw new SysError('EINVAL', `argon2: a salt of ${salt.length} bytes, where argon2 takes 8 or more`);
    const lib = await argon2Lib();
    try {
      const key = await lib.hash(Buffer.from(password), {
        raw: true, type: ARGON2_TYPES[type], timeCost: params.time, memoryCost: params.memory,
        parallelism: params.parallel, hashLength: length, salt: Buffer.from(salt), version: 0x13,
      });
      return plain(key);
    } catch (err) {
      const message = (err as Error).message ?? String(err);
      throw new SysError(/memory/i.test(message) ? 'ENOMEM' : 'EINVAL', `argon2: ${message}`);
    }
  },

  aesXts,
};
