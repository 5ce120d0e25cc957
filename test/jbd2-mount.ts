// A journal left needing recovery (by debugfs's journal commands) on ext3 (no journal
// checksums) and ext4 (csum v3, the journal inode mapped by extents) images, 1 and 4 KiB
// blocks, mounted by rumpus: read-only, the files read back recovered and the image is
// unchanged byte for byte; read-write (ext3 and ext4), the journal is replayed onto the image, which
// e2fsck then finds clean, with the same blocks and journal sequence e2fsck's own replay
// gives. A clean ext3 image mounts read-write, and its journal is empty after the unmount.

import t from 'tap';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { DEFAULT_MOUNTS, SysError, boot } from '../kernel/index.js';
import { JBD2_MAGIC, decodeJournalSuperblock, setBe32 } from '../servers/ext2/jbd2-format.js';
import { debugfs, debugfsWrite, fsckClean, seededBytes, superblock, tempDir } from './lib/e2fs.js';
import { NO_E2FSPROGS } from './lib/ext4.js';
import { journalBlock, journalTransactions, mkJournaled, readBlock, writeBytes } from './lib/jbd2.js';

const MiB = 1024 * 1024;
const dir = tempDir('rumpus-jbd2-mount-');

interface Fixture {
  type: 'ext3' | 'ext4';
  bs: 1024 | 4096;
  /** The image with its journal needing recovery. */
  img: string;
  /** What /f1 and /f2 hold once recovered. */
  f1: Uint8Array;
  f2: Uint8Array;
}

/**
 * An image with /f1 (3 blocks) and /f2 (1 block), then four transactions: f1's first two
 * blocks, f1's third (beginning with the jbd2 magic: logged escaped), f2's block, and a revoke
 * of f2's block — so f1 is recovered and f2 keeps what mke2fs wrote. ext3: no journal
 * checksums; ext4 (metadata_csum, extents): csum v3.
 */
function fixture(type: 'ext3' | 'ext4', bs: 1024 | 4096): Fixture {
  const src = join(dir, `src-${type}-${bs}`);
  mkdirSync(src, { recursive: true });
  const f2 = seededBytes(bs, 21);
  writeFileSync(join(src, 'f1'), seededBytes(3 * bs, 20));
  writeFileSync(join(src, 'f2'), f2);
  const img = join(dir, `${type}-${bs}.img`);
  mkJournaled(img, { type, blockSize: bs, size: 16 * MiB, from: src });
  const blocksOf = (path: string) => debugfs(img, `blocks ${path}`).trim().split(/\s+/).map(Number);
  const [b0, b1, b2] = blocksOf('/f1');
  const [c0] = blocksOf('/f2');
  const f1 = seededBytes(3 * bs, 30);
  setBe32(f1, 2 * bs, JBD2_MAGIC);
  journalTransactions(img, [
    { write: { blocks: [b0, b1], data: f1.subarray(0, 2 * bs) } },
    { write: { blocks: [b2], data: f1.subarray(2 * bs) } },
    { write: { blocks: [c0], data: seededBytes(bs, 31) } },
    { revoke: [c0] },
  ], { checksums: type === 'ext4' });
  return { type, bs, img, f1, f2 };
}

const fixtures = NO_E2FSPROGS ? [] : [fixture('ext3', 1024), fixture('ext3', 4096), fixture('ext4', 1024), fixture('ext4', 4096)];

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

function copyOf(img: string, name: string): string {
  const copy = join(dir, name);
  copyFileSync(img, copy);
  return copy;
}

function e2fsckFixed(img: string, name: string): string {
  const copy = copyOf(img, name);
  try {
    execFileSync('e2fsck', ['-fy', copy], { stdio: 'pipe' });
  } catch (err) {
    if ((err as { status?: number }).status !== 1) throw err;
  }
  return copy;
}

/** A file's bytes as debugfs reads them from the image. */
function cat(img: string, path: string): Uint8Array {
  return new Uint8Array(execFileSync('debugfs', ['-R', `cat ${path}`, img], { stdio: ['ignore', 'pipe', 'pipe'] }));
}

function journalSuperblockOf(img: string, bs: number) {
  return decodeJournalSuperblock(readBlock(img, journalBlock(img, 0), bs));
}

