// Images made by mke2fs -d from a host tree read back through rumpus exactly as the host tree
// is — content, modes, owners, mtimes, symlink targets, link counts — under every policy,
// for 1, 2 and 4 KiB blocks, mke2fs's default features, no optional features, and revision 0.
// (mke2fs -d keeps whole seconds of mtimes only, so times are compared in seconds; and the
// big directory stays under 3 blocks, which e2fsck -fy would re-index on a dir_index image.)

import t from 'tap';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_MOUNTS, boot } from '../kernel/index.js';
import { buildHostTree, fsckClean, hostTree, mkImage, rumpusTree, tempDir, type ImageOptions } from './lib/e2fs.js';

const MiB = 1024 * 1024;
const dir = tempDir();
const src = join(dir, 'src');
mkdirSync(src);
buildHostTree(src, { fifo: true, manyFiles: 90 });

interface Image {
  name: string;
  opts: ImageOptions;
  path: string;
}

const images: Image[] = ([
  { name: '1k-default', opts: { size: 32 * MiB, blockSize: 1024 } },
  { name: '4k-default', opts: { size: 64 * MiB, blockSize: 4096 } },
  { name: '1k-plain', opts: { size: 32 * MiB, blockSize: 1024, features: 'none,filetype,sparse_super' } },
  { name: '4k-plain', opts: { size: 64 * MiB, blockSize: 4096, features: 'none,filetype,sparse_super' } },
  { name: '1k-rev0', opts: { size: 32 * MiB, blockSize: 1024, revision: 0 } },
  { name: '2k-small-inodes', opts: { size: 32 * MiB, blockSize: 2048, inodeSize: 128 } },
] as Omit<Image, 'path'>[]).map((im) => ({ ...im, path: join(dir, `${im.name}.img`) }));

for (const im of images) mkImage(im.path, { ...im.opts, from: src });
const expected = hostTree(src, { seconds: true });

t.test('mke2fs images pass e2fsck before the test', async (t) => {
  for (const im of images) {
    const r = fsckClean(im.path);
    t.ok(r.clean, im.name, { report: r.report });
  }
});

for (const policy of ['monolithic', 'microkernel', 'multiprocess']) {
  t.test(`read back under ${policy}`, async (t) => {
    const mounts = images.map((im, i) => ({ target: `/img/${im.name}`, fstype: 'ext2', source: im.path, readonly: i % 2 === 1 }));
    const k = await boot({ policy, mounts: [...DEFAULT_MOUNTS, ...mounts] });
    try {
      const p = await k.spawn();
      for (const im of images) {
        const tree = await rumpusTree(p, `/img/${im.name}`, { seconds: true, skip: ['lost+found'] });
        t.same(tree, expected, `${im.name}: the tree reads back as on the host`);
      }
      const mnt = await p.mounts();
      t.same(mnt.filter((m) => m.fstype === 'ext2').map((m) => m.readonly), mounts.map((m) => m.readonly), 'read-only mounts are reported');
    } finally {
      await k.halt();
    }
  });
}

t.test('images are still clean after being mounted and read', async (t) => {
  for (const im of images) {
    const r = fsckClean(im.path);
    t.ok(r.clean, im.name, { report: r.report });
  }
});
