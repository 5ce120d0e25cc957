// The payload's encryption through the cipher component. A request is cut into pieces of at
// most PIECE bytes, each one cipher call carrying its own first sector (the XTS tweak), all in
// flight at once, so that a cipher placed in a pool of workers runs them side by side; the
// pieces of every request of a cgd share one bound on the calls in flight, so that large or many
// requests never flood it. Each piece is a call of its own to the cipher: op counters count it,
// and a fault armed on the cipher's Nth call strikes the Nth piece.
//
// A read is pipelined: each piece's decryption is sent as soon as blk has read it, so the cipher
// works on the first pieces while blk reads the next. A write is encrypted whole before any of
// it is written: a piece that fails fails the request, and nothing of it reaches blk.

import type { BlockWrite, Context } from '../../kernel/api.js';
import type { Kdf, LuksCrypto, Volume } from './luks.js';

/**
 * Bytes of one cipher call: a multiple of every encryption sector size (512, 4096). A 1 MiB
 * request makes two, one for each worker of a pool on 2 cores: the only way a pool can beat one
 * cipher thread on a single stream of requests. Each piece costs a crossing to the cipher and
 * back: on a loaded machine (no core free for the second worker) 1 MiB pieces cost less CPU and
 * time, and 256 KiB pieces more (README, "Encrypted images").
 */
export const PIECE = 512 * 1024;
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

/** The pieces of payload bytes [at, end): [from, to) ranges of at most PIECE bytes, in order. */
function pieces(at: number, end: number): { from: number; to: number }[] {
  const out: { from: number; to: number }[] = [];
  for (let from = at; from < end; from += PIECE) out.push({ from, to: Math.min(from + PIECE, end) });
  return out;
}

/** The cipher call of the piece of `data` (plain or cipher text) at payload byte `from`. */
const call = (crypto: LuksCrypto, how: 'encrypt' | 'decrypt', v: Volume, from: number, data: Uint8Array) =>
  crypto[how](v.cipher, v.key, v.ivOffset + from / IV_SECTOR, v.sectorSize, data);

/**
 * Waits until every call has ended, then answers their results in order, or throws the error of
 * the first that failed (in piece order, so that every placement fails a request alike). Each
 * call is handled from the start: one that fails while the others still run is not an
 * unhandled rejection.
 */
async function all<T>(calls: Promise<T>[]): Promise<T[]> {
  for (const c of calls) c.catch(() => {});
  await Promise.allSettled(calls);
  return Promise.all(calls);
}

/**
 * The plaintext of payload bytes [at, end) (whole encryption sectors): read from the container
 * by `read(offset, length)` (bytes from the device's start) a piece at a time, one read after
 * another, each piece's decryption sent as soon as it is read. A failed read fails the pieces
 * from it on (none is read after it); the first error in piece order, after every call sent has
 * ended.
 */
export async function readDecrypted(crypto: LuksCrypto, v: Volume, read: (offset: number, length: number) => Promise<Uint8Array>, at: number, end: number): Promise<Uint8Array> {
  let previous: Promise<unknown> = Promise.resolve();
  const plain = await all(pieces(at, end).map(({ from, to }) => {
    const sealed = previous.then(() => read(v.offset + from, to - from));
    previous = sealed;
    return sealed.then((data) => call(crypto, 'decrypt', v, from, data));
  }));
  if (plain.length === 1) return plain[0];
  const out = new Uint8Array(end - at);
  plain.forEach((p, i) => out.set(p, i * PIECE));
  return out;
}

/**
 * `data`, plaintext at payload byte `at` (whole encryption sectors), encrypted as blk writes of
 * at most PIECE bytes each (offsets from the device's start), in order. The first cipher error,
 * after every call has ended.
 */
export function encryptedWrites(crypto: LuksCrypto, v: Volume, at: number, data: Uint8Array): Promise<BlockWrite[]> {
  return all(pieces(at, at + data.length).map(async ({ from, to }) => ({
    offset: v.offset + from,
    data: await call(crypto, 'encrypt', v, from, data.subarray(from - at, to - at)),
  })));
}
