// The image workloads (issue 3's "Speed", issue 15's ext4 comparison): the same file workloads on
// a 128 MiB image with 4 KiB blocks that mke2fs makes — as ext2, and as ext4 with everything
// `mke2fs -t ext4` enables (the journal, extents, metadata_csum, 64bit, flex_bg) — mounted under
// each policy, and opened directly by the peer (bench/peer.ts) in the same run.

import { MiB, createFiles, preads, readFiles, seqRead, seqWrite, statFiles } from './workloads-files.js';
import { seededRandom } from '../kernel/faults.js';
import { onFiles, type Target, type Workload } from './workloads.js';

/** The file systems the image workloads run on, each on an image of its own; one driver (ext2) serves both. */
export const IMAGE_FILE_SYSTEMS = ['ext2', 'ext4'] as const;
export type ImageFs = (typeof IMAGE_FILE_SYSTEMS)[number];

/** Where each file system's image is mounted in the kernel. */
export const IMAGE_MOUNT: Record<ImageFs, string> = { ext2: '/mnt', ext4: '/mnt4' };

/** The workloads on file system `fs` (named `fs`-create …); `scale` shrinks every count (1 for the real run, less for --quick). */
export function imageWorkloads(fs: ImageFs, scale: number): Workload<Target>[] {
  const n = (count: number) => Math.max(10, Math.round(count * scale));
  const files = n(1000);
  const bigMib = Math.max(2, Math.round(32 * scale));
  const random = n(5000);
  // The same offsets for every policy, file system and the peer.
  const next = seededRandom(5000);
  const blocks = (bigMib * MiB) / 4096;
  const offsets = Array.from({ length: random }, () => Math.floor(next() * blocks) * 4096);
  const on = fs === 'ext4' ? 'ext4 (with its journal)' : 'ext2';
  return [
    onFiles(`${fs}-create`, `create + write 4 KiB + close of ${files.toLocaleString('en-US')} new files on ${on}`,
      createFiles('/small', files, n(50), 4096, false)),
    onFiles(`${fs}-read-files`, 'open + read 4 KiB + close of each of the same files',
      readFiles('/small', files, n(50), 4096)),
    onFiles(`${fs}-seq-write`, `write of 1 MiB, ${bigMib} over a new file on ${on} (close in ops/s)`,
      seqWrite('/big', bigMib, 1, 0)),
    onFiles(`${fs}-seq-read`, `read of 1 MiB, ${bigMib} from the start of that file to its end`,
      seqRead('/big', bigMib, 1, 0)),
    onFiles(`${fs}-random-pread`, `pread of 4 KiB at ${random.toLocaleString('en-US')} random block offsets of that file`,
      preads('/big', bigMib, 4096, random, 0, (i) => offsets[i])),
    onFiles(`${fs}-stat`, `stat() of each of the ${files.toLocaleString('en-US')} files`, statFiles('/small', files, n(50))),
  ];
}
