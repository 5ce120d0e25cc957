// The cipher component through the kernel (default monolithic boot): derive, encrypt and decrypt
// give what node:crypto gives computed here independently, and bad arguments are EINVAL naming
// what is wrong. The hyp calls underneath are checked for their own bounds too, and the
// WebAssembly module of aesXts against its source where wabt is installed.

import { spawnSync } from 'node:child_process';
import { createHash, pbkdf2Sync } from 'node:crypto';
import { join } from 'node:path';
import t from 'tap';
import { boot, type Kernel } from '../kernel/index.js';
import { hostHyp } from '../kernel/hyp-host.js';
import { XTS_TWEAKS_WASM } from '../kernel/xts-tweaks.js';
import { xtsPayload } from './lib/luks.js';
import { ALL_POLICIES, policyName } from './lib/policies.js';

const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

t.test('the cipher component under the default boot', async (t) => {
  const k: Kernel = await boot();
  t.teardown(() => k.halt());
  const passphrase = new TextEncoder().encode('correct horse');
  const salt = bytes(32, 7);

  const p = await k.call<Uint8Array>('cipher', 'derive', { kdf: { type: 'pbkdf2', hash: 'sha256', iterations: 1000, salt }, passphrase, length: 64 });
  t.equal(hex(p), pbkdf2Sync(passphrase, salt, 1000, 64, 'sha256').toString('hex'), 'PBKDF2-sha256 as node:crypto');
  const p1 = await k.call<Uint8Array>('cipher', 'derive', { kdf: { type: 'pbkdf2', hash: 'sha1', iterations: 7, salt }, passphrase, length: 20 });
  t.equal(hex(p1), pbkdf2Sync(passphrase, salt, 7, 20, 'sha1').toString('hex'), 'PBKDF2-sha1 as node:crypto');

  // RFC 9106 section 5.3's argon2id test vector needs secret and associated data, which LUKS
  // never uses; the check here is determinism and the output length (cryptsetup agreement is in luks-cryptsetup.ts).
  const argon = { type: 'argon2id', time: 2, memory: 1024, parallel: 2, salt };
  const a1 = await k.call<Uint8Array>('cipher', 'derive', { kdf: argon, passphrase, length: 64 });
  const a2 = await k.call<Uint8Array>('cipher', 'derive', { kdf: argon, passphrase, length: 64 });
  t.equal(a1.length, 64, 'argon2id gives the length asked for');
  t.equal(hex(a1), hex(a2), 'argon2id is deterministic (the op is idempotent)');
  const ai = await k.call<Uint8Array>('cipher', 'derive', { kdf: { ...argon, type: 'argon2i' }, passphrase, length: 64 });
  t.not(hex(ai), hex(a1), 'argon2i differs from argon2id');

  for (const [keyBytes, sectorSize] of [[64, 4096], [32, 512], [64, 512]] as const) {
    const key = bytes(keyBytes, 3);
    const data = bytes(sectorSize * 3, 11);
    const sector = 16;
    const enc = await k.call<Uint8Array>('cipher', 'encrypt', { cipher: 'aes-xts-plain64', key, sector, sectorSize, data });
    // The oracle: a payload whose byte 0 has IV 0, so byte sector*512 has IV `sector`.
    t.equal(hex(enc), hex(xtsPayload('encrypt', key, { offset: 0, sectorSize }, sector * 512, data)), `aes-xts-plain64 (${keyBytes * 4}-bit key, ${sectorSize}-byte units) as node:crypto with plain64 IVs in 512-byte sectors`);
    const dec = await k.call<Uint8Array>('cipher', 'decrypt', { cipher: 'aes-xts-plain64', key, sector, sectorSize, data: enc });
    t.equal(hex(dec), hex(data), 'decrypt inverts encrypt');
  }

  const key = bytes(64, 1);
  const bad: [string, Record<string, unknown>, RegExp][] = [
    ['encrypt', { cipher: 'serpent-xts-plain64', key, sector: 0, sectorSize: 512, data: new Uint8Array(512) }, /unknown cipher 'serpent-xts-plain64'/],
    ['encrypt', { cipher: 'aes-xts-plain64', key: bytes(48, 1), sector: 0, sectorSize: 512, data: new Uint8Array(512) }, /key of 48 bytes/],
    ['encrypt', { cipher: 'aes-xts-plain64', key, sector: 0, sectorSize: 1024, data: new Uint8Array(1024) }, /sector size 1024/],
    ['decrypt', { cipher: 'aes-xts-plain64', key, sector: 0, sectorSize: 512, data: new Uint8Array(700) }, /not whole 512-byte units/],
    ['derive', { kdf: { type: 'scrypt', salt }, passphrase, length: 32 }, /unknown KDF type 'scrypt'/],
    ['derive', { kdf: { type: 'pbkdf2', hash: 'md5', iterations: 1, salt }, passphrase, length: 32 }, /unknown PBKDF2 hash 'md5'/],
    ['derive', { kdf: { type: 'pbkdf2', hash: 'sha256', iterations: 0, salt }, passphrase, length: 32 }, /iterations 0/],
    ['derive', { kdf: { type: 'pbkdf2', hash: 'sha256', iterations: 1, salt }, passphrase, length: 4096 }, /key length 4096/],
    ['derive', { kdf: { ...argon, memory: 8 * 1024 * 1024 }, passphrase, length: 32 }, /memory \(KiB\) 8388608/],
    ['derive', { kdf: { ...argon, parallel: 0 }, passphrase, length: 32 }, /parallel 0/],
    ['derive', { kdf: { ...argon, salt: new Uint8Array(4) }, passphrase, length: 32 }, /salt of 4 bytes/],
    ['derive', { kdf: 'pbkdf2', passphrase, length: 32 }, /must be an object/],
  ];
  for (const [op, args, message] of bad) {
    await t.rejects(k.call('cipher', op, args), { errno: 'EINVAL', message }, `${op}: ${message.source}`);
  }
});

