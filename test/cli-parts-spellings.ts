// Two partitions of one disk named by different spellings of its path (`mbr.img`, `./mbr.img`,
// an absolute path, a symlink): dk keys disks by the image's identity (blk's identify), so a
// copy between them shares one blk unit instead of being refused by blk as a second attach.

import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { runRumpus } from './lib/cli.js';
import { diskToolsMissing, makeMbrDisk } from './lib/disks.js';
import { tempDir } from './lib/e2fs.js';

const missing = diskToolsMissing();
const dir = tempDir('rumpus-cli-parts-spellings-');
const rumpus = (...args: string[]) => runRumpus(dir, args);

if (missing) {
  t.plan(0, missing);
} else {
  makeMbrDisk(join(dir, 'mbr.img'));
  symlinkSync('mbr.img', join(dir, 'link.img'));

  t.test('cp between two partitions of one disk, spelled differently', async (t) => {
    const w = await rumpus('cp', '-r', 'mbr.img@2:/lost+found', 'mbr.img@5:/same');
    t.equal(w.code, 0, `same spelling works: ${w.stderr}`);
    for (const [from, to] of [['mbr.img@2:/lost+found', './mbr.img@5:/dot'], [`${join(dir, 'mbr.img')}@2:/lost+found`, 'mbr.img@5:/abs'], ['link.img@2:/lost+found', 'mbr.img@5:/link']]) {
      const r = await rumpus('cp', '-r', from, to);
      t.equal(r.code, 0, `cp -r ${from} ${to}: ${r.stderr}`);
      t.notMatch(r.stderr, /already attached/, 'no refusal from blk');
    }
  });
}
