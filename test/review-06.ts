// Review of issue 16, defect 6: LUKS1 opens a header whose two active keyslots share one area
// of key material (cryptsetup refuses it: "LUKS keyslot 0 is invalid … is not a valid LUKS device"), and
// `luks removekey` then counts two keyslots, removes the first and wipes its area — which is
// the second's too: the container can no longer be opened with any passphrase, the data is
// lost, and removekey reported success. (The "last keyslot" guard, EBUSY, exists for exactly
// this.) Overlapping keyslot areas must be refused when the header is read.
//
// Reproduce: cryptsetup luksFormat --type luks1 c.img; copy keyslot 0's 48 bytes (208 … 256)
//   over keyslot 1's (256 … 304); rumpus luks removekey c.img --key-file k;
//   rumpus ls --key-file k c.img:/  → "no keyslot opens with this passphrase"

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { luksOpen, luksRemoveKey } from '../servers/cgd/luks.js';
import { cryptsetupFormat, fileDevice, hostLuksCrypto, luksTempDir, noCryptsetup, patchFile } from './lib/luks.js';

const enc = (s: string) => new TextEncoder().encode(s);

t.test('LUKS1: keyslots sharing an area are refused, not removed into an unopenable container', { skip: noCryptsetup }, async (t) => {
  const img = join(luksTempDir(), 'twin.img');
  cryptsetupFormat(img, 'pw', { type: 'luks1', pbkdf: 'pbkdf2' });
  patchFile(img, 256, readFileSync(img).subarray(208, 256)); // keyslot 1 := keyslot 0, same material area
  const crypto = hostLuksCrypto();
  const dev = fileDevice(img);
  try {
    const removed = await luksRemoveKey(dev, crypto, enc('pw'))
      .then((slot) => `removed keyslot ${slot}`, (err: { errno?: string; message?: string }) => `${err.errno}: ${err.message}`);
    t.comment(`removekey: ${removed}`);
    if (removed.startsWith('removed')) {
      const after = await luksOpen(dev, crypto, enc('pw')).then(() => 'opens', (err: { errno?: string; message?: string }) => `${err.errno}: ${err.message}`);
      t.equal(after, 'opens', 'after a successful removekey, a keyslot is left that opens the data');
    } else {
      t.match(removed, /^EUCLEAN: cgd: |^EINVAL: cgd: /, 'refused with an errno and a sentence');
    }
  } finally {
    dev.close();
  }
});
