// The journaled-write test (test/jbd2-write-*.ts, one file per policy): rumpus's own changes
// to a journaled image go through its jbd2 journal (ext3 and ext4, 1 and 4 KiB blocks): no side file
// beside the image, ever; after a clean unmount the journal is empty (s_start 0, its sequence
// moved on) and both e2fsck checks pass; an image copied while mounted, after some fsyncs, has
// its transactions in the log (debugfs logdump lists them), and e2fsck alone replays them into
// a clean file system holding every fsync'd byte — as does rumpus mounting the copy.

import t from 'tap';
import { copyFileSync, existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { DEFAULT_MOUNTS, boot } from '../../kernel/index.js';
import { decodeJournalSuperblock } from '../../servers/ext2/jbd2-format.js';
import { debugfs, fsckClean, seededBytes, superblock, tempDir } from './e2fs.js';
import { NO_E2FSPROGS } from './ext4.js';
import { journalBlock, mkJournaled, readBlock } from './jbd2.js';

const MiB = 1024 * 1024;

/** A file's bytes as debugfs reads them from the image. */
export function cat(img: string, path: string): Uint8Array {
  const r = spawnSync('debugfs', ['-R', `cat ${path}`, img], { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Uint8Array(r.stdout);
}

export function journalSuperblockOf(img: string, bs: number) {
  return decodeJournalSuperblock(readBlock(img, journalBlock(img, 0), bs));
}

/** `e2fsck -fy` on `img`: its output; exit 0 or 1 (fixed) expected. */
export function e2fsckFix(img: string): { status: number | null; out: string } {
  const r = spawnSync('e2fsck', ['-fy', img], { encoding: 'utf8' });
  return { status: r.status, out: r.stdout + r.stderr };
}

/** Transactions debugfs's logdump finds in the log: their sequence numbers. */
function loggedTransactions(img: string): number[] {
  const out = debugfs(img, 'logdump');
  return [...new Set([...out.matchAll(/Found expected sequence (\d+), type 1 \(descriptor block\)/g)].map((m) => Number(m[1])))];
}

const files = (bs: number) => ({
  '/small': seededBytes(100, 1),
  '/d/mid': seededBytes(7 * bs + 123, 2),
  '/d/e/big': seededBytes(300_000, 3),
});

/** The tests under `policy`. */
export function jbd2WriteTest(policy: string): void {
  const dir = tempDir(`rumpus-jbd2-write-${policy}-`);
  // ext4 as mke2fs -t ext4 makes it: a csum v3 journal with 64-bit block tags.
  for (const [type, bs] of [['ext3', 1024], ['ext3', 4096], ['ext4', 1024], ['ext4', 4096]] as const) {
    const name = `${type} ${bs}, ${policy}`;

    t.test(`${name}: writes and a clean unmount leave no side file, an empty journal, a clean image`, { skip: NO_E2FSPROGS }, async (t) => {
      const img = join(dir, `clean-${type}-${bs}-${policy}.img`);
      mkJournaled(img, { type, blockSize: bs, size: 16 * MiB });
      const before = journalSuperblockOf(img, bs);
      const k = await boot({ policy, mounts: [...DEFAULT_MOUNTS, { target: '/j', fstype: 'ext2', source: img }] });
      try {
        const p = await k.spawn();
        await p.mkdir('/j/d');
        await p.mkdir('/j/d/e');
        for (const [path, data] of Object.entries(files(bs))) await p.writeFile(`/j${path}`, data);
        await p.sync();
        t.notOk(existsSync(`${img}.wal`), 'no write-ahead log beside the image while it is mounted');
        t.match(superblock(img)['Filesystem features'], /needs_recovery/, 'needs_recovery is set while mounted');
        await p.unlink('/j/small');
        await p.writeFile('/j/small', seededBytes(5000, 4));
      } finally {
        await k.halt();
      }
      t.notOk(existsSync(`${img}.wal`), 'none after the unmount either');
      const r = fsckClean(img);
      t.ok(r.clean, 'e2fsck -fn is silent and -fy changes nothing', { report: r.report });
      t.notMatch(superblock(img)['Filesystem features'], /needs_recovery/);
      const jsb = journalSuperblockOf(img, bs);
      t.equal(jsb.start, 0, 'the journal is empty');
      t.ok(jsb.sequence > before.sequence + 2, `transactions were written (sequence ${before.sequence} → ${jsb.sequence})`);
      t.same(cat(img, '/small'), seededBytes(5000, 4));
      for (const [path, data] of Object.entries(files(bs))) if (path !== '/small') t.same(cat(img, path), data, `${path} byte for byte`);
    });

    t.test(`${name}: an image copied while mounted is recovered by e2fsck alone, and by rumpus`, { skip: NO_E2FSPROGS }, async (t) => {
      const img = join(dir, `live-${type}-${bs}-${policy}.img`);
      mkJournaled(img, { type, blockSize: bs, size: 16 * MiB });
      const copy = join(dir, `live-${type}-${bs}-${policy}-copy.img`);
      const k = await boot({ policy, mounts: [...DEFAULT_MOUNTS, { target: '/j', fstype: 'ext2', source: img }] });
      try {
        const p = await k.spawn();
        await p.mkdir('/j/d');
        await p.mkdir('/j/d/e');
        for (const [path, data] of Object.entries(files(bs))) {
          const fd = await p.open(`/j${path}`, 'w');
          await p.write(fd, data);
          await p.fsync(fd);
          await p.close(fd);
        }
        copyFileSync(img, copy);
      } finally {
        await k.halt();
      }
      t.notOk(existsSync(`${copy}.wal`), 'the copy is the image alone');
      t.match(superblock(copy)['Filesystem features'], /needs_recovery/, 'the copy needs recovery');
      const logged = loggedTransactions(copy);
      t.ok(logged.length >= 3, `debugfs logdump lists the transactions (${logged.join(', ')})`);

      const byRumpus = join(dir, `live-${type}-${bs}-${policy}-rumpus.img`);
      copyFileSync(copy, byRumpus);
      const fixed = e2fsckFix(copy);
      t.ok(fixed.status === 0 || fixed.status === 1, 'e2fsck -fy recovers it', { out: fixed.out });
      t.match(fixed.out, /recovering journal/, 'by replaying the journal');
      const r = fsckClean(copy);
      t.ok(r.clean, 'then both e2fsck checks pass', { report: r.report });
      for (const [path, data] of Object.entries(files(bs))) t.same(cat(copy, path), data, `${path}: every fsync'd byte`);

      const k2 = await boot({ policy, mounts: [...DEFAULT_MOUNTS, { target: '/j', fstype: 'ext2', source: byRumpus }] });
      try {
        const p = await k2.spawn();
        for (const [path, data] of Object.entries(files(bs))) t.same(await p.readFile(`/j${path}`), data, `${path} through rumpus's own recovery`);
      } finally {
        await k2.halt();
      }
      const r2 = fsckClean(byRumpus);
      t.ok(r2.clean, 'rumpus recovered and unmounted it clean', { report: r2.report });
    });
  }
}

