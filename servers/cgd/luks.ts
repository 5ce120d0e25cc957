// LUKS containers — the entry of the library cgd opens its devices with. It reads and writes
// LUKS1 ("LUKS On-Disk Format Specification Version 1.2.3") and LUKS2 ("LUKS2 On-Disk Format
// Specification Version 1.1.x") as cryptsetup 2.x makes them: aes-xts-plain64 with 256- and
// 512-bit keys, keyslots of PBKDF2 (LUKS1, LUKS2) and argon2i/argon2id (LUKS2), the
// anti-forensic splitter, the volume key's digest, both LUKS2 header copies with their checksums.
// Key derivation and encryption go through a LuksCrypto (the cipher component, for cgd); the
// device is any RawDevice.
//
// Errors are SysErrors whose message starts 'cgd: ' and never holds a key or passphrase:
// EACCES — no keyslot opens with the passphrase (nothing is written); EINVAL — not a LUKS
// container, or a cipher, mode, KDF, hash or requirement rumpus does not have (named), or a
// payload that does not fit the device (every command checks the header as opening does,
// before it writes anything); EUCLEAN — the header (LUKS1) or both header copies
// (LUKS2) damaged, saying what is wrong; EBUSY — removing the last keyslot; ENOSPC — no free
// keyslot or keyslot area; EIO — anything unexpected (a bug), so that no other exception
// leaves the library. A damaged LUKS2 primary with a good secondary opens; Volume.notes
// says so.
//
// Defaults (luks-defaults.ts): LUKS2, aes-xts-plain64 with a 512-bit key, 4096-byte sectors,
// argon2id of 4 passes over 256 MiB in 4 lanes; PBKDF2-sha256 of 1,000,000 iterations when
// asked for (and for LUKS1). Layout as cryptsetup's: LUKS2 — 16 KiB per header copy, keyslots
// after both, payload at 16 MiB (at 2 MiB on a device of 16 MiB or less, which cryptsetup
// refuses); LUKS1 — keyslot material from 4 KiB in 4 KiB-aligned areas, payload on the next
// 1 MiB boundary (2 MiB).

import type { Hyp } from '../../kernel/api.js';
import { guarded, luksError, surfaced } from './luks-common.js';
import { PRIMARY_MAGIC } from './luks2-header.js';
import { addKeyLuks1, dumpLuks1, formatLuks1, openLuks1, removeKeyLuks1 } from './luks1.js';
import { addKeyLuks2, dumpLuks2, formatLuks2, openLuks2, readLuks2, removeKeyLuks2 } from './luks2.js';
import type { FormatOptions, KdfOptions, LuksCrypto, LuksInfo, RawDevice, Volume } from './luks-types.js';

export type { FormatOptions, Kdf, KdfOptions, KeyslotInfo, LuksCrypto, LuksInfo, RawDevice, Volume } from './luks-types.js';

/**
 * The LUKS version of a device from its first bytes (512 or more), or null when they do not
 * start with a LUKS header: magic 'LUKS\xba\xbe' and version 1 or 2 (big-endian u16 at 6).
 */
export function luksVersion(start: Uint8Array): 1 | 2 | null {
  if (start.length < 8 || !PRIMARY_MAGIC.every((b, i) => start[i] === b)) return null;
  const version = (start[6] << 8) | start[7];
  return version === 1 || version === 2 ? version : null;
}

/**
 * The version of the container on `dev`: from its primary header, or 2 when only a LUKS2
 * secondary header is left. EINVAL '… is not a LUKS container'.
 */
async function versionOf(dev: RawDevice, hyp: Hyp): Promise<1 | 2> {
  if (dev.size < 4096) throw luksError('EINVAL', `the device (${dev.size} bytes) is not a LUKS container`);
  const version = luksVersion(await dev.read(0, 4096));
  if (version !== null) return version;
  try {
    await readLuks2(dev, hyp); // a damaged primary may leave the secondary
    return 2;
  } catch (err) {
    if ((err as { errno?: string }).errno === 'EUCLEAN') throw luksError('EINVAL', 'the device is not a LUKS container (no LUKS header, and no LUKS2 secondary header)');
    throw err;
  }
}

/** Opens the container with `passphrase`: its volume key and payload. */
export async function luksOpen(dev: RawDevice, crypto: LuksCrypto, passphrase: Uint8Array): Promise<Volume> {
  return surfaced(async () => {
    const c = guarded(crypto);
    return (await versionOf(dev, c.hyp)) === 1 ? openLuks1(dev, c, passphrase) : openLuks2(dev, c, passphrase);
  });
}

/**
 * Makes a container on the whole device with one keyslot (0) for `passphrase` and a random
 * volume key, wiping the metadata area first; the payload is left as it was. Defaults above.
 * EINVAL for an option rumpus does not do or a device too small.
 */
export async function luksFormat(dev: RawDevice, crypto: LuksCrypto, passphrase: Uint8Array, options: FormatOptions = {}): Promise<Volume> {
  return surfaced(async () => {
    const version = options.version ?? 2;
    if (version !== 1 && version !== 2) throw luksError('EINVAL', `LUKS version ${String(version)}: 1 or 2`);
    const c = guarded(crypto);
    return version === 1 ? formatLuks1(dev, c, passphrase, options) : formatLuks2(dev, c, passphrase, options);
  });
}

/**
 * Adds a keyslot for `newPassphrase`, opened with `passphrase` (EACCES), at the first free
 * keyslot and area (ENOSPC when none); LUKS2 writes both header copies, seqid + 1. The new keyslot.
 */
export async function luksAddKey(dev: RawDevice, crypto: LuksCrypto, passphrase: Uint8Array, newPassphrase: Uint8Array, options: { kdf?: KdfOptions } = {}): Promise<number> {
  return surfaced(async () => {
    const c = guarded(crypto);
    return (await versionOf(dev, c.hyp)) === 1
      ? addKeyLuks1(dev, c, passphrase, newPassphrase, options.kdf)
      : addKeyLuks2(dev, c, passphrase, newPassphrase, options.kdf);
  });
}

/**
 * Removes the keyslot `passphrase` opens (EACCES if none) and wipes its area; EBUSY for the
 * last one. The keyslot removed.
 */
export async function luksRemoveKey(dev: RawDevice, crypto: LuksCrypto, passphrase: Uint8Array): Promise<number> {
  return surfaced(async () => {
    const c = guarded(crypto);
    return (await versionOf(dev, c.hyp)) === 1 ? removeKeyLuks1(dev, c, passphrase) : removeKeyLuks2(dev, c, passphrase);
  });
}

/** What the header tells without a key: version, uuid, cipher, offsets, sector size, keyslots (no salts). */
export async function luksDump(dev: RawDevice, hyp: Hyp): Promise<LuksInfo> {
  return surfaced(async () => ((await versionOf(dev, hyp)) === 1 ? dumpLuks1(dev) : dumpLuks2(dev, hyp)));
}
