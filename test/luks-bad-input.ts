// LUKS headers that are damaged or say what rumpus does not do: a damaged primary LUKS2 header
// (checksum, magic, JSON) opens from the secondary and says so, as does an older one (the newer
// copy wins), and the next header write repairs it; both damaged is EUCLEAN naming
// what is wrong with each; an unknown cipher, KDF or hash is EINVAL naming it; a payload that
// does not fit the device is EINVAL; every command (open, dump, addkey, removekey) refuses
// what open refuses, the same way, writing nothing — LUKS1 keyslot areas that overlap or leave
// the space before the payload, as cryptsetup's LUKS_check_keyslots, and LUKS2 JSON nested
// deeper than json-c's limit among them; anything unexpected is EIO; and a seeded fuzz of
// header bytes and JSON values never throws anything but a SysError.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, openSync, readFileSync, readSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { SysError } from '../kernel/index.js';
import { luksAddKey, luksDump, luksFormat, luksOpen, luksRemoveKey, luksVersion, type FormatOptions, type LuksCrypto, type RawDevice } from '../servers/cgd/luks.js';
import { MAX_JSON_DEPTH, nestsDeeper } from '../servers/cgd/luks2-json.js';
import { cryptsetup, cryptsetupAccepts, cryptsetupAddKey, cryptsetupDump, cryptsetupFormat, fileDevice, keyFile, hostLuksCrypto, luksTempDir, noCryptsetup, patchFile, rewriteLuks2Json } from './lib/luks.js';

const crypto = hostLuksCrypto();
const pw = new TextEncoder().encode('pw');
const dir = luksTempDir();

/** A fresh cryptsetup container with a fast keyslot (PBKDF2, 1000 iterations). */
function container(name: string, type: 'luks1' | 'luks2' = 'luks2'): string {
  const img = join(dir, name);
  cryptsetupFormat(img, 'pw', { type, pbkdf: 'pbkdf2' });
  return img;
}

async function open(img: string) {
  const dev = fileDevice(img);
  try {
    return await luksOpen(dev, crypto, pw);
  } finally {
    dev.close();
  }
}

t.test('luksVersion reads the magic and version', async (t) => {
  const start = new Uint8Array(512);
  t.equal(luksVersion(start), null, 'zeros');
  start.set([0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe, 0, 2]);
  t.equal(luksVersion(start), 2);
  start[7] = 1;
  t.equal(luksVersion(start), 1);
  start[7] = 3;
  t.equal(luksVersion(start), null, 'version 3');
});

t.test('a damaged LUKS2 header copy', { skip: noCryptsetup }, async (t) => {
  const damages: [string, (img: string) => void, RegExp][] = [
    ['a flipped byte in the JSON area', (img) => patchFile(img, 4096 + 10, 'X'), /bad checksum/],
    ['no magic', (img) => patchFile(img, 0, 'XXXXXX'), /no LUKS2 magic/],
    ['JSON that breaks the spec', (img) => rewriteLuks2Json(img, (j) => { j.keyslots['0'].area.offset = '4096'; }, ['primary']), /its JSON: keyslot 0 area 4096 … \d+ lies outside the keyslots area/],
    ['JSON that does not parse', (img) => rewriteLuks2Json(img, (j) => { j.config.json_size = 'x'; }, ['primary']), /its JSON: config json_size 'x' is not a decimal number/],
  ];
  for (const [name, damage, why] of damages) {
    const img = container('damaged.img');
    const good = await open(img);
    damage(img);
    const v = await open(img);
    t.equal(Buffer.from(v.key).toString('hex'), Buffer.from(good.key).toString('hex'), `${name} in the primary: opens from the secondary`);
    t.match(v.notes, [new RegExp(`^the primary LUKS2 header is damaged \\(${why.source.replace(/^\//, '')}.*\\); opened from the secondary$`)], 'and says so');
  }
  const img = container('secondary.img');
  patchFile(img, 16384 + 4096 + 10, 'X');
  t.match((await open(img)).notes, [/^the secondary LUKS2 header is damaged \(bad checksum\); opened from the primary$/], 'a damaged secondary is noted too');

  patchFile(img, 4096 + 10, 'X');
  await t.rejects(open(img), { errno: 'EUCLEAN', message: /^cgd: both LUKS2 headers are damaged: the primary \(bad checksum\), the secondary \(bad checksum\)$/ }, 'both damaged: EUCLEAN');
});

