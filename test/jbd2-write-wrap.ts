// A transaction larger than what is left of the ring wraps around its end: on the smallest
// journal mke2fs makes, transactions go round it more than once (checkpoints move s_start);
// the image copied while mounted lists them from past s_first in debugfs logdump, and e2fsck
// replays them into a clean file system with every byte.

import t from 'tap';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_MOUNTS, boot } from '../kernel/index.js';
import { debugfs, fsckClean, seededBytes, tempDir } from './lib/e2fs.js';
import { NO_E2FSPROGS } from './lib/ext4.js';
import { mkJournaled } from './lib/jbd2.js';
import { cat, e2fsckFix, journalSuperblockOf } from './lib/jbd2-write.js';

const MiB = 1024 * 1024;
const dir = tempDir('rumpus-jbd2-wrap-');

t.test('a transaction that does not fit before the end of the ring wraps around it', { skip: NO_E2FSPROGS }, async (t) => {
  // 1 KiB blocks, the smallest journal mke2fs makes (1024 blocks): ten files of ~150 blocks,
  // each fsync'd in a transaction of its own, go round the ring more than once; the image is
  // copied before the unmount.
  const img = join(dir, 'wrap.img');
  mkJournaled(img, { type: 'ext3', blockSize: 1024, size: 16 * MiB });
  const jsb0 = journalSuperblockOf(img, 1024);
  t.equal(jsb0.maxLen, 1024, 'a 1024-block journal');
  const copy = join(dir, 'wrap-copy.img');
  const data = Array.from({ length: 10 }, (_, i) => seededBytes(150_000 + i * 1000, 50 + i));
  const k = await boot({ policy: 'monolithic', mounts: [...DEFAULT_MOUNTS, { target: '/j', fstype: 'ext2', source: img }] });
  try {
    const p = await k.spawn();
    for (const [i, d] of data.entries()) {
      const fd = await p.open(`/j/f${i}`, 'w');
      await p.write(fd, d);
      await p.fsync(fd);
      await p.close(fd);
    }
    copyFileSync(img, copy);
  } finally {
    await k.halt();
  }
  const jsb = journalSuperblockOf(copy, 1024);
  t.not(jsb.start, jsb0.first, 'the log was checkpointed: it starts past s_first');
  const out = debugfs(copy, 'logdump');
  const at = [...out.matchAll(/Found expected sequence \d+, type \d \([a-z ]+\) at block (\d+)/g)].map((m) => Number(m[1]));
  t.ok(at.some((b, i) => i > 0 && b < at[i - 1]), `the log wraps to the journal's start (blocks ${at.slice(0, 3).join(', ')}… ${at.slice(-3).join(', ')})`);
  const fixed = e2fsckFix(copy);
  t.match(fixed.out, /recovering journal/);
  const r = fsckClean(copy);
  t.ok(r.clean, 'e2fsck replays it into a clean file system', { report: r.report });
  for (const [i, d] of data.entries()) t.same(cat(copy, `/f${i}`), d, `f${i} byte for byte`);
});
