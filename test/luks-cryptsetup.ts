// cryptsetup and rumpus agree on LUKS both ways (cryptsetup 2.x on plain files, no device mapper):
// containers cryptsetup makes — LUKS1 and LUKS2, PBKDF2 / argon2i / argon2id, 256- and 512-bit
// keys, several keyslots — open in rumpus with the volume key cryptsetup dumps; containers rumpus
// makes pass `cryptsetup luksDump` and `open --test-passphrase`, also after rumpus adds and
// removes keyslots. A wrong passphrase is EACCES and writes nothing.

import { createHash } from 'node:crypto';
import { readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { luksAddKey, luksDump, luksFormat, luksOpen, luksRemoveKey, type FormatOptions } from '../servers/cgd/luks.js';
import {
  cryptsetupAccepts, cryptsetupAddKey, cryptsetupDump, cryptsetupFormat, dumpVolumeKey, fileDevice, hostLuksCrypto,
  luksTempDir, noCryptsetup, type CryptsetupFormat,
} from './lib/luks.js';

const crypto = hostLuksCrypto();
const enc = (s: string) => new TextEncoder().encode(s);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const fileHash = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
const dir = luksTempDir();

/** The UUID line of cryptsetup's dump. */
const dumpedUuid = (img: string) => /UUID:\s*(\S+)/.exec(cryptsetupDump(img))?.[1];

t.test('containers cryptsetup makes open in rumpus', { skip: noCryptsetup }, async (t) => {
  const cases: [string, CryptsetupFormat, { offset: number; sectorSize: number }][] = [
    ['LUKS2 argon2id, 512-bit key, 4096-byte sectors', { type: 'luks2', pbkdf: 'argon2id' }, { offset: 16 << 20, sectorSize: 4096 }],
    ['LUKS2 argon2i, 256-bit key, 512-byte sectors', { type: 'luks2', pbkdf: 'argon2i', keySize: 256, sectorSize: 512 }, { offset: 16 << 20, sectorSize: 512 }],
    ['LUKS2 pbkdf2-sha256, 512-bit key', { type: 'luks2', pbkdf: 'pbkdf2' }, { offset: 16 << 20, sectorSize: 4096 }],
    ['LUKS2 pbkdf2-sha512, 256-bit key', { type: 'luks2', pbkdf: 'pbkdf2', hash: 'sha512', keySize: 256 }, { offset: 16 << 20, sectorSize: 4096 }],
    ['LUKS1 pbkdf2-sha256, 512-bit key', { type: 'luks1', pbkdf: 'pbkdf2' }, { offset: 2 << 20, sectorSize: 512 }],
    ['LUKS1 pbkdf2-sha1, 256-bit key', { type: 'luks1', pbkdf: 'pbkdf2', hash: 'sha1', keySize: 256 }, { offset: 2 << 20, sectorSize: 512 }],
  ];
  for (const [name, options, layout] of cases) {
    const img = join(dir, 'cs.img');
    // A passphrase with a newline, a NUL and bytes that are not UTF-8: key files are exact bytes.
    const passphrase = Uint8Array.from([...enc('pass\nphrase'), 0, 0xff, 0xfe]);
    cryptsetupFormat(img, passphrase, options);
    const dev = fileDevice(img);
    try {
      const v = await luksOpen(dev, crypto, passphrase);
      t.equal(hex(v.key), hex(dumpVolumeKey(img, passphrase)), `${name}: the volume key is cryptsetup's`);
      t.equal(v.key.length * 8, options.keySize ?? 512, `${name}: key size`);
      t.match(v, { version: options.type === 'luks1' ? 1 : 2, cipher: 'aes-xts-plain64', offset: layout.offset, size: dev.size - layout.offset, sectorSize: layout.sectorSize, ivOffset: 0, keyslot: 0, notes: [] }, `${name}: the payload`);
      t.equal(v.uuid, dumpedUuid(img), `${name}: the UUID`);
      const before = fileHash(img);
      await t.rejects(luksOpen(dev, crypto, enc('wrong')), { errno: 'EACCES', message: /^cgd: no keyslot opens with this passphrase$/ }, `${name}: a wrong passphrase is EACCES`);
      t.equal(fileHash(img), before, `${name}: and nothing was written`);
    } finally {
      dev.close();
    }
  }
});

t.test('several keyslots cryptsetup adds each open in rumpus', { skip: noCryptsetup }, async (t) => {
  for (const type of ['luks2', 'luks1'] as const) {
    const img = join(dir, `multi-${type}.img`);
    cryptsetupFormat(img, 'zero', { type, pbkdf: type === 'luks1' ? 'pbkdf2' : 'argon2id' });
    cryptsetupAddKey(img, 'zero', 'one', { pbkdf: 'pbkdf2' });
    if (type === 'luks2') cryptsetupAddKey(img, 'zero', 'two', { pbkdf: 'argon2i' });
    else cryptsetupAddKey(img, 'zero', 'two', { pbkdf: 'pbkdf2', iterations: 2000 });
    const key = hex(dumpVolumeKey(img, 'zero'));
    const dev = fileDevice(img);
    try {
      for (const [slot, passphrase] of ['zero', 'one', 'two'].entries()) {
        const v = await luksOpen(dev, crypto, enc(passphrase));
        t.equal(v.keyslot, slot, `${type}: '${passphrase}' opens keyslot ${slot}`);
        t.equal(hex(v.key), key, `${type}: with the same volume key`);
      }
      const info = await luksDump(dev, crypto.hyp);
      t.same(info.keyslots.map((k) => k.slot), [0, 1, 2], `${type}: luksDump lists the three keyslots`);
    } finally {
      dev.close();
    }
  }
});

/** A fresh file of `size` bytes. */
function blank(name: string, size: number): string {
  const img = join(dir, name);
  writeFileSync(img, '');
  truncateSync(img, size);
  return img;
}

t.test('containers rumpus makes pass cryptsetup, also after adding and removing keyslots', { skip: noCryptsetup }, async (t) => {
  const cases: [string, FormatOptions, RegExp][] = [
    ['LUKS2 argon2id, 512-bit key', { kdf: { type: 'argon2id', time: 2, memory: 16384, parallel: 2 } }, /PBKDF:\s+argon2id[\s\S]*Time cost:\s+2[\s\S]*Memory:\s+16384/],
    ['LUKS2 argon2i, 256-bit key, 512-byte sectors', { keyBytes: 32, sectorSize: 512, kdf: { type: 'argon2i', time: 1, memory: 8192, parallel: 1 } }, /sector: 512 \[bytes\][\s\S]*PBKDF:\s+argon2i/],
    ['LUKS2 pbkdf2, label', { label: 'rumpus', kdf: { type: 'pbkdf2', iterations: 1000 } }, /Label:\s+rumpus[\s\S]*PBKDF:\s+pbkdf2[\s\S]*Iterations:\s+1000/],
    ['LUKS1 pbkdf2, 512-bit key', { version: 1, kdf: { type: 'pbkdf2', iterations: 1000 } }, /Version:\s+1[\s\S]*Cipher name:\s+aes[\s\S]*Cipher mode:\s+xts-plain64[\s\S]*MK bits:\s+512/],
    ['LUKS1 pbkdf2, 256-bit key', { version: 1, keyBytes: 32, kdf: { type: 'pbkdf2', iterations: 1000 } }, /Payload offset:\s+4096[\s\S]*MK bits:\s+256/],
  ];
  for (const [name, options, dumped] of cases) {
    const img = blank('rumpus.img', 20 << 20);
    const dev = fileDevice(img);
    try {
      const v = await luksFormat(dev, crypto, enc('first'), options);
      t.match(cryptsetupDump(img), dumped, `${name}: cryptsetup luksDump reads it`);
      t.ok(cryptsetupAccepts(img, 'first'), `${name}: cryptsetup opens it with the passphrase`);
      t.notOk(cryptsetupAccepts(img, 'wrong'), `${name}: and not with another`);
      t.equal(hex(dumpVolumeKey(img, 'first')), hex(v.key), `${name}: cryptsetup finds rumpus's volume key`);
      t.equal(v.uuid, dumpedUuid(img), `${name}: the UUID`);

      const added = await luksAddKey(dev, crypto, enc('first'), enc('second'), { kdf: options.kdf });
      t.equal(added, 1, `${name}: the new keyslot is 1`);
      t.ok(cryptsetupAccepts(img, 'second') && cryptsetupAccepts(img, 'first'), `${name}: cryptsetup opens it with both passphrases`);
      await t.rejects(luksAddKey(dev, crypto, enc('wrong'), enc('third'), { kdf: options.kdf }), { errno: 'EACCES', message: /no keyslot opens/ }, `${name}: adding a keyslot needs a passphrase that opens`);

      t.equal(await luksRemoveKey(dev, crypto, enc('first')), 0, `${name}: the first keyslot is removed`);
      t.notOk(cryptsetupAccepts(img, 'first'), `${name}: cryptsetup no longer opens it with the removed passphrase`);
      t.ok(cryptsetupAccepts(img, 'second'), `${name}: but does with the other`);
      t.equal(hex(dumpVolumeKey(img, 'second')), hex(v.key), `${name}: the volume key is the same`);
      await t.rejects(luksRemoveKey(dev, crypto, enc('second')), { errno: 'EBUSY', message: /^cgd: keyslot 1 is the last one/ }, `${name}: the last keyslot is not removed`);
      t.ok(cryptsetupAccepts(img, 'second'), `${name}: and still opens`);
      const info = await luksDump(dev, crypto.hyp);
      t.same(info.keyslots.map((k) => k.slot), [1], `${name}: luksDump shows keyslot 1 alone`);
      if (info.version === 2) t.equal(info.seqid, 3, `${name}: each header write raised the seqid (format, add, remove)`);
    } finally {
      dev.close();
    }
  }
});

t.test('a small device gets a 2 MiB payload offset that cryptsetup accepts', { skip: noCryptsetup }, async (t) => {
  const img = blank('small.img', 8 << 20);
  const dev = fileDevice(img);
  try {
    const v = await luksFormat(dev, crypto, enc('pw'), { kdf: { type: 'pbkdf2', iterations: 1000 } });
    t.match(v, { offset: 2 << 20, size: 6 << 20 });
    t.match(cryptsetupDump(img), /offset: 2097152 \[bytes\]/, 'cryptsetup reads the offset');
    t.ok(cryptsetupAccepts(img, 'pw'), 'and opens it');
    for (let i = 1; i < 8; i++) await luksAddKey(dev, crypto, enc('pw'), enc(`pw${i}`), { kdf: { type: 'pbkdf2', iterations: 1000 } });
    t.ok(cryptsetupAccepts(img, 'pw7'), 'eight keyslots fit its keyslots area');
    await t.rejects(luksAddKey(dev, crypto, enc('pw'), enc('pw8'), { kdf: { type: 'pbkdf2', iterations: 1000 } }), { errno: 'ENOSPC', message: /no room for another keyslot/ }, 'a ninth does not');
  } finally {
    dev.close();
  }
  const tiny = blank('tiny.img', 1 << 20);
  const tinyDev = fileDevice(tiny);
  await t.rejects(luksFormat(tinyDev, crypto, enc('pw')), { errno: 'EINVAL', message: /too small/ }, 'a 1 MiB device is too small');
  tinyDev.close();
});
