// A crash of ext2 or blk in the middle of journaled writes, on ext3 (1 KiB blocks) and on ext4
// as mke2fs -t ext4 makes it (metadata_csum, csum v3 journal, extents; 1 and 4 KiB). Monolithic:
// the fault panics the whole kernel, and the image is left as the crash left it — then
// e2fsck alone (no rumpus, no side file) replays the journal into a clean file system with
// every fsync-acknowledged byte, and rumpus mounting a copy recovers the same. Microkernel: the
// component is restarted, the mount goes on (ext2 recovers the journal at its new mount; a
// transaction blk died in is settled before the next), and the unmounted image is clean with
// every byte.

import t from 'tap';
import { copyFileSync, existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { DEFAULT_MOUNTS, boot, type Kernel } from '../kernel/index.js';
import { fsckClean, seededBytes, superblock, tempDir } from './lib/e2fs.js';
import { NO_E2FSPROGS } from './lib/ext4.js';
import { mkJournaled } from './lib/jbd2.js';
import { cat } from './lib/jbd2-write.js';

const MiB = 1024 * 1024;
const dir = tempDir('rumpus-jbd2-crash-');
const FILES = 8;

const content = (i: number) => seededBytes(20_000 + i * 3001, 70 + i);

/**
 * Writes /j/fI for I = 0… with an fsync each, until a call fails (the kernel panicked) or all
 * are written; returns the files whose fsync answered.
 */
async function writeUntilCrash(k: Kernel): Promise<number[]> {
  const acknowledged: number[] = [];
  const p = await k.spawn();
  try {
    await p.mkdir('/j/d');
    for (let i = 0; i < FILES; i++) {
      const fd = await p.open(`/j/d/f${i}`, 'w');
      await p.write(fd, content(i));
      await p.fsync(fd);
      acknowledged.push(i);
      await p.close(fd);
    }
  } catch {
    // the crash: what was acknowledged is what must be there
  }
  return acknowledged;
}

/**
 * The images each crash is tried on; the microkernel runs (~20 s each on a busy machine) on one
 * ext3 and one ext4 image only.
 */
const images: { type: 'ext3' | 'ext4'; blockSize: 1024 | 4096; microkernel: boolean }[] = [
  { type: 'ext3', blockSize: 1024, microkernel: true },
  { type: 'ext4', blockSize: 1024, microkernel: false },
  { type: 'ext4', blockSize: 4096, microkernel: true },
];

const crashes = [
  { component: 'ext2', op: 'write', after: 3 },
  { component: 'blk', op: 'write', after: 9 },
  { component: 'blk', op: 'write', after: 14 },
  { component: 'blk', op: 'flush', after: 6 },
];

for (const im of images) {
  const fs = `${im.type} ${im.blockSize}`;
  const tag = `${im.type}-${im.blockSize}`;
  for (const c of crashes) {
    const what = `${c.component} crashing at its ${c.after + 1}th ${c.op}`;
    t.test(`${fs}, monolithic, ${what}: e2fsck alone recovers the image, and so does rumpus`, { skip: NO_E2FSPROGS }, async (t) => {
      const img = join(dir, `mono-${tag}-${c.component}-${c.op}-${c.after}.img`);
      mkJournaled(img, { type: im.type, blockSize: im.blockSize, size: 16 * MiB });
      const k = await boot({ policy: 'monolithic', mounts: [...DEFAULT_MOUNTS, { target: '/j', fstype: 'ext2', source: img }] });
      let acknowledged: number[];
      try {
        await k.inject({ component: c.component, type: 'crash', op: c.op, after: c.after });
        acknowledged = await writeUntilCrash(k);
        t.ok(k.panicked, 'the kernel panicked', { acknowledged });
      } finally {
        await k.halt();
      }
      t.ok(acknowledged.length < FILES, `the crash came mid-way (${acknowledged.length} of ${FILES} fsyncs answered)`);
      t.notOk(existsSync(`${img}.wal`), 'no side file: the image alone');
      const byRumpus = join(dir, `mono-${tag}-${c.component}-${c.op}-${c.after}-rumpus.img`);
      copyFileSync(img, byRumpus);

      const fixed = spawnSync('e2fsck', ['-fy', img], { encoding: 'utf8' });
      t.ok(fixed.status === 0 || fixed.status === 1, 'e2fsck -fy recovers it', { out: fixed.stdout + fixed.stderr });
      const r = fsckClean(img);
      t.ok(r.clean, 'then both e2fsck checks pass', { report: r.report });
      for (const i of acknowledged) t.same(cat(img, `/d/f${i}`), content(i), `f${i}: every fsync-acknowledged byte`);

      const k2 = await boot({ policy: 'monolithic', mounts: [...DEFAULT_MOUNTS, { target: '/j', fstype: 'ext2', source: byRumpus }] });
      try {
        const p = await k2.spawn();
        for (const i of acknowledged) t.same(await p.readFile(`/j/d/f${i}`), content(i), `f${i} through rumpus's recovery`);
      } finally {
        await k2.halt();
      }
      const r2 = fsckClean(byRumpus);
      t.ok(r2.clean, 'rumpus recovered it clean', { report: r2.report });
      t.notMatch(superblock(byRumpus)['Filesystem features'], /needs_recovery/);
    });
  }

  if (!im.microkernel) continue;
  for (const c of [crashes[0], crashes[1], crashes[3]]) {
    const what = `${c.component} crashing at its ${c.after + 1}th ${c.op}`;
    t.test(`${fs}, microkernel, ${what}: restarted, the writes go on, the image is clean with every byte`, { skip: NO_E2FSPROGS }, async (t) => {
      const img = join(dir, `micro-${tag}-${c.component}-${c.op}-${c.after}.img`);
      mkJournaled(img, { type: im.type, blockSize: im.blockSize, size: 16 * MiB });
      const k = await boot({ policy: 'microkernel', mounts: [...DEFAULT_MOUNTS, { target: '/j', fstype: 'ext2', source: img }] });
      let acknowledged: number[];
      try {
        await k.inject({ component: c.component, type: 'crash', op: c.op, after: c.after });
        acknowledged = await writeUntilCrash(k);
        await k.settled();
        t.ok(k.domains().find((d) => d.components.includes(c.component))!.restarts >= 1, `${c.component} was restarted`);
      } finally {
        await k.halt();
      }
      t.same(acknowledged, Array.from({ length: FILES }, (_, i) => i), 'every fsync answered');
      t.notOk(existsSync(`${img}.wal`), 'no side file');
      const r = fsckClean(img);
      t.ok(r.clean, 'both e2fsck checks pass', { report: r.report });
      for (const i of acknowledged) t.same(cat(img, `/d/f${i}`), content(i), `f${i} byte for byte`);
    });
  }
}