// argon2 is a native add-on: it must load in a worker thread and a child process as in the
// kernel's own thread, and give the same bytes everywhere.
t.test('the cipher component gives the same bytes under every policy', async (t) => {
  const results: string[] = [];
  for (const policy of ALL_POLICIES) {
    const k: Kernel = await boot({ policy });
    try {
      const salt = bytes(16, 5);
      const a = await k.call<Uint8Array>('cipher', 'derive', { kdf: { type: 'argon2id', time: 1, memory: 256, parallel: 1, salt }, passphrase: bytes(8, 1), length: 32 });
      const e = await k.call<Uint8Array>('cipher', 'encrypt', { cipher: 'aes-xts-plain64', key: bytes(32, 2), sector: 3, sectorSize: 512, data: bytes(1024, 4) });
      await t.rejects(k.call('cipher', 'encrypt', { cipher: 'des', key: bytes(32, 2), sector: 0, sectorSize: 512, data: bytes(512, 4) }), { errno: 'EINVAL', message: /unknown cipher 'des'/ }, `${policyName(policy)}: EINVAL`);
      results.push(hex(a) + hex(e));
    } finally {
      await k.halt();
    }
  }
  t.equal(new Set(results).size, 1, 'identical results under every policy');
});

t.test('hyp aesXts agrees with the XTS of OpenSSL unit for unit: many units, high sectors, data at any offset', async (t) => {
  const hyp = hostHyp('test');
  for (const [keyBytes, sectorSize] of [[64, 4096], [32, 4096], [64, 512], [32, 512]] as const) {
    const key = bytes(keyBytes, 5);
    // Units over two of aesXts's 64 KiB ECB updates and into a third.
    const units = (128 * 1024) / sectorSize + 1;
    for (const sector of [0, 7 * 8, 2 ** 32 - 8, 2 ** 40 + 8]) {
      const data = bytes(sectorSize * units, sector % 251);
      const enc = hyp.aesXts('encrypt', key, sector, sectorSize, data);
      t.equal(hex(enc), hex(xtsPayload('encrypt', key, { offset: 0, sectorSize }, sector * 512, data)), `${keyBytes * 4}-bit key, ${sectorSize}-byte units, from sector ${sector}`);
      t.equal(hex(hyp.aesXts('decrypt', key, sector, sectorSize, enc)), hex(data), 'decrypt inverts it');
    }
  }
  // Bytes that arrived from another domain can start at any offset of their buffer.
  const key = bytes(64, 6);
  const backing = bytes(4096 + 3, 9);
  const odd = backing.subarray(3);
  t.equal(hex(hyp.aesXts('encrypt', key, 8, 4096, odd)), hex(xtsPayload('encrypt', key, { offset: 0, sectorSize: 4096 }, 8 * 512, odd)), 'data at an odd byte offset');
  t.equal(hyp.aesXts('encrypt', key, 0, 512, new Uint8Array(0)).length, 0, 'no units, no bytes');
});

