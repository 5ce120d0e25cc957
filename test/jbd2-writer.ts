// The jbd2 writer against the driver's own recovery (itself checked against e2fsprogs in
// test/jbd2-recovery.ts), in memory, for every tag format: 32 and 64-bit block numbers, no
// checksums, v1 commit checksums, csum v2 and v3. Transactions go round a small ring many
// times (checkpoints, wrapping); at any point a "crash" leaves a device whose recovery gives
// every block its last committed bytes; escaped blocks come back with their magic; a commit
// that does not fit is ENOSPC with nothing written; a commit the device failed half-way is
// settled by the next one.

import t from 'tap';
import { SysError } from '../kernel/index.js';
import {
  BLOCKTYPE_SUPERBLOCK_V2, CHECKSUM_CRC32C, FEATURE_COMPAT_CHECKSUM, FEATURE_INCOMPAT_64BIT, FEATURE_INCOMPAT_CSUM_V2, FEATURE_INCOMPAT_CSUM_V3,
  FEATURE_INCOMPAT_REVOKE, JBD2_MAGIC, decodeJournalSuperblock, encodeJournalSuperblock, setBe32, type JournalSuperblock,
} from '../servers/ext2/jbd2-format.js';
import { recoverJournal } from '../servers/ext2/jbd2-recovery.js';
import { JournalWriter, type JournalDevice } from '../servers/ext2/jbd2-writer.js';
import { seededBytes } from './lib/e2fs.js';

const BS = 1024;
/** The journal: blocks 100 … 163 of the device (64 blocks, log from block 1). */
const JOURNAL_AT = 100;
const JOURNAL_LEN = 64;
const DEVICE_BLOCKS = 400;

/** A device in memory; `failAt`: the write (counted from 1) that throws, once. */
class MemoryDevice implements JournalDevice {
  readonly bytes = new Uint8Array(DEVICE_BLOCKS * BS);
  writes = 0;
  failAt = 0;
  async read(offset: number, length: number): Promise<Uint8Array> {
    return this.bytes.slice(offset, offset + length);
  }
  async write(offset: number, data: Uint8Array): Promise<void> {
    if (++this.writes === this.failAt) throw new SysError('EIO', 'test: the device refused a write');
    this.bytes.set(data, offset);
  }
  async flush(): Promise<void> {}
  block(b: number): Uint8Array {
    return this.bytes.subarray(b * BS, (b + 1) * BS);
  }
}

function journalSuperblock(featureCompat: number, featureIncompat: number): JournalSuperblock {
  const csum = (featureIncompat & (FEATURE_INCOMPAT_CSUM_V2 | FEATURE_INCOMPAT_CSUM_V3)) !== 0;
  return {
    version: 2, blockSize: BS, maxLen: JOURNAL_LEN, first: 1, sequence: 7, start: 0, errno: 0, featureCompat,
    featureIncompat: featureIncompat | FEATURE_INCOMPAT_REVOKE, featureRoCompat: 0, uuid: seededBytes(16, 5), nrUsers: 1,
    maxTransaction: 0, maxTransData: 0, checksumType: csum ? CHECKSUM_CRC32C : 0, numFcBlocks: 0, users: new Uint8Array(16 * 48),
  };
}

function writerOn(dev: MemoryDevice, jsb: JournalSuperblock): JournalWriter {
  const raw = encodeJournalSuperblock(jsb);
  dev.bytes.set(raw, JOURNAL_AT * BS);
  const phys = Array.from({ length: JOURNAL_LEN }, (_, n) => JOURNAL_AT + n);
  let clock = 1_700_000_000_000;
  return new JournalWriter(dev, jsb, dev.block(JOURNAL_AT).slice(), phys, () => (clock += 1000));
}

