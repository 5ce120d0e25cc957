// Files past 4 GiB (i_size_high, Documentation/filesystems/ext4/inodes.rst), as a sparse file
// with 13 bytes at 5 GiB + 123: on ext4 (extents, 4 KiB blocks), ext3 and ext2 at 1 KiB blocks
// (block-mapped: the triple-indirect block maps it), and an ext2 made without large_file (the
// first file past 2 GiB sets it, as Linux's ext4_update_dynamic_rev/large_file does). rumpus
// reads the bytes back; e2fsck finds the image clean under both rules; debugfs gives the size,
// and its block map (bmap) leads to the same bytes in the image; dumpe2fs shows large_file. A
// truncate back to 1 MiB frees the far blocks: the size's high half is 0 again, still clean.

import { closeSync, openSync, readSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import t from 'tap';
import { DEFAULT_MOUNTS, boot } from '../kernel/index.js';
import { debugfs, fsckClean, superblock, tempDir } from './lib/e2fs.js';
import { NO_E2FSPROGS } from './lib/ext4.js';

const GiB = 2 ** 30;
const AT = 5 * GiB + 123;
const TEXT = 'past four GiB';
const dir = tempDir('rumpus-large-files-');

/** The bytes of the image at `offset`. */
function readImage(img: string, offset: number, length: number): string {
  const fd = openSync(img, 'r');
  try {
    const buf = Buffer.alloc(length);
    readSync(fd, buf, 0, length, offset);
    return buf.toString('latin1');
  } finally {
    closeSync(fd);
  }
}

const IMAGES: [string, string[], number][] = [
  ['ext4', ['-t', 'ext4'], 4096],
  ['ext3', ['-t', 'ext3'], 1024],
  ['ext2', ['-t', 'ext2'], 1024],
  ['ext2 without large_file', ['-t', 'ext2', '-O', '^large_file'], 4096],
];

for (const [name, args, bs] of IMAGES) {
  t.test(`${name}, ${bs}-byte blocks: a sparse file of 5 GiB`, { skip: NO_E2FSPROGS }, async (t) => {
    const img = join(dir, `${name.replace(/\W+/g, '-')}.img`);
    execFileSync('mke2fs', ['-q', '-F', ...args, '-b', String(bs), img, '64M'], { stdio: 'pipe' });
    const mount = async () => boot({ policy: 'monolithic', mounts: [...DEFAULT_MOUNTS, { target: '/mnt', fstype: 'ext2', source: img }] });
    let k = await mount();
    try {
      const p = await k.spawn();
      const fd = await p.open('/mnt/big', 'w');
      t.equal(await p.pwrite(fd, new TextEncoder().encode(TEXT), AT), TEXT.length);
      t.equal((await p.fstat(fd)).size, AT + TEXT.length, 'the size past 4 GiB');
      await p.close(fd);
    } finally {
      await k.halt();
    }
    let fsck = fsckClean(img);
    t.ok(fsck.clean, 'e2fsck: clean', { report: fsck.report });
    t.match(debugfs(img, 'stat /big'), new RegExp(`Size: ${AT + TEXT.length}\\b`), 'debugfs reads the same size');
    const lblk = Math.floor(AT / bs);
    const phys = Number(/(\d+)\s*$/.exec(debugfs(img, `bmap /big ${lblk}`).trim())?.[1]);
    t.ok(phys > 0, `debugfs maps block ${lblk} (to ${phys})`);
    t.equal(readImage(img, phys * bs + (AT % bs), TEXT.length), TEXT, 'and the bytes are where its map says');
    t.match(superblock(img)['Filesystem features'], /\blarge_file\b/, 'large_file is set');

    k = await mount();
    try {
      const p = await k.spawn();
      const fd = await p.open('/mnt/big', 'r+');
      t.equal(new TextDecoder().decode(await p.pread(fd, TEXT.length, AT)), TEXT, 'read back by a new mount');
      t.same(Array.from(await p.pread(fd, 8, 4 * GiB)), [0, 0, 0, 0, 0, 0, 0, 0], 'the hole before it reads as zeros');
      await p.ftruncate(fd, 1 << 20);
      t.equal((await p.fstat(fd)).size, 1 << 20);
      await p.close(fd);
    } finally {
      await k.halt();
    }
    fsck = fsckClean(img);
    t.ok(fsck.clean, 'after the truncate: clean', { report: fsck.report });
    t.match(debugfs(img, 'stat /big'), /Size: 1048576\b/, 'debugfs reads 1 MiB');
  });
}
