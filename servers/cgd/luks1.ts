// LUKS1 containers ("LUKS On-Disk Format Specification Version 1.2.3"; cryptsetup's
// lib/luks1/): one 592-byte header, big-endian, at the device's start —
//
//   0 magic[6] 'LUKS\xba\xbe'   6 version u16 = 1   8 cipher-name[32]   40 cipher-mode[32]
//  72 hash-spec[32]   104 payload-offset u32 (sectors)   108 key-bytes u32   112 mk-digest[20]
// 132 mk-digest-salt[32]   164 mk-digest-iter u32   168 uuid[40]
// 208 8 keyslots of 48 bytes: active u32 (0x00AC71F3 / 0x0000DEAD), iterations u32,
//     salt[32], key-material-offset u32 (sectors), stripes u32
//
// — and 8 keyslots of PBKDF2 (the header's hash) over material encrypted with the header's
// cipher; the master key's digest is PBKDF2(hash, key, mk-digest-salt, mk-digest-iter, 20).
// There is one header: a damaged one is EUCLEAN. It is checked as strictly as cryptsetup's
// lib/luks1/keymanage.c (LUKS_check_keyslots, LUKS_check_device_size) before anything is read
// with it or written to the device: every keyslot, active or not, has 4000 stripes and its
// material after the header, before the payload, and apart from every other keyslot's.

import { CIPHERS, KDF_HASHES, type DigestName } from '../../kernel/api.js';
import { materialSize, storeMaterial, unlockMaterial, type KeyMaterial } from './keyslot.js';
import { DIGEST_ITERATIONS, kdfFrom, SALT_BYTES, STRIPES } from './luks-defaults.js';
import { checkedKdf, luksError, roundUp, sameBytes, uuidFrom, wipe } from './luks-common.js';
import { type FormatOptions, type KdfOptions, type LuksCrypto, type LuksInfo, type RawDevice, type Volume } from './luks-types.js';
import { PRIMARY_MAGIC } from './luks2-header.js';

export const PHDR_SIZE = 592;
/** The header's whole sectors, read and written as one. */
const HEADER_SECTORS = 1024;
const KEYSLOTS = 8;
const KEYSLOT_AT = 208;
const KEYSLOT_SIZE = 48;
const ACTIVE = 0x00ac71f3;
const DISABLED = 0x0000dead;
const DIGEST_SIZE = 20;
/** Keyslot material is aligned to 4096 bytes and the payload to 1 MiB, as cryptsetup lays out LUKS1. */
const MATERIAL_ALIGN = 4096;
const PAYLOAD_ALIGN = 1024 * 1024;

interface Luks1Keyslot extends KeyMaterial {
  id: number;
  active: boolean;
}

interface Luks1Header {
  cipher: string;
  hash: DigestName;
  /** Bytes. */
  payloadOffset: number;
  keyBytes: number;
  mkDigest: Uint8Array;
  mkDigestSalt: Uint8Array;
  mkDigestIterations: number;
  uuid: string;
  keyslots: Luks1Keyslot[];
  /** The header's sectors as read: a header write changes only keyslot entries. */
  raw: Uint8Array;
}

const text = (b: Uint8Array, at: number, length: number): string => {
  const raw = b.subarray(at, at + length);
  const end = raw.indexOf(0);
  return new TextDecoder().decode(end < 0 ? raw : raw.subarray(0, end));
};

function damaged(message: string): never {
  throw luksError('EUCLEAN', `the LUKS1 header is damaged: ${message}`);
}

