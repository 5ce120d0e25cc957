// Journal recovery (servers/ext2/jbd2-recovery.ts) against e2fsck, which replays a journal
// itself: journals left needing recovery by debugfs's journal commands, on ext3 (no checksums,
// or v1 crc32 commit checksums) and ext4 (csum v3, 64bit) images with 1 KiB and 4 KiB blocks.
// The blocks recovery returns are the blocks e2fsck -fy writes, revoked copies are left out,
// an escaped block gets its magic back, and the emptied journal's sequence is e2fsck's.

import t from 'tap';
import { copyFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { JBD2_MAGIC, decodeJournalSuperblock, setBe32 } from '../servers/ext2/jbd2-format.js';
import { debugfs, seededBytes, superblock, tempDir } from './lib/e2fs.js';
import { journalTransactions, mkJournaled, readBlock, recoverImage, type JournaledImage } from './lib/jbd2.js';

const dir = tempDir('rumpus-jbd2-recovery-');

function e2fsckFixed(img: string): string {
  const copy = `${img}.fsck`;
  copyFileSync(img, copy);
  try {
    execFileSync('e2fsck', ['-fy', copy], { stdio: 'pipe' });
  } catch (err) {
    const status = (err as { status?: number }).status;
    if (status !== 1) throw err; // 1: errors corrected (the journal replayed)
  }
  return copy;
}

const variants: [string, JournaledImage, boolean][] = [];
for (const type of ['ext3', 'ext4'] as const) {
  for (const blockSize of [1024, 4096] as const) {
    for (const checksums of [false, true]) variants.push([`${type}, ${blockSize}-byte blocks${checksums ? ', jo -c' : ''}`, { type, blockSize, size: 32 * 1024 * 1024 }, checksums]);
  }
}

for (const [name, image, checksums] of variants) {
  t.test(`${name}: the recovered blocks are e2fsck's`, async (t) => {
    const img = join(dir, `${name.replace(/[^a-z0-9]+/gi, '-')}.img`);
    mkJournaled(img, image);
    const bs = image.blockSize;
    const blocks = Number(superblock(img)['Block count']);
    // Free blocks near the end of the file system: A, B, C, D.
    const [a, b, c, d] = [blocks - 40, blocks - 39, blocks - 30, blocks - 20];
    const first = seededBytes(3 * bs, 1);
    setBe32(first, bs, JBD2_MAGIC); // B's first copy starts with the magic: logged escaped
    const second = seededBytes(bs, 2);
    const third = seededBytes(bs, 3);
    journalTransactions(img, [
      { write: { blocks: [a, b, c], data: first } },
      { write: { blocks: [b], data: second } },
      { revoke: [c] },
      { write: { blocks: [d], data: third } },
    ], { checksums });
    const original = new Map([a, b, c, d].map((blk) => [blk, readBlock(img, blk, bs)]));
    const { rec } = await recoverImage(img, bs);
    const v1 = checksums && image.type === 'ext3';
    // debugfs 1.47 gives a revoke-only transaction a v1 commit checksum that e2fsck (and
    // this recovery) refuse: with v1 checksums the log ends after the second transaction.
    t.same([...rec.blocks.keys()].sort((x, y) => x - y), v1 ? [a, b, c] : [a, b, d], v1 ? 'the log ends at the revoke' : 'C, revoked by a later transaction, is not replayed');
    t.same(rec.blocks.get(a), first.subarray(0, bs));
    t.same(rec.blocks.get(b), second, 'the last copy of B wins, its first copy escaped');
    if (!v1) t.same(rec.blocks.get(d), third);
    t.same(rec.skipped, []);
    const fixed = e2fsckFixed(img);
    for (const blk of [a, b, c, d]) t.same(readBlock(fixed, blk, bs), rec.blocks.get(blk) ?? original.get(blk), `block ${blk} as e2fsck leaves it`);
    const after = decodeJournalSuperblock(readBlock(fixed, Number(debugfs(fixed, 'bmap <8> 0').trim()), bs));
    t.equal(rec.nextSequence, after.sequence, "the emptied journal's s_sequence is e2fsck's");
    t.equal(after.start, 0);
  });
}

t.test('an escaped block gets its magic back', async (t) => {
  const img = join(dir, 'escape.img');
  mkJournaled(img, { type: 'ext3', blockSize: 1024, size: 16 * 1024 * 1024 });
  const blk = Number(superblock(img)['Block count']) - 10;
  const data = seededBytes(1024, 5);
  setBe32(data, 0, JBD2_MAGIC);
  journalTransactions(img, [{ write: { blocks: [blk], data } }]);
  const { rec } = await recoverImage(img, 1024);
  t.same(rec.blocks.get(blk), data);
});
