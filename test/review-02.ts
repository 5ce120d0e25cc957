// Review of issue 16, defect 2: a LUKS2 JSON area with deep nesting (an extra member holding
// 1,500,000 nested arrays, in a 4 MiB header that cryptsetup itself made) opens and dumps, but
// `luks addkey` then fails with "internal error: RangeError: Maximum call stack size exceeded"
// (the metadata is cloned and re-serialised recursively) — and only after it has written the
// new keyslot's material into the keyslots area: the image has changed although the command
// failed. Bad input must be an errno with a sentence, and nothing written. (cryptsetup refuses
// such a header outright: json-c's nesting limit, "is not a valid LUKS device".)
//
// Reproduce:
//   truncate -s 40M c.img; printf pw > k; cryptsetup -q luksFormat --type luks2 --pbkdf pbkdf2 \
//     --pbkdf-force-iterations 1000 --luks2-metadata-size 4096k --luks2-keyslots-size 8M --key-file k c.img
//   (add ,"x":[[[…]]] 1.5 M deep to both JSON copies, fix the sha256 checksums)
//   rumpus luks addkey c.img --key-file k --new-key-file n --pbkdf pbkdf2 --pbkdf-force-iterations 1000

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, openSync, readFileSync, readSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { SysError } from '../kernel/index.js';
import { luksAddKey, luksOpen } from '../servers/cgd/luks.js';
import { fileDevice, hostLuksCrypto, luksTempDir, noCryptsetup } from './lib/luks.js';

const HDR = 4 * 1024 * 1024;

/** Rewrites both JSON copies of a container with HDR-byte headers, fixing their checksums. */
function rewrite(img: string, edit: (text: string) => string): void {
  const fd = openSync(img, 'r+');
  try {
    for (const off of [0, HDR]) {
      const hdr = Buffer.alloc(HDR);
      readSync(fd, hdr, 0, HDR, off);
      const area = hdr.subarray(4096);
      const text = edit(area.subarray(0, area.indexOf(0)).toString('utf8'));
      area.fill(0);
      area.write(text, 'utf8');
      hdr.fill(0, 448, 512);
      createHash('sha256').update(hdr).digest().copy(hdr, 448);
      writeSync(fd, hdr, 0, HDR, off);
    }
  } finally {
    closeSync(fd);
  }
}

const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

t.test('deeply nested LUKS2 JSON: addkey is an errno with a sentence, and writes nothing', { skip: noCryptsetup }, async (t) => {
  const dir = luksTempDir();
  const img = join(dir, 'deep.img');
  const key = join(dir, 'k');
  writeFileSync(key, 'pw');
  execFileSync('truncate', ['-s', '40M', img]);
  execFileSync('cryptsetup', ['-q', 'luksFormat', '--type', 'luks2', '--pbkdf', 'pbkdf2', '--pbkdf-force-iterations', '1000',
    '--luks2-metadata-size', '4096k', '--luks2-keyslots-size', '8M', '--key-file', key, img]);
  const depth = 1_500_000;
  rewrite(img, (text) => `${text.slice(0, -1)},"x":${'['.repeat(depth)}${']'.repeat(depth)}}`);
  const before = sha(img);

  const crypto = hostLuksCrypto();
  const dev = fileDevice(img);
  try {
    let err: unknown;
    try {
      await luksAddKey(dev, crypto, new TextEncoder().encode('pw'), new TextEncoder().encode('new'), { kdf: { type: 'pbkdf2', iterations: 1000 } });
    } catch (e) {
      err = e;
    }
    // Either outcome would do: a keyslot added, or a refusal. A RangeError is neither.
    if (err !== undefined) {
      t.ok(err instanceof SysError, `a SysError (errno and sentence), not ${(err as Error)?.constructor?.name}: ${(err as Error)?.message}`);
      t.equal(sha(img), before, 'a refused addkey wrote nothing');
    } else {
      t.ok(await luksOpen(dev, crypto, new TextEncoder().encode('new')), 'the new keyslot opens');
    }
  } finally {
    dev.close();
  }
});