/** Parses and checks a LUKS1 header. EUCLEAN for damage, EINVAL for a cipher or hash rumpus does not have. */
function parseLuks1(b: Uint8Array, devSize: number): Luks1Header {
  const v = new DataView(b.buffer, b.byteOffset, PHDR_SIZE);
  const cipher = `${text(b, 8, 32)}-${text(b, 40, 32)}`;
  if (!CIPHERS.includes(cipher)) throw luksError('EINVAL', `the container's cipher is '${cipher}', which rumpus does not have (it has ${CIPHERS.join(', ')})`);
  const hash = text(b, 72, 32).toLowerCase() as DigestName;
  if (!KDF_HASHES.includes(hash)) throw luksError('EINVAL', `the container's hash is '${hash}', which rumpus does not have`);
  const keyBytes = v.getUint32(108);
  if (keyBytes !== 32 && keyBytes !== 64) throw luksError('EINVAL', `a ${cipher} key of ${keyBytes} bytes: rumpus takes 32 or 64`);
  const payloadOffset = v.getUint32(104) * 512;
  if (payloadOffset >= devSize) throw luksError('EINVAL', `the payload offset ${payloadOffset} is beyond the device (${devSize} bytes)`);
  const mkDigestIterations = v.getUint32(164);
  if (mkDigestIterations === 0) damaged('the master key digest has 0 iterations');
  const mkDigestSalt = b.slice(132, 164);
  checkedKdf({ type: 'pbkdf2', hash, iterations: mkDigestIterations, salt: mkDigestSalt }, 'the master key digest');
  const keyslots: Luks1Keyslot[] = [];
  for (let id = 0; id < KEYSLOTS; id++) {
    const at = KEYSLOT_AT + id * KEYSLOT_SIZE;
    const state = v.getUint32(at);
    if (state !== ACTIVE && state !== DISABLED) damaged(`keyslot ${id} is neither active nor disabled (0x${state.toString(16)})`);
    const iterations = v.getUint32(at + 4);
    const offset = v.getUint32(at + 40) * 512;
    const stripes = v.getUint32(at + 44);
    if (stripes !== STRIPES) damaged(`keyslot ${id} has ${stripes} stripes, not ${STRIPES}`);
    if (state === ACTIVE && iterations === 0) damaged(`keyslot ${id} has 0 iterations`);
    const kdf = { type: 'pbkdf2' as const, hash, iterations: Math.max(iterations, 1), salt: b.slice(at + 8, at + 40) };
    if (state === ACTIVE) checkedKdf(kdf, `keyslot ${id}`);
    keyslots.push({ id, active: state === ACTIVE, offset, keyBytes, stripes, afHash: hash, cipher, cipherKeyBytes: keyBytes, kdf });
  }
  checkAreas(keyslots, payloadOffset);
  return {
    cipher, hash, payloadOffset, keyBytes, mkDigest: b.slice(112, 132), mkDigestSalt, mkDigestIterations,
    uuid: text(b, 168, 40), keyslots, raw: b.slice(0, HEADER_SECTORS),
  };
}

/**
 * Every keyslot's material, active or not (a free one is where addkey will write), lies after
 * the header and before the payload — so inside the device, whose end is past the payload —
 * and apart from every other keyslot's, as cryptsetup's LUKS_check_keyslots demands.
 */
function checkAreas(keyslots: Luks1Keyslot[], payloadOffset: number): void {
  const area = (k: Luks1Keyslot) => ({ k, at: k.offset, end: k.offset + materialSize(k.keyBytes, k.stripes) });
  const areas = keyslots.map(area).sort((a, b) => a.at - b.at);
  for (const { k, at, end } of areas) {
    if (at < PHDR_SIZE || end > payloadOffset) damaged(`keyslot ${k.id}'s material (${at} … ${end}) is outside the space between the header and the payload (${PHDR_SIZE} … ${payloadOffset})`);
  }
  for (let i = 1; i < areas.length; i++) {
    if (areas[i].at < areas[i - 1].end) damaged(`the material of keyslots ${areas[i - 1].k.id} and ${areas[i].k.id} overlaps`);
  }
}

/**
 * The container's header, checked (parseLuks1): the one reading that opening, dumping, adding
 * and removing keyslots all start from, before anything is written.
 */
async function readLuks1(dev: RawDevice): Promise<Luks1Header> {
  return parseLuks1(await dev.read(0, HEADER_SECTORS), dev.size);
}

/** A new header: all its fields from `h`. */
function buildLuks1(h: Omit<Luks1Header, 'raw'>): Uint8Array {
  const b = new Uint8Array(HEADER_SECTORS); // the rest of the sectors stays zero
  const v = new DataView(b.buffer);
  const put = (at: number, s: string) => b.set(new TextEncoder().encode(s), at);
  b.set(PRIMARY_MAGIC, 0);
  v.setUint16(6, 1);
  const [name, ...mode] = h.cipher.split('-');
  put(8, name);
  put(40, mode.join('-'));
  put(72, h.hash);
  v.setUint32(104, h.payloadOffset / 512);
  v.setUint32(108, h.keyBytes);
  b.set(h.mkDigest, 112);
  b.set(h.mkDigestSalt, 132);
  v.setUint32(164, h.mkDigestIterations);
  put(168, h.uuid);
  for (const k of h.keyslots) putKeyslot(b, k);
  return b;
}

