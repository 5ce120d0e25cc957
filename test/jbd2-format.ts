// The jbd2 on-disk format against e2fsprogs: journal superblocks made by mke2fs (v2, no
// checksum) and by debugfs's journal commands (csum v3 with its crc32c s_checksum) decode to
// what dumpe2fs says and encode back to the same bytes; damage and unknown features are refused.

import t from 'tap';
import { join } from 'node:path';
import { SysError } from '../kernel/index.js';
import {
  FEATURE_INCOMPAT_64BIT, FEATURE_INCOMPAT_CSUM_V2, FEATURE_INCOMPAT_CSUM_V3, JOURNAL_SUPERBLOCK_SIZE, decodeJournalSuperblock,
  encodeJournalSuperblock, tagBytes, revokeRecordBytes,
} from '../servers/ext2/jbd2-format.js';
import { UUID, superblock, tempDir } from './lib/e2fs.js';
import { journalBlock, journalTransactions, mkJournaled, readBlock } from './lib/jbd2.js';

const dir = tempDir('rumpus-jbd2-format-');
const uuidBytes = Uint8Array.from(Buffer.from(UUID.replace(/-/g, ''), 'hex'));

function journalSuperblockOf(img: string, bs: number): Uint8Array {
  return readBlock(img, journalBlock(img, 0), bs).subarray(0, JOURNAL_SUPERBLOCK_SIZE);
}

function errnoOf(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (err) {
    if (err instanceof SysError) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('no error');
}

t.test('mke2fs -t ext3: a v2 journal superblock, empty, no checksum; encodes back to its bytes', async (t) => {
  const img = join(dir, 'ext3.img');
  mkJournaled(img, { type: 'ext3', blockSize: 1024, size: 16 * 1024 * 1024 });
  const raw = journalSuperblockOf(img, 1024);
  const jsb = decodeJournalSuperblock(raw);
  const dump = superblock(img);
  t.equal(jsb.version, 2);
  t.equal(jsb.blockSize, 1024);
  t.equal(jsb.maxLen, Number(dump['Total journal blocks']));
  t.equal(jsb.first, 1);
  t.equal(jsb.sequence, Number(dump['Journal sequence']));
  t.equal(jsb.start, 0);
  t.equal(jsb.featureIncompat, 0);
  t.equal(jsb.nrUsers, 1);
  t.same(jsb.uuid, uuidBytes, 's_uuid is the file system uuid');
  t.same(encodeJournalSuperblock(jsb), raw);
});

t.test('debugfs jo -c on mke2fs -t ext4: csum v3 and 64bit, s_checksum verified, encoded identically', async (t) => {
  const img = join(dir, 'ext4.img');
  mkJournaled(img, { type: 'ext4', blockSize: 4096, size: 32 * 1024 * 1024 });
  journalTransactions(img, [{ write: { blocks: [300], data: new Uint8Array(4096).fill(7) } }], { checksums: true });
  const raw = journalSuperblockOf(img, 4096);
  const jsb = decodeJournalSuperblock(raw);
  const dump = superblock(img);
  t.equal(jsb.featureIncompat, FEATURE_INCOMPAT_CSUM_V3 | FEATURE_INCOMPAT_64BIT, dump['Journal features']);
  t.equal(jsb.start, Number(dump['Journal start']));
  t.equal(jsb.checksumType, 4, 'crc32c');
  t.same(encodeJournalSuperblock(jsb), raw, 'the computed s_checksum is the one debugfs wrote');

  const flipped = raw.slice();
  flipped[0x18] ^= 0x01; // s_sequence
  const e = errnoOf(() => decodeJournalSuperblock(flipped));
  t.equal(e.code, 'EUCLEAN');
  t.match(e.message, /journal superblock's checksum/);
});

t.test('damage and unknown features are refused with the structure named', async (t) => {
  const img = join(dir, 'ext3b.img');
  mkJournaled(img, { type: 'ext3', blockSize: 1024, size: 16 * 1024 * 1024 });
  const raw = journalSuperblockOf(img, 1024);
  const jsb = decodeJournalSuperblock(raw);
  const cases: [string, (b: Uint8Array) => void, string, RegExp][] = [
    ['bad magic', (b) => { b[0] ^= 0xff; }, 'EUCLEAN', /journal superblock's magic/],
    ['block type 1', (b) => { b[7] = 1; }, 'EUCLEAN', /block type is 1/],
    ['s_first past s_maxlen', (b) => { b[0x14] = 0x7f; }, 'EUCLEAN', /first log block/],
    ['s_start past s_maxlen', (b) => { b[0x1c] = 0x7f; }, 'EUCLEAN', /log start/],
    ['fast_commit', (b) => { b[0x2b] = 0x20; }, 'ENOTSUP', /unsupported journal feature\(s\) fast_commit/],
    ['an unknown incompat bit', (b) => { b[0x2b] = 0x40; }, 'ENOTSUP', /0x40/],
  ];
  for (const [what, damage, code, message] of cases) {
    const b = raw.slice();
    damage(b);
    const e = errnoOf(() => decodeJournalSuperblock(b));
    t.equal(e.code, code, what);
    t.match(e.message, message, what);
  }
  const csum2 = encodeJournalSuperblock({ ...jsb, featureIncompat: FEATURE_INCOMPAT_CSUM_V2, checksumType: 1 });
  t.match(errnoOf(() => decodeJournalSuperblock(csum2)).message, /checksum type is 1/);
  const v1 = encodeJournalSuperblock({ ...jsb, version: 1 });
  t.equal(decodeJournalSuperblock(v1).featureIncompat, 0, 'a v1 superblock has no features');
  t.equal(decodeJournalSuperblock(v1).version, 1);
});

t.test('tag and revoke record sizes (journal_tag_bytes)', async (t) => {
  t.equal(tagBytes(0), 8);
  t.equal(tagBytes(FEATURE_INCOMPAT_64BIT), 12);
  t.equal(tagBytes(FEATURE_INCOMPAT_CSUM_V2), 10);
  t.equal(tagBytes(FEATURE_INCOMPAT_CSUM_V2 | FEATURE_INCOMPAT_64BIT), 14);
  t.equal(tagBytes(FEATURE_INCOMPAT_CSUM_V3), 16);
  t.equal(tagBytes(FEATURE_INCOMPAT_CSUM_V3 | FEATURE_INCOMPAT_64BIT), 16);
  t.equal(revokeRecordBytes(0), 4);
  t.equal(revokeRecordBytes(FEATURE_INCOMPAT_64BIT), 8);
});

