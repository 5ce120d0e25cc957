// The image the ext2 or ext4 workloads run on: made once per run by e2fsprogs' mke2fs (the
// reference implementation, so rumpus and the peer start from an image neither of them made),
// then copied for each policy and for the peer so that every one starts from the same bytes.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { e2fsprogsTool } from './e2fsprogs.js';
import type { ImageFs } from './workloads-ext2.js';

const IMAGE_SIZE = 128 << 20;
const IMAGE_BLOCK_SIZE = 4096;

export interface ImageFactory {
  /** A fresh copy of the image, named after who uses it. */
  copy(name: string): string;
  /** Removes the image and its copies. */
  remove(): void;
}

/** Makes the template image of `fs` (`mke2fs -t fs`, its defaults), or explains why it cannot (returned as a string). */
export function makeImage(fs: ImageFs): ImageFactory | string {
  const mke2fs = e2fsprogsTool('mke2fs');
  if (!mke2fs) return 'mke2fs (e2fsprogs) is not installed';
  const dir = mkdtempSync(join(tmpdir(), `rumpus-bench-${fs}-`));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  // Also when the run dies: each copy is up to 128 MiB.
  process.once('exit', remove);
  const template = join(dir, 'template.img');
  try {
    execFileSync(mke2fs, ['-q', '-F', '-t', fs, '-b', String(IMAGE_BLOCK_SIZE), template, `${IMAGE_SIZE >> 20}M`], { stdio: 'pipe' });
  } catch (err) {
    remove();
    return `mke2fs failed: ${(err as Error).message}`;
  }
  return {
    copy(name) {
      const path = join(dir, `${name.replace(/[^\w.-]+/g, '_')}.img`);
      // Sparse, as mke2fs left it: a plain copy would write out 128 MiB of zeros each time.
      execFileSync('cp', ['--sparse=always', template, path]);
      return path;
    },
    remove,
  };
}
