// LUKS2 containers ("LUKS2 On-Disk Format Specification Version 1.1.x"; cryptsetup's
// lib/luks2/): the two header copies (luks2-header.ts) and their JSON (luks2-json.ts), keyslots
// of type luks2 (keyslot.ts), one crypt segment, a pbkdf2 digest of the volume key.
//
// Reading: both copies are read; a damaged one (magic, size, checksum, JSON that breaks the
// spec) is passed over and the volume says so in its notes; with both good, the newer (higher
// seqid) wins, as in cryptsetup. Opening does not repair a damaged copy: the next header write
// (adding or removing a keyslot) writes both copies anew.
//
// Writing: every command reads the container through readLuks2, the same checks as opening
// (payload included), and builds the new header copies — checked as read ones — before its
// first write, so a refusal leaves the device as it was.

import { CIPHERS, SysError, type Hyp } from '../../kernel/api.js';
import { materialSize, storeMaterial, unlockMaterial } from './keyslot.js';
import { AF_HASH, DIGEST_ITERATIONS, kdfFrom, SALT_BYTES, STRIPES } from './luks-defaults.js';
import { luksError, roundUp, sameBytes, uuidFrom, wipe } from './luks-common.js';
import { type FormatOptions, type Kdf, type KdfOptions, type LuksCrypto, type LuksInfo, type RawDevice, type Volume } from './luks-types.js';
import { BINARY_HEADER_SIZE, buildHeader, claimedSize, HEADER_SIZES, parseHeader, type Luks2Header } from './luks2-header.js';
import { digestJson, keyslotJson, MAX_KEYSLOTS, MetadataDamage, parseMetadata, segmentJson, type Luks2Digest, type Luks2Keyslot, type Luks2Metadata } from './luks2-json.js';

/** The header copy in use, its checked metadata, and what was found wrong on the way. */
interface Luks2State {
  header: Luks2Header;
  meta: Luks2Metadata;
  notes: string[];
}

/** Metadata (header + JSON) per copy: 16 KiB, cryptsetup's default. */
const HEADER_SIZE = 16 * 1024;
/** The payload offset cryptsetup gives a LUKS2 container: 16 MiB (both copies + 16 MiB − 32 KiB of keyslots). */
const STANDARD_OFFSET = 16 * 1024 * 1024;
/**
 * On a device of 16 MiB or less (cryptsetup refuses those), the payload starts at 2 MiB: room
 * for both copies and 8 keyslots of a 512-bit key (8 × 252 KiB + 32 KiB = 2 MiB).
 */
const SMALL_OFFSET = 2 * 1024 * 1024;
/** Keyslot areas are aligned to 4096 bytes, as cryptsetup's. */
const AREA_ALIGN = 4096;

type Copy = { header: Luks2Header; meta: Luks2Metadata } | string;

/** Reads and checks one copy at `offset`; a sentence says why it cannot be used. */
async function readCopy(dev: RawDevice, hyp: Hyp, offset: number, primary: boolean): Promise<Copy> {
  if (offset + BINARY_HEADER_SIZE > dev.size) return 'beyond the device';
  const size = claimedSize(await dev.read(offset, BINARY_HEADER_SIZE), primary);
  if (typeof size === 'string') return size;
  if (offset + size > dev.size) return 'it runs past the device';
  const header = parseHeader(hyp, await dev.read(offset, size), offset, primary);
  if (typeof header === 'string') return header;
  try {
    return { header, meta: parseMetadata(header.json, header.hdrSize) };
  } catch (err) {
    if (err instanceof MetadataDamage) return `its JSON: ${err.message}`;
    throw err;
  }
}

/** Finds a secondary copy when the primary does not say where it is: at each size the spec allows. */
async function findSecondary(dev: RawDevice, hyp: Hyp): Promise<Copy> {
  let why: Copy = 'not found';
  for (const offset of HEADER_SIZES) {
    const copy = await readCopy(dev, hyp, offset, false);
    if (typeof copy !== 'string') return copy;
    if (copy !== 'no LUKS2 magic' && copy !== 'beyond the device') why = copy;
  }
  return why;
}

