// The payload's encryption through the cipher component: a request is cut into chunks sent to
// the cipher concurrently, a bounded number at a time, so that a cipher placed in a pool of
// workers uses every one of them while a large request never floods it.

import type { Context } from '../../kernel/api.js';
import type { Kdf, LuksCrypto, Volume } from './luks.js';

/** Bytes of one cipher call: a multiple of every encryption sector size (512, 4096). */
export const CHUNK = 64 * 1024;
/** Cipher calls of one request in flight at once. */
export const IN_FLIGHT = 8;
/** The unit of dm-crypt's plain64 IV: a 512-byte sector, whatever the encryption sector size. */
const IV_SECTOR = 512;

/** The cipher component as the LUKS library needs it (and the host, for digests and random bytes). */
export function luksCrypto(ctx: Context): LuksCrypto {
  return {
    hyp: ctx.hyp,
    derive: (kdf: Kdf, passphrase, length) => ctx.call('cipher', 'derive', { kdf, passphrase, length }),
    encrypt: (cipher, key, sector, sectorSize, data) => ctx.call('cipher', 'encrypt', { cipher, key, sector, sectorSize, data }),
    decrypt: (cipher, key, sector, sectorSize, data) => ctx.call('cipher', 'decrypt', { cipher, key, sector, sectorSize, data }),
  };
}

/**
 * Encrypts or decrypts `data`, which lies at byte `at` of the volume's payload (both whole
 * encryption sectors), into a new array.
 */
export async function crypt(crypto: LuksCrypto, how: 'encrypt' | 'decrypt', v: Volume, at: number, data: Uint8Array): Promise<Uint8Array> {
  const out = new Uint8Array(data.length);
  let next = 0;
  const worker = async () => {
    while (next < data.length) {
      const from = next;
      next += CHUNK;
      const piece = data.subarray(from, Math.min(from + CHUNK, data.length));
      const sector = v.ivOffset + (at + from) / IV_SECTOR;
      out.set(await crypto[how](v.cipher, v.key, sector, v.sectorSize, piece), from);
    }
  };
  const workers = Math.min(IN_FLIGHT, Math.ceil(data.length / CHUNK));
  await Promise.all(Array.from({ length: workers }, worker));
  return out;
}
