// The payload's encryption convention, pinned against cryptsetup itself: cryptsetup's offline
// `reencrypt --encrypt` (its userspace encryption, which needs no device mapper) makes
// containers whose payload rumpus decrypts — through the cipher component's code, with the
// Volume's offset, sector size and ivOffset — into the plain bytes cryptsetup was given, for
// 512- and 4096-byte sectors (each 4096-byte unit's plain64 IV is its 512-byte sector number:
// dm-crypt without iv_large_sectors). And what rumpus encrypts at payload offsets, node:crypto
// decrypts with the volume key cryptsetup dumps.

import { randomBytes } from 'node:crypto';
import { truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { luksFormat, luksOpen, type Volume } from '../servers/cgd/luks.js';
import {
  cryptsetupEncrypt, cryptsetupFormat, decryptPayload, dumpVolumeKey, fileDevice, hostLuksCrypto, luksTempDir, noCryptsetup,
  rewriteLuks2Json,
} from './lib/luks.js';

const crypto = hostLuksCrypto();
const enc = (s: string) => new TextEncoder().encode(s);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const dir = luksTempDir();

/** Plain bytes of the payload at `at`, read and decrypted the way cgd will: the cipher code, the Volume's numbers. */
async function readPlain(img: string, v: Volume, at: number, length: number): Promise<Uint8Array> {
  const dev = fileDevice(img);
  try {
    return await crypto.decrypt(v.cipher, v.key, v.ivOffset + at / 512, v.sectorSize, await dev.read(v.offset + at, length));
  } finally {
    dev.close();
  }
}

t.test('rumpus decrypts what cryptsetup encrypted', { skip: noCryptsetup }, async (t) => {
  // LUKS1's reencryption (cryptsetup's legacy code) needs the device mapper, so LUKS2 only:
  // LUKS1's payload is the LUKS2 512-byte case (plain64 of the 512-byte sector, no iv_tweak).
  for (const [type, sectorSize] of [['luks2', 4096], ['luks2', 512]] as const) {
    const img = join(dir, `reenc-${type}-${sectorSize}.img`);
    const plain = randomBytes(40 << 20);
    writeFileSync(img, plain);
    cryptsetupEncrypt(img, 'pw', { sectorSize });
    const dev = fileDevice(img);
    const v = await luksOpen(dev, crypto, enc('pw'));
    dev.close();
    t.match(v, { sectorSize, version: 2 }, `${type} ${sectorSize}: the volume`);
    // A run at the payload's start and one further in (unit 300 and on): every unit's IV counts.
    for (const at of [0, 300 * sectorSize]) {
      const got = await readPlain(img, v, at, 16 * sectorSize);
      t.equal(hex(got), hex(plain.subarray(at, at + 16 * sectorSize)), `${type} ${sectorSize}: 16 units at payload byte ${at} are cryptsetup's plain bytes`);
    }
  }
});

t.test('node:crypto decrypts what rumpus encrypted, with the key cryptsetup dumps', { skip: noCryptsetup }, async (t) => {
  for (const [version, sectorSize] of [[2, 4096], [2, 512], [1, 512]] as const) {
    const img = join(dir, `rumpus-${version}-${sectorSize}.img`);
    writeFileSync(img, '');
    truncateSync(img, 20 << 20);
    const dev = fileDevice(img);
    const v = await luksFormat(dev, crypto, enc('pw'), { version, sectorSize: version === 2 ? sectorSize : undefined, kdf: { type: 'pbkdf2', iterations: 1000 } });
    const data = randomBytes(4 * sectorSize);
    const at = 5 * sectorSize;
    await dev.write(v.offset + at, await crypto.encrypt(v.cipher, v.key, v.ivOffset + at / 512, v.sectorSize, data));
    dev.close();
    const key = dumpVolumeKey(img, 'pw');
    t.equal(hex(decryptPayload(img, key, v, at, data.length)), hex(data), `LUKS${version} ${sectorSize}: node:crypto reads back what rumpus wrote at payload byte ${at}`);
  }
});

t.test("a segment's iv_tweak moves every IV", { skip: noCryptsetup }, async (t) => {
  const img = join(dir, 'tweak.img');
  cryptsetupFormat(img, 'pw', { pbkdf: 'pbkdf2' });
  rewriteLuks2Json(img, (json) => { json.segments['0'].iv_tweak = '1000'; });
  const dev = fileDevice(img);
  const v = await luksOpen(dev, crypto, enc('pw'));
  t.equal(v.ivOffset, 1000, 'Volume.ivOffset is the iv_tweak');
  const data = randomBytes(4096);
  await dev.write(v.offset, await crypto.encrypt(v.cipher, v.key, v.ivOffset, v.sectorSize, data));
  dev.close();
  t.equal(hex(decryptPayload(img, v.key, { ...v, ivOffset: 1000 }, 0, 4096)), hex(data), 'the first unit is encrypted with IV 1000');
  t.not(hex(decryptPayload(img, v.key, { ...v, ivOffset: 0 }, 0, 4096)), hex(data), 'not with IV 0');
});