t.test('the newer copy wins, and a header write repairs a damaged copy', { skip: noCryptsetup }, async (t) => {
  const img = container('seqid.img');
  const oldPrimary = readFileSync(img).subarray(0, 16384);
  const dev = fileDevice(img);
  try {
    t.equal(await luksAddKey(dev, crypto, pw, new TextEncoder().encode('new'), { kdf: { type: 'pbkdf2', iterations: 1000 } }), 1);
    patchFile(img, 0, oldPrimary); // the primary as it was before: valid, but one seqid behind
    const v = await luksOpen(dev, crypto, new TextEncoder().encode('new'));
    t.equal(v.keyslot, 1, 'the keyslot only the newer copy has opens');
    t.match(v.notes, [/^the primary LUKS2 header is older \(seqid \d+ < \d+\); opened from the secondary$/], 'and the notes say which copy was used');

    patchFile(img, 4096 + 10, 'X');
    t.match((await luksOpen(dev, crypto, pw)).notes, [/primary LUKS2 header is damaged \(bad checksum\)/], 'a damaged primary');
    await luksRemoveKey(dev, crypto, new TextEncoder().encode('new'));
    const after = await luksOpen(dev, crypto, pw);
    t.same(after.notes, [], 'removing a keyslot wrote both copies anew: nothing to note');
    t.ok(cryptsetupAccepts(img, 'pw'), 'cryptsetup agrees');
    t.match(cryptsetupDump(img), /Epoch:\s+\d+/, 'and reads the header');
    await t.rejects(luksRemoveKey(dev, crypto, new TextEncoder().encode('wrong')), { errno: 'EACCES', message: /no keyslot opens/ }, 'removing with a wrong passphrase is EACCES');
  } finally {
    dev.close();
  }
});

t.test('what rumpus does not do is EINVAL naming it', { skip: noCryptsetup }, async (t) => {
  const cases: [string, (j: Record<string, any>) => void, RegExp][] = [
    ['a cipher', (j) => { j.segments['0'].encryption = 'serpent-xts-plain64'; }, /segment 0 encryption is 'serpent-xts-plain64', a cipher rumpus does not have/],
    ['a keyslot cipher', (j) => { j.keyslots['0'].area.encryption = 'twofish-cbc-essiv:sha256'; }, /keyslot 0 area encryption is 'twofish-cbc-essiv:sha256'/],
    ['a KDF', (j) => { j.keyslots['0'].kdf.type = 'scrypt'; }, /keyslot 0 kdf type is 'scrypt', a KDF rumpus does not have/],
    ['a PBKDF2 hash', (j) => { j.keyslots['0'].kdf.hash = 'whirlpool'; }, /keyslot 0 kdf hash is 'whirlpool', a hash rumpus does not have/],
    ['a digest hash', (j) => { j.digests['0'].hash = 'md5'; }, /digest 0 hash is 'md5'/],
    ['an AF hash', (j) => { j.keyslots['0'].af.hash = 'streebog512'; }, /keyslot 0 af hash is 'streebog512'/],
    ['integrity', (j) => { j.segments['0'].integrity = { type: 'hmac(sha256)' }; }, /integrity protection/],
    ['a requirement', (j) => { j.config.requirements = { mandatory: ['online-reencrypt-v2'] }; }, /requires online-reencrypt-v2/],
    ['a sector size', (j) => { j.segments['0'].sector_size = 2048; }, /sector_size 2048: rumpus encrypts 512- or 4096-byte sectors/],
  ];
  for (const [name, edit, message] of cases) {
    const img = container('unsupported.img');
    rewriteLuks2Json(img, edit);
    await t.rejects(open(img), { errno: 'EINVAL', message }, `LUKS2: ${name}`);
  }
  const l1 = container('unsupported1.img', 'luks1');
  patchFile(l1, 8, 'serpent\0');
  await t.rejects(open(l1), { errno: 'EINVAL', message: /cipher is 'serpent-xts-plain64', which rumpus does not have/ }, 'LUKS1: a cipher');
  const h1 = container('hash1.img', 'luks1');
  patchFile(h1, 72, 'whirlpool\0');
  await t.rejects(open(h1), { errno: 'EINVAL', message: /hash is 'whirlpool'/ }, 'LUKS1: a hash');
  // cryptsetup cannot make a serpent container on a file here: its format checks the cipher
  // through the device mapper, so the tests above edit a header it made.
});

