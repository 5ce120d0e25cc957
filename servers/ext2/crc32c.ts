// CRC32C (Castagnoli) and CRC16 (ANSI, as Linux's lib/crc16.c) in pure JS, table-driven: the
// checksums of ext4's metadata_csum and of uninit_bg's group descriptors.

/** The reflected Castagnoli polynomial (0x1EDC6F41 bit-reversed). */
const CRC32C_POLY = 0x82f63b78;
/** The reflected ANSI CRC-16 polynomial (0x8005 bit-reversed). */
const CRC16_POLY = 0xa001;

function table(poly: number): Uint32Array {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ poly : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
}

const CRC32C_TABLE = table(CRC32C_POLY);
const CRC16_TABLE = table(CRC16_POLY);

/**
 * The raw CRC32C update, without the initial or final inversion: Linux's `crc32c(crc, p, len)`
 * (lib/crc32.c's crc32c_le), which ext4_chksum (fs/ext4/ext4.h) and jbd2_chksum call. `crc` is
 * an unsigned 32-bit number; returns the new one.
 */
export function crc32cUpdate(crc: number, bytes: Uint8Array): number {
  let c = crc >>> 0;
  for (let i = 0; i < bytes.length; i++) c = CRC32C_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return c >>> 0;
}

/** The standard CRC-32C of `bytes` (initial ~0, final inversion), as iSCSI and RFC 3720 define it: crc32c("123456789") = 0xE3069283. */
export function crc32c(bytes: Uint8Array): number {
  return (crc32cUpdate(0xffffffff, bytes) ^ 0xffffffff) >>> 0;
}

/**
 * The raw CRC-16 update of Linux's lib/crc16.c (polynomial x^16 + x^15 + x^2 + 1, reflected,
 * no inversions), which ext4_group_desc_csum uses for GDT_CSUM (uninit_bg). `crc` is an
 * unsigned 16-bit number; returns the new one.
 */
export function crc16Update(crc: number, bytes: Uint8Array): number {
  let c = crc & 0xffff;
  for (let i = 0; i < bytes.length; i++) c = CRC16_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return c & 0xffff;
}
