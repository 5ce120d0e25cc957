// The host side of hyp's cryptography (see hyp.ts): node:crypto for digests, PBKDF2 and
// AES-XTS (its tweak XOR in WebAssembly: xts-tweaks.ts), the argon2 package
// (ranisalt/node-argon2, native, on libuv's thread pool) for argon2.
// Both are loaded on first use, so that a domain that never derives a key does not pay for them.

import { SysError } from '../ipc/errno.js';
import { dynamicImport } from './dynamic-import.js';
import type { Argon2Params, DigestName, Hyp } from './hyp.js';
import { xtsTweaks } from './xts-tweaks.js';

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
  argon2Module ??= dynamicImport<Argon2Module>('argon2').then((m) => ((m as { default?: Argon2Module }).default ?? m));
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

/**
 * Bytes per AES-ECB update: node's ECB ran 2.3 GB/s on 4 KiB, 4.85 GB/s on 64 KiB and 2.5 GB/s
 * on 1 MiB per call here. A multiple of both XTS unit sizes (512, 4096).
 */
const CHUNK = 64 * 1024;
/** Where a chunk's tweaks (16 bytes per unit, at most CHUNK / 512 units) and the chunk itself sit in xtsTweaks' memory. */
const TWEAKS_AT = 0;
const CHUNK_AT = (CHUNK / 512) * 16;

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
 * whose setup cost ten times the encryption of a 4 KiB unit. CHUNK bytes at a time, in the
 * memory of xtsTweaks: the units' IVs (plain64: the sector number, little-endian) are encrypted
 * with the tweak key in one update, the tweaks of every block are XORed into the data, one
 * update with the data key encrypts (or decrypts) it, and the tweaks are XORed again. The same
 * bytes as OpenSSL's aes-*-xts, unit for unit (test/luks-cipher.ts compares them). The result
 * is a fresh buffer of its own; `data` is only read.
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
  const { memory, xorTweaks } = xtsTweaks();
  const ivView = new DataView(memory.buffer, TWEAKS_AT, CHUNK_AT - TWEAKS_AT);
  const tweaker = ecb('encrypt', tweakKey);
  const aes = ecb(direction, dataKey);
  const blocks = sectorSize / 16;
  for (let at = 0, s = sector; at < data.length; at += CHUNK) {
    const length = Math.min(CHUNK, data.length - at);
    const count = length / sectorSize;
    for (let i = 0; i < count; i++, s += step) {
      ivView.setUint32(i * 16, s % 2 ** 32, true);
      ivView.setUint32(i * 16 + 4, Math.floor(s / 2 ** 32), true);
      ivView.setBigUint64(i * 16 + 8, 0n);
    }
    memory.set(tweaker.update(memory.subarray(TWEAKS_AT, TWEAKS_AT + count * 16)), TWEAKS_AT);
    memory.set(data.subarray(at, at + length), CHUNK_AT);
    xorTweaks(CHUNK_AT, CHUNK_AT, TWEAKS_AT, count, blocks);
    memory.set(aes.update(memory.subarray(CHUNK_AT, CHUNK_AT + length)), CHUNK_AT);
    xorTweaks(CHUNK_AT, CHUNK_AT, TWEAKS_AT, count, blocks);
    out.set(memory.subarray(CHUNK_AT, CHUNK_AT + length), at);
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
