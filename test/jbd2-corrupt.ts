// Damaged journals: recovery stops or fails where fs/jbd2/recovery.c does, and never hangs.
// With csum v3, a flipped byte in a descriptor block fails the recovery (EUCLEAN: Linux's
// EFSBADCRC), one in a commit block's header ends the log before that transaction, one in a
// logged data block leaves that block out (reported in `skipped`). Without checksums, a
// flipped magic ends the log there. Then a seeded fuzz (RUMPUS_FUZZ_SEEDS seeds, each
// printed) flips bytes anywhere in the log: recovery returns or throws an errno, within a bound.
// And a mount past a logged block failing its checksum: the rest replayed, the state not clean.

import t from 'tap';
import { join } from 'node:path';
import { closeSync, openSync, writeSync } from 'node:fs';
import { DEFAULT_MOUNTS, SysError, boot } from '../kernel/index.js';
import { decodeJournalSuperblock } from '../servers/ext2/jbd2-format.js';
import { recoverJournal, type RecoveredJournal } from '../servers/ext2/jbd2-recovery.js';
import { random, seededBytes, superblock, tempDir } from './lib/e2fs.js';
import { NO_E2FSPROGS } from './lib/ext4.js';
import { journalMap, journalTransactions, mkJournaled, readBlock, type JournaledImage } from './lib/jbd2.js';

const SEEDS = Number(process.env.RUMPUS_FUZZ_SEEDS ?? 200);
/** A liveness bound for one recovery (generous: this is about hangs, not speed). */
const BOUND_MS = 10_000;
const dir = tempDir('rumpus-jbd2-corrupt-');

/** A journal in memory: its first blocks (the log and what follows), and the file system's block count. */
interface Journal {
  bs: number;
  blocks: Uint8Array[];
  fsBlocks: number;
  /** The blocks the transactions write: A, B (transaction 1), C (transaction 2). */
  targets: number[];
}

/** Two transactions — A and B, then C — in a fresh image's journal, read into memory. */
function journal(image: JournaledImage, checksums: boolean): Journal {
  const img = join(dir, `${image.type}-${image.blockSize}-${checksums}.img`);
  mkJournaled(img, image);
  const bs = image.blockSize;
  const fsBlocks = Number(superblock(img)['Block count']);
  const targets = [fsBlocks - 30, fsBlocks - 29, fsBlocks - 20];
  journalTransactions(img, [
    { write: { blocks: targets.slice(0, 2), data: seededBytes(2 * bs, 1) } },
    { write: { blocks: targets.slice(2), data: seededBytes(bs, 2) } },
  ], { checksums });
  const map = journalMap(img);
  return { bs, fsBlocks, targets, blocks: map.slice(0, 16).map((b) => readBlock(img, b, bs)) };
}

// Journal blocks: 0 superblock; transaction 1: 1 descriptor, 2-3 data, 4 commit; transaction 2: 5 descriptor, 6 data, 7 commit.
const DESCRIPTOR_1 = 1;
const DATA_1 = 2;
const COMMIT_2 = 7;

/** Recovers a copy of `j` with `damage` done to its blocks; a journal block past the copy reads as zeros. */
async function recover(j: Journal, damage: (blocks: Uint8Array[]) => void = () => {}): Promise<RecoveredJournal> {
  const blocks = j.blocks.map((b) => b.slice());
  damage(blocks);
  const jsb = decodeJournalSuperblock(blocks[0]);
  return recoverJournal(jsb, async (n) => blocks[n] ?? new Uint8Array(j.bs), j.fsBlocks);
}

async function failure(p: Promise<unknown>): Promise<SysError> {
  const err = await p.then(() => null, (e: unknown) => e);
  if (!(err instanceof SysError)) throw new Error(`expected a SysError, got ${String(err)}`);
  return err;
}

t.test('csum v3 (ext4, 1 KiB blocks)', { skip: NO_E2FSPROGS }, async (t) => {
  const j = journal({ type: 'ext4', blockSize: 1024, size: 32 * 1024 * 1024 }, true);
  const clean = await recover(j);
  t.same([...clean.blocks.keys()], j.targets, 'undamaged: both transactions');

  const descriptor = await failure(recover(j, (b) => { b[DESCRIPTOR_1][40] ^= 1; }));
  t.equal(descriptor.code, 'EUCLEAN', 'a descriptor block failing its checksum fails the recovery');
  t.match(descriptor.message, /transaction 1 fails its checksum/);

  const commit = await recover(j, (b) => { b[COMMIT_2][0x38] ^= 1; }); // h_commit_nsec
  t.same([...commit.blocks.keys()], j.targets.slice(0, 2), 'a commit failing its checksum ends the log before its transaction');
  t.equal(commit.endTransaction, 2);

  const data = await recover(j, (b) => { b[DATA_1][100] ^= 1; });
  t.same([...data.blocks.keys()], j.targets.slice(1), 'a data block failing its checksum is left out');
  t.match(data.skipped, [/block \d+ in transaction 1 .* fails its checksum/]);
});

