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

/** A Uint32Array over the same bytes (their offset and length are multiples of 4 here). */
const words = (b: Uint8Array): Uint32Array => new Uint32Array(b.buffer, b.byteOffset, b.length >>> 2);

/** `b`, or a copy of it when its offset is not a multiple of 4 (words needs 4-byte alignment). */
const aligned = (b: Uint8Array): Uint8Array => (b.byteOffset % 4 === 0 ? b : plain(b));

/**
 * XORs each 16-byte block of `src` into `dst` with its XTS tweak (IEEE 1619-2007 §5.1): block j
 * of unit i gets T_i·α^j in GF(2^128), T_i being the i-th 16 bytes of `tweaks` (the encrypted
 * IVs) and α the polynomial x, each block a 128-bit little-endian number as four u32 words.
 * `dst` may be `src`. Units are `blocks` blocks long.
 */
function xorTweaks(dst: Uint32Array, src: Uint32Array, tweaks: Uint32Array, blocks: number): void {
  for (let unit = 0, w = 0; unit < tweaks.length; unit += 4) {
    let a = tweaks[unit], b = tweaks[unit + 1], c = tweaks[unit + 2], d = tweaks[unit + 3];
    for (let j = 0; j < blocks; j++, w += 4) {
      dst[w] = src[w] ^ a;
      dst[w + 1] = src[w + 1] ^ b;
      dst[w + 2] = src[w + 2] ^ c;
      dst[w + 3] = src[w + 3] ^ d;
      // Multiply by α: a left shift of the 128 bits, x^128 reduced as x^7 + x^2 + x + 1 (0x87).
      const carry = d >> 31;
      d = (d << 1) | (c >>> 31);
      c = (c << 1) | (b >>> 31);
      b = (b << 1) | (a >>> 31);
      a = (a << 1) ^ (carry & 0x87);
    }
  }
}

/**
 * Bytes per AES-ECB update: node's ECB ran 2.3 GB/s on 4 KiB, 4.85 GB/s on 64 KiB and 2.5 GB/s
 * on 1 MiB per call here. A multiple of both XTS unit sizes (512, 4096).
 */
const CHUNK = 64 * 1024;
/** The whitened input of one update, reused: aesXts is synchronous, one at a time per thread. */
const scratch = new Uint32Array(CHUNK / 4);

/** An AES-ECB cipher without padding: no state between updates, so one serves every call. */
type Ecb = ReturnType<NodeCrypto['createCipheriv']> | ReturnType<NodeCrypto['createDecipheriv']>;
/**
 * The ECB ciphers used last, by direction and key, at most ECB_CACHE of them (a volume uses
 * three: its data key each way and its tweak key), so that a call does not pay for a key
 * schedule (~1 µs each, a quarter of the encryption of a 4 KiB unit). A key is held here until
 * keys of other volumes push it out.
 */
const ecbs = new Map<string, Ecb>();
const ECB_CACHE = 6;

/** The ECB cipher for `direction` with `key` (16 or 32 bytes), made or found in ecbs. */
function ecb(direction: 'encrypt' | 'decrypt', key: Uint8Array): Ecb {
  const id = `${direction[0]}${Buffer.from(key.buffer, key.byteOffset, key.length).toString('latin1')}`;
  let cipher = ecbs.get(id);
  if (cipher) {
    ecbs.delete(id); // to the end: the most recently used
  } else {
    const c = nodeCrypto();
    const name = key.length === 16 ? 'aes-128-ecb' : 'aes-256-ecb';
    cipher = (direction === 'encrypt' ? c.createCipheriv(name, key, null) : c.createDecipheriv(name, key, null)).setAutoPadding(false);
    if (ecbs.size >= ECB_CACHE) ecbs.delete(ecbs.keys().next().value!);
  }
  ecbs.set(id, cipher);
  return cipher;
}

/**
 * AES-XTS (aes-xts-plain64) over many units with AES-ECB rather than one XTS cipher per unit,
 * whose setup cost ten times the encryption of a 4 KiB unit: the units' IVs (plain64: the
 * sector number, little-endian) are encrypted with the tweak key in one update; then, CHUNK
 * bytes at a time, the tweaks of every block are XORed into a scratch buffer, one ECB update
 * with the data key encrypts it, and the tweaks are XORed again on the way into the result.
 * The same bytes as OpenSSL's aes-*-xts, unit for unit (test/luks-cipher.ts compares them). The
 * result is a fresh buffer of its own; `data` is only read.
 */
function aesXts(direction: 'encrypt' | 'decrypt', key: Uint8Array, sector: number, sectorSize: number, data: Uint8Array): Uint8Array {
  if (direction !== 'encrypt' && direction !== 'decrypt') throw new SysError('EINVAL', `aesXts: unknown direction '${String(direction)}'`);
  if (key.length !== 32 && key.length !== 64) throw new SysError('EINVAL', `aesXts: a key of ${key.length} bytes, where aes-xts takes 32 or 64`);
  if (sectorSize !== 512 && sectorSize !== 4096) throw new SysError('EINVAL', `aesXts: sector size ${sectorSize}, not 512 or 4096`);
  if (data.length % sectorSize !== 0) throw new SysError('EINVAL', `aesXts: ${data.length} bytes are not whole ${sectorSize}-byte units`);
  const step = sectorSize / 512;
  const units = data.length / sectorSize;
  checkInteger(sector, 0, Number.MAX_SAFE_INTEGER - units * step, 'aesXts: sector');
  const half = key.length / 2;
  const dataKey = key.subarray(0, half);
  const tweakKey = key.subarray(half);
  // As OpenSSL's XTS (and the kernel's xts_verify_key) refuses: equal halves undo the tweak.
  if (dataKey.every((byte, i) => byte === tweakKey[i])) {
    throw new SysError('EINVAL', 'aesXts: the two halves of the key are equal, which XTS refuses (its tweak key must differ from its data key)');
  }
  const out = new Uint8Array(data.length);
  if (units === 0) return out;
  const ivs = new Uint8Array(units * 16);
  const ivView = new DataView(ivs.buffer);
  for (let i = 0, s = sector; i < units; i++, s += step) {
    ivView.setUint32(i * 16, s % 2 ** 32, true);
    ivView.setUint32(i * 16 + 4, Math.floor(s / 2 ** 32), true);
  }
  const tweaks = words(aligned(ecb('encrypt', tweakKey).update(ivs)));
  const aes = ecb(direction, dataKey);
  const source = aligned(data);
  const blocks = sectorSize / 16;
  for (let at = 0; at < data.length; at += CHUNK) {
    const length = Math.min(CHUNK, data.length - at);
    const unitTweaks = tweaks.subarray((at / sectorSize) * 4, ((at + length) / sectorSize) * 4);
    xorTweaks(scratch, words(source.subarray(at, at + length)), unitTweaks, blocks);
    const done = aligned(aes.update(new Uint8Array(scratch.buffer, 0, length)));
    xorTweaks(words(out.subarray(at, at + length)), words(done), unitTweaks, blocks);
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
