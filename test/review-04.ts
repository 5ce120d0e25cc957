// Review of issue 16, defect 4: LUKS1 `addkey` writes the new keyslot's material wherever the
// header says the free keyslot's material is, checking only that it lies before the payload —
// not that it misses the material of the keyslots in use. A header whose disabled keyslot 1
// points at keyslot 0's material (cryptsetup refuses such a header: its LUKS_check_keyslots
// rejects overlapping keyslot areas) opens in rumpus, and `luks addkey` then overwrites
// keyslot 0's material: the old passphrase no longer opens the container, although addkey
// reported success. Bad input must be refused with an errno and a sentence, nothing written.
//
// Reproduce: cryptsetup luksFormat --type luks1 c.img; copy the u32 at byte 296 (keyslot 0's
//   material offset) to byte 344 (keyslot 1's); rumpus luks addkey c.img --key-file k
//   --new-key-file n; rumpus ls --key-file k c.img:/  → "no keyslot opens with this passphrase"

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { luksAddKey, luksOpen } from '../servers/cgd/luks.js';
import { cryptsetupFormat, fileDevice, hostLuksCrypto, luksTempDir, noCryptsetup, patchFile } from './lib/luks.js';

const enc = (s: string) => new TextEncoder().encode(s);

t.test('LUKS1: a free keyslot whose material overlaps a keyslot in use is not written over it', { skip: noCryptsetup }, async (t) => {
  const img = join(luksTempDir(), 'l1.img');
  cryptsetupFormat(img, 'pw', { type: 'luks1', pbkdf: 'pbkdf2' });
  const slot0Offset = readFileSync(img).subarray(208 + 40, 208 + 44);
  patchFile(img, 208 + 48 + 40, slot0Offset); // keyslot 1 (disabled) now claims keyslot 0's material
  const crypto = hostLuksCrypto();
  const dev = fileDevice(img);
  try {
    t.equal((await luksOpen(dev, crypto, enc('pw'))).keyslot, 0, 'the container opens with its passphrase');
    const added = await luksAddKey(dev, crypto, enc('pw'), enc('new'), { kdf: { type: 'pbkdf2', iterations: 1000 } })
      .then((slot) => `keyslot ${slot}`, (err: { errno?: string; message?: string }) => `${err.errno}: ${err.message}`);
    t.comment(`addkey: ${added}`);
    const old = await luksOpen(dev, crypto, enc('pw')).then(() => 'opens', (err: { errno?: string; message?: string }) => `${err.errno}: ${err.message}`);
    t.equal(old, 'opens', 'whatever addkey did, the old passphrase still opens the container');
    if (added.startsWith('keyslot')) {
      t.equal(await luksOpen(dev, crypto, enc('new')).then(() => 'opens', () => 'refused'), 'opens', 'and the new one too');
    } else {
      t.match(added, /^E[A-Z]+: cgd: /, 'a refusal is an errno with a sentence');
    }
  } finally {
    dev.close();
  }
});
