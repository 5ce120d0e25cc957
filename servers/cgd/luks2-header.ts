// The LUKS2 binary header ("LUKS2 On-Disk Format Specification Version 1.1.x", section 2;
// cryptsetup's lib/luks2/luks2.h): 4096 bytes, big-endian, followed by the JSON area; the
// whole header (hdr_size bytes) is stored twice, the primary at 0 and the secondary at hdr_size.
//
//   0 magic[6] 'LUKS\xba\xbe' (primary) / 'SKUL\xba\xbe' (secondary)   6 version u16 = 2
//   8 hdr_size u64   16 seqid u64   24 label[48]   72 checksum_alg[32]   104 salt[64]
// 168 uuid[40]   208 subsystem[48]   256 hdr_offset u64   264 padding[184]   448 csum[64]
//
// csum is the checksum_alg digest of the whole hdr_size bytes with the csum field zeroed.

import type { DigestName, Hyp } from '../../kernel/api.js';
import { luksError } from './luks-common.js';

export const BINARY_HEADER_SIZE = 4096;
export const PRIMARY_MAGIC = Uint8Array.of(0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe); // 'LUKS\xba\xbe'
export const SECONDARY_MAGIC = Uint8Array.of(0x53, 0x4b, 0x55, 0x4c, 0xba, 0xbe); // 'SKUL\xba\xbe'
/** The header sizes the spec allows (binary header + JSON area): 16 KiB … 4 MiB, powers of two. */
export const HEADER_SIZES: readonly number[] = [16, 32, 64, 128, 256, 512, 1024, 2048, 4096].map((k) => k * 1024);
const CHECKSUMS: readonly DigestName[] = ['sha256', 'sha1', 'sha512'];

const CSUM_AT = 448;
const CSUM_LENGTH = 64;

/** One parsed header copy. */
export interface Luks2Header {
  primary: boolean;
  hdrSize: number;
  seqid: number;
  label: string;
  checksumAlg: DigestName;
  uuid: string;
  subsystem: string;
  /** Where this copy is, bytes from the device start. */
  hdrOffset: number;
  /** The JSON area's text, up to its first NUL. */
  json: string;
}

const ascii = new TextDecoder('utf-8', { fatal: false });
const encoder = new TextEncoder();

/** A NUL-padded string field. */
function field(bytes: Uint8Array, at: number, length: number): string {
  const raw = bytes.subarray(at, at + length);
  const end = raw.indexOf(0);
  return ascii.decode(end < 0 ? raw : raw.subarray(0, end));
}

function putField(bytes: Uint8Array, at: number, length: number, text: string, what: string): void {
  const encoded = encoder.encode(text);
  if (encoded.length >= length) throw luksError('EINVAL', `the LUKS2 header's ${what} (${encoded.length} bytes) does not fit its ${length}-byte field`);
  bytes.set(encoded, at);
}

function u64(view: DataView, at: number): number {
  const n = view.getBigUint64(at);
  return n > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(n);
}

const startsWith = (bytes: Uint8Array, magic: Uint8Array): boolean => magic.every((b, i) => bytes[i] === b);

/** The checksum over a header copy with its csum field zeroed. */
function checksum(hyp: Hyp, alg: DigestName, copy: Uint8Array): Uint8Array {
  const zeroed = copy.slice();
  zeroed.fill(0, CSUM_AT, CSUM_AT + CSUM_LENGTH);
  return hyp.digest(alg, zeroed);
}

/**
 * The header size a copy at `offset` claims, from its first 4096 bytes, or a sentence saying
 * why this is no LUKS2 header copy (wrong magic or version, a size the spec does not allow).
 */
