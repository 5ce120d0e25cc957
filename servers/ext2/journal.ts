// The jbd2 journal of a mounted file system.
//
// At mount, a file system whose superblock says needs_recovery has transactions in its
// journal that may not be home yet: before anything else trusts the superblock, group
// descriptors or inodes, the journal is recovered (jbd2-recovery.ts) — on the image for a
// read-write mount, as Linux and e2fsck do, or in memory only (an overlay on the device's
// reads) for a read-only one, which never writes.
//
// A read-write mount of an image with an internal journal then writes through it (Journal,
// over jbd2-writer.ts): needs_recovery is set in the superblock while mounted, as Linux sets
// it, each commit of the file system is one jbd2 transaction, and the unmount leaves the
// journal empty and needs_recovery clear. A crash leaves an image that e2fsck, Linux or this
// driver recovers with nothing but the image.

import { SysError } from '../../kernel/api.js';
import { Allocator } from './alloc.js';
import { BlockMap } from './blockmap.js';
import type { BlockCache } from './cache.js';
import type { Device, Write } from './device.js';
import { corrupt } from './errors.js';
import type { Groups } from './groups.js';
import { InodeTable } from './inode.js';
import { decodeJournalSuperblock, emptiedJournalSuperblock, type JournalSuperblock } from './jbd2-format.js';
import { recoverJournal } from './jbd2-recovery.js';
import { JournalWriter } from './jbd2-writer.js';
import { COMPAT_HAS_JOURNAL, INCOMPAT_RECOVER, STATE_CLEAN, SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE, Superblock, type Geometry } from './superblock.js';

/** Recovered blocks that are neighbours on the image go home as one write of at most this many bytes. */
const REPLAY_WRITE_BYTES = 1024 * 1024;

/** A file system read as far as its group descriptors, not yet mounted. */
export interface Unmounted {
  dev: Device;
  sb: Superblock;
  geo: Geometry;
  cache: BlockCache;
  groups: Groups;
}

/** What a recovery did, for the log. */
export interface RecoveryReport {
  /** One sentence: how many blocks of which transactions, and where they went. */
  summary: string;
  /** Sentences naming logged blocks left out (data block checksum failures). */
  skipped: string[];
}

/**
 * Recovers the journal of `fs`, whose superblock has needs_recovery. With `write`, the
 * recovered blocks are written to the image and flushed; then the journal superblock is marked
 * empty (s_start 0, s_sequence past the last transaction) and flushed, and then needs_recovery
 * is cleared in the superblock as the replay left it (with its checksum under metadata_csum),
 * as jbd2's recovery and e2fsck order them. Replaying is idempotent, so a crash at any point
 * leaves a journal that is simply replayed again; nothing goes through blk's commit, which
 * would make a write-ahead log beside an image that is its own log. Without `write`,
 * reads of `fs.dev` see the recovered blocks from now on and nothing is written. Either way the
 * caller reads the file system again: the journal may have rewritten any block, the
 * superblock and group descriptors included. Errors: ENOTSUP for a journal on an external
 * device; EUCLEAN naming what is corrupt (no journal, a journal inode or journal superblock
 * that cannot be one, a damaged log).
 */
export async function recoverAtMount(fs: Unmounted, write: boolean): Promise<RecoveryReport> {
  const { dev, sb, geo } = fs;
  if (!(sb.compat & COMPAT_HAS_JOURNAL)) throw corrupt('the superblock says needs_recovery, but there is no journal (has_journal is clear)');
  const inum = sb.journalInum;
  if (inum === 0) {
    const uuid = [...sb.journalUuid].map((b) => b.toString(16).padStart(2, '0')).join('');
    throw new SysError('ENOTSUP', `ext2: cannot mount: the journal to recover is on an external device (journal_dev 0x${sb.journalDev.toString(16)}, uuid ${uuid})`);
  }
  const j = await journalOf(fs);
  const bs = geo.blockSize;
  let report: RecoveryReport = { summary: 'the journal was empty', skipped: [] };
  if (j.jsb.start !== 0) {
    const logMap = await j.logMap();
    const rec = await recoverJournal(j.jsb, async (n) => dev.read(logMap[n] * bs, bs), geo.blocksCount);
    const last = (rec.endTransaction - 1) >>> 0;
    const which = rec.endTransaction === j.jsb.sequence ? 'no committed transaction' : `transactions ${j.jsb.sequence} to ${last}`;
    report = { summary: `recovered ${rec.blocks.size} block(s) of ${which} from the journal${write ? '' : ', in memory only (read-only mount)'}`, skipped: rec.skipped };
    if (!write) {
      dev.overlayBlocks(rec.blocks, bs);
      return report;
    }
    await writeHome(dev, rec.blocks, bs);
    await dev.write(j.superblockBlock * bs, emptiedJournalSuperblock(j.jsbRaw, rec.nextSequence));
    await dev.flush();
  }
  if (write) {
    await dev.write(SUPERBLOCK_OFFSET, await recoveredSuperblock(dev, report.skipped.length > 0));
    await dev.flush();
  }
  return report;
}