/** What the driver's recovery makes of the device as it is: a copy with the recovered blocks written. */
async function recovered(dev: MemoryDevice, fsBlocks: number): Promise<{ image: MemoryDevice; transactions: number }> {
  const jsb = decodeJournalSuperblock(dev.block(JOURNAL_AT));
  const image = new MemoryDevice();
  image.bytes.set(dev.bytes);
  if (jsb.start === 0) return { image, transactions: 0 };
  const rec = await recoverJournal(jsb, async (n) => dev.block(JOURNAL_AT + n).slice(), fsBlocks);
  for (const [b, data] of rec.blocks) if (b < DEVICE_BLOCKS) image.bytes.set(data, b * BS);
  return { image, transactions: (rec.endTransaction - jsb.sequence) >>> 0 };
}

const formats: [string, number, number][] = [
  ['no checksums', 0, 0],
  ['v1 commit checksums', FEATURE_COMPAT_CHECKSUM, 0],
  ['csum v2', 0, FEATURE_INCOMPAT_CSUM_V2],
  ['csum v3', 0, FEATURE_INCOMPAT_CSUM_V3],
  ['64bit', 0, FEATURE_INCOMPAT_64BIT],
  ['64bit, csum v2', 0, FEATURE_INCOMPAT_64BIT | FEATURE_INCOMPAT_CSUM_V2],
  ['64bit, csum v3', 0, FEATURE_INCOMPAT_64BIT | FEATURE_INCOMPAT_CSUM_V3],
];

for (const [name, compat, incompat] of formats) {
  t.test(`${name}: every committed block recovered, round the ring`, async (t) => {
    const dev = new MemoryDevice();
    const jsb = journalSuperblock(compat, incompat);
    const writer = writerOn(dev, jsb);
    await writer.start();
    t.equal(decodeJournalSuperblock(dev.block(JOURNAL_AT)).start, 1, 'the log opens at s_first');
    const latest = new Map<number, Uint8Array>();
    // 12 transactions of 3 to 14 blocks in 10 … 59 (some repeated, some starting with the magic):
    // about 100 log blocks through a ring of 63, so it is checkpointed and wraps.
    for (let tx = 0; tx < 12; tx++) {
      const blocks = new Map<number, Uint8Array>();
      const count = 3 + ((tx * 5) % 12);
      for (let i = 0; i < count; i++) {
        const b = 10 + ((tx * 7 + i * 3) % 50);
        const data = seededBytes(BS, tx * 100 + i);
        if (i === 1) setBe32(data, 0, JBD2_MAGIC);
        blocks.set(b, data);
      }
      // The home locations are overwritten by the commit; wipe them afterwards to see recovery put them back.
      await writer.commit([...blocks].map(([b, data]) => ({ offset: b * BS, data })));
      for (const [b, data] of blocks) latest.set(b, data);
      for (const b of blocks.keys()) dev.bytes.fill(0xee, b * BS, (b + 1) * BS);
      const { image } = await recovered(dev, DEVICE_BLOCKS);
      const wrong = [...blocks.keys()].filter((b) => Buffer.compare(image.block(b), latest.get(b)!) !== 0);
      t.same(wrong, [], `transaction ${tx}: its blocks are recovered from the log, escaped ones with their magic`);
      for (const [b, data] of blocks) dev.bytes.set(data, b * BS);
    }
    t.ok(writer.nextSequence > 7 + 11, 'twelve transactions');
    const jsbNow = decodeJournalSuperblock(dev.block(JOURNAL_AT));
    t.ok(jsbNow.start > 1, `checkpointed: the log starts at journal block ${jsbNow.start}`);
    await writer.close();
    const closed = decodeJournalSuperblock(dev.block(JOURNAL_AT));
    t.equal(closed.start, 0, 'closed: empty');
    t.equal(closed.sequence, writer.nextSequence, 'with the next sequence');
  });
}

