// Removing or truncating a file too wide for one journal transaction: its blocks lie in more
// groups than one transaction can log bitmaps. With 256 blocks a group (mke2fs -g 256, 1 KiB
// blocks) and the smallest journal (-J size=1: 1024 blocks), a file of 270,000 blocks
// preallocated by debugfs touches ~1,050 block bitmaps and their descriptors. rumpus spreads
// the freeing over several transactions, as Linux's ext4_truncate does (the inode on the orphan
// list in between): rm, the shell's rm and a truncate by O_TRUNC succeed, and the image is
// clean with every block free again — ext4 (extents, uninitialised) and ext3 (block map,
// indirect blocks). The free counts are compared with what debugfs's own rm leaves.
//
// The CLI tells a full journal transaction from a full disk all the same: ENOSPC shows ext2's
// sentence after strerror's words (bin/stdio.ts problem()), as EUCLEAN and EIO do.

import { join } from 'node:path';
import t from 'tap';
import { SysError } from '../kernel/index.js';
import { problem } from '../bin/stdio.js';
import { runRumpus } from './lib/cli.js';
import { debugfs, fsckClean, superblock, tempDir } from './lib/e2fs.js';
import { NO_E2FSPROGS } from './lib/ext4.js';
import { WIDE_BLOCKS, freeAfterDebugfs, freeBlocks, mkWideFile } from './lib/jbd2.js';

const dir = tempDir('rumpus-cli-journal-enospc-');

/** mkWideFile's image, named `name` in the test's folder. */
function wideFileImage(name: string, type: 'ext3' | 'ext4'): string {
  const img = join(dir, name);
  mkWideFile(img, type);
  return img;
}

for (const type of ['ext4', 'ext3'] as const) {
  t.test(`${type}: rm of a file too wide for one journal transaction is spread over several`, { skip: NO_E2FSPROGS }, async (t) => {
    const img = wideFileImage(`wide-${type}.img`, type);
    const before = fsckClean(img);
    t.ok(before.clean, 'the image as debugfs made it is clean', { report: before.report });
    const free = freeBlocks(img);
    const reference = freeAfterDebugfs(img, ['rm big']);
    t.ok(reference - free > WIDE_BLOCKS, `debugfs's rm frees the file's ${WIDE_BLOCKS} blocks and its map (${reference - free})`);

    const r = await runRumpus(dir, ['rm', `wide-${type}.img:/big`]);
    t.equal(r.code, 0, 'rm succeeds', { stderr: r.stderr });
    t.equal(r.stderr, '', 'and says nothing');
    t.notMatch(debugfs(img, 'ls /'), /\bbig\b/, 'the file is gone');
    const after = fsckClean(img);
    t.ok(after.clean, 'the image is clean (both e2fsck checks)', { report: after.report });
    t.equal(freeBlocks(img), reference, 'every block is free again: the free count debugfs\'s rm leaves');
    t.equal(Number(superblock(img)['First orphan inode'] ?? 0), 0, 'the orphan list is empty');
  });
}

t.test('the shell: rm (ext3) and a truncate by O_TRUNC (ext4) of a file too wide for one transaction', { skip: NO_E2FSPROGS }, async (t) => {
  const ext3 = wideFileImage('wide-sh3.img', 'ext3');
  const removed = freeAfterDebugfs(ext3, ['rm big']);
  const rm = await runRumpus(dir, ['sh', '--image', 'wide-sh3.img', '-c', 'rm /mnt/big; ls /mnt']);
  t.equal(rm.code, 0, 'rm succeeds', { stderr: rm.stderr });
  t.equal(rm.stderr, '', 'with no complaint');
  t.notMatch(rm.stdout, /\bbig\b/, 'big is gone');
  const r3 = fsckClean(ext3);
  t.ok(r3.clean, 'the image is clean (both e2fsck checks)', { report: r3.report });
  t.equal(freeBlocks(ext3), removed, 'with the free count debugfs\'s rm leaves');

  const ext4 = wideFileImage('wide-sh4.img', 'ext4');
  const emptied = freeAfterDebugfs(ext4, ['rm big']);
  const trunc = await runRumpus(dir, ['sh', '--image', 'wide-sh4.img', '-c', 'echo > /mnt/big; ls -l /mnt/big']);
  t.equal(trunc.code, 0, 'echo > big succeeds', { stderr: trunc.stderr });
  t.equal(trunc.stderr, '', 'with no complaint');
  t.match(trunc.stdout, /^-\S+\s+1\s+\S+\s+\S+\s+1\s/m, 'big is one byte long (the echo\'s newline)');
  const r4 = fsckClean(ext4);
  t.ok(r4.clean, 'the image is clean (both e2fsck checks)', { report: r4.report });
  t.equal(freeBlocks(ext4), emptied - 1, 'every block but the one of big\'s byte is free');
});

t.test('problem(): which sentences are shown', async (t) => {
  const enospc = 'No space left on device';
  t.equal(problem(new SysError('ENOSPC', 'ext2: no free inodes left')), `${enospc} (ext2: no free inodes left)`, 'ENOSPC with a sentence of its own');
  const room = 'ext2: disk.img: the change needs 1160 blocks in one journal transaction, more than the journal\'s 1012';
  t.equal(problem(new SysError('ENOSPC', room)), `${enospc} (${room})`, 'the full journal transaction\'s');
  t.equal(problem(new SysError('ENOSPC', `key file k: ${enospc}`)), enospc, 'not one that only names a file before the words');
  t.equal(problem(new SysError('ENOSPC', enospc)), enospc, 'nor the words alone');
  t.equal(problem(new SysError('ENOSPC', '')), enospc, 'nor an empty one');
  t.equal(problem(new SysError('EIO', 'blk: a.img: short read at block 3')), 'Input/output error (blk: a.img: short read at block 3)', 'EIO as before');
  t.equal(problem(new SysError('ENOENT', 'ext2: no entry "x" in directory inode 2')), 'No such file or directory', 'other errnos: the words only');
});
