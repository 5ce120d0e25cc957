// cgd cuts a request into pieces, one cipher call each (servers/cgd/crypt.ts), sent at once and
// put back in order. Checked with the cipher in the kernel's thread, in a thread of its own and
// in a pool, on LUKS2 containers of 512- and 4096-byte sectors:
// - requests spanning several pieces (a write of whole sectors, a commit that covers sectors in
//   part, a read across them) land as node:crypto's aes-xts, unit by unit, decrypts them — an
//   oracle independent of rumpus's XTS — and read back through cgd as written;
// - every placement leaves the same image, byte for byte;
// - each piece is one cipher call (op counters), and a piece that fails (an errno injected at
//   the cipher's 2nd call) fails its request with that errno: a write writes nothing at all, a
//   read answers nothing; the next request works.

import { createHash } from 'node:crypto';
import { copyFileSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { boot, type Kernel, type UnitInfo } from '../kernel/index.js';
import { PIECE } from '../servers/cgd/crypt.js';
import { luksFormat, type Volume } from '../servers/cgd/luks.js';
import { FAST_KDF, cipherIn } from './lib/cgd.js';
import { seededBytes, tempDir } from './lib/e2fs.js';
import { decryptPayload, fileDevice, hostLuksCrypto } from './lib/luks.js';

const MiB = 1024 * 1024;
const dir = tempDir('rumpus-cgd-pieces-');
const KEY = new TextEncoder().encode('pieces key');
const RUNS = [cipherIn('monolithic', 'main'), cipherIn('monolithic', 'thread'), cipherIn('microkernel', 'pool')];
const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** A fresh LUKS2 container of 4 MiB of payload with `sectorSize`, made by the LUKS library here; its volume. */
async function container(sectorSize: 512 | 4096): Promise<{ img: string; v: Volume }> {
  const img = join(dir, `base-${sectorSize}.img`);
  writeFileSync(img, '');
  truncateSync(img, 16 * MiB + 4 * MiB);
  const dev = fileDevice(img);
  try {
    return { img, v: await luksFormat(dev, hostLuksCrypto(), KEY, { version: 2, sectorSize, kdf: { type: 'pbkdf2', hash: 'sha256', iterations: FAST_KDF.iterations } }) };
  } finally {
    dev.close();
  }
}

/** Boots `run`, attaches `img` through cgd, runs fn on its unit, halts. */
async function withUnit<T>(run: (typeof RUNS)[number], img: string, fn: (k: Kernel, unit: number) => Promise<T>): Promise<T> {
  const k = await boot({ policy: run.policy });
  try {
    const { unit } = await k.call<UnitInfo>('cgd', 'attach', { path: img, key: KEY });
    return await fn(k, unit);
  } finally {
    await k.halt();
  }
}

for (const sectorSize of [512, 4096] as const) {
  t.test(`${sectorSize}-byte sectors: requests of several pieces`, async (t) => {
    const { img: base, v } = await container(sectorSize);
    // A write of whole sectors over 3 pieces, and a commit over 2 that starts and ends inside sectors.
    const whole = { offset: 3 * 4096, data: seededBytes(2 * PIECE + 8192, 1) };
    const partial = { offset: 2 * PIECE + 5 * 512, data: seededBytes(PIECE + 3 * 512, 2) };
    const span = partial.offset + partial.data.length;
    const expected = decryptPayload(base, v.key, v, 0, span);
    expected.set(whole.data, whole.offset);
    expected.set(partial.data, partial.offset);
    const images: string[] = [];
    for (const run of RUNS) {
      const img = join(dir, `${sectorSize}-${images.length}.img`);
      copyFileSync(base, img);
      const { readBack, calls } = await withUnit(run, img, async (k, unit) => {
        const before = (await k.callCounts()).cipher ?? 0;
        await k.call('cgd', 'write', { unit, offset: whole.offset, data: whole.data });
        const calls = ((await k.callCounts()).cipher ?? 0) - before;
        await k.call('cgd', 'commit', { unit, writes: [partial] });
        return { readBack: await k.call<Uint8Array>('cgd', 'read', { unit, offset: 0, length: span }), calls };
      });
      t.equal(calls, 3, `${run.name}: a write of ${whole.data.length} bytes is 3 cipher calls of at most ${PIECE} bytes`);
      t.equal(hex(readBack), hex(expected), `${run.name}: read back through cgd as written`);
      t.equal(hex(decryptPayload(img, v.key, v, 0, span)), hex(expected), `${run.name}: node:crypto's aes-xts decrypts the payload, unit by unit, into what was written`);
      images.push(img);
    }
    t.same(images.map(sha), images.map(() => sha(images[0])), 'every placement leaves the same image, byte for byte');
  });
}

t.test('a piece that fails fails its request: nothing written, nothing read', async (t) => {
  const { img: base, v } = await container(4096);
  const data = seededBytes(3 * PIECE, 3);
  for (const run of RUNS) {
    const img = join(dir, `fault-${run.name.replace(/[^a-z]+/g, '-')}.img`);
    copyFileSync(base, img);
    await withUnit(run, img, async (k, unit) => {
      await k.inject({ component: 'cipher', type: 'error', errno: 'EPROTO', op: 'encrypt', after: 1 });
      await t.rejects(k.call('cgd', 'write', { unit, offset: 0, data }), { errno: 'EPROTO', message: /cipher\.encrypt: injected EPROTO/ }, `${run.name}: the write fails with the 2nd piece's errno`);
      await k.call('cgd', 'flush', { unit });
      t.equal(sha(img), sha(base), `${run.name}: nothing of the failed write reached the image`);

      await k.call('cgd', 'write', { unit, offset: 0, data });
      await k.inject({ component: 'cipher', type: 'error', errno: 'EPROTO', op: 'decrypt', after: 1 });
      await t.rejects(k.call('cgd', 'read', { unit, offset: 0, length: data.length }), { errno: 'EPROTO', message: /cipher\.decrypt: injected EPROTO/ }, `${run.name}: the read fails with the 2nd piece's errno`);
      t.equal(hex(await k.call<Uint8Array>('cgd', 'read', { unit, offset: 0, length: data.length })), hex(data), `${run.name}: the next read answers what the next write wrote`);
      t.same((await k.faultHits()).cipher, { error: 2 }, `${run.name}: each fault hit one piece`);
    });
    t.equal(hex(decryptPayload(img, v.key, v, 0, data.length)), hex(data), `${run.name}: node:crypto agrees`);
  }
});
