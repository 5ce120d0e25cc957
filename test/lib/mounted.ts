// A kernel with fresh ext2 images mounted read-write, for tests that exercise what happens to
// mounted file systems (restarts, replay, the replay log's limit): the mkImage / boot / mkdir /
// mount / unmount / halt / e2fsck lines each of them would write out.

import { join } from 'node:path';
import type { Test } from 'tap';
import { boot, type Kernel, type Proc } from '../../kernel/index.js';
import { fsckClean, mkImage, type ImageOptions } from './e2fs.js';

let images = 0;

/** What onExt2Mounts boots and mounts. */
export interface Ext2Mounts {
  /** The policy to boot (a preset's name). */
  policy: string;
  /** Where to mount one fresh image each (made, with their parents, in the kernel's tree). */
  at: string[];
  /** The images' size and block size (test/lib/e2fs.ts mkImage). */
  image: ImageOptions;
  /** The host directory the images are made in (tempDir()). */
  dir: string;
}

/**
 * Boots `o.policy`, mounts a fresh ext2 image at each of `o.at` in a new process, runs `body`
 * with that process and the kernel, unmounts every image, halts the kernel (also when `body`
 * throws), and asserts each image clean by e2fsck (fsckClean: `-fn`, then `-fy` on a copy
 * changing nothing).
 */
export async function onExt2Mounts(t: Test, o: Ext2Mounts, body: (p: Proc, k: Kernel) => Promise<void>): Promise<void> {
  const paths = o.at.map((target) => join(o.dir, `${++images}${target.replaceAll('/', '-')}.img`));
  for (const img of paths) mkImage(img, o.image);
  const k = await boot({ policy: o.policy });
  try {
    const p = await k.spawn();
    for (const [i, target] of o.at.entries()) {
      await p.mkdir(target, { recursive: true });
      await p.mount(target, 'ext2', { source: paths[i] });
    }
    await body(p, k);
    for (const target of o.at) await p.unmount(target);
  } finally {
    await k.halt();
  }
  for (const img of paths) {
    const fsck = fsckClean(img);
    t.ok(fsck.clean, `${img}: e2fsck clean${fsck.clean ? '' : `: ${fsck.report}`}`);
  }
}