t.test('hyp aesXts keeps each key apart: more keys than it keeps ciphers for, each used again after the others', async (t) => {
  const hyp = hostHyp('test');
  const keys = Array.from({ length: 9 }, (_, i) => bytes(i % 2 ? 32 : 64, 40 + i));
  const data = bytes(3 * 4096, 3);
  let wrong = 0;
  for (let round = 0; round < 2; round++) {
    for (const key of keys) {
      const enc = hyp.aesXts('encrypt', key, 16, 4096, data);
      if (hex(enc) !== hex(xtsPayload('encrypt', key, { offset: 0, sectorSize: 4096 }, 16 * 512, data))) wrong++;
      if (hex(hyp.aesXts('decrypt', key, 16, 4096, enc)) !== hex(data)) wrong++;
    }
  }
  t.equal(wrong, 0, `${keys.length} keys, two rounds, every encryption and decryption as OpenSSL's`);
});

t.test('hyp cryptography checks its own arguments', async (t) => {
  const hyp = hostHyp('test');
  t.equal(hex(hyp.digest('sha256', new TextEncoder().encode('abc'))), createHash('sha256').update('abc').digest('hex'), 'sha256 digest');
  t.equal(hyp.digest('ripemd160', new Uint8Array(0)).length, 20, 'ripemd160 (old LUKS1 headers) is there');
  t.throws(() => hyp.digest('md4' as never, new Uint8Array(0)), { errno: 'EINVAL', message: /unknown hash 'md4'/ });
  t.throws(() => hyp.aesXts('encrypt', bytes(16, 1), 0, 512, new Uint8Array(512)), { errno: 'EINVAL', message: /key of 16 bytes/ });
  t.throws(() => hyp.aesXts('encrypt', new Uint8Array(64), 0, 512, new Uint8Array(512)), { errno: 'EINVAL', message: /aesXts: the two halves of the key are equal/ }, 'XTS refuses a key whose halves are equal');
  await t.rejects(hyp.pbkdf2('sha256', new Uint8Array(1), new Uint8Array(8), 2 ** 32, 32), { errno: 'EINVAL', message: /iterations/ });
  await t.rejects(hyp.argon2({ type: 'argon2d' as never, time: 1, memory: 64, parallel: 1 }, new Uint8Array(1), new Uint8Array(8), 32), { errno: 'EINVAL', message: /unknown type 'argon2d'/ });
  // The derivation runs off the calling thread: a timer set before it fires while it runs.
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  await hyp.argon2({ type: 'argon2id', time: 3, memory: 64 * 1024, parallel: 1 }, new Uint8Array(1), new Uint8Array(8), 32);
  clearInterval(timer);
  t.ok(ticks > 0, 'the event loop kept turning during an argon2 derivation');
});

// wabt's wat2wasm (.ci/run installs it): where it is missing, this test is skipped.
const wat2wasm = spawnSync('wat2wasm', ['--version']).status === 0;
t.test('the embedded tweak module is what kernel/xts-tweaks.wat builds', { skip: wat2wasm ? false : 'wat2wasm (wabt) is not installed' }, async (t) => {
  const built = spawnSync('wat2wasm', [join(import.meta.dirname, '..', 'kernel', 'xts-tweaks.wat'), '--output=-']);
  t.equal(built.status, 0, 'wat2wasm builds it');
  t.equal(built.stdout.toString('base64'), XTS_TWEAKS_WASM, 'byte for byte: rebuild XTS_TWEAKS_WASM after changing the .wat');
});