/**
 * Reads the container's metadata from the better of its two copies, and checks that its
 * payload fits the device: what opening, dumping, adding and removing keyslots all start
 * from. EUCLEAN when both copies are damaged, naming what is wrong with each; EINVAL for
 * metadata rumpus does not do, or a payload outside the device.
 */
export async function readLuks2(dev: RawDevice, hyp: Hyp): Promise<Luks2State> {
  const state = await betterCopy(dev, hyp);
  payload(dev, state.meta);
  return state;
}

/** The metadata of the better of the two copies. */
async function betterCopy(dev: RawDevice, hyp: Hyp): Promise<Luks2State> {
  const primary = await readCopy(dev, hyp, 0, true);
  // Beside a good primary, a secondary whose metadata rumpus would refuse is only a damaged copy.
  const secondary = typeof primary === 'string' ? await findSecondary(dev, hyp)
    : await readCopy(dev, hyp, primary.header.hdrSize, false).catch((err: unknown) => {
      if (err instanceof SysError) return err.message.replace(/^cgd: /, '');
      throw err;
    });
  if (typeof primary === 'string' && typeof secondary === 'string') {
    throw luksError('EUCLEAN', `both LUKS2 headers are damaged: the primary (${primary}), the secondary (${secondary})`);
  }
  if (typeof secondary === 'string') {
    return { ...(primary as Exclude<Copy, string>), notes: [`the secondary LUKS2 header is damaged (${secondary}); opened from the primary`] };
  }
  if (typeof primary === 'string') {
    return { ...secondary, notes: [`the primary LUKS2 header is damaged (${primary}); opened from the secondary`] };
  }
  if (primary.header.seqid !== secondary.header.seqid) {
    const [newer, older] = primary.header.seqid > secondary.header.seqid ? [primary, secondary] : [secondary, primary];
    const which = (c: typeof primary) => (c.header.primary ? 'primary' : 'secondary');
    return { ...newer, notes: [`the ${which(older)} LUKS2 header is older (seqid ${older.header.seqid} < ${newer.header.seqid}); opened from the ${which(newer)}`] };
  }
  return { ...primary, notes: [] };
}

/** The payload's extent on this device. EINVAL when it does not fit. */
function payload(dev: RawDevice, meta: Luks2Metadata): { offset: number; size: number } {
  const s = meta.segment;
  if (s.offset >= dev.size) throw luksError('EINVAL', `the payload offset ${s.offset} is beyond the device (${dev.size} bytes)`);
  const room = dev.size - s.offset;
  if (s.size === 'dynamic') return { offset: s.offset, size: room - (room % s.sectorSize) };
  if (s.size > room) throw luksError('EINVAL', `the payload (${s.size} bytes at ${s.offset}) runs past the device's end (${dev.size} bytes)`);
  return { offset: s.offset, size: s.size };
}

/** The digest that checks keyslot `slot` for segment 0, if any. */
const digestFor = (meta: Luks2Metadata, slot: number): Luks2Digest | undefined =>
  meta.digests.find((d) => d.keyslots.includes(slot) && d.segments.includes(0));

/** Keyslots in the order cryptsetup tries them: high priority, then normal; 'ignore' never. */
function tryOrder(meta: Luks2Metadata): Luks2Keyslot[] {
  return meta.keyslots.filter((k) => k.priority > 0).sort((a, b) => b.priority - a.priority || a.id - b.id);
}

async function digestMatches(crypto: LuksCrypto, d: Luks2Digest, key: Uint8Array): Promise<boolean> {
  const computed = await crypto.derive({ type: 'pbkdf2', hash: d.hash, iterations: d.iterations, salt: d.salt }, key, d.digest.length);
  return sameBytes(computed, d.digest);
}

