// Recovery of a jbd2 journal: what fs/jbd2/recovery.c does at mount when s_start is not 0,
// computed without writing anything. Its three passes are kept, but the log is read once:
// SCAN walks it from s_start, transaction by transaction, verifying descriptor and revoke
// block tails and commit blocks (v1 crc32, or v2/v3 crc32c), and keeps the tags and revoke
// records it meets, to find where the committed log ends; REVOKE builds the table
// block → latest revoking transaction from the committed transactions; REPLAY takes, in log
// order, every logged copy not revoked by its own or a later transaction (the last copy of a
// block wins), with its escaped magic restored. The caller writes the result to the image or
// overlays it in memory.
//
// Where recovery.c stops and where it fails, this does the same: the log ends at the first
// block without the magic or with another sequence, at an unknown block type, at a commit
// whose checksum fails (unless async_commit), or at a stale block older than the last
// commit; a descriptor or revoke block whose checksum fails, followed by a commit no older
// than the last one, fails the recovery (EUCLEAN), as does a revoke block whose r_count
// overflows it. A logged data block whose checksum fails is skipped and the rest of the
// transaction replayed, as recovery.c does; Linux then fails the mount ("JBD2: recovery
// failed"), e2fsck reports it and checks the file system in full. This follows e2fsck: the
// block is reported in `skipped`, and a read-write mount leaves the file system marked not
// valid for the next e2fsck (journal.ts).

import { crc32BeUpdate } from './crc32-be.js';
import {
  BLOCK_TAIL_SIZE, BLOCKTYPE_COMMIT, BLOCKTYPE_DESCRIPTOR, BLOCKTYPE_REVOKE, CHECKSUM_CRC32, COMMIT_CHKSUM, COMMIT_CHKSUM_SIZE,
  COMMIT_CHKSUM_TYPE, COMMIT_NSEC, COMMIT_SEC, FEATURE_COMPAT_CHECKSUM, FEATURE_INCOMPAT_ASYNC_COMMIT, FEATURE_INCOMPAT_CSUM_V3, JBD2_MAGIC,
  JOURNAL_HEADER_SIZE, REVOKE_HEADER_SIZE, TAG_FLAG_ESCAPE, TAG_FLAG_LAST_TAG, TAG_FLAG_SAME_UUID, TAG_UUID_SIZE, be32, blockTailChecksum,
  commitBlockChecksum, corruptJournal, dataBlockChecksum, hasCsumV2or3, journalChecksumSeed, readHeader, readTag, revokeRecordBytes, setBe32, tagBytes,
  type BlockTag, type JournalSuperblock,
} from './jbd2-format.js';

/** Reads journal block `n` (0 ≤ n < s_maxlen: a logical block of the journal): s_blocksize bytes. */
export type JournalRead = (n: number) => Promise<Uint8Array>;

/** What recovery found: the blocks to write back, and how to leave the journal. */
export interface RecoveredJournal {
  /** File system block → its recovered bytes (one block each), in the order first logged. */
  blocks: Map<number, Uint8Array>;
  /** Transactions replayed: s_sequence up to `endTransaction` − 1 (none when equal). */
  endTransaction: number;
  /** s_sequence of the emptied journal (end + 1, as jbd2_journal_recover and e2fsck leave it). */
  nextSequence: number;
  /** Sentences naming logged data blocks left out because their checksum failed. */
  skipped: string[];
}

/** One logged copy of a block: where it goes, where in the log it is, and its tag. */
interface Logged {
  fsBlock: number;
  logBlock: number;
  flags: number;
  checksum: number;
}

interface Transaction {
  sequence: number;
  logged: Logged[];
  revoked: number[];
}

/** tid_gt of include/linux/jbd2.h: sequence numbers compare modulo 2^32. */
function tidGt(a: number, b: number): boolean {
  return ((a - b) | 0) > 0;
}

/**
 * Recovers the journal `jsb` describes (s_start ≠ 0), reading its blocks with `read`.
 * `fsBlocks` is the file system's block count: a committed tag naming a block past it is
 * corruption. Every loop is bounded: the walk by the log's length (s_maxlen − s_first blocks:
 * the log wraps at most once), the tags of a descriptor and the records of a revoke block by
 * the block size. Errors: EUCLEAN naming the journal block where the log is corrupt, or what
 * `read` throws.
 */