export function claimedSize(start: Uint8Array, primary: boolean): number | string {
  if (start.length < BINARY_HEADER_SIZE) return 'too short';
  if (!startsWith(start, primary ? PRIMARY_MAGIC : SECONDARY_MAGIC)) return 'no LUKS2 magic';
  const view = new DataView(start.buffer, start.byteOffset, start.byteLength);
  if (view.getUint16(6) !== 2) return `version ${view.getUint16(6)}, not 2`;
  const size = u64(view, 8);
  if (!HEADER_SIZES.includes(size)) return `a header size of ${size} bytes, which LUKS2 does not allow`;
  return size;
}

/**
 * Parses one header copy (`copy` holds hdr_size bytes read at `offset`): a Luks2Header, or a
 * sentence saying what is wrong with it (magic, version, size, offset, checksum, JSON area).
 */
export function parseHeader(hyp: Hyp, copy: Uint8Array, offset: number, primary: boolean): Luks2Header | string {
  const size = claimedSize(copy, primary);
  if (typeof size === 'string') return size;
  if (copy.length < size) return 'too short';
  const view = new DataView(copy.buffer, copy.byteOffset, copy.byteLength);
  const hdrOffset = u64(view, 256);
  if (hdrOffset !== offset) return `it says it is at byte ${hdrOffset}, but it is at ${offset}`;
  const checksumAlg = field(copy, 72, 32) as DigestName;
  if (!CHECKSUMS.includes(checksumAlg)) return `unknown checksum algorithm '${checksumAlg}'`;
  const whole = copy.subarray(0, size);
  const sum = checksum(hyp, checksumAlg, whole);
  const stored = copy.subarray(CSUM_AT, CSUM_AT + sum.length);
  if (!sum.every((b, i) => b === stored[i])) return 'bad checksum';
  const area = copy.subarray(BINARY_HEADER_SIZE, size);
  const end = area.indexOf(0);
  if (end < 0) return 'the JSON area is not NUL-terminated';
  let json: string;
  try {
    json = new TextDecoder('utf-8', { fatal: true }).decode(area.subarray(0, end));
  } catch {
    return 'the JSON area is not UTF-8';
  }
  return {
    primary, hdrSize: size, seqid: u64(view, 16), label: field(copy, 24, 48), checksumAlg,
    uuid: field(copy, 168, 40), subsystem: field(copy, 208, 48), hdrOffset, json,
  };
}

/** What a header copy is made of: the binary fields and the JSON text; the salt is drawn anew. */
export interface HeaderFields {
  hdrSize: number;
  seqid: number;
  label: string;
  uuid: string;
  subsystem: string;
  json: string;
}

/**
 * The hdr_size bytes of one copy (primary at 0 or secondary at hdr_size), checksummed with
 * sha256. EINVAL if a string does not fit its field, ENOSPC if the JSON does not fit its area.
 */
export function buildHeader(hyp: Hyp, fields: HeaderFields, primary: boolean): Uint8Array {
  const copy = new Uint8Array(fields.hdrSize);
  const view = new DataView(copy.buffer);
  copy.set(primary ? PRIMARY_MAGIC : SECONDARY_MAGIC, 0);
  view.setUint16(6, 2);
  view.setBigUint64(8, BigInt(fields.hdrSize));
  view.setBigUint64(16, BigInt(fields.seqid));
  putField(copy, 24, 48, fields.label, 'label');
  putField(copy, 72, 32, 'sha256', 'checksum algorithm');
  copy.set(hyp.random(64), 104);
  putField(copy, 168, 40, fields.uuid, 'uuid');
  putField(copy, 208, 48, fields.subsystem, 'subsystem');
  view.setBigUint64(256, BigInt(primary ? 0 : fields.hdrSize));
  const json = encoder.encode(fields.json);
  if (json.length >= fields.hdrSize - BINARY_HEADER_SIZE) {
    throw luksError('ENOSPC', `the LUKS2 metadata (${json.length} bytes of JSON) does not fit its ${fields.hdrSize - BINARY_HEADER_SIZE}-byte area`);
  }
  copy.set(json, BINARY_HEADER_SIZE);
  copy.set(checksum(hyp, 'sha256', copy), CSUM_AT);
  return copy;
}
