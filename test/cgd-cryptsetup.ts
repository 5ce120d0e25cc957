// Containers made by cryptsetup luksFormat — LUKS2 (argon2id, 4096-byte sectors, as on any
// file) and LUKS1 (PBKDF2, 512-byte sectors) — with an ext2 made inside by rumpus: mounted with
// the passphrase, written and read back under every policy with identical results; cryptsetup
// still opens them, and their payload, decrypted with the volume key cryptsetup dumps, passes
// e2fsck with the files there.

import { truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { boot } from '../kernel/index.js';
import { CGD_RUNS, KEY, cryptsetupFormat, cryptsetupMissing, cryptsetupOpens, decryptPayload } from './lib/cgd.js';
import { debugfs, fsckClean, tempDir } from './lib/e2fs.js';

const MiB = 1024 * 1024;
const dir = tempDir('rumpus-cgd-cs-');
const missing = cryptsetupMissing();
/** One run of each policy: the cipher in main, in a thread, in a pool. */
const RUNS = CGD_RUNS.slice(0, 3);

const CONTAINERS = [
  { type: 'luks2', size: 16 * MiB + 6 * MiB },
  { type: 'luks1', size: 2 * MiB + 6 * MiB },
] as const;

for (const c of CONTAINERS) {
  let first: unknown = null;
  for (const run of RUNS) {
    t.test(`${c.type} made by cryptsetup, ${run.name}`, { skip: missing ?? false }, async (t) => {
      const img = join(dir, `${c.type}-${run.name.replace(/[^a-z]+/g, '-')}.img`);
      writeFileSync(img, '');
      truncateSync(img, c.size);
      cryptsetupFormat(img, c.type);
      const k = await boot({ policy: run.policy });
      let seen: unknown;
      try {
        const mkfs = await k.call('ext2', 'mkfs', { source: img, key: new TextEncoder().encode(KEY), blockSize: 1024 });
        const p = await k.spawn();
        await p.mkdir('/mnt');
        await p.mount('/mnt', 'ext2', { source: img, key: KEY });
        await p.mkdir('/mnt/d');
        for (let i = 0; i < 20; i++) await p.writeFile(`/mnt/d/f${i}`, `file ${i} of ${c.type}\n`.repeat(i * 50 + 1));
        await p.sync();
        const back = [];
        for (let i = 0; i < 20; i++) back.push(new TextDecoder().decode(await p.readFile(`/mnt/d/f${i}`)) === `file ${i} of ${c.type}\n`.repeat(i * 50 + 1));
        seen = { mkfs: { ...(mkfs as object), uuid: undefined }, back, statfs: await p.statfs('/mnt') };
        await p.unmount('/mnt');
      } finally {
        await k.halt();
      }
      t.same((seen as { back: boolean[] }).back, Array(20).fill(true), 'every file reads back');
      t.ok(cryptsetupOpens(img), 'cryptsetup still opens it with the passphrase');
      const plain = decryptPayload(img, `${img}.plain`);
      const fsck = fsckClean(plain);
      t.ok(fsck.clean, fsck.report);
      t.equal(debugfs(plain, 'cat /d/f3'), `file 3 of ${c.type}\n`.repeat(151), 'debugfs reads a file from the decrypted payload');
      if (first === null) first = seen;
      else t.same(seen, first, 'the same as under the first placement');
    });
  }
}
