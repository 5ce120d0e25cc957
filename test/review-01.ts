// Review: two partitions of one disk, the disk named by two spellings of the same host file
// (`disk.img` and `./disk.img`, or a symlink to it). The README: "Two partitions of one disk may
// be mounted at once: dk holds one blk unit per disk for all of them". dk keys its disks by the
// path as written, so the second spelling attaches blk again and blk refuses: "blk: ./disk.img is
// already attached read-only in this kernel (unit 1, for dk:disk.img …)". Copying a file from
// partition 2 to partition 5 of one disk fails when the operands spell the disk differently.

import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { runRumpus } from './lib/cli.js';
import { diskToolsMissing, makeMbrDisk } from './lib/disks.js';
import { tempDir } from './lib/e2fs.js';

const missing = diskToolsMissing();
const dir = tempDir('rumpus-review-01-');
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
