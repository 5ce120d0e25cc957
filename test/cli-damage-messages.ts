// Damage met while reading a file (a damaged extent header, the inode checksum made right by
// debugfs) reaches the user with the driver's sentence after strerror's words ("Structure needs
// cleaning (ext2: … extent …)"), and `cp` of it names the damaged source, not the destination.

import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { runRumpus } from './lib/cli.js';
import { tempDir } from './lib/e2fs.js';

const dir = tempDir('rumpus-cli-damage-messages-');
const img = join(dir, 'e4.img');
mkdirSync(join(dir, 'tree'));
writeFileSync(join(dir, 'tree', 'f'), 'x'.repeat(100_000));
execFileSync('mke2fs', ['-q', '-F', '-t', 'ext4', '-b', '4096', '-d', join(dir, 'tree'), img, '16M'], { stdio: 'pipe' });
execFileSync('debugfs', ['-w', '-R', 'sif /f block[0] 0x0001F30B', img], { stdio: 'pipe' });

t.test('cat of a file whose extent header is damaged: the errno and a sentence', async (t) => {
  const r = await runRumpus(dir, ['cat', 'e4.img:/f']);
  t.equal(r.code, 1);
  t.match(r.stderr, /extent|eh_magic|inode \d+/, `the sentence names the structure: ${JSON.stringify(r.stderr)}`);
});

t.test('cp of it out names the image operand', async (t) => {
  const r = await runRumpus(dir, ['cp', 'e4.img:/f', 'out']);
  t.equal(r.code, 1);
  t.match(r.stderr, /e4\.img:\/f/, `names the damaged source: ${JSON.stringify(r.stderr)}`);
});
