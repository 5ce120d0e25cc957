// The jbd2 journal at mount. A file system whose superblock says needs_recovery has
// transactions in its journal that may not be home yet: before anything else trusts the
// superblock, group descriptors or inodes, the journal is recovered (jbd2-recovery.ts) — on
// the image for a read-write mount, as Linux and e2fsck do, or in memory only (an overlay on
// the device's reads) for a read-only one, which never writes.
//
// rumpus does not write through the journal yet: a read-write mount of a journaled image
// changes blocks in place (through blk's write-ahead log, as for ext2) and leaves the
// journal empty, which is what e2fsck and Linux expect of an image whose needs_recovery is
// clear.

import { SysError } from '../../kernel/api.js';
import { Allocator } from './alloc.js';
import { BlockMap } from './blockmap.js';
import type { BlockCache } from './cache.js';
import type { Device } from './device.js';
import { corrupt } from './errors.js';
import type { Groups } from './groups.js';
import { InodeTable } from './inode.js';
import { decodeJournalSuperblock, emptiedJournalSuperblock } from './jbd2-format.js';
import { recoverJournal } from './jbd2-recovery.js';
import { COMPAT_HAS_JOURNAL, INCOMPAT_RECOVER, SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE, Superblock, type Geometry } from './superblock.js';

/**
 * Recovered blocks go to the image in commits of at most this many bytes: replaying is
 * idempotent, so a crash between two leaves a journal that is simply replayed again.
 */
const REPLAY_COMMIT_BYTES = 8 * 1024 * 1024;

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
 * recovered blocks are written to the image (in commits of REPLAY_COMMIT_BYTES); then, in a
 * last commit, the journal superblock is marked empty (s_start 0, s_sequence past the last
 * transaction) and needs_recovery is cleared in the superblock as the replay left it (with its
 * checksum under metadata_csum) — a crash before it replays the same blocks again. Without `write`,
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
  if (inum > geo.inodesCount) throw corrupt(`the superblock's journal inode ${inum} is past the ${geo.inodesCount} inodes`);
  const node = await new InodeTable(fs.cache, fs.groups, geo).get(inum);
  if (!node.isReg || node.links === 0) throw corrupt(`the journal inode ${inum} is not a regular file in use`);
  const bs = geo.blockSize;
  const fileBlocks = Math.floor(node.size / bs);
  const map = new BlockMap(fs.cache, fs.groups, new Allocator(fs.cache, fs.groups, geo), geo);
  const phys = async (n: number): Promise<number> => {
    const b = (await map.lookupRun(node, n, 1))[0];
    if (b === 0) throw corrupt(`the journal inode ${inum} has a hole at block ${n}`);
    return b;
  };
  const jsbRaw = await dev.read((await phys(0)) * bs, bs);
  const jsb = decodeJournalSuperblock(jsbRaw);
  if (jsb.blockSize !== bs) throw corrupt(`the journal's block size ${jsb.blockSize} is not the file system's ${bs}`);
  if (jsb.maxLen > fileBlocks) throw corrupt(`the journal superblock says ${jsb.maxLen} blocks, but the journal inode ${inum} has ${fileBlocks}`);

  let report: RecoveryReport = { summary: 'the journal was empty', skipped: [] };
  if (jsb.start !== 0) {
    const logMap = await map.lookupRun(node, 0, jsb.maxLen);
    const rec = await recoverJournal(jsb, async (n) => {
      if (logMap[n] === 0) throw corrupt(`the journal inode ${inum} has a hole at block ${n}`);
      return dev.read(logMap[n] * bs, bs);
    }, geo.blocksCount);
    const last = (rec.endTransaction - 1) >>> 0;
    const which = rec.endTransaction === jsb.sequence ? 'no committed transaction' : `transactions ${jsb.sequence} to ${last}`;
    report = { summary: `recovered ${rec.blocks.size} block(s) of ${which} from the journal${write ? '' : ', in memory only (read-only mount)'}`, skipped: rec.skipped };
    if (!write) {
      dev.overlayBlocks(rec.blocks, bs);
      return report;
    }
    const writes = [...rec.blocks].map(([b, data]) => ({ offset: b * bs, data }));
    const perCommit = REPLAY_COMMIT_BYTES / bs;
    for (let i = 0; i < writes.length; i += perCommit) await dev.commit(writes.slice(i, i + perCommit));
    await dev.commit([
      { offset: (await phys(0)) * bs, data: emptiedJournalSuperblock(jsbRaw, rec.nextSequence) },
      { offset: SUPERBLOCK_OFFSET, data: await recoveredSuperblock(dev) },
    ]);
    return report;
  }
  if (write) await dev.commit([{ offset: SUPERBLOCK_OFFSET, data: await recoveredSuperblock(dev) }]);
  return report;
}

/** The superblock as on the image now, with needs_recovery cleared (and s_checksum with metadata_csum). */
async function recoveredSuperblock(dev: Device): Promise<Uint8Array> {
  const sb = new Superblock((await dev.read(SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE)).slice());
  sb.incompat = (sb.incompat & ~INCOMPAT_RECOVER) >>> 0;
  sb.sealChecksum();
  return sb.raw;
}