for (const fx of fixtures) {
  const name = `${fx.type} ${fx.bs}`;
  t.test(`${name}-byte blocks: the fixture needs recovery`, { skip: NO_E2FSPROGS }, async (t) => {
    t.match(superblock(fx.img)['Filesystem features'], /needs_recovery/);
    t.not(journalSuperblockOf(fx.img, fx.bs).start, 0);
  });

  for (const policy of ['monolithic', 'microkernel', 'multiprocess']) {
    t.test(`${name}: a read-only mount under ${policy} reads the recovered files and writes nothing`, { skip: NO_E2FSPROGS }, async (t) => {
      const img = copyOf(fx.img, `ro-${fx.type}-${fx.bs}-${policy}.img`);
      const before = sha256(img);
      const k = await boot({ policy, mounts: [...DEFAULT_MOUNTS, { target: '/j', fstype: 'ext2', source: img, readonly: true }] });
      try {
        const p = await k.spawn();
        t.same(await p.readFile('/j/f1'), fx.f1, 'f1 as the journal has it');
        t.same(await p.readFile('/j/f2'), fx.f2, 'f2: its logged copy was revoked');
      } finally {
        await k.halt();
      }
      t.equal(sha256(img), before, 'the image is unchanged');
    });

    t.test(`${name}: a read-write mount under ${policy} replays onto the image as e2fsck would`, { skip: NO_E2FSPROGS }, async (t) => {
      const img = copyOf(fx.img, `rw-${fx.type}-${fx.bs}-${policy}.img`);
      const fixed = e2fsckFixed(fx.img, `fixed-${fx.type}-${fx.bs}-${policy}.img`);
      const k = await boot({ policy, mounts: [...DEFAULT_MOUNTS, { target: '/j', fstype: 'ext2', source: img }] });
      try {
        const p = await k.spawn();
        t.same(await p.readFile('/j/f1'), fx.f1);
        t.same(await p.readFile('/j/f2'), fx.f2);
      } finally {
        await k.halt();
      }
      const r = fsckClean(img);
      t.ok(r.clean, 'e2fsck finds the image clean', { report: r.report });
      t.notMatch(superblock(img)['Filesystem features'], /needs_recovery/);
      const blocks = ['/f1', '/f2'].flatMap((f) => debugfs(img, `blocks ${f}`).trim().split(/\s+/).map(Number));
      for (const b of blocks) t.same(readBlock(img, b, fx.bs), readBlock(fixed, b, fx.bs), `block ${b} as e2fsck -fy replays it`);
      const ours = journalSuperblockOf(img, fx.bs);
      const theirs = journalSuperblockOf(fixed, fx.bs);
      t.equal(ours.start, 0, 'the journal is empty');
      // The mount's own transactions went on from the sequence the replay left (e2fsck's).
      t.ok(ours.sequence > theirs.sequence && ours.sequence - theirs.sequence < 20, `its sequence went on from e2fsck's (${theirs.sequence} → ${ours.sequence})`);
      t.same(cat(img, '/f1'), fx.f1, 'debugfs reads f1 recovered');
      t.same(cat(img, '/f2'), fx.f2);
    });
  }
}

for (const bs of [1024, 4096] as const) {
  t.test(`ext3 ${bs}: a file and a directory made in a journaled transaction are there after recovery`, { skip: NO_E2FSPROGS }, async (t) => {
    // The transaction is what debugfs changed on a copy: every block that differs (superblock,
    // descriptors, bitmaps, inode table, directory and data blocks), logged into the original.
    const img = join(dir, `made-${bs}.img`);
    mkJournaled(img, { type: 'ext3', blockSize: bs, size: 16 * MiB });
    const made = copyOf(img, `made-${bs}-debugfs.img`);
    const content = seededBytes(5 * bs + 100, 40);
    const host = join(dir, `made-${bs}-content`);
    writeFileSync(host, content);
    debugfsWrite(made, [`write ${host} newfile`, 'mkdir newdir']);
    const a = readFileSync(img);
    const b = readFileSync(made);
    const changed: number[] = [];
    for (let blk = 0; blk * bs < a.length; blk++) {
      if (Buffer.compare(a.subarray(blk * bs, (blk + 1) * bs), b.subarray(blk * bs, (blk + 1) * bs)) !== 0) changed.push(blk);
    }
    journalTransactions(img, [{ write: { blocks: changed, data: Buffer.concat(changed.map((blk) => b.subarray(blk * bs, (blk + 1) * bs))) } }]);
    const ro = copyOf(img, `made-${bs}-ro.img`);
    const k = await boot({ policy: 'monolithic', mounts: [...DEFAULT_MOUNTS, { target: '/ro', fstype: 'ext2', source: ro, readonly: true }, { target: '/rw', fstype: 'ext2', source: img }] });
    try {
      const p = await k.spawn();
      for (const m of ['/ro', '/rw']) {
        t.same(await p.readFile(`${m}/newfile`), content, `${m}: the new file reads back`);
        t.ok((await p.stat(`${m}/newdir`)).mode & 0o040000, `${m}: the new directory is one`);
      }
      await p.writeFile('/rw/after', seededBytes(3000, 41));
    } finally {
      await k.halt();
    }
    const r = fsckClean(img);
    t.ok(r.clean, 'e2fsck finds the recovered and written image clean', { report: r.report });
    t.same(cat(img, '/newfile'), content);
    t.same(cat(img, '/after'), seededBytes(3000, 41));
  });
}

