// The LUKS2 JSON metadata ("LUKS2 On-Disk Format Specification Version 1.1.x", section 3;
// cryptsetup's lib/luks2/luks2_json_metadata.c): keyslots, segments, digests and config, checked
// strictly since they come from outside. 64-bit numbers are decimal strings; salts and digests
// are base64. Two kinds of failure: JSON that breaks the spec (a damaged header copy: the other
// copy may still be good) is a MetadataDamage; metadata that is well-formed but names what
// rumpus does not do (a cipher, KDF, hash, digest type, requirement) is a SysError EINVAL.

import { CIPHERS, KDF_HASHES, type DigestName, type Kdf } from '../../kernel/api.js';
import { materialSize, type KeyMaterial } from './keyslot.js';
import { checkedKdf, luksError } from './luks-common.js';
import { BINARY_HEADER_SIZE } from './luks2-header.js';

/** JSON that breaks the LUKS2 spec: the header copy holding it is damaged. */
export class MetadataDamage extends Error {}

/**
 * The deepest nesting of objects and arrays the JSON may have: json-c's default
 * (JSON_TOKENER_DEFAULT_DEPTH), which cryptsetup parses the metadata with. Deeper JSON is
 * refused before it is parsed, so that no walk over the metadata (parsing, cloning,
 * serialising) can run out of stack.
 */
export const MAX_JSON_DEPTH = 32;

/** Keyslots LUKS2 allows (cryptsetup's LUKS2_KEYSLOTS_MAX). */
export const MAX_KEYSLOTS = 32;

/** One keyslot of type 'luks2'. */
export interface Luks2Keyslot extends KeyMaterial {
  id: number;
  /** 0 ignore, 1 normal, 2 high. */
  priority: number;
  /** The area's size (≥ the material's). */
  areaSize: number;
}

/** The crypt segment: the payload. */
export interface Luks2Segment {
  /** Bytes from the device start. */
  offset: number;
  /** Bytes, or 'dynamic': to the device's end. */
  size: number | 'dynamic';
  /** The IV of the segment's first byte, in 512-byte sectors. */
  ivTweak: number;
  cipher: string;
  sectorSize: number;
}

/** A 'pbkdf2' digest of the volume key. */
export interface Luks2Digest {
  id: number;
  keyslots: number[];
  segments: number[];
  hash: DigestName;
  iterations: number;
  salt: Uint8Array;
  digest: Uint8Array;
}

/** The checked metadata, and the JSON object it came from (kept whole, to be rewritten). */
export interface Luks2Metadata {
  keyslots: Luks2Keyslot[];
  segment: Luks2Segment;
  digests: Luks2Digest[];
  /** Bytes of keyslots area, from 2 × hdr_size. */
  keyslotsSize: number;
  raw: Record<string, unknown>;
}

type Json = Record<string, unknown>;

function damage(message: string): never {
  throw new MetadataDamage(message);
}

function object(value: unknown, what: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) damage(`${what} is not an object`);
  return value as Json;
}

function string(value: unknown, what: string): string {
  if (typeof value !== 'string') damage(`${what} is not a string`);
  return value;
}

/** A JSON number that must be an integer in [low, high]. */
function integer(value: unknown, what: string, low = 0, high = 2 ** 32 - 1): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < low || value > high) damage(`${what} is not an integer in ${low} … ${high}`);
  return value;
}

/** A 64-bit number as the spec writes it: a decimal string. */
function uintString(value: unknown, what: string): number {
  const text = string(value, what);
  if (!/^(0|[1-9][0-9]{0,15})$/.test(text) || !Number.isSafeInteger(Number(text))) damage(`${what} '${text}' is not a decimal number`);
  return Number(text);
}

/** An id: an object key or a list entry naming one, a decimal string. */
function id(text: unknown, what: string, max = 2 ** 31): number {
  const n = uintString(text, what);
  if (n >= max) damage(`${what} ${n} is out of range`);
  return n;
}

