// The CLI tells a full journal transaction from a full disk: ENOSPC shows ext2's sentence after
// strerror's words (bin/stdio.ts problem()), as EUCLEAN and EIO do.
//
// The change too large for the journal: removing a file whose blocks lie in more groups than
// one transaction can log. With 256 blocks a group (mke2fs -g 256, 1 KiB blocks) and the
// smallest journal (-J size=1: 1024 blocks), a file of 270,000 blocks preallocated by debugfs
// (uninitialised extents: nothing written) touches ~1,050 block bitmaps and their descriptors.
// Its unlink is refused whole, and the image stays clean.

import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import t from 'tap';
import { SysError } from '../kernel/index.js';
import { problem } from '../bin/stdio.js';
import { runRumpus } from './lib/cli.js';
import { debugfs, debugfsWrite, fsckClean, tempDir } from './lib/e2fs.js';
import { NO_E2FSPROGS } from './lib/ext4.js';

const dir = tempDir('rumpus-cli-journal-enospc-');
const BLOCKS = 270_000;

/** An ext4 image (300 MiB, sparse on the host) with /big: BLOCKS preallocated blocks spread over ~1,050 groups. */
function wideFileImage(name: string): string {
  const img = join(dir, name);
  execFileSync('truncate', ['-s', '300M', img]);
  execFileSync('mke2fs', ['-q', '-F', '-t', 'ext4', '-b', '1024', '-O', '^resize_inode', '-g', '256', '-J', 'size=1', img], { stdio: 'pipe' });
  debugfsWrite(img, ['write /dev/null big', `fallocate big 0 ${BLOCKS - 1}`, `sif big size ${BLOCKS * 1024}`]);
  return img;
}

const SENTENCE = /ext2: \S*wide\.img: the change needs (\d+) blocks in one journal transaction, more than the journal's (\d+)/;

t.test('rm of a file too wide for one journal transaction says so', { skip: NO_E2FSPROGS }, async (t) => {
  const img = wideFileImage('wide.img');
  const before = fsckClean(img);
  t.ok(before.clean, 'the image as debugfs made it is clean', { report: before.report });

  const r = await runRumpus(dir, ['rm', 'wide.img:/big']);
  t.equal(r.code, 1, 'rm fails');
  const line = new RegExp(`^rm: wide\\.img:/big: No space left on device \\(${SENTENCE.source}\\)\\n$`);
  t.match(r.stderr, line, 'with strerror\'s words and ext2\'s sentence naming the journal');
  const [, needs, holds] = SENTENCE.exec(r.stderr) ?? [];
  t.ok(Number(needs) > Number(holds), `the change (${needs} blocks) is larger than a transaction (${holds})`);

  const sh = await runRumpus(dir, ['sh', '--image', 'wide.img', '-c', 'rm /mnt/big']);
  t.match(sh.stderr, new RegExp(`^rm: /mnt/big: No space left on device \\(${SENTENCE.source}\\)$`, 'm'), 'the shell\'s rm says the same');

  t.match(debugfs(img, 'stat /big'), new RegExp(`Size: ${BLOCKS * 1024}\\b`), 'the file is still there, whole');
  const after = fsckClean(img);
  t.ok(after.clean, 'nothing of the refused change reached the image (both e2fsck checks)', { report: after.report });
});

t.test('problem(): which sentences are shown', async (t) => {
  const enospc = 'No space left on device';
  t.equal(problem(new SysError('ENOSPC', 'ext2: no free inodes left')), `${enospc} (ext2: no free inodes left)`, 'ENOSPC with a sentence of its own');
  t.equal(problem(new SysError('ENOSPC', `key file k: ${enospc}`)), enospc, 'not one that only names a file before the words');
  t.equal(problem(new SysError('ENOSPC', enospc)), enospc, 'nor the words alone');
  t.equal(problem(new SysError('ENOSPC', '')), enospc, 'nor an empty one');
  t.equal(problem(new SysError('EIO', 'blk: a.img: short read at block 3')), 'Input/output error (blk: a.img: short read at block 3)', 'EIO as before');
  t.equal(problem(new SysError('ENOENT', 'ext2: no entry "x" in directory inode 2')), 'No such file or directory', 'other errnos: the words only');
});
