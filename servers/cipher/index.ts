// cipher: key derivation and sector encryption as a pure component — every op's result depends
// only on its arguments, it keeps nothing between calls and requires nothing — so that it may
// run in a pool of workers and use every core (cgd sends it each sector run and each keyslot
// to derive). The work itself is in cipher.ts.

import { defineComponent, handOver, op } from '../../kernel/api.js';
import { crypt, derive } from './cipher.js';

/** The ops of cipher. */
const CIPHER_OPS = {
  /**
   * `length` bytes derived from `passphrase` with `kdf`: { type: 'pbkdf2', hash, iterations,
   * salt } or { type: 'argon2i' | 'argon2id', time, memory (KiB), parallel, salt }. EINVAL
   * naming an unknown type or hash, or an absurd parameter; ENOMEM if argon2's memory cannot
   * be had.
   */
  derive: op<Uint8Array>()({ args: { kdf: 'any', passphrase: 'bytes', length: 'uint' }, idempotent: true }),
  /**
   * `data` (whole units of `sectorSize`, 512 or 4096 bytes) encrypted with `cipher`
   * ('aes-xts-plain64', a key of 32 or 64 bytes); `sector` is the plain64 IV of the first unit,
   * in 512-byte sectors, each next unit's sectorSize / 512 more. EINVAL for anything else.
   */
  encrypt: op<Uint8Array>()({ args: { cipher: 'string', key: 'bytes', sector: 'uint', sectorSize: 'uint', data: 'bytes' }, idempotent: true }),
  /** The inverse of encrypt, with the same arguments and errors. */
  decrypt: op<Uint8Array>()({ args: { cipher: 'string', key: 'bytes', sector: 'uint', sectorSize: 'uint', data: 'bytes' }, idempotent: true }),
};

declare module '../../kernel/ops.js' {
  interface Components {
    cipher: typeof CIPHER_OPS;
  }
}

export default defineComponent({
  name: 'cipher',
  description: 'key derivation (PBKDF2, argon2) and sector encryption (aes-xts-plain64), pure',
  requires: [],
  pure: true,
  ops: CIPHER_OPS,
  init: {
    fresh: ({ hyp }) => ({
      derive: ({ kdf, passphrase, length }) => derive(hyp, kdf, passphrase, length),
      // Each result is fresh memory that nothing here keeps: a thread transport may move it.
      encrypt: ({ cipher, key, sector, sectorSize, data }) => handOver(crypt(hyp, 'encrypt', cipher, key, sector, sectorSize, data)),
      decrypt: ({ cipher, key, sector, sectorSize, data }) => handOver(crypt(hyp, 'decrypt', cipher, key, sector, sectorSize, data)),
    }),
  },
});