t.test('a 64-bit block number needs a 64bit journal', async (t) => {
  for (const incompat of [FEATURE_INCOMPAT_64BIT | FEATURE_INCOMPAT_CSUM_V3, FEATURE_INCOMPAT_CSUM_V3]) {
    const dev = new MemoryDevice();
    const writer = writerOn(dev, journalSuperblock(0, incompat));
    await writer.start();
    const far = 2 ** 33 + 5;
    // The home write past the memory device is refused by the device: the log is what is checked.
    const commit = writer.commit([{ offset: far * BS, data: seededBytes(BS, 1) }]);
    if (incompat & FEATURE_INCOMPAT_64BIT) {
      await commit.catch(() => {});
      const jsb = decodeJournalSuperblock(dev.block(JOURNAL_AT));
      const rec = await recoverJournal({ ...jsb, start: 1 }, async (n) => dev.block(JOURNAL_AT + n).slice(), 2 ** 40);
      t.same([...rec.blocks.keys()], [far], 'tagged with its high 32 bits');
    } else {
      await t.rejects(commit, { errno: 'EINVAL', message: /does not fit in a tag of a journal without 64bit/ });
    }
  }
});

t.test('a commit larger than the journal is ENOSPC, nothing written', async (t) => {
  const dev = new MemoryDevice();
  const writer = writerOn(dev, journalSuperblock(0, FEATURE_INCOMPAT_CSUM_V3));
  await writer.start();
  const before = dev.bytes.slice();
  const n = writer.capacity + 1;
  await t.rejects(writer.commit([{ offset: 10 * BS, data: new Uint8Array(n * BS) }]), { errno: 'ENOSPC', message: /does not fit in the journal/ });
  t.ok(Buffer.compare(dev.bytes, before) === 0, 'the device is unchanged');
  await writer.commit([{ offset: 10 * BS, data: seededBytes(writer.capacity * BS, 3) }]);
  const { image } = await recovered(dev, DEVICE_BLOCKS);
  t.same(image.bytes.subarray(10 * BS, (10 + writer.capacity) * BS), seededBytes(writer.capacity * BS, 3), 'one of the capacity fits');
});

t.test('a commit the device failed half-way is settled by the next', async (t) => {
  // The first commit makes three writes: the descriptor and copies (adjacent: one), the commit block, the home blocks.
  for (let failAt = 1; failAt <= 3; failAt++) {
    const dev = new MemoryDevice();
    const writer = writerOn(dev, journalSuperblock(0, FEATURE_INCOMPAT_CSUM_V3));
    await writer.start();
    const a = seededBytes(4 * BS, 10 + failAt);
    const b = seededBytes(2 * BS, 20 + failAt);
    dev.writes = 0;
    dev.failAt = failAt;
    await t.rejects(writer.commit([{ offset: 20 * BS, data: a }]), { errno: 'EIO', message: /refused a write/ });
    dev.failAt = 0;
    // The file system keeps the failed commit's blocks dirty: the next commit carries them again.
    await writer.commit([{ offset: 20 * BS, data: a }, { offset: 40 * BS, data: b }]);
    const { image } = await recovered(dev, DEVICE_BLOCKS);
    t.same(image.bytes.subarray(20 * BS, 24 * BS), a, `failing write ${failAt}: the first blocks`);
    t.same(image.bytes.subarray(40 * BS, 42 * BS), b, `failing write ${failAt}: the second commit's`);
    t.same(dev.bytes.subarray(20 * BS, 24 * BS), a, `failing write ${failAt}: home, too`);
  }
});

t.test('the journal superblock written keeps every other field', async (t) => {
  const dev = new MemoryDevice();
  const jsb = journalSuperblock(0, FEATURE_INCOMPAT_CSUM_V3);
  const writer = writerOn(dev, jsb);
  await writer.start();
  const now = decodeJournalSuperblock(dev.block(JOURNAL_AT));
  t.same({ ...now, start: 0 }, { ...jsb }, 'only s_start changed (its checksum recomputed)');
  t.equal(dev.block(JOURNAL_AT)[7], BLOCKTYPE_SUPERBLOCK_V2);
});
