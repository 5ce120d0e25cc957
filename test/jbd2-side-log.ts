// No blk side log beside a journaled image. blk makes its write-ahead log (IMG.wal) at a unit's
// first commit, and a journaled read-write mount only writes and flushes (its jbd2 journal is the
// log), its recovery at mount included: so a directory watched (inotify, through fs.watch)
// while such an image is mounted, written, fsync'd and unmounted never sees IMG.wal made, even
// for a moment — whether the image is whole, needs recovery, is a partition of a disk (dk) or a
// LUKS container (cgd). An image without a journal is the control: its IMG.wal is seen made
// (so the watch would see one) and is gone after the unmount.

import { copyFileSync, existsSync, mkdirSync, readFileSync, truncateSync, watch, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { boot, type Proc } from '../kernel/index.js';
import { FAST_KDF } from './lib/cgd.js';
import { MBR_PARTS, diskToolsMissing, extract, makeMbrDisk, writeAt } from './lib/disks.js';
import { fsckClean, mkImage, seededBytes, tempDir } from './lib/e2fs.js';
import { NO_E2FSPROGS } from './lib/ext4.js';
import { mkJournaled } from './lib/jbd2.js';
import { cat } from './lib/jbd2-write.js';

const MiB = 1024 * 1024;
const root = tempDir('rumpus-jbd2-side-log-');
const DATA = seededBytes(200_000, 5);
const KEY = new TextEncoder().encode('side log passphrase');
const POLICIES = ['monolithic', 'microkernel', 'multiprocess'];

type MountArgs = { source: string; partition?: number; key?: Uint8Array };

/**
 * Runs `fn` while `dir` is watched; returns the names of the files seen made or removed there
 * that end in .wal. inotify reports a file made and removed at once as well; the pause lets the
 * last events arrive.
 */
async function walsSeen(dir: string, fn: () => Promise<void>): Promise<string[]> {
  const seen = new Set<string>();
  const watcher = watch(dir, (_event, name) => {
    if (name !== null && name.toString().endsWith('.wal')) seen.add(name.toString());
  });
  try {
    await fn();
    await sleep(300);
  } finally {
    watcher.close();
  }
  return [...seen];
}

/** Mounts at /m read-write, writes /m/f with an fsync, unmounts. */
async function writeOnce(p: Proc, how: MountArgs): Promise<void> {
  await p.mount('/m', 'ext2', how);
  const fd = await p.open('/m/f', 'w');
  await p.write(fd, DATA);
  await p.fsync(fd);
  await p.close(fd);
  await p.unmount('/m');
}

/** A fresh directory for one case: each case watches its own. */
function caseDir(name: string): string {
  const dir = join(root, name);
  mkdirSync(dir);
  return dir;
}

for (const policy of POLICIES) {
  t.test(`${policy}: a whole image`, { skip: NO_E2FSPROGS }, async (t) => {
    const k = await boot({ policy });
    try {
      const p = await k.spawn();
      await p.mkdir('/m');

      const plainDir = caseDir(`${policy}-plain`);
      const plain = join(plainDir, 'plain.img');
      mkImage(plain, { size: 8 * MiB });
      t.same(await walsSeen(plainDir, () => writeOnce(p, { source: plain })), ['plain.img.wal'], 'without a journal: IMG.wal is made (the watch sees it)');
      t.notOk(existsSync(`${plain}.wal`), 'and removed at unmount');

      for (const [type, blockSize] of [['ext3', 1024], ['ext4', 4096]] as const) {
        const dir = caseDir(`${policy}-${type}`);
        const img = join(dir, `${type}.img`);
        mkJournaled(img, { type, blockSize, size: 16 * MiB });
        t.same(await walsSeen(dir, () => writeOnce(p, { source: img })), [], `${type}, journaled: no IMG.wal, not even for a moment`);
        t.same(cat(img, '/f'), DATA, `${type}: written`);
        const r = fsckClean(img);
        t.ok(r.clean, `${type}: both e2fsck checks pass`, { report: r.report });
      }

      // A journal that needs recovery: an image copied while mounted, after the fsync.
      const liveDir = caseDir(`${policy}-live`);
      const live = join(liveDir, 'live.img');
      const copy = join(liveDir, 'copy.img');
      mkJournaled(live, { type: 'ext4', blockSize: 1024, size: 16 * MiB });
      await p.mount('/m', 'ext2', { source: live });
      await p.writeFile('/m/f', DATA);
      await p.sync();
      copyFileSync(live, copy);
      await p.unmount('/m');
      const recovered = await walsSeen(liveDir, async () => {
        await p.mount('/m', 'ext2', { source: copy });
        t.same(await p.readFile('/m/f'), DATA, 'a journal recovered at mount: what was synced is there');
        await p.unmount('/m');
      });
      t.same(recovered, [], 'and its recovery made no IMG.wal');
      const r = fsckClean(copy);
      t.ok(r.clean, 'the recovered image passes both e2fsck checks', { report: r.report });
    } finally {
      await k.halt();
    }
  });
}

t.test('a journaled image in a partition (dk) and in a LUKS container (cgd)', { skip: NO_E2FSPROGS || (diskToolsMissing() ?? false) }, async (t) => {
  for (const policy of ['monolithic', 'microkernel']) {
    const k = await boot({ policy });
    try {
      const p = await k.spawn();
      await p.mkdir('/m');

      const diskDir = caseDir(`${policy}-disk`);
      const disk = join(diskDir, 'disk.img');
      makeMbrDisk(disk);
      const part = MBR_PARTS[2];
      const fs = join(root, `${policy}-part.img`);
      mkJournaled(fs, { type: 'ext4', blockSize: 1024, size: part.size });
      writeAt(disk, part.start, readFileSync(fs));
      t.same(await walsSeen(diskDir, () => writeOnce(p, { source: disk, partition: 2 })), [], `${policy}: partition 2, journaled: no disk.img.wal`);
      const out = extract(disk, part, join(root, `${policy}-part-out.img`));
      t.same(cat(out, '/f'), DATA, `${policy}: written into the partition`);
      const r = fsckClean(out);
      t.ok(r.clean, `${policy}: the partition passes both e2fsck checks`, { report: r.report });

      const luksDir = caseDir(`${policy}-luks`);
      const luks = join(luksDir, 'luks.img');
      writeFileSync(luks, '');
      truncateSync(luks, 16 * MiB);
      await k.call('cgd', 'format', { path: luks, key: KEY, version: 1, kdf: FAST_KDF });
      await k.call('ext2', 'mkfs', { source: luks, key: KEY, type: 'ext4' });
      t.same(await walsSeen(luksDir, () => writeOnce(p, { source: luks, key: KEY })), [], `${policy}: a LUKS container holding ext4: no luks.img.wal`);
      await p.mount('/m', 'ext2', { source: luks, key: KEY, readonly: true });
      t.same(await p.readFile('/m/f'), DATA, `${policy}: written through cgd`);
      await p.unmount('/m');
    } finally {
      await k.halt();
    }
  }
});
