// The block and inode bitmaps of a block group: bit i (byte i / 8, bit i % 8, least
// significant first) set when block or inode i of the group is in use (Documentation/
// filesystems/ext4/bitmaps.rst).

export function isSet(bitmap: Uint8Array, bit: number): boolean {
  return (bitmap[bit >> 3] & (1 << (bit & 7))) !== 0;
}

export function setBit(bitmap: Uint8Array, bit: number): void {
  bitmap[bit >> 3] |= 1 << (bit & 7);
}

export function clearBit(bitmap: Uint8Array, bit: number): void {
  bitmap[bit >> 3] &= ~(1 << (bit & 7));
}

/** Sets bits [from, to). */
export function setBits(bitmap: Uint8Array, from: number, to: number): void {
  for (let bit = from; bit < to; bit++) setBit(bitmap, bit);
}

/** The first clear bit in [from, limit), or −1. Skips whole bytes of ones. */
export function findClear(bitmap: Uint8Array, from: number, limit: number): number {
  for (let bit = from; bit < limit; ) {
    if ((bit & 7) === 0 && bitmap[bit >> 3] === 0xff) {
      bit += 8;
      continue;
    }
    if (!isSet(bitmap, bit)) return bit;
    bit++;
  }
  return -1;
}
