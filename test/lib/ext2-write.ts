// The ext2 write test (test/ext2-write-*.ts, one file per policy): trees written by rumpus —
// nested directories, a directory of thousands of entries, a sparse file past 4 GiB that needs
// triple indirect blocks, fast and slow symlinks, hard links — pass both e2fsck checks, come
// back out of debugfs rdump byte for byte, and read back through rumpus with their metadata.

import t from 'tap';
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_MOUNTS, boot } from '../../kernel/index.js';
import {
  FAKE_TIME, SPARSE, SPARSE_MIDDLE, SPARSE_MIDDLE_AT, SPARSE_TAIL, SPARSE_TAIL_AT, UUID, buildHostTree, copyIn, debugfs, fsckClean, hostTree,
  mkImage, rdumpPaths, readThroughBmap, rumpusTree, superblock, tempDir, type DataRanges, type Tree,
} from './e2fs.js';

const MiB = 1024 * 1024;
const dir = tempDir();
const bigSrc = join(dir, 'big');
mkdirSync(bigSrc);
const sparse: DataRanges = buildHostTree(bigSrc, { manyFiles: 2500 });
// A smaller tree for the 4 KiB images, to keep the test short. (The big one goes to a dir_index
// image too: directories rumpus grows there are indexed, which e2fsck -fy leaves as they are.)
const smallSrc = join(dir, 'small');
mkdirSync(smallSrc);
buildHostTree(smallSrc, { manyFiles: 40 });

/** What the comparisons leave out: symlink times (the vfs has no lutimes to copy them). */
function withoutSymlinkTimes(tree: Tree): Tree {
  return Object.fromEntries(Object.entries(tree).map(([path, n]) => [path, n.type === 'lnk' ? { ...n, mtime: 0 } : n]));
}

/**
 * What rdump keeps: no link counts (each name becomes a file), no times of symlinks and
 * directories, no setuid or sticky bits (checked with debugfs stat instead).
 */
function asRdumped(tree: Tree): Tree {
  return Object.fromEntries(Object.entries(tree).map(([path, n]) => [path, {
    ...n, nlink: n.type === 'dir' ? 0 : 1, mtime: n.type === 'reg' ? n.mtime : 0, mode: n.mode & 0o170777,
  }]));
}

/** Every top-level entry but the 5 GiB sparse file's directory (rdump would write it all out). */
function rdumped(src: string): string[] {
  return readdirSync(src).filter((name) => name !== SPARSE.split('/')[0]);
}

interface Target {
  name: string;
  src: string;
  /** Makes the empty image. */
  make(img: string, policy: string): Promise<void>;
}

const targets: Target[] = [
  {
    name: 'rumpus mkfs, 1 KiB blocks', src: bigSrc,
    async make(img, policy) {
      const k = await boot({ policy, mounts: DEFAULT_MOUNTS });
      try {
        await k.call('ext2', 'mkfs', { source: img, size: 64 * MiB, blockSize: 1024, uuid: UUID, time: FAKE_TIME });
      } finally {
        await k.halt();
      }
    },
  },
  { name: 'mke2fs -O none,filetype,sparse_super, 4 KiB blocks', src: smallSrc, make: async (img) => mkImage(img, { size: 64 * MiB, blockSize: 4096, features: 'none,filetype,sparse_super' }) },
  { name: 'mke2fs defaults, 4 KiB blocks', src: smallSrc, make: async (img) => mkImage(img, { size: 64 * MiB, blockSize: 4096 }) },
  { name: 'mke2fs defaults, 1 KiB blocks', src: bigSrc, make: async (img) => mkImage(img, { size: 64 * MiB, blockSize: 1024 }) },
];

/** The test under one policy: a file of its own per policy, so that each stays well inside tap's timeout. */
export function writeTest(policy: string): void {
  t.test(`write under ${policy}`, async (t) => {
    const images = targets.map((target, i) => ({ ...target, img: join(dir, `${policy}-${i}.img`) }));
    for (const im of images) await im.make(im.img, policy);
    const mounts = images.map((im, i) => ({ target: `/w${i}`, fstype: 'ext2', source: im.img }));
    const k = await boot({ policy, mounts: [...DEFAULT_MOUNTS, ...mounts] });
    try {
      const p = await k.spawn();
      for (const [i, im] of images.entries()) {
        await copyIn(p, im.src, `/w${i}`, sparse);
        t.same(withoutSymlinkTimes(await rumpusTree(p, `/w${i}`, { skip: ['lost+found'] })), withoutSymlinkTimes(hostTree(im.src)),
          `${im.name}: reads back through rumpus, times to the microsecond`);
      }
    } finally {
      await k.halt();
    }
    for (const im of images) {
      const r = fsckClean(im.img);
      t.ok(r.clean, `${im.name}: e2fsck finds nothing to fix`, { report: r.report });
      const out = rdumpPaths(im.img, rdumped(im.src));
      const expected = Object.fromEntries(Object.entries(hostTree(im.src, { seconds: true })).filter(([path]) => !path.startsWith(SPARSE.split('/')[0])));
      t.same(asRdumped(hostTree(out, { seconds: true })), asRdumped(expected), `${im.name}: debugfs rdump gives the tree back`);
      t.match(debugfs(im.img, 'stat /setuid'), /Mode:\s+04755/, `${im.name}: the setuid bit is on disk`);
      t.match(debugfs(im.img, 'stat /sticky'), /Mode:\s+01777/, `${im.name}: the sticky bit is on disk`);
      t.match(superblock(im.img)['Filesystem state'], /^clean$/, `${im.name}: marked clean after unmount`);
      const stat = debugfs(im.img, `stat /${SPARSE}`);
      t.match(stat, /TIND/, `${im.name}: the sparse file uses a triple indirect block`);
      t.match(stat, new RegExp(`Size: ${SPARSE_TAIL_AT + SPARSE_TAIL.length}\\b`), `${im.name}: and is larger than 4 GiB`);
      t.same(readThroughBmap(im.img, SPARSE, SPARSE_TAIL_AT, SPARSE_TAIL.length), SPARSE_TAIL, `${im.name}: its tail is on disk where the block map says`);
      t.same(readThroughBmap(im.img, SPARSE, SPARSE_MIDDLE_AT, SPARSE_MIDDLE.length), SPARSE_MIDDLE, `${im.name}: and its middle piece`);
      t.match(superblock(im.img)['Filesystem features'], /large_file/, `${im.name}: large_file is set`);
    }
  });
}
