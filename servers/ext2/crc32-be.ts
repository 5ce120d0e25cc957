// CRC-32 in its big-endian (MSB-first) form, table-driven: what jbd2's v1 transaction
// checksums (the journal_checksum compat feature) use.

/** The IEEE 802.3 polynomial, not reflected. */
const CRC32_BE_POLY = 0x04c11db7;

const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n << 24;
    for (let k = 0; k < 8; k++) c = c & 0x80000000 ? (c << 1) ^ CRC32_BE_POLY : c << 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/**
 * The raw big-endian CRC-32 update, without inversions: Linux's `crc32_be(crc, p, len)`
 * (lib/crc32.c), which fs/jbd2/recovery.c's calc_chksums runs from ~0 over a transaction's
 * descriptor and data blocks. `crc` is an unsigned 32-bit number; returns the new one.
 */
export function crc32BeUpdate(crc: number, bytes: Uint8Array): number {
  let c = crc >>> 0;
  for (let i = 0; i < bytes.length; i++) c = (TABLE[((c >>> 24) ^ bytes[i]) & 0xff] ^ (c << 8)) >>> 0;
  return c;
}