/** Writes keyslot `k`'s entry into header bytes `b`; a disabled one keeps no salt or iterations. */
function putKeyslot(b: Uint8Array, k: Luks1Keyslot): void {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const at = KEYSLOT_AT + k.id * KEYSLOT_SIZE;
  v.setUint32(at, k.active ? ACTIVE : DISABLED);
  const pbkdf2 = k.active && k.kdf.type === 'pbkdf2' ? k.kdf : null;
  v.setUint32(at + 4, pbkdf2 ? pbkdf2.iterations : 0);
  b.fill(0, at + 8, at + 40);
  if (pbkdf2) b.set(pbkdf2.salt, at + 8);
  v.setUint32(at + 40, k.offset / 512);
  v.setUint32(at + 44, k.stripes);
}

/**
 * The header `h` was read from with keyslot `k` changed — checked as a read header is
 * (parseLuks1), so that a header this code would refuse never reaches the device.
 */
function withKeyslot(dev: RawDevice, h: Luks1Header, k: Luks1Keyslot): Uint8Array {
  const b = h.raw.slice();
  putKeyslot(b, k);
  parseLuks1(b, dev.size);
  return b;
}

async function masterDigest(crypto: LuksCrypto, h: Omit<Luks1Header, 'raw'>, key: Uint8Array): Promise<Uint8Array> {
  return crypto.derive({ type: 'pbkdf2', hash: h.hash, iterations: h.mkDigestIterations, salt: h.mkDigestSalt }, key, DIGEST_SIZE);
}

async function unlock(dev: RawDevice, crypto: LuksCrypto, h: Luks1Header, passphrase: Uint8Array): Promise<{ key: Uint8Array; slot: Luks1Keyslot }> {
  for (const slot of h.keyslots.filter((k) => k.active)) {
    const key = await unlockMaterial(dev, crypto, slot, passphrase);
    if (sameBytes(await masterDigest(crypto, h, key), h.mkDigest)) return { key, slot };
  }
  throw luksError('EACCES', 'no keyslot opens with this passphrase');
}

function volumeOf(dev: RawDevice, h: Omit<Luks1Header, 'raw'>, key: Uint8Array, keyslot: number): Volume {
  return {
    version: 1, uuid: h.uuid, cipher: h.cipher, key, offset: h.payloadOffset, size: dev.size - h.payloadOffset,
    sectorSize: 512, ivOffset: 0, keyslot, notes: [],
  };
}

/** Opens a LUKS1 container (see luksOpen in luks.ts). */
export async function openLuks1(dev: RawDevice, crypto: LuksCrypto, passphrase: Uint8Array): Promise<Volume> {
  const h = await readLuks1(dev);
  const { key, slot } = await unlock(dev, crypto, h, passphrase);
  return volumeOf(dev, h, key, slot.id);
}

/** The KDF of a LUKS1 keyslot: PBKDF2 with the header's hash. EINVAL for anything else. */
function luks1Kdf(options: KdfOptions | undefined, hash: DigestName, random: (n: number) => Uint8Array) {
  if (options?.type !== undefined && options.type !== 'pbkdf2') throw luksError('EINVAL', `LUKS1 keyslots use pbkdf2, not ${options.type}`);
  const o = options as { hash?: string } | undefined;
  if (o?.hash !== undefined && o.hash !== hash) throw luksError('EINVAL', `a LUKS1 keyslot uses the header's hash ${hash}, not ${o.hash}`);
  return kdfFrom({ ...options, type: 'pbkdf2', hash } as KdfOptions, random);
}

