// CRC32 as GPT uses it (UEFI spec §5.3.2: the header's HeaderCRC32 and PartitionEntryArrayCRC32):
// the IEEE 802.3 polynomial, reflected (0xEDB88320), initial value and final XOR 0xFFFFFFFF —
// the CRC32 of zlib. Table-driven, in pure JS (no host module under servers/).

const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** The CRC32 (IEEE, zlib's) of `bytes`, as an unsigned 32-bit integer. */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