t.test('format options rumpus does not do are EINVAL, before anything is written', async (t) => {
  const img = join(dir, 'options.img');
  writeFileSync(img, new Uint8Array(0));
  truncateSync(img, 20 << 20);
  const dev = fileDevice(img);
  const refused: [string, FormatOptions, RegExp][] = [
    ['a version', { version: 3 as never }, /LUKS version 3/],
    ['a cipher', { cipher: 'serpent-xts-plain64' }, /unknown cipher 'serpent-xts-plain64'/],
    ['a key size', { keyBytes: 48 as never }, /a key of 48 bytes/],
    ['a sector size', { sectorSize: 1024 as never }, /sector size 1024/],
    ['a KDF', { kdf: { type: 'scrypt' as never } }, /unknown KDF 'scrypt'/],
    ['a hash', { kdf: { type: 'pbkdf2', hash: 'md5' as never } }, /unknown PBKDF2 hash 'md5'/],
    ['absurd memory', { kdf: { type: 'argon2id', memory: 16 * 1024 * 1024 } }, /memory \(KiB\) 16777216/],
    ['a long label', { label: 'x'.repeat(48) }, /label is longer than 47 bytes/],
    ['a UUID', { uuid: 'not-a-uuid' }, /'not-a-uuid' is not a UUID/],
    ['argon2 in LUKS1', { version: 1, kdf: { type: 'argon2id' } }, /LUKS1 keyslots use pbkdf2, not argon2id/],
    ['4096-byte sectors in LUKS1', { version: 1, sectorSize: 4096 }, /LUKS1 encrypts 512-byte sectors only/],
  ];
  try {
    for (const [name, options, message] of refused) {
      await t.rejects(luksFormat(dev, crypto, pw, options), { errno: 'EINVAL', message }, name);
    }
  } finally {
    dev.close();
  }
  t.ok(readFileSync(img).every((b) => b === 0), 'the device is untouched');
});

