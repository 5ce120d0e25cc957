// IMAGE@N in the commands beyond the image commands: `faults --image IMAGE@N` runs its campaign
// on the partition (dk among the components, e2fsck on the partition extracted), and `luks dump`
// reads a LUKS container in a partition.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { runRumpus } from './lib/cli.js';
import { MBR_PARTS, diskToolsMissing, makeMbrDisk, writeAt } from './lib/disks.js';
import { tempDir } from './lib/e2fs.js';

const missing = diskToolsMissing();
const dir = tempDir('rumpus-cli-partition-commands-');
const at = (name: string) => join(dir, name);
const rumpus = (...args: string[]) => runRumpus(dir, args, 120_000);

if (missing) {
  t.plan(0, missing);
} else {
  makeMbrDisk(at('mbr.img'));
  writeFileSync(at('key.txt'), 'secretkey');

  t.test('faults --image IMAGE@N runs on the partition', async (t) => {
    const r = await rumpus('faults', '--image', 'mbr.img@5', '--trials', '1', '--types', 'delay');
    t.notMatch(r.stderr, /No such file or directory/, r.stderr);
    t.equal(r.code, 0, r.stderr);
  });

  t.test('luks dump IMAGE@N of a LUKS container in a partition', async (t) => {
    const made = await rumpus('mkfs', '--encrypt', '--key-file', 'key.txt', '--pbkdf', 'pbkdf2', 'luks.img', '--size', '8M');
    t.equal(made.code, 0, made.stderr);
    writeAt(at('mbr.img'), MBR_PARTS[5].start, readFileSync(at('luks.img')));
    const ls = await rumpus('ls', '--key-file', 'key.txt', 'mbr.img@5:/');
    t.equal(ls.code, 0, `ls opens it: ${ls.stderr}`);
    const dump = await rumpus('luks', 'dump', 'mbr.img@5');
    t.notMatch(dump.stderr, /ENOENT: no such file or directory, open/, 'no Node error text');
    t.equal(dump.code, 0, dump.stderr);
    t.match(dump.stdout, /LUKS|Version/, 'the header shown');
  });
}