t.test('a mount replays past a logged block failing its checksum, and leaves the file system not clean for e2fsck', { skip: NO_E2FSPROGS }, async (t) => {
  const img = join(dir, 'mount-bad-data.img');
  const bs = 1024;
  mkJournaled(img, { type: 'ext4', blockSize: bs, size: 32 * 1024 * 1024 });
  const fsBlocks = Number(superblock(img)['Block count']);
  const targets = [fsBlocks - 30, fsBlocks - 29, fsBlocks - 20];
  const data = seededBytes(3 * bs, 7);
  journalTransactions(img, [
    { write: { blocks: targets.slice(0, 2), data: data.subarray(0, 2 * bs) } },
    { write: { blocks: targets.slice(2), data: data.subarray(2 * bs) } },
  ], { checksums: true });
  const logged = journalMap(img)[DATA_1];
  const fd = openSync(img, 'r+');
  try {
    writeSync(fd, new Uint8Array([readBlock(img, logged, bs)[100] ^ 1]), 0, 1, logged * bs + 100);
  } finally {
    closeSync(fd);
  }
  t.match(superblock(img)['Filesystem state'], /^clean$/, 'clean before (needs_recovery says the journal holds changes)');
  const k = await boot({ policy: 'monolithic', mounts: [...DEFAULT_MOUNTS, { target: '/mnt', fstype: 'ext2', source: img }] });
  await k.halt();
  t.same(Array.from(readBlock(img, targets[0], bs)), Array.from(new Uint8Array(bs)), 'the block whose logged copy fails its checksum is left as it was');
  t.same(Array.from(readBlock(img, targets[1], bs)), Array.from(data.subarray(bs, 2 * bs)), 'the rest of its transaction is replayed');
  t.same(Array.from(readBlock(img, targets[2], bs)), Array.from(data.subarray(2 * bs)), 'and the next transaction');
  t.notMatch(superblock(img)['Filesystem features'], /needs_recovery/, 'the journal is recovered');
  t.match(superblock(img)['Filesystem state'], /not clean/, 'the file system is left not clean, so the next e2fsck checks it in full');
});

t.test('no checksums (ext3, 4 KiB blocks)', { skip: NO_E2FSPROGS }, async (t) => {
  const j = journal({ type: 'ext3', blockSize: 4096, size: 32 * 1024 * 1024 }, false);
  t.same([...(await recover(j)).blocks.keys()], j.targets);
  const noDescriptor = await recover(j, (b) => { b[DESCRIPTOR_1][0] ^= 0x80; });
  t.same(noDescriptor.blocks.size, 0, 'a descriptor without its magic ends the log at once');
  const noCommit = await recover(j, (b) => { b[COMMIT_2][3] ^= 1; });
  t.same([...noCommit.blocks.keys()], j.targets.slice(0, 2), 'a commit without its magic: its transaction is not replayed');
  const revoke = await failure(recover(j, (b) => {
    // Transaction 2's descriptor made a revoke block whose r_count runs past the block.
    b[5].set([0, 0, 0, 5, 0, 0, 0, 2, 0xff, 0xff, 0xff, 0xff], 4);
  }));
  t.equal(revoke.code, 'EUCLEAN');
  t.match(revoke.message, /revoke block at journal block 5/);
});

t.test(`seeded fuzz: ${SEEDS} seeds of flipped bytes in the log`, { skip: NO_E2FSPROGS }, async (t) => {
  const journals = [
    journal({ type: 'ext4', blockSize: 1024, size: 32 * 1024 * 1024 }, true),
    journal({ type: 'ext3', blockSize: 1024, size: 32 * 1024 * 1024 }, true),
    journal({ type: 'ext3', blockSize: 1024, size: 32 * 1024 * 1024 }, false),
  ];
  const outcomes = new Map<string, number>();
  for (let seed = 1; seed <= SEEDS; seed++) {
    const rnd = random(seed);
    const j = journals[seed % journals.length];
    const flips = 1 + Math.floor(rnd() * 4);
    let outcome: string;
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`seed ${seed}: recovery still running after ${BOUND_MS} ms`)), BOUND_MS); });
    try {
      const rec = await Promise.race([bound, recover(j, (blocks) => {
        for (let i = 0; i < flips; i++) {
          const b = Math.floor(rnd() * 9);
          blocks[b][Math.floor(rnd() * j.bs)] ^= 1 << Math.floor(rnd() * 8);
        }
      })]);
      for (const [b, data] of rec.blocks) {
        if (b >= j.fsBlocks || data.length !== j.bs) t.fail(`seed ${seed}: recovered block ${b} of ${data.length} bytes`);
      }
      outcome = `replayed ${rec.blocks.size}`;
    } catch (err) {
      if (!(err instanceof SysError)) {
        t.fail(`seed ${seed}: ${String(err)}`);
        continue;
      }
      outcome = err.code;
    } finally {
      clearTimeout(timer);
    }
    outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
  }
  t.comment(`seeds 1..${SEEDS}: ${[...outcomes].map(([o, n]) => `${o}: ${n}`).join(', ')}`);
  t.ok(outcomes.size > 1, 'the damage changes what recovery does');
});