/** Opens the volume key with `passphrase`: the keyslot and digest that took it. EACCES if none. */
async function unlock(dev: RawDevice, crypto: LuksCrypto, meta: Luks2Metadata, passphrase: Uint8Array): Promise<{ key: Uint8Array; slot: Luks2Keyslot; digest: Luks2Digest }> {
  for (const slot of tryOrder(meta)) {
    const digest = digestFor(meta, slot.id);
    if (!digest) continue;
    const key = await unlockMaterial(dev, crypto, slot, passphrase);
    if (await digestMatches(crypto, digest, key)) return { key, slot, digest };
  }
  throw luksError('EACCES', 'no keyslot opens with this passphrase');
}

function volumeOf(dev: RawDevice, state: Luks2State, key: Uint8Array, keyslot: number): Volume {
  const { offset, size } = payload(dev, state.meta);
  const s = state.meta.segment;
  return {
    version: 2, uuid: state.header.uuid, cipher: s.cipher, key, offset, size, sectorSize: s.sectorSize,
    ivOffset: s.ivTweak, keyslot, notes: state.notes,
  };
}

/** Opens a LUKS2 container (see luksOpen in luks.ts). */
export async function openLuks2(dev: RawDevice, crypto: LuksCrypto, passphrase: Uint8Array): Promise<Volume> {
  const state = await readLuks2(dev, crypto.hyp);
  const { key, slot } = await unlock(dev, crypto, state.meta, passphrase);
  return volumeOf(dev, state, key, slot.id);
}

/** Both copies of a header to write. */
interface HeaderCopies {
  hdrSize: number;
  primary: Uint8Array;
  secondary: Uint8Array;
}

/**
 * Both copies of the header with `raw` as JSON and seqid one more than `header`'s, checked as
 * a read header's metadata is (what is written must read back). Built before any write.
 */
function headerCopies(hyp: Hyp, header: Omit<Luks2Header, 'json' | 'primary' | 'hdrOffset' | 'checksumAlg'>, raw: Record<string, unknown>): HeaderCopies {
  const json = JSON.stringify(raw);
  parseMetadata(json, header.hdrSize);
  const fields = { hdrSize: header.hdrSize, seqid: header.seqid + 1, label: header.label, uuid: header.uuid, subsystem: header.subsystem, json };
  return { hdrSize: header.hdrSize, primary: buildHeader(hyp, fields, true), secondary: buildHeader(hyp, fields, false) };
}

async function writeHeaders(dev: RawDevice, copies: HeaderCopies): Promise<void> {
  await dev.write(0, copies.primary);
  await dev.write(copies.hdrSize, copies.secondary);
}

/** The first gap of `size` bytes in the keyslots area, or null. */
function freeArea(meta: Luks2Metadata, hdrSize: number, size: number): number | null {
  let at = 2 * hdrSize;
  for (const k of [...meta.keyslots].sort((a, b) => a.offset - b.offset)) {
    if (k.offset - at >= size) return at;
    at = Math.max(at, roundUp(k.offset + k.areaSize, AREA_ALIGN));
  }
  return 2 * hdrSize + meta.keyslotsSize - at >= size ? at : null;
}

/** A new keyslot for a volume key of `keyBytes`, at the first free id and area (its material not yet written). */
function newKeyslot(meta: Luks2Metadata, hdrSize: number, keyBytes: number, kdf: Kdf): Luks2Keyslot {
  let id = 0;
  while (meta.keyslots.some((k) => k.id === id)) id++;
  if (id >= MAX_KEYSLOTS) throw luksError('ENOSPC', `all ${MAX_KEYSLOTS} LUKS2 keyslots are in use`);
  const areaSize = roundUp(materialSize(keyBytes, STRIPES), AREA_ALIGN);
  const offset = freeArea(meta, hdrSize, areaSize);
  if (offset === null) throw luksError('ENOSPC', `no room for another keyslot (${areaSize} bytes) in the keyslots area`);
  return {
    id, priority: 1, offset, areaSize, keyBytes, stripes: STRIPES, afHash: AF_HASH,
    cipher: meta.segment.cipher, cipherKeyBytes: keyBytes, kdf,
  };
}

