// The cipher component's work, as plain functions over a hyp: key derivation (PBKDF2, argon2)
// and sector encryption (aes-xts-plain64), each argument checked before the host sees it. The
// component (index.ts) serves them as ops; a caller in the same domain that wants no component
// — a test, a tool — may call them directly, with the same checks and the same errors.

import { checkCipher, checkCipherUnits, checkDerivedLength, checkKdf, type Hyp } from '../../kernel/api.js';

/** Derives `length` bytes (1 … 1024; 4 … for argon2) from `passphrase` with `kdf`. EINVAL for bad arguments, ENOMEM (argon2). */
export async function derive(hyp: Hyp, kdf: unknown, passphrase: Uint8Array, length: number): Promise<Uint8Array> {
  const k = checkKdf(kdf);
  checkDerivedLength(k, length);
  if (k.type === 'pbkdf2') return hyp.pbkdf2(k.hash, passphrase, k.salt, k.iterations, length);
  return hyp.argon2({ type: k.type, time: k.time, memory: k.memory, parallel: k.parallel }, passphrase, k.salt, length);
}

/**
 * Encrypts or decrypts `data`, whole units of `sectorSize` (512 or 4096) bytes, with `cipher`:
 * the first unit's IV is `sector` (in 512-byte sectors, plain64), each next one's
 * sectorSize / 512 more (dm-crypt without iv_large_sectors, as cryptsetup sets up LUKS2).
 * EINVAL for an unknown cipher, a wrong key length, a bad sector size or partial unit.
 */
export function crypt(hyp: Hyp, direction: 'encrypt' | 'decrypt', cipher: string, key: Uint8Array, sector: number, sectorSize: number, data: Uint8Array): Uint8Array {
  checkCipher(cipher, key.length);
  checkCipherUnits(sector, sectorSize, data.length);
  return hyp.aesXts(direction, key, sector, sectorSize, data);
}