/** Makes a LUKS1 container (see luksFormat in luks.ts): cipher and layout as cryptsetup's defaults. */
export async function formatLuks1(dev: RawDevice, crypto: LuksCrypto, passphrase: Uint8Array, options: FormatOptions): Promise<Volume> {
  const { hyp } = crypto;
  const cipher = options.cipher ?? 'aes-xts-plain64';
  if (!CIPHERS.includes(cipher)) throw luksError('EINVAL', `unknown cipher '${cipher}' (rumpus has ${CIPHERS.join(', ')})`);
  const keyBytes = options.keyBytes ?? 64;
  if (keyBytes !== 32 && keyBytes !== 64) throw luksError('EINVAL', `a key of ${String(keyBytes)} bytes: ${cipher} takes 32 or 64`);
  if (options.sectorSize !== undefined && options.sectorSize !== 512) throw luksError('EINVAL', 'LUKS1 encrypts 512-byte sectors only');
  if (options.label !== undefined) throw luksError('EINVAL', 'LUKS1 has no label');
  const hash = (options.kdf as { hash?: DigestName } | undefined)?.hash ?? 'sha256';
  if (!KDF_HASHES.includes(hash)) throw luksError('EINVAL', `unknown hash '${hash}'`);
  const kdf = luks1Kdf(options.kdf, hash, hyp.random);
  const uuid = uuidFrom(hyp, options.uuid);
  // Keyslot i's material at 4096 + i × (material rounded to 4096); the payload after the last, on a 1 MiB boundary.
  const stride = roundUp(materialSize(keyBytes, STRIPES), MATERIAL_ALIGN);
  const payloadOffset = roundUp(MATERIAL_ALIGN + KEYSLOTS * stride, PAYLOAD_ALIGN);
  if (dev.size < payloadOffset + 512) throw luksError('EINVAL', `the device (${dev.size} bytes) is too small for a LUKS1 container: it needs more than ${payloadOffset} bytes`);

  const key = hyp.random(keyBytes);
  const mkDigestSalt = hyp.random(SALT_BYTES);
  const h: Omit<Luks1Header, 'raw'> = {
    cipher, hash, payloadOffset, keyBytes, mkDigest: new Uint8Array(DIGEST_SIZE), mkDigestSalt, mkDigestIterations: DIGEST_ITERATIONS, uuid,
    keyslots: Array.from({ length: KEYSLOTS }, (_, id) => ({
      id, active: false, offset: MATERIAL_ALIGN + id * stride, keyBytes, stripes: STRIPES, afHash: hash, cipher, cipherKeyBytes: keyBytes,
      kdf: { type: 'pbkdf2' as const, hash, iterations: 1, salt: new Uint8Array(SALT_BYTES) },
    })),
  };
  h.mkDigest = await masterDigest(crypto, h, key);
  const slot = h.keyslots[0];
  Object.assign(slot, { active: true, kdf });
  const header = buildLuks1(h);
  parseLuks1(header, dev.size); // what is written must read back: checked before the wipe
  await wipe(dev, 0, payloadOffset);
  await storeMaterial(dev, crypto, slot, passphrase, key);
  await dev.write(0, header);
  return volumeOf(dev, h, key, 0);
}

/** Adds a keyslot (see luksAddKey in luks.ts). */
export async function addKeyLuks1(dev: RawDevice, crypto: LuksCrypto, passphrase: Uint8Array, newPassphrase: Uint8Array, kdf: KdfOptions | undefined): Promise<number> {
  const h = await readLuks1(dev);
  const newKdf = luks1Kdf(kdf, h.hash, crypto.hyp.random);
  const { key } = await unlock(dev, crypto, h, passphrase);
  const free = h.keyslots.find((k) => !k.active);
  if (!free) throw luksError('ENOSPC', `all ${KEYSLOTS} LUKS1 keyslots are in use`);
  const slot = { ...free, active: true, kdf: newKdf };
  const header = withKeyslot(dev, h, slot);
  await storeMaterial(dev, crypto, slot, newPassphrase, key);
  await dev.write(0, header);
  return slot.id;
}

/** Removes the keyslot `passphrase` opens (see luksRemoveKey in luks.ts). */
export async function removeKeyLuks1(dev: RawDevice, crypto: LuksCrypto, passphrase: Uint8Array): Promise<number> {
  const h = await readLuks1(dev);
  const { slot } = await unlock(dev, crypto, h, passphrase);
  if (h.keyslots.filter((k) => k.active).length === 1) throw luksError('EBUSY', `keyslot ${slot.id} is the last one: without it the data could never be opened again`);
  await dev.write(0, withKeyslot(dev, h, { ...slot, active: false }));
  await wipe(dev, slot.offset, slot.offset + roundUp(materialSize(slot.keyBytes, slot.stripes), 512));
  return slot.id;
}

/** What a LUKS1 header tells without a key (see luksDump in luks.ts). */
export async function dumpLuks1(dev: RawDevice): Promise<LuksInfo> {
  const h = await readLuks1(dev);
  return {
    version: 1, uuid: h.uuid, label: '', cipher: h.cipher, keyBytes: h.keyBytes, offset: h.payloadOffset,
    size: dev.size - h.payloadOffset, sectorSize: 512, seqid: 0, headerSize: PHDR_SIZE, notes: [],
    keyslots: h.keyslots.filter((k) => k.active).map((k) => ({
      slot: k.id, keyBytes: k.keyBytes, stripes: k.stripes, afHash: k.afHash, areaOffset: k.offset,
      areaSize: materialSize(k.keyBytes, k.stripes), priority: 1,
      kdf: { type: 'pbkdf2' as const, hash: h.hash, iterations: k.kdf.type === 'pbkdf2' ? k.kdf.iterations : 0 },
    })),
  };
}
