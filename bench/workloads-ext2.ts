// The ext2 workloads (issue 3's "Speed"): on a 128 MiB image with 4 KiB blocks, mounted at
// /mnt under each policy, and opened directly by the peer (bench/peer.ts) in the same run.

import { MiB, createFiles, preads, readFiles, seqRead, seqWrite, statFiles } from './workloads-files.js';
import { seededRandom } from '../kernel/faults.js';
import { onFiles, type Target, type Workload } from './workloads.js';

/** Where the image is mounted in the kernel. */
export const EXT2_MOUNT = '/mnt';

/** The ext2 workloads; `scale` shrinks every count (1 for the real run, less for --quick). */
export function ext2Workloads(scale: number): Workload<Target>[] {
  const n = (count: number) => Math.max(10, Math.round(count * scale));
  const files = n(1000);
  const bigMib = Math.max(2, Math.round(32 * scale));
  const random = n(5000);
  // The same offsets for every policy and the peer.
  const next = seededRandom(5000);
  const blocks = (bigMib * MiB) / 4096;
  const offsets = Array.from({ length: random }, () => Math.floor(next() * blocks) * 4096);
  return [
    onFiles('ext2-create', `create + write 4 KiB + close of ${files.toLocaleString('en-US')} new files on ext2`,
      createFiles('/small', files, n(50), 4096, false)),
    onFiles('ext2-read-files', 'open + read 4 KiB + close of each of the same files',
      readFiles('/small', files, n(50), 4096)),
    onFiles('ext2-seq-write', `write of 1 MiB, ${bigMib} over a new file on ext2 (close in ops/s)`,
      seqWrite('/big', bigMib, 1, 0)),
    onFiles('ext2-seq-read', `read of 1 MiB, ${bigMib} from the start of that file to its end`,
      seqRead('/big', bigMib, 1, 0)),
    onFiles('ext2-random-pread', `pread of 4 KiB at ${random.toLocaleString('en-US')} random block offsets of that file`,
      preads('/big', bigMib, 4096, random, 0, (i) => offsets[i])),
    onFiles('ext2-stat', `stat() of each of the ${files.toLocaleString('en-US')} files`, statFiles('/small', files, n(50))),
  ];
}