t.test('a payload that does not fit the device is EINVAL', { skip: noCryptsetup }, async (t) => {
  const beyond = container('beyond.img');
  rewriteLuks2Json(beyond, (j) => { j.segments['0'].offset = String(1 << 30); });
  await t.rejects(open(beyond), { errno: 'EINVAL', message: /payload offset 1073741824 is beyond the device \(20971520 bytes\)/ }, 'LUKS2: offset past the end');
  const long = container('long.img');
  rewriteLuks2Json(long, (j) => { j.segments['0'].size = String(64 << 20); });
  await t.rejects(open(long), { errno: 'EINVAL', message: /runs past the device's end/ }, 'LUKS2: a fixed size past the end');
  const l1 = container('beyond1.img', 'luks1');
  patchFile(l1, 104, Uint8Array.of(0, 1, 0, 0)); // 65536 sectors: 32 MiB
  await t.rejects(open(l1), { errno: 'EINVAL', message: /payload offset 33554432 is beyond the device/ }, 'LUKS1: offset past the end');
  const zeros = join(dir, 'zeros.img');
  cryptsetupFormat(zeros, 'pw', { pbkdf: 'pbkdf2' });
  patchFile(zeros, 0, new Uint8Array(64 * 1024));
  await t.rejects(open(zeros), { errno: 'EINVAL', message: /not a LUKS container/ }, 'no header at all');
});

const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

/**
 * Open, dump, addkey and removekey of `img` each refused with `errno` and a sentence matching
 * `message` — every command checks the header as open does — and the image unchanged.
 */
async function refusedByAll(t: Test, img: string, errno: string, message: RegExp): Promise<void> {
  const before = sha(img);
  const dev = fileDevice(img);
  try {
    const commands: [string, () => Promise<unknown>][] = [
      ['open', () => luksOpen(dev, crypto, pw)],
      ['dump', () => luksDump(dev, crypto.hyp)],
      ['addkey', () => luksAddKey(dev, crypto, pw, new TextEncoder().encode('new'), { kdf: { type: 'pbkdf2', iterations: 1000 } })],
      ['removekey', () => luksRemoveKey(dev, crypto, pw)],
    ];
    for (const [name, command] of commands) await t.rejects(command(), { errno, message }, `${name} refuses it`);
  } finally {
    dev.close();
  }
  t.equal(sha(img), before, 'and nothing was written');
}

/** LUKS1 keyslot `slot`'s 48-byte entry starts here; its material offset (sectors) is at +40, its stripes at +44. */
const luks1Keyslot = (slot: number) => 208 + 48 * slot;
const u32 = (n: number) => Uint8Array.of(n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255);

t.test('LUKS1 keyslot areas are checked as cryptsetup checks them, by every command', { skip: noCryptsetup }, async (t) => {
  const damages: [string, (img: string) => void, RegExp][] = [
    // A free keyslot over a keyslot in use: addkey would write the new material over it.
    ['a free keyslot sharing keyslot 0\'s material', (img) => patchFile(img, luks1Keyslot(1) + 40, readFileSync(img).subarray(luks1Keyslot(0) + 40, luks1Keyslot(0) + 44)), /the material of keyslots 0 and 1 overlaps/],
    // Two keyslots in use on one area: removing one would wipe the other.
    ['two keyslots in use sharing one area', (img) => patchFile(img, luks1Keyslot(1), readFileSync(img).subarray(luks1Keyslot(0), luks1Keyslot(1))), /the material of keyslots 0 and 1 overlaps/],
    ['a free keyslot\'s material past the payload', (img) => patchFile(img, luks1Keyslot(7) + 40, u32(4096)), /keyslot 7's material \(2097152 … \d+\) is outside the space between the header and the payload/],
    ['a free keyslot\'s material over the header', (img) => patchFile(img, luks1Keyslot(7) + 40, u32(1)), /keyslot 7's material \(512 … \d+\) is outside/],
    ['a keyslot of 1 stripe', (img) => patchFile(img, luks1Keyslot(7) + 44, u32(1)), /keyslot 7 has 1 stripes, not 4000/],
  ];
  for (const [name, damage, message] of damages) {
    const img = container('areas1.img', 'luks1');
    const good = readFileSync(img).subarray(0, 1024);
    damage(img);
    t.notOk(cryptsetupAccepts(img, 'pw'), `${name}: cryptsetup refuses it`);
    await refusedByAll(t, img, 'EUCLEAN', new RegExp(`^cgd: the LUKS1 header is damaged: ${message.source}`));
    patchFile(img, 0, good);
    t.equal((await open(img)).keyslot, 0, 'the header put back, keyslot 0 still opens: its material was never touched');
  }
});

t.test('a LUKS2 payload past the device is refused by every command, as open refuses it', { skip: noCryptsetup }, async (t) => {
  const img = container('beyond-all.img');
  rewriteLuks2Json(img, (j) => { j.segments['0'].offset = String(1 << 30); });
  await refusedByAll(t, img, 'EINVAL', /^cgd: the payload offset 1073741824 is beyond the device/);
  const long = container('long-all.img');
  rewriteLuks2Json(long, (j) => { j.segments['0'].size = String(64 << 20); });
  await refusedByAll(t, long, 'EINVAL', /^cgd: the payload \(67108864 bytes at \d+\) runs past the device's end/);
});

t.test('LUKS2 JSON nesting is bounded before it is parsed', async (t) => {
  t.notOk(nestsDeeper('{"a":[[{"b":"x"}]]}', 4), 'depth 4 is within 4');
  t.ok(nestsDeeper('{"a":[[{"b":[]}]]}', 4), 'depth 5 is beyond 4');
  // Strings holding brackets, an escaped quote, and an escaped backslash just before the closing quote.
  const tricky = JSON.stringify({ s: '[[[["{{', t: 'x\\', u: '\\"[', a: [[1]] });
  t.notOk(nestsDeeper(tricky, 3), 'brackets inside strings do not count');
  t.ok(nestsDeeper(tricky, 2), 'those outside do');
});

/** Rewrites both JSON copies of a container whose header copies are `hdrSize` bytes, fixing their checksums. */
function rewriteJsonText(img: string, hdrSize: number, edit: (text: string) => string): void {
  const fd = openSync(img, 'r+');
  try {
    for (const offset of [0, hdrSize]) {
      const hdr = Buffer.alloc(hdrSize);
      readSync(fd, hdr, 0, hdrSize, offset);
      const area = hdr.subarray(4096);
      const text = edit(area.subarray(0, area.indexOf(0)).toString('utf8'));
      area.fill(0);
      area.write(text, 'utf8');
      hdr.fill(0, 448, 512);
      createHash('sha256').update(hdr).digest().copy(hdr, 448);
      writeSync(fd, hdr, 0, hdrSize, offset);
    }
  } finally {
    closeSync(fd);
  }
}

t.test('deeply nested LUKS2 JSON is EINVAL for every command, nothing written', { skip: noCryptsetup }, async (t) => {
  // 1,500,000 nested arrays in a 4 MiB header cryptsetup made: cloning or serialising that
  // recursively runs out of stack; cryptsetup's json-c refuses it too.
  const img = join(dir, 'deep.img');
  execFileSync('truncate', ['-s', '40M', img]);
  cryptsetup(['luksFormat', '--type', 'luks2', '--pbkdf', 'pbkdf2', '--pbkdf-force-iterations', '1000',
    '--luks2-metadata-size', '4096k', '--luks2-keyslots-size', '8M', '--key-file', keyFile(img, 'pw'), img]);
  const depth = 1_500_000;
  rewriteJsonText(img, 4 << 20, (text) => `${text.slice(0, -1)},"x":${'['.repeat(depth)}${']'.repeat(depth)}}`);
  t.throws(() => cryptsetupDump(img), 'cryptsetup refuses it');
  await refusedByAll(t, img, 'EINVAL', new RegExp(`^cgd: the LUKS2 metadata nests deeper than ${MAX_JSON_DEPTH} levels`));

  const shallow = container('shallow.img');
  rewriteLuks2Json(shallow, (j) => { j.tokens['0'] = { type: 'rumpus-test', keyslots: [], note: `${'['.repeat(1000)}{"` }; });
  t.equal((await open(shallow)).keyslot, 0, 'brackets in a string are no nesting: the container opens');
  t.ok(cryptsetupAccepts(shallow, 'pw'), 'as in cryptsetup');
});

t.test('LUKS2 removekey keeps a keyslot that opens the data: one no digest binds does not count', { skip: noCryptsetup }, async (t) => {
  const img = container('unbound.img');
  cryptsetupAddKey(img, 'pw', 'other', { pbkdf: 'pbkdf2' });
  rewriteLuks2Json(img, (j) => { j.digests['0'].keyslots = ['0']; }); // keyslot 1 opens nothing now
  const before = sha(img);
  const dev = fileDevice(img);
  try {
    await t.rejects(luksRemoveKey(dev, crypto, pw), { errno: 'EBUSY', message: /^cgd: keyslot 0 is the last one/ });
  } finally {
    dev.close();
  }
  t.equal(sha(img), before, 'nothing was written');
});

t.test('an unexpected failure inside the library is a SysError (EIO), not a raw exception', async (t) => {
  const broken: RawDevice = {
    size: 40 << 20,
    read: async () => { throw new TypeError('a bug'); },
    write: async () => { throw new TypeError('a bug'); },
  };
  for (const [name, command] of [
    ['open', () => luksOpen(broken, crypto, pw)],
    ['dump', () => luksDump(broken, crypto.hyp)],
    ['addkey', () => luksAddKey(broken, crypto, pw, pw)],
    ['removekey', () => luksRemoveKey(broken, crypto, pw)],
    ['format', () => luksFormat(broken, crypto, pw, { kdf: { type: 'pbkdf2', iterations: 1000 } })],
  ] as const) {
    const err = await command().catch((e: unknown) => e);
    t.ok(err instanceof SysError, `${name}: a SysError`);
    t.match(err, { errno: 'EIO', message: /^cgd: an unexpected failure in the LUKS code \(TypeError: a bug\)$/ }, `${name}: EIO naming the failure`);
  }
});

/** A device over bytes in memory that refuses (with a plain Error, as a bug) any read outside them. */
function memoryDevice(bytes: Uint8Array): RawDevice {
  return {
    size: bytes.length,
    async read(offset, length) {
      if (offset < 0 || offset + length > bytes.length || offset % 512 !== 0 || length % 512 !== 0) throw new Error(`read ${offset}+${length} outside the device or unaligned`);
      return bytes.slice(offset, offset + length);
    },
    async write() {
      throw new Error('luksOpen wrote');
    },
  };
}

/** A small deterministic generator (mulberry32), so a failing case repeats from its seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** PBKDF2 iterations, or argon2 passes × KiB, that the fuzz's KDF computes (the containers ask 1000). */
const FUZZ_KDF_BUDGET = 100_000;

const ODD_VALUES: unknown[] = [-1, 0, 1, 7, 4097, 2 ** 53, 1.5, 'x', '', '-1', '00', '4097', null, true, {}, [], ['0'], 'dynamic', 'AAAA', 'sha1'];

/** Every path to a value inside a JSON object. */
function paths(value: unknown, prefix: string[] = []): string[][] {
  if (typeof value !== 'object' || value === null) return [prefix];
  return [prefix, ...Object.entries(value).flatMap(([k, v]) => paths(v, [...prefix, k]))];
}

t.test('a seeded fuzz of LUKS2 and LUKS1 headers throws nothing but SysErrors', { skip: noCryptsetup }, async (t) => {
  const seed = Number(process.env.RUMPUS_SEED ?? Date.now() % 1e9);
  t.comment(`seed ${seed} (RUMPUS_SEED=${seed} repeats this run)`);
  const random = rng(seed);
  // A changed iteration count or argon2 time can ask for hours of KDF work (a flipped byte of a
  // LUKS1 iteration field, up to 2^31): a valid header, only slow. The fuzz is about parsing, so
  // its KDF refuses work past a budget 100 times what these containers ask, as a SysError.
  const fuzzCrypto: LuksCrypto = {
    ...crypto,
    derive: (kdf, passphrase, length) => {
      const cost = kdf.type === 'pbkdf2' ? kdf.iterations : kdf.time * kdf.memory;
      if (cost > FUZZ_KDF_BUDGET) throw new SysError('E2BIG', `cgd: fuzz: a KDF of cost ${cost} is past the test's budget`);
      return crypto.derive(kdf, passphrase, length);
    },
  };
  const pick = <T>(xs: T[]): T => xs[Math.floor(random() * xs.length)];
  const errnos = new Map<string, number>();
  const deadline = Date.now() + 30_000;
  let runs = 0;
  for (const type of ['luks2', 'luks1'] as const) {
    const img = container(`fuzz-${type}.img`, type);
    const original = readFileSync(img);
    for (let i = 0; i < 100 && Date.now() < deadline; i++, runs++) {
      const bytes = new Uint8Array(original);
      if (type === 'luks2' && random() < 0.5) {
        // A JSON value changed, and the checksums made right: the checker, not the checksum, must catch it.
        const scratch = join(dir, 'fuzz-json.img');
        writeFileSync(scratch, bytes.subarray(0, 32768)); // both 16 KiB header copies
        const copies = random() < 0.5 ? ['primary', 'secondary'] as const : ['primary'] as const;
        rewriteLuks2Json(scratch, (j) => {
          const path = pick(paths(j).filter((p) => p.length > 0));
          let at: any = j;
          for (const k of path.slice(0, -1)) at = at[k];
          if (random() < 0.2) delete at[path[path.length - 1]];
          else at[path[path.length - 1]] = pick(ODD_VALUES);
        }, [...copies]);
        bytes.set(readFileSync(scratch), 0);
      } else {
        const span = type === 'luks2' ? 32768 : 1024;
        for (let n = 1 + Math.floor(random() * 8); n > 0; n--) bytes[Math.floor(random() * span)] = Math.floor(random() * 256);
      }
      const dev = memoryDevice(bytes);
      for (const attempt of [() => luksOpen(dev, fuzzCrypto, pw), () => luksDump(dev, crypto.hyp)]) {
        try {
          await attempt();
          errnos.set('ok', (errnos.get('ok') ?? 0) + 1);
        } catch (err) {
          if (!(err instanceof SysError)) {
            t.fail(`seed ${seed}, ${type} run ${i}: threw ${(err as Error).stack}`);
            return;
          }
          if (!err.message.startsWith('cgd: ')) t.fail(`seed ${seed}, ${type} run ${i}: '${err.message}' does not start with cgd:`);
          if (err.errno === 'EIO') t.fail(`seed ${seed}, ${type} run ${i}: an unexpected failure: ${err.message}`);
          errnos.set(err.errno, (errnos.get(err.errno) ?? 0) + 1);
        }
      }
    }
  }
  t.comment(`${runs} runs: ${[...errnos].map(([e, n]) => `${e} ${n}`).join(', ')}`);
  t.ok(runs > 0, 'the fuzz ran');
});
