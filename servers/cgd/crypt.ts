// The payload's encryption through the cipher component: a request is cut into chunks sent to
// the cipher concurrently, so that a cipher placed in a pool of workers uses every one of them;
// the chunks of every request of a cgd share one bound on the calls in flight, so that large or
// many requests never flood it.

import type { Context } from '../../kernel/api.js';
import type { Kdf, LuksCrypto, Volume } from './luks.js';

/** Bytes of one cipher call: a multiple of every encryption sector size (512, 4096). */
export const CHUNK = 256 * 1024;
/** Encrypt and decrypt calls in flight at once, from one cgd. */
export const IN_FLIGHT = 8;
/** The unit of dm-crypt's plain64 IV: a 512-byte sector, whatever the encryption sector size. */
const IV_SECTOR = 512;

/** Runs calls at most `limit` at once; the others wait their turn, first come first served. */
function limiter(limit: number): <T>(call: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async (call) => {
    if (active < limit) active++;
    else await new Promise<void>((resolve) => waiting.push(resolve)); // handed the slot of a call that ended
    try {
      return await call();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else active--;
    }
  };
}

/**
 * The cipher component as the LUKS library needs it (and the host, for digests and random
 * bytes), its encrypt and decrypt calls IN_FLIGHT at most at once.
 */
export function luksCrypto(ctx: Context): LuksCrypto {
  const bounded = limiter(IN_FLIGHT);
  return {
    hyp: ctx.hyp,
    derive: (kdf: Kdf, passphrase, length) => ctx.call('cipher', 'derive', { kdf, passphrase, length }),
    encrypt: (cipher, key, sector, sectorSize, data) => bounded(() => ctx.call('cipher', 'encrypt', { cipher, key, sector, sectorSize, data })),
    decrypt: (cipher, key, sector, sectorSize, data) => bounded(() => ctx.call('cipher', 'decrypt', { cipher, key, sector, sectorSize, data })),
  };
}

/**
 * Encrypts or decrypts `data`, which lies at byte `at` of the volume's payload (both whole
 * encryption sectors), into a new array: a cipher call per CHUNK bytes, all sent at once (the
 * crypto's bound holds them back).
 */
export async function crypt(crypto: LuksCrypto, how: 'encrypt' | 'decrypt', v: Volume, at: number, data: Uint8Array): Promise<Uint8Array> {
  const out = new Uint8Array(data.length);
  const calls: Promise<void>[] = [];
  for (let from = 0; from < data.length; from += CHUNK) {
    const piece = data.subarray(from, Math.min(from + CHUNK, data.length));
    const sector = v.ivOffset + (at + from) / IV_SECTOR;
    calls.push(crypto[how](v.cipher, v.key, sector, v.sectorSize, piece).then((result) => out.set(result, from)));
  }
  await Promise.all(calls);
  return out;
}