export async function recoverJournal(jsb: JournalSuperblock, read: JournalRead, fsBlocks: number): Promise<RecoveredJournal> {
  const scan = await scanLog(jsb, read);
  const committed = scan.transactions.filter((tx) => tidGt(scan.endTransaction, tx.sequence));
  const revokedUntil = new Map<number, number>();
  for (const tx of committed) {
    for (const b of tx.revoked) {
      const seen = revokedUntil.get(b);
      if (seen === undefined || tidGt(tx.sequence, seen)) revokedUntil.set(b, tx.sequence);
    }
  }
  const csum = hasCsumV2or3(jsb);
  const seed = journalChecksumSeed(jsb.uuid);
  const v3 = (jsb.featureIncompat & FEATURE_INCOMPAT_CSUM_V3) !== 0;
  const blocks = new Map<number, Uint8Array>();
  const skipped: string[] = [];
  for (const tx of committed) {
    for (const l of tx.logged) {
      const revoke = revokedUntil.get(l.fsBlock);
      if (revoke !== undefined && !tidGt(tx.sequence, revoke)) continue;
      const data = await read(l.logBlock);
      if (csum) {
        const sum = dataBlockChecksum(seed, tx.sequence, data);
        if ((v3 ? sum : sum & 0xffff) !== l.checksum) {
          skipped.push(`the copy of block ${l.fsBlock} in transaction ${tx.sequence} (journal block ${l.logBlock}) fails its checksum`);
          continue;
        }
      }
      if (l.fsBlock >= fsBlocks) {
        throw corruptJournal(`transaction ${tx.sequence} logs block ${l.fsBlock}, past the file system's ${fsBlocks} blocks (journal block ${l.logBlock})`);
      }
      const copy = data.slice();
      if (l.flags & TAG_FLAG_ESCAPE) setBe32(copy, 0, JBD2_MAGIC);
      blocks.set(l.fsBlock, copy);
    }
  }
  return { blocks, endTransaction: scan.endTransaction, nextSequence: (scan.endTransaction + 1) >>> 0, skipped };
}

interface Scan {
  transactions: Transaction[];
  endTransaction: number;
}

/** PASS_SCAN of do_one_pass: the transactions met from s_start, and the first one not to replay. */
async function scanLog(jsb: JournalSuperblock, read: JournalRead): Promise<Scan> {
  const { first, maxLen, featureCompat, featureIncompat } = jsb;
  const bs = jsb.blockSize;
  const csum = hasCsumV2or3(jsb);
  const v1Checksum = (featureCompat & FEATURE_COMPAT_CHECKSUM) !== 0;
  const asyncCommit = (featureIncompat & FEATURE_INCOMPAT_ASYNC_COMMIT) !== 0;
  const seed = journalChecksumSeed(jsb.uuid);
  const tailOk = (block: Uint8Array) => !csum || be32(block, bs - BLOCK_TAIL_SIZE) === blockTailChecksum(seed, block);
  const logLength = maxLen - first;

  const transactions: Transaction[] = [];
  let next = jsb.start;
  let sequence = jsb.sequence;
  let tx: Transaction = { sequence, logged: [], revoked: [] };
  let endTransaction: number | null = null;
  let crc32Sum = 0xffffffff;
  let needCheckCommitTime = false;
  let lastCommitTime = 0n;
  let walked = 0;
  const advance = (): number => {
    const at = next;
    if (++walked > logLength) throw corruptJournal(`the log from journal block ${jsb.start} runs past the journal's ${logLength} log blocks`);
    next = next + 1 >= maxLen ? first : next + 1;
    return at;
  };

  for (;;) {
    const at = advance();
    const block = await read(at);
    const header = readHeader(block);
    if (header.magic !== JBD2_MAGIC || header.sequence !== sequence) break;
    if (header.blocktype === BLOCKTYPE_DESCRIPTOR) {
      if (!tailOk(block)) needCheckCommitTime = true;
      const sumData = v1Checksum && endTransaction === null;
      if (sumData) crc32Sum = crc32BeUpdate(crc32Sum, block);
      for (const tag of descriptorTags(block, featureIncompat, csum)) {
        const logBlock = advance();
        if (sumData) crc32Sum = crc32BeUpdate(crc32Sum, await read(logBlock));
        tx.logged.push({ fsBlock: tag.blockNr, logBlock, flags: tag.flags, checksum: tag.checksum });
      }
    } else if (header.blocktype === BLOCKTYPE_COMMIT) {
      const commitTime = (BigInt(be32(block, COMMIT_SEC)) << 32n) | BigInt(be32(block, COMMIT_SEC + 4));
      if (needCheckCommitTime) {
        // A block of this transaction failed its checksum: a commit as recent as the last
        // one means the log itself is damaged; an older one, that it is a stale leftover.
        if (commitTime >= lastCommitTime) throw corruptJournal(`a descriptor or revoke block of transaction ${sequence} fails its checksum`);
        break;
      }
      let ok: boolean;
      if (v1Checksum) {
        if (endTransaction !== null) break;
        const found = be32(block, COMMIT_CHKSUM);
        const type = block[COMMIT_CHKSUM_TYPE];
        const size = block[COMMIT_CHKSUM_SIZE];
        ok = (found === crc32Sum && type === CHECKSUM_CRC32 && size === 4) || (type === 0 && size === 0 && found === 0);
        if (ok) crc32Sum = 0xffffffff;
      } else {
        ok = !csum || commitChecksumOk(seed, block) || commitChecksumOk(seed, commitHeaderOnly(block));
      }
      if (!ok) {
        if (commitTime < lastCommitTime) break;
        endTransaction = sequence;
        if (!asyncCommit) break;
      }
      lastCommitTime = commitTime;
      transactions.push(tx);
      sequence = (sequence + 1) >>> 0;
      tx = { sequence, logged: [], revoked: [] };
    } else if (header.blocktype === BLOCKTYPE_REVOKE) {
      if (!tailOk(block)) needCheckCommitTime = true;
      tx.revoked.push(...revokeRecords(block, at, featureIncompat, csum));
    } else {
      break;
    }
  }
  return { transactions, endTransaction: endTransaction ?? sequence };
}

