// A keyslot's key material, common to LUKS1 and LUKS2: the volume key, split by the
// anti-forensic splitter (af.ts), encrypted with a key derived from the passphrase and stored
// in 512-byte sectors whose plain64 IVs count from 0 at the material's start (cryptsetup's
// lib/luks1/keyencryption.c; LUKS2's lib/luks2/luks2_keyslot_luks2.c does the same).

import type { DigestName } from '../../kernel/api.js';
import { afMerge, afSplit } from './af.js';
import { roundUp } from './luks-common.js';
import type { Kdf, LuksCrypto, RawDevice } from './luks-types.js';

/** Where and how one keyslot keeps its material. */
export interface KeyMaterial {
  /** Bytes from the device start, a multiple of 512. */
  offset: number;
  /** The volume key's length. */
  keyBytes: number;
  stripes: number;
  afHash: DigestName;
  /** The material's encryption (e.g. 'aes-xts-plain64') and its key's length. */
  cipher: string;
  cipherKeyBytes: number;
  kdf: Kdf;
}

/** Bytes the material takes on the device: the split key, rounded up to whole sectors. */
export const materialSize = (keyBytes: number, stripes: number): number => roundUp(keyBytes * stripes, 512);

/** The volume key this keyslot yields for `passphrase` — the right one only if the digest agrees. */
export async function unlockMaterial(dev: RawDevice, crypto: LuksCrypto, slot: KeyMaterial, passphrase: Uint8Array): Promise<Uint8Array> {
  const key = await crypto.derive(slot.kdf, passphrase, slot.cipherKeyBytes);
  const stored = await dev.read(slot.offset, materialSize(slot.keyBytes, slot.stripes));
  const material = await crypto.decrypt(slot.cipher, key, 0, 512, stored);
  return afMerge(crypto.hyp, slot.afHash, material, slot.keyBytes, slot.stripes);
}

/** Splits, encrypts and writes `volumeKey` into the keyslot's material for `passphrase`. */
export async function storeMaterial(dev: RawDevice, crypto: LuksCrypto, slot: KeyMaterial, passphrase: Uint8Array, volumeKey: Uint8Array): Promise<void> {
  const key = await crypto.derive(slot.kdf, passphrase, slot.cipherKeyBytes);
  const material = new Uint8Array(materialSize(slot.keyBytes, slot.stripes));
  material.set(afSplit(crypto.hyp, slot.afHash, volumeKey, slot.stripes));
  await dev.write(slot.offset, await crypto.encrypt(slot.cipher, key, 0, 512, material));
}
