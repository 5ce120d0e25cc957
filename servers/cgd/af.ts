// The anti-forensic splitter of LUKS ("LUKS On-Disk Format Specification Version 1.2.3",
// section 2.4; cryptsetup's lib/luks1/af.c): a key is stored as `stripes` blocks of its size,
// all but the last random, chained through a hash diffusion, so that destroying any one block of
// the stored material destroys the key. LUKS2 keyslots use it unchanged (af type 'luks1').

import type { DigestName, Hyp } from '../../kernel/api.js';

/**
 * The diffusion H of the spec: the block is cut into pieces of the digest's size (the last one
 * maybe shorter), and piece i becomes the first bytes of hash(i as 4 big-endian bytes ‖ piece).
 */
function diffuse(hyp: Hyp, hash: DigestName, block: Uint8Array): Uint8Array {
  const out = new Uint8Array(block.length);
  const digestSize = hyp.digest(hash, new Uint8Array(0)).length;
  const input = new Uint8Array(4 + digestSize);
  const view = new DataView(input.buffer);
  for (let i = 0, at = 0; at < block.length; i++, at += digestSize) {
    const piece = block.subarray(at, Math.min(at + digestSize, block.length));
    view.setUint32(0, i);
    input.set(piece, 4);
    const d = hyp.digest(hash, input.subarray(0, 4 + piece.length));
    out.set(d.subarray(0, piece.length), at);
  }
  return out;
}

function xorInto(target: Uint8Array, source: Uint8Array): void {
  for (let i = 0; i < target.length; i++) target[i] ^= source[i];
}

/** The split material of `key`: `stripes` blocks of key.length bytes, the first stripes−1 random. */
export function afSplit(hyp: Hyp, hash: DigestName, key: Uint8Array, stripes: number): Uint8Array {
  const n = key.length;
  const material = new Uint8Array(n * stripes);
  let d: Uint8Array = new Uint8Array(n);
  for (let i = 0; i < stripes - 1; i++) {
    const stripe = material.subarray(i * n, (i + 1) * n);
    // hyp.random gives at most 64 KiB at a time: one stripe each (a key is at most 1 KiB).
    stripe.set(hyp.random(n));
    xorInto(d, stripe);
    d = diffuse(hyp, hash, d);
  }
  const last = material.subarray((stripes - 1) * n);
  last.set(d);
  xorInto(last, key);
  return material;
}

/** The key of `keyLength` bytes that afSplit split into `material` (at least stripes × keyLength bytes). */
export function afMerge(hyp: Hyp, hash: DigestName, material: Uint8Array, keyLength: number, stripes: number): Uint8Array {
  let d: Uint8Array = new Uint8Array(keyLength);
  for (let i = 0; i < stripes - 1; i++) {
    xorInto(d, material.subarray(i * keyLength, (i + 1) * keyLength));
    d = diffuse(hyp, hash, d);
  }
  xorInto(d, material.subarray((stripes - 1) * keyLength, stripes * keyLength));
  return d;
}