/** The layout of a new container on `dev`: payload offset and keyslots area size. EINVAL if too small. */
function layout(devSize: number, sectorSize: number): { offset: number; keyslotsSize: number } {
  const offset = devSize > STANDARD_OFFSET ? STANDARD_OFFSET : SMALL_OFFSET;
  if (devSize < offset + sectorSize) {
    throw luksError('EINVAL', `the device (${devSize} bytes) is too small for a LUKS2 container: it needs more than ${offset} bytes`);
  }
  return { offset, keyslotsSize: offset - 2 * HEADER_SIZE };
}

/** Makes a LUKS2 container (see luksFormat in luks.ts). */
export async function formatLuks2(dev: RawDevice, crypto: LuksCrypto, passphrase: Uint8Array, options: FormatOptions): Promise<Volume> {
  const { hyp } = crypto;
  const cipher = options.cipher ?? 'aes-xts-plain64';
  if (!CIPHERS.includes(cipher)) throw luksError('EINVAL', `unknown cipher '${cipher}' (rumpus has ${CIPHERS.join(', ')})`);
  const keyBytes = options.keyBytes ?? 64;
  if (keyBytes !== 32 && keyBytes !== 64) throw luksError('EINVAL', `a key of ${String(keyBytes)} bytes: ${cipher} takes 32 or 64`);
  const sectorSize = options.sectorSize ?? 4096;
  if (sectorSize !== 512 && sectorSize !== 4096) throw luksError('EINVAL', `sector size ${String(sectorSize)}: 512 or 4096`);
  const label = options.label ?? '';
  if (new TextEncoder().encode(label).length > 47) throw luksError('EINVAL', 'the label is longer than 47 bytes');
  const uuid = uuidFrom(hyp, options.uuid);
  const { offset, keyslotsSize } = layout(dev.size, sectorSize);
  const kdf = kdfFrom(options.kdf, hyp.random); // checked before anything is written

  const volumeKey = hyp.random(keyBytes);
  const segment = { offset, size: 'dynamic' as const, ivTweak: 0, cipher, sectorSize };
  const digestSalt = hyp.random(SALT_BYTES);
  const digest = await crypto.derive({ type: 'pbkdf2', hash: 'sha256', iterations: DIGEST_ITERATIONS, salt: digestSalt }, volumeKey, 32);
  const raw: Record<string, unknown> = {
    keyslots: {}, tokens: {}, segments: { 0: segmentJson(segment) },
    digests: { 0: digestJson({ keyslots: [], segments: [0], hash: 'sha256', iterations: DIGEST_ITERATIONS, salt: digestSalt, digest }) },
    config: { json_size: String(HEADER_SIZE - BINARY_HEADER_SIZE), keyslots_size: String(keyslotsSize) },
  };
  const slot = newKeyslot({ keyslots: [], segment, digests: [], keyslotsSize, raw }, HEADER_SIZE, keyBytes, kdf);
  withKeyslot(raw, slot, 0);
  const copies = headerCopies(hyp, { hdrSize: HEADER_SIZE, seqid: 0, label, uuid, subsystem: '' }, raw);
  await wipe(dev, 0, offset);
  await storeMaterial(dev, crypto, slot, passphrase, volumeKey);
  await writeHeaders(dev, copies);
  return openedAfterWrite(dev, hyp, volumeKey, slot.id);
}

/** The volume as the headers just written describe it. */
async function openedAfterWrite(dev: RawDevice, hyp: Hyp, key: Uint8Array, keyslot: number): Promise<Volume> {
  return volumeOf(dev, await readLuks2(dev, hyp), key, keyslot);
}