t.test('a clean ext3 image mounts read-write; its journal is empty again after the unmount and e2fsck finds it clean', { skip: NO_E2FSPROGS }, async (t) => {
  const img = join(dir, 'clean-ext3.img');
  mkJournaled(img, { type: 'ext3', blockSize: 1024, size: 16 * MiB });
  const journalBefore = journalSuperblockOf(img, 1024);
  const k = await boot({ policy: 'monolithic', mounts: [...DEFAULT_MOUNTS, { target: '/j', fstype: 'ext2', source: img }] });
  try {
    const p = await k.spawn();
    await p.writeFile('/j/new', seededBytes(50_000, 3));
    await p.mkdir('/j/d');
  } finally {
    await k.halt();
  }
  const r = fsckClean(img);
  t.ok(r.clean, 'e2fsck finds it clean', { report: r.report });
  const journalAfter = journalSuperblockOf(img, 1024);
  t.equal(journalAfter.start, 0, 'the journal is empty');
  t.ok(journalAfter.sequence > journalBefore.sequence, 'after the transactions the writes went through (test/jbd2-write-*.ts)');
  t.same(cat(img, '/new'), seededBytes(50_000, 3));
});

t.test('a damaged or external journal refuses the mount with an errno; nothing is written', { skip: NO_E2FSPROGS }, async (t) => {
  const fx = fixtures[0];
  const superblockField = (img: string, at: number, bytes: number[]) => writeBytes(img, 1024 + at, Uint8Array.from(bytes));
  const k = await boot({ policy: 'microkernel', mounts: DEFAULT_MOUNTS });
  try {
    const p = await k.spawn();
    await p.mkdir('/bad');
    const cases: [string, (img: string) => void, string, RegExp][] = [
      ['journal superblock magic', (img) => writeBytes(img, journalBlock(img, 0) * fx.bs, new Uint8Array(4)), 'EUCLEAN', /journal superblock's magic/],
      ['journal superblock s_maxlen', (img) => writeBytes(img, journalBlock(img, 0) * fx.bs + 0x10, Uint8Array.of(0x7f, 0, 0, 0)), 'EUCLEAN', /journal superblock says \d+ blocks/],
      ['external journal', (img) => superblockField(img, 0xe0, [0, 0, 0, 0]), 'ENOTSUP', /journal to recover is on an external device/],
      ['has_journal clear', (img) => superblockField(img, 0x5c, [0x38, 0, 0, 0]), 'EUCLEAN', /needs_recovery, but there is no journal/],
    ];
    for (const [what, damage, code, message] of cases) {
      const img = copyOf(fx.img, `bad-${what.replace(/\W+/g, '-')}.img`);
      damage(img);
      const before = sha256(img);
      const err = await p.mount('/bad', 'ext2', { source: img }).then(() => null, (e: unknown) => e);
      t.ok(err instanceof SysError && err.code === code, `${what}: ${code}`, { err });
      t.match((err as Error).message, message, what);
      t.equal(sha256(img), before, `${what}: the image is unchanged`);
      t.same(await p.readdir('/tmp'), [], 'the rest (tmpfs) keeps serving');
    }
  } finally {
    await k.halt();
  }
});