function base64(value: unknown, what: string): Uint8Array {
  const text = string(value, what);
  if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) damage(`${what} is not base64`);
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

function toBase64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

function cipherName(value: unknown, what: string): string {
  const name = string(value, what);
  if (!CIPHERS.includes(name)) throw luksError('EINVAL', `${what} is '${name}', a cipher rumpus does not have (it has ${CIPHERS.join(', ')})`);
  return name;
}

function hashName(value: unknown, what: string): DigestName {
  const name = string(value, what);
  if (!KDF_HASHES.includes(name as DigestName)) throw luksError('EINVAL', `${what} is '${name}', a hash rumpus does not have`);
  return name as DigestName;
}

function kdfOf(value: unknown, what: string): Kdf {
  const k = object(value, what);
  const type = string(k.type, `${what} type`);
  switch (type) {
    case 'pbkdf2':
      return checkedKdf({ type, hash: hashName(k.hash, `${what} hash`), iterations: integer(k.iterations, `${what} iterations`, 1), salt: base64(k.salt, `${what} salt`) }, what);
    case 'argon2i':
    case 'argon2id':
      return checkedKdf({
        type, time: integer(k.time, `${what} time`, 1), memory: integer(k.memory, `${what} memory`, 1),
        parallel: integer(k.cpus, `${what} cpus`, 1), salt: base64(k.salt, `${what} salt`),
      }, what);
    default:
      throw luksError('EINVAL', `${what} type is '${type}', a KDF rumpus does not have (it has pbkdf2, argon2i, argon2id)`);
  }
}

function keyslotOf(slotId: number, value: unknown, bounds: { start: number; end: number }): Luks2Keyslot | null {
  const what = `keyslot ${slotId}`;
  const k = object(value, what);
  const type = string(k.type, `${what} type`);
  if (type !== 'luks2') throw luksError('EINVAL', `${what} is of type '${type}', which rumpus does not open (only luks2)`);
  const keyBytes = integer(k.key_size, `${what} key_size`, 1, 1024);
  if (keyBytes !== 32 && keyBytes !== 64) throw luksError('EINVAL', `${what} holds a volume key of ${keyBytes} bytes: rumpus's ciphers take 32 or 64`);
  const af = object(k.af, `${what} af`);
  if (string(af.type, `${what} af type`) !== 'luks1') throw luksError('EINVAL', `${what} af type is '${String(af.type)}', not luks1`);
  const stripes = integer(af.stripes, `${what} af stripes`, 1, 65536);
  const afHash = hashName(af.hash, `${what} af hash`);
  const area = object(k.area, `${what} area`);
  if (string(area.type, `${what} area type`) !== 'raw') throw luksError('EINVAL', `${what} area type is '${String(area.type)}', not raw`);
  const offset = uintString(area.offset, `${what} area offset`);
  const areaSize = uintString(area.size, `${what} area size`);
  const cipher = cipherName(area.encryption, `${what} area encryption`);
  const cipherKeyBytes = integer(area.key_size, `${what} area key_size`, 1, 1024);
  if (cipherKeyBytes !== 32 && cipherKeyBytes !== 64) throw luksError('EINVAL', `${what}: a ${cipher} key of ${cipherKeyBytes} bytes`);
  if (offset % 512 !== 0) damage(`${what} area offset ${offset} is not a multiple of 512`);
  if (areaSize < materialSize(keyBytes, stripes)) damage(`${what} area (${areaSize} bytes) is smaller than its key material (${materialSize(keyBytes, stripes)})`);
  if (offset < bounds.start || offset + areaSize > bounds.end) damage(`${what} area ${offset} … ${offset + areaSize} lies outside the keyslots area ${bounds.start} … ${bounds.end}`);
  const priority = k.priority === undefined ? 1 : integer(k.priority, `${what} priority`, 0, 2);
  return { id: slotId, priority, offset, areaSize, keyBytes, stripes, afHash, cipher, cipherKeyBytes, kdf: kdfOf(k.kdf, `${what} kdf`) };
}