/** Whether a commit block's h_chksum[0] is its crc32c (csum v2/v3). */
function commitChecksumOk(seed: number, block: Uint8Array): boolean {
  return be32(block, COMMIT_CHKSUM) === commitBlockChecksum(seed, block);
}

/**
 * The commit block with everything past struct commit_header zeroed: a commit block written
 * by a kernel that checksummed only the header still verifies this way
 * (jbd2_commit_block_csum_verify_partial).
 */
function commitHeaderOnly(block: Uint8Array): Uint8Array {
  const out = new Uint8Array(block.length);
  out.set(block.subarray(0, COMMIT_NSEC + 4));
  return out;
}

/**
 * The tags of a descriptor block, up to LAST_TAG or the end of the space for tags (before the
 * tail with csum v2/v3): count_tags of recovery.c. At most (block size − 12) / tag size.
 */
function descriptorTags(block: Uint8Array, featureIncompat: number, csum: boolean): BlockTag[] {
  const size = block.length - (csum ? BLOCK_TAIL_SIZE : 0);
  const bytes = tagBytes(featureIncompat);
  const tags: BlockTag[] = [];
  for (let at = JOURNAL_HEADER_SIZE; at + bytes <= size; ) {
    const tag = readTag(block, at, featureIncompat);
    tags.push(tag);
    at += bytes;
    if (!(tag.flags & TAG_FLAG_SAME_UUID)) at += TAG_UUID_SIZE;
    if (tag.flags & TAG_FLAG_LAST_TAG) break;
  }
  return tags;
}

/** The block numbers of a revoke block's records: r_count bytes from the header on, 4 or 8 bytes each. */
function revokeRecords(block: Uint8Array, at: number, featureIncompat: number, csum: boolean): number[] {
  const count = be32(block, JOURNAL_HEADER_SIZE);
  if (count > block.length - (csum ? BLOCK_TAIL_SIZE : 0)) {
    throw corruptJournal(`the revoke block at journal block ${at} says it holds ${count} bytes, more than fit in it`);
  }
  const record = revokeRecordBytes(featureIncompat);
  const out: number[] = [];
  for (let off = REVOKE_HEADER_SIZE; off + record <= count; off += record) {
    out.push(record === 8 ? be32(block, off) * 2 ** 32 + be32(block, off + 4) : be32(block, off));
  }
  return out;
}