/** `raw` with keyslot `slot` added and listed by digest `digestId`. */
function withKeyslot(raw: Record<string, unknown>, slot: Luks2Keyslot, digestId: number): void {
  (raw.keyslots as Record<string, unknown>)[String(slot.id)] = keyslotJson(slot);
  const digest = (raw.digests as Record<string, { keyslots: string[] }>)[String(digestId)];
  digest.keyslots = [...digest.keyslots, String(slot.id)].sort((a, b) => Number(a) - Number(b));
}

/** Adds a keyslot (see luksAddKey in luks.ts). */
export async function addKeyLuks2(dev: RawDevice, crypto: LuksCrypto, passphrase: Uint8Array, newPassphrase: Uint8Array, kdf: KdfOptions | undefined): Promise<number> {
  const state = await readLuks2(dev, crypto.hyp);
  const newKdf = kdfFrom(kdf, crypto.hyp.random);
  const { key, digest } = await unlock(dev, crypto, state.meta, passphrase);
  const slot = newKeyslot(state.meta, state.header.hdrSize, key.length, newKdf);
  const raw = structuredClone(state.meta.raw);
  withKeyslot(raw, slot, digest.id);
  const copies = headerCopies(crypto.hyp, state.header, raw);
  await storeMaterial(dev, crypto, slot, newPassphrase, key);
  await writeHeaders(dev, copies);
  return slot.id;
}

/** Removes the keyslot `passphrase` opens (see luksRemoveKey in luks.ts). */
export async function removeKeyLuks2(dev: RawDevice, crypto: LuksCrypto, passphrase: Uint8Array): Promise<number> {
  const state = await readLuks2(dev, crypto.hyp);
  const { slot } = await unlock(dev, crypto, state.meta, passphrase);
  // The last keyslot that opens the data: one no digest binds, or set to 'ignore', does not count.
  if (!tryOrder(state.meta).some((k) => k.id !== slot.id && digestFor(state.meta, k.id))) {
    throw luksError('EBUSY', `keyslot ${slot.id} is the last one: without it the data could never be opened again`);
  }
  const raw = structuredClone(state.meta.raw);
  delete (raw.keyslots as Record<string, unknown>)[String(slot.id)];
  for (const d of Object.values(raw.digests as Record<string, { keyslots: string[] }>)) {
    d.keyslots = d.keyslots.filter((k) => k !== String(slot.id));
  }
  await writeHeaders(dev, headerCopies(crypto.hyp, state.header, raw));
  await wipe(dev, slot.offset, slot.offset + slot.areaSize);
  return slot.id;
}

/** What a LUKS2 header tells without a key (see luksDump in luks.ts). */
export async function dumpLuks2(dev: RawDevice, hyp: Hyp): Promise<LuksInfo> {
  const { header, meta, notes } = await readLuks2(dev, hyp);
  const { offset, size } = payload(dev, meta); // checked by readLuks2: the extent only
  return {
    version: 2, uuid: header.uuid, label: header.label, cipher: meta.segment.cipher,
    keyBytes: meta.keyslots[0]?.keyBytes ?? 0, offset, size, sectorSize: meta.segment.sectorSize,
    seqid: header.seqid, headerSize: header.hdrSize, notes,
    keyslots: meta.keyslots.map((k) => ({
      slot: k.id, keyBytes: k.cipherKeyBytes, stripes: k.stripes, afHash: k.afHash, areaOffset: k.offset, areaSize: k.areaSize,
      priority: k.priority,
      kdf: k.kdf.type === 'pbkdf2' ? { type: k.kdf.type, hash: k.kdf.hash, iterations: k.kdf.iterations }
        : { type: k.kdf.type, time: k.kdf.time, memory: k.kdf.memory, parallel: k.kdf.parallel },
    })).sort((a, b) => a.slot - b.slot),
  };
}