/** Writes recovered `blocks` (block number → its `bs` bytes) to their home, neighbours as one write, and flushes. */
async function writeHome(dev: Device, blocks: ReadonlyMap<number, Uint8Array>, bs: number): Promise<void> {
  const order = [...blocks.keys()].sort((a, b) => a - b);
  const perWrite = REPLAY_WRITE_BYTES / bs;
  for (let i = 0; i < order.length; ) {
    let j = i + 1;
    while (j < order.length && j - i < perWrite && order[j] === order[j - 1] + 1) j++;
    const run = new Uint8Array((j - i) * bs);
    for (let k = i; k < j; k++) run.set(blocks.get(order[k])!, (k - i) * bs);
    await dev.write(order[i] * bs, run);
    i = j;
  }
  await dev.flush();
}

/** The internal journal of a file system, as its inode maps it. */
interface JournalFile {
  jsbRaw: Uint8Array;
  jsb: JournalSuperblock;
  /** The image block of journal block 0 (the journal superblock). */
  superblockBlock: number;
  /** The image block of each journal block 0 … s_maxlen − 1. */
  logMap(): Promise<ArrayLike<number>>;
}

/**
 * Reads the journal superblock through the journal inode (sb.journalInum ≠ 0). EUCLEAN naming
 * what cannot be a journal: the inode, its size, a hole, the superblock (jbd2-format.ts).
 */
async function journalOf(fs: Unmounted): Promise<JournalFile> {
  const { dev, sb, geo } = fs;
  const inum = sb.journalInum;
  if (inum > geo.inodesCount) throw corrupt(`the superblock's journal inode ${inum} is past the ${geo.inodesCount} inodes`);
  const node = await new InodeTable(fs.cache, fs.groups, geo).get(inum);
  if (!node.isReg || node.links === 0) throw corrupt(`the journal inode ${inum} is not a regular file in use`);
  const bs = geo.blockSize;
  const fileBlocks = Math.floor(node.size / bs);
  const map = new BlockMap(fs.cache, fs.groups, new Allocator(fs.cache, fs.groups, geo), geo);
  const superblockBlock = (await map.lookupRun(node, 0, 1))[0];
  if (superblockBlock === 0) throw corrupt(`the journal inode ${inum} has a hole at block 0`);
  const jsbRaw = await dev.read(superblockBlock * bs, bs);
  const jsb = decodeJournalSuperblock(jsbRaw);
  if (jsb.blockSize !== bs) throw corrupt(`the journal's block size ${jsb.blockSize} is not the file system's ${bs}`);
  if (jsb.maxLen > fileBlocks) throw corrupt(`the journal superblock says ${jsb.maxLen} blocks, but the journal inode ${inum} has ${fileBlocks}`);
  const logMap = async () => {
    const m = await map.lookupRun(node, 0, jsb.maxLen);
    const hole = m.indexOf(0);
    if (hole >= 0) throw corrupt(`the journal inode ${inum} has a hole at block ${hole}`);
    return m;
  };
  return { jsbRaw, jsb, superblockBlock, logMap };
}

/**
 * The journal a read-write mount commits through. needs_recovery is set in the superblock
 * from mounted() to unmounted() (the superblock written in place, as Linux's
 * ext4_commit_super writes it), and each commit() is one jbd2 transaction.
 */
export class Journal {
  private constructor(
    private readonly dev: Device,
    private readonly writer: JournalWriter,
  ) {}

  /**
   * Opens the internal journal of `fs` (recovered already: s_start 0) for writing. EUCLEAN
   * naming what cannot be a journal; ENOTSUP for journal features this driver cannot write.
   */
  static async open(fs: Unmounted, now: () => number): Promise<Journal> {
    const j = await journalOf(fs);
    return new Journal(fs.dev, new JournalWriter(fs.dev, j.jsb, j.jsbRaw, await j.logMap(), now));
  }

  /** The most blocks one commit may hold. */
  get capacity(): number {
    return this.writer.capacity;
  }

  /** Opens the log at s_first, then sets needs_recovery in `sb` and writes it, durably. */
  async mounted(sb: Superblock): Promise<void> {
    await this.writer.start();
    sb.incompat = (sb.incompat | INCOMPAT_RECOVER) >>> 0;
    await this.writeSuperblock(sb);
  }

  /** Commits `writes` as one transaction (JournalWriter.commit: ENOSPC when it does not fit). */
  commit(writes: Write[]): Promise<void> {
    return this.writer.commit(writes);
  }

  /** Marks the journal empty, then clears needs_recovery in `sb` and writes it, durably. */
  async unmounted(sb: Superblock): Promise<void> {
    await this.writer.close();
    sb.incompat = (sb.incompat & ~INCOMPAT_RECOVER) >>> 0;
    await this.writeSuperblock(sb);
  }

  private async writeSuperblock(sb: Superblock): Promise<void> {
    sb.sealChecksum();
    await this.dev.write(SUPERBLOCK_OFFSET, sb.raw.slice());
    await this.dev.flush();
  }
}

/**
 * The superblock as on the image now, with needs_recovery cleared (and s_checksum with
 * metadata_csum); when logged blocks were left out (`damaged`), without the valid bit in
 * s_state either, so that the next e2fsck checks in full — as e2fsck leaves a file system
 * whose journal replay met a bad block checksum (e2fsck_clear_recover in e2fsck/journal.c).
 */
async function recoveredSuperblock(dev: Device, damaged: boolean): Promise<Uint8Array> {
  const sb = new Superblock((await dev.read(SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE)).slice());
  sb.incompat = (sb.incompat & ~INCOMPAT_RECOVER) >>> 0;
  if (damaged) sb.state &= ~STATE_CLEAN;
  sb.sealChecksum();
  return sb.raw;
}