function segmentOf(value: unknown, metadataEnd: number): Luks2Segment {
  const s = object(value, 'segment 0');
  const type = string(s.type, 'segment 0 type');
  if (type !== 'crypt') throw luksError('EINVAL', `segment 0 is of type '${type}', which rumpus does not open (only crypt)`);
  if (s.integrity !== undefined) throw luksError('EINVAL', 'segment 0 has integrity protection (dm-integrity), which rumpus does not do');
  const offset = uintString(s.offset, 'segment 0 offset');
  const size = s.size === 'dynamic' ? 'dynamic' : uintString(s.size, 'segment 0 size');
  const ivTweak = uintString(s.iv_tweak, 'segment 0 iv_tweak');
  const cipher = cipherName(s.encryption, 'segment 0 encryption');
  const sectorSize = integer(s.sector_size, 'segment 0 sector_size', 512, 4096);
  if (![512, 1024, 2048, 4096].includes(sectorSize)) damage(`segment 0 sector_size ${sectorSize} is not a power of two in 512 … 4096`);
  if (sectorSize !== 512 && sectorSize !== 4096) throw luksError('EINVAL', `segment 0 sector_size ${sectorSize}: rumpus encrypts 512- or 4096-byte sectors`);
  if (offset % 512 !== 0) damage(`segment 0 offset ${offset} is not a multiple of 512`);
  if (size !== 'dynamic' && size % sectorSize !== 0) damage(`segment 0 size ${size} is not a multiple of its sector size`);
  if (offset < metadataEnd) damage(`segment 0 offset ${offset} overlaps the metadata and keyslots (to ${metadataEnd})`);
  return { offset, size, ivTweak, cipher, sectorSize };
}

function digestOf(digestId: number, value: unknown): Luks2Digest {
  const what = `digest ${digestId}`;
  const d = object(value, what);
  const type = string(d.type, `${what} type`);
  if (type !== 'pbkdf2') throw luksError('EINVAL', `${what} is of type '${type}', which rumpus does not check (only pbkdf2)`);
  const list = (v: unknown, name: string) => {
    if (!Array.isArray(v)) damage(`${what} ${name} is not a list`);
    return v.map((x) => id(x, `${what} ${name} entry`));
  };
  const kdf = checkedKdf({ type: 'pbkdf2', hash: hashName(d.hash, `${what} hash`), iterations: integer(d.iterations, `${what} iterations`, 1), salt: base64(d.salt, `${what} salt`) }, what) as Kdf & { type: 'pbkdf2' };
  const digest = base64(d.digest, `${what} digest`);
  if (digest.length === 0 || digest.length > 1024) damage(`${what} digest has ${digest.length} bytes`);
  return { id: digestId, keyslots: list(d.keyslots, 'keyslots'), segments: list(d.segments, 'segments'), hash: kdf.hash, iterations: kdf.iterations, salt: kdf.salt, digest };
}

/** Entries of an object whose keys are ids. */
function entries(value: unknown, what: string, max?: number): [number, unknown][] {
  return Object.entries(object(value, what)).map(([key, v]) => [id(key, `${what} id`, max), v]);
}

/** Whether `text` nests objects and arrays deeper than `limit`: one pass, brackets inside strings not counted. */
export function nestsDeeper(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // a backslash: the next character is escaped
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return true;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    }
  }
  return false;
}

/**
 * Parses and checks the JSON of a header of `hdrSize` bytes. MetadataDamage when it breaks
 * the spec; SysError EINVAL (message 'cgd: …') when it names what rumpus does not do.
 */
