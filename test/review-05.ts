// Review of issue 16, defect 5: a LUKS2 header whose payload does not fit the device is refused
// by open and dump ("the payload offset … is beyond the device", EINVAL), but `luks addkey` and
// `luks removekey` never check the payload: they unlock a keyslot, write new keyslot material
// and both header copies, and report success — on a container that rumpus itself refuses to
// open. Bad input must be refused the same way by every command, with nothing written.
//
// Reproduce: cryptsetup luksFormat --type luks2 c.img (20 MiB); set segments.0.offset to
//   "1073741824" in both JSON copies (checksums fixed); rumpus luks addkey c.img --key-file k
//   --new-key-file n  → "keyslot 1 added", and the image has changed.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { luksAddKey, luksDump, luksOpen } from '../servers/cgd/luks.js';
import { cryptsetupFormat, fileDevice, hostLuksCrypto, luksTempDir, noCryptsetup, rewriteLuks2Json } from './lib/luks.js';

const enc = (s: string) => new TextEncoder().encode(s);
const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

t.test('LUKS2: addkey refuses a payload past the device as open does, writing nothing', { skip: noCryptsetup }, async (t) => {
  const img = join(luksTempDir(), 'beyond.img');
  cryptsetupFormat(img, 'pw', { type: 'luks2', pbkdf: 'pbkdf2' });
  rewriteLuks2Json(img, (j) => { j.segments['0'].offset = String(1 << 30); });
  const before = sha(img);
  const crypto = hostLuksCrypto();
  const dev = fileDevice(img);
  try {
    await t.rejects(luksOpen(dev, crypto, enc('pw')), { errno: 'EINVAL', message: /payload offset 1073741824 is beyond the device/ }, 'open refuses it');
    await t.rejects(luksDump(dev, crypto.hyp), { errno: 'EINVAL', message: /payload offset 1073741824 is beyond the device/ }, 'so does dump');
    await t.rejects(luksAddKey(dev, crypto, enc('pw'), enc('new'), { kdf: { type: 'pbkdf2', iterations: 1000 } }), { errno: 'EINVAL', message: /payload/ }, 'and so should addkey');
    t.equal(sha(img), before, 'nothing was written');
  } finally {
    dev.close();
  }
});