export function parseMetadata(text: string, hdrSize: number): Luks2Metadata {
  if (nestsDeeper(text, MAX_JSON_DEPTH)) {
    throw luksError('EINVAL', `the LUKS2 metadata nests deeper than ${MAX_JSON_DEPTH} levels, which cryptsetup refuses too`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    damage('the JSON area does not parse');
  }
  const raw = object(parsed, 'the metadata');
  const config = object(raw.config, 'config');
  const jsonSize = uintString(config.json_size, 'config json_size');
  if (jsonSize !== hdrSize - BINARY_HEADER_SIZE) damage(`config json_size ${jsonSize} does not match the header size ${hdrSize}`);
  const keyslotsSize = uintString(config.keyslots_size, 'config keyslots_size');
  if (keyslotsSize % 4096 !== 0) damage(`config keyslots_size ${keyslotsSize} is not a multiple of 4096`);
  if (config.requirements !== undefined) {
    const mandatory = object(config.requirements, 'config requirements').mandatory;
    if (Array.isArray(mandatory) && mandatory.length > 0) {
      throw luksError('EINVAL', `the container requires ${mandatory.map(String).join(', ')}, which rumpus does not do`);
    }
  }
  object(raw.tokens, 'tokens');
  const bounds = { start: 2 * hdrSize, end: 2 * hdrSize + keyslotsSize };
  const keyslots = entries(raw.keyslots, 'keyslots', MAX_KEYSLOTS).map(([n, v]) => keyslotOf(n, v, bounds)).filter((k) => k !== null);
  const sorted = [...keyslots].sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].offset < sorted[i - 1].offset + sorted[i - 1].areaSize) damage(`the areas of keyslots ${sorted[i - 1].id} and ${sorted[i].id} overlap`);
  }
  const segments = entries(raw.segments, 'segments');
  if (segments.length !== 1 || segments[0][0] !== 0) {
    throw luksError('EINVAL', `the container has segments ${segments.map(([n]) => n).join(', ') || '(none)'}: rumpus opens one crypt segment 0 (not one being reencrypted)`);
  }
  const segment = segmentOf(segments[0][1], bounds.end);
  const digests = entries(raw.digests, 'digests').map(([n, v]) => digestOf(n, v));
  for (const d of digests) {
    for (const k of d.keyslots) if (!keyslots.some((s) => s.id === k)) damage(`digest ${d.id} names keyslot ${k}, which does not exist`);
    for (const s of d.segments) if (s !== 0) damage(`digest ${d.id} names segment ${s}, which does not exist`);
  }
  return { keyslots, segment, digests, keyslotsSize, raw };
}

/** The JSON of a keyslot, as cryptsetup writes it. */
export function keyslotJson(slot: Omit<Luks2Keyslot, 'id'>): Json {
  const k = slot.kdf;
  const kdf = k.type === 'pbkdf2'
    ? { type: k.type, hash: k.hash, iterations: k.iterations, salt: toBase64(k.salt) }
    : { type: k.type, time: k.time, memory: k.memory, cpus: k.parallel, salt: toBase64(k.salt) };
  return {
    type: 'luks2', key_size: slot.keyBytes,
    af: { type: 'luks1', stripes: slot.stripes, hash: slot.afHash },
    area: { type: 'raw', offset: String(slot.offset), size: String(slot.areaSize), encryption: slot.cipher, key_size: slot.cipherKeyBytes },
    kdf,
    ...(slot.priority !== 1 ? { priority: slot.priority } : {}),
  };
}

/** The JSON of a pbkdf2 digest. */
export function digestJson(d: Omit<Luks2Digest, 'id'>): Json {
  return {
    type: 'pbkdf2', keyslots: d.keyslots.map(String), segments: d.segments.map(String), hash: d.hash,
    iterations: d.iterations, salt: toBase64(d.salt), digest: toBase64(d.digest),
  };
}

/** The JSON of the crypt segment. */
export function segmentJson(s: Luks2Segment): Json {
  return {
    type: 'crypt', offset: String(s.offset), size: s.size === 'dynamic' ? 'dynamic' : String(s.size),
    iv_tweak: String(s.ivTweak), encryption: s.cipher, sector_size: s.sectorSize,
  };
}
