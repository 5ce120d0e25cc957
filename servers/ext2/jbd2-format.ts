// The on-disk format of the jbd2 journal (ext3/ext4's): block types, the journal superblock,
// block tags, and the checksums of the csum v2/v3 formats. Unlike the rest of ext2, every
// jbd2 field is BIG-endian. Sources: the kernel's Documentation/filesystems/ext4/journal.rst
// and include/linux/jbd2.h; e2fsprogs' lib/ext2fs/kernel-jbd.h names the same fields.

import { SysError } from '../../kernel/api.js';
import { crc32cUpdate } from './crc32c.js';

/** h_magic of every journal metadata block (JBD2_MAGIC_NUMBER). */
export const JBD2_MAGIC = 0xc03b3998;

/** h_blocktype values (journal.rst, "Block Header"). */
export const BLOCKTYPE_DESCRIPTOR = 1;
export const BLOCKTYPE_COMMIT = 2;
export const BLOCKTYPE_SUPERBLOCK_V1 = 3;
export const BLOCKTYPE_SUPERBLOCK_V2 = 4;
export const BLOCKTYPE_REVOKE = 5;

/** journal_header_t: h_magic, h_blocktype, h_sequence (u32 each). */
export const JOURNAL_HEADER_SIZE = 12;
/** sizeof(journal_superblock_t): the checksummed part of the journal's first block. */
export const JOURNAL_SUPERBLOCK_SIZE = 1024;

/** s_feature_compat: commit blocks carry a crc32 of the transaction (v1 checksums). */
export const FEATURE_COMPAT_CHECKSUM = 0x1;
/** s_feature_incompat bits (journal.rst, "Super Block"). */
export const FEATURE_INCOMPAT_REVOKE = 0x1;
export const FEATURE_INCOMPAT_64BIT = 0x2;
export const FEATURE_INCOMPAT_ASYNC_COMMIT = 0x4;
export const FEATURE_INCOMPAT_CSUM_V2 = 0x8;
export const FEATURE_INCOMPAT_CSUM_V3 = 0x10;
export const FEATURE_INCOMPAT_FAST_COMMIT = 0x20;
/** What this driver's recovery understands; any other incompat bit refuses the journal. */
const FEATURE_INCOMPAT_SUPPORTED = FEATURE_INCOMPAT_REVOKE | FEATURE_INCOMPAT_64BIT | FEATURE_INCOMPAT_ASYNC_COMMIT
  | FEATURE_INCOMPAT_CSUM_V2 | FEATURE_INCOMPAT_CSUM_V3;
const FEATURE_INCOMPAT_NAMES: Record<number, string> = {
  [FEATURE_INCOMPAT_REVOKE]: 'revoke', [FEATURE_INCOMPAT_64BIT]: '64bit', [FEATURE_INCOMPAT_ASYNC_COMMIT]: 'async_commit',
  [FEATURE_INCOMPAT_CSUM_V2]: 'csum_v2', [FEATURE_INCOMPAT_CSUM_V3]: 'csum_v3', [FEATURE_INCOMPAT_FAST_COMMIT]: 'fast_commit',
};

/** s_checksum_type and a commit block's h_chksum_type values. */
export const CHECKSUM_CRC32 = 1;
export const CHECKSUM_MD5 = 2;
export const CHECKSUM_SHA1 = 3;
export const CHECKSUM_CRC32C = 4;

/** t_flags of a block tag (journal.rst, "Descriptor Block"). */
export const TAG_FLAG_ESCAPE = 0x1; // the block began with JBD2_MAGIC, zeroed in the log
export const TAG_FLAG_SAME_UUID = 0x2; // no 16-byte uuid follows this tag
export const TAG_FLAG_DELETED = 0x4;
export const TAG_FLAG_LAST_TAG = 0x8;
/** The uuid after a tag without SAME_UUID. */
export const TAG_UUID_SIZE = 16;

/** The tail of a descriptor or revoke block with csum v2/v3: t_checksum / r_checksum (u32). */
export const BLOCK_TAIL_SIZE = 4;
/** jbd2_journal_revoke_header_t: the header, then r_count (u32): bytes used, header included. */
export const REVOKE_HEADER_SIZE = 16;

// commit_header (journal.rst, "Commit Block"): after the header, h_chksum_type (u8),
// h_chksum_size (u8), 2 padding bytes, h_chksum[8] (u32 each), h_commit_sec (u64),
// h_commit_nsec (u32).
export const COMMIT_CHKSUM_TYPE = 0x0c;
export const COMMIT_CHKSUM_SIZE = 0x0d;
export const COMMIT_CHKSUM = 0x10;
export const COMMIT_SEC = 0x30;
export const COMMIT_NSEC = 0x38;

// journal_superblock_t (journal.rst, "Super Block"). Big-endian; u32 unless marked. The
// fields from s_feature_compat on exist in a v2 superblock only.
const S_BLOCKSIZE = 0x0c;
const S_MAXLEN = 0x10;
const S_FIRST = 0x14;
const S_SEQUENCE = 0x18;
const S_START = 0x1c;
const S_ERRNO = 0x20; // s32
const S_FEATURE_COMPAT = 0x24;
const S_FEATURE_INCOMPAT = 0x28;
const S_FEATURE_RO_COMPAT = 0x2c;
const S_UUID = 0x30; // 16 bytes
const S_NR_USERS = 0x40;
const S_MAX_TRANSACTION = 0x48;
const S_MAX_TRANS_DATA = 0x4c;
const S_CHECKSUM_TYPE = 0x50; // u8
const S_NUM_FC_BLKS = 0x54;
const S_CHECKSUM = 0xfc;
const S_USERS = 0x100; // 16 bytes × 48
/** s_nr_users is at most 48 (JBD2_USERS_MAX). */
const USERS_MAX = 48;

/** A journal metadata block's header; `magic` is JBD2_MAGIC on a valid one. */
export interface JournalHeader {
  magic: number;
  blocktype: number;
  sequence: number;
}

export function be32(buf: Uint8Array, at: number): number {
  return ((buf[at] << 24) | (buf[at + 1] << 16) | (buf[at + 2] << 8) | buf[at + 3]) >>> 0;
}

export function setBe32(buf: Uint8Array, at: number, v: number): void {
  buf[at] = v >>> 24;
  buf[at + 1] = (v >>> 16) & 0xff;
  buf[at + 2] = (v >>> 8) & 0xff;
  buf[at + 3] = v & 0xff;
}

export function be16(buf: Uint8Array, at: number): number {
  return (buf[at] << 8) | buf[at + 1];
}

/** The 12-byte header at the start of `block` (read whatever is there: check `magic`). */
export function readHeader(block: Uint8Array): JournalHeader {
  return { magic: be32(block, 0), blocktype: be32(block, 4), sequence: be32(block, 8) };
}

/** Writes a valid header (JBD2_MAGIC, `blocktype`, `sequence`) at the start of `block`. */
export function writeHeader(block: Uint8Array, blocktype: number, sequence: number): void {
  setBe32(block, 0, JBD2_MAGIC);
  setBe32(block, 4, blocktype);
  setBe32(block, 8, sequence);
}

/**
 * The journal superblock, decoded. Block numbers (`first`, `start`) count journal blocks from
 * the journal's first block (logical blocks of the journal inode); `maxLen` is the journal's
 * length in blocks. `start` 0 means the journal is empty (nothing to recover); otherwise the
 * log begins at journal block `start` with transaction `sequence`. A v1 superblock has no
 * features, uuid or checksum (they decode as zeros).
 */
export interface JournalSuperblock {
  version: 1 | 2;
  blockSize: number;
  maxLen: number;
  first: number;
  sequence: number;
  start: number;
  /** s_errno: a negative errno the file system recorded, or 0. */
  errno: number;
  featureCompat: number;
  featureIncompat: number;
  featureRoCompat: number;
  uuid: Uint8Array;
  nrUsers: number;
  maxTransaction: number;
  maxTransData: number;
  /** s_checksum_type: CHECKSUM_CRC32C with csum v2/v3, else 0. */
  checksumType: number;
  /** s_num_fc_blks: fast commit blocks (0: the default 256 when fast_commit is on). */
  numFcBlocks: number;
  /** s_users: 16 bytes per user (uuids of file systems sharing an external journal), 48 of them. */
  users: Uint8Array;
}

/** EUCLEAN with a sentence naming what in the journal is damaged. */
export function corruptJournal(message: string): SysError {
  return new SysError('EUCLEAN', `ext2: corrupt journal: ${message}`);
}

/** Whether the journal has csum v2 or v3: checksummed tags, block tails and commit blocks. */
export function hasCsumV2or3(jsb: Pick<JournalSuperblock, 'featureIncompat'>): boolean {
  return (jsb.featureIncompat & (FEATURE_INCOMPAT_CSUM_V2 | FEATURE_INCOMPAT_CSUM_V3)) !== 0;
}

/**
 * Decodes the journal superblock from the first `JOURNAL_SUPERBLOCK_SIZE` (or more) bytes of
 * the journal's first block. Errors: EUCLEAN when the magic or block type is not a journal
 * superblock's, s_first/s_maxlen/s_start do not describe a log, csum v2/v3 is set with a
 * checksum type other than crc32c, both v2 and v3 are set, or s_checksum does not match
 * (jbd2's journal_get_superblock checks the same); ENOTSUP naming incompat features this
 * driver does not know (as Linux refuses to load such a journal).
 */
export function decodeJournalSuperblock(raw: Uint8Array): JournalSuperblock {
  if (raw.length < JOURNAL_SUPERBLOCK_SIZE) throw corruptJournal(`the journal superblock is ${raw.length} bytes, not ${JOURNAL_SUPERBLOCK_SIZE}`);
  const h = readHeader(raw);
  if (h.magic !== JBD2_MAGIC) throw corruptJournal(`the journal superblock's magic is 0x${h.magic.toString(16)}, not 0x${JBD2_MAGIC.toString(16)}`);
  if (h.blocktype !== BLOCKTYPE_SUPERBLOCK_V1 && h.blocktype !== BLOCKTYPE_SUPERBLOCK_V2) {
    throw corruptJournal(`the journal superblock's block type is ${h.blocktype}, not ${BLOCKTYPE_SUPERBLOCK_V1} or ${BLOCKTYPE_SUPERBLOCK_V2}`);
  }
  const v2 = h.blocktype === BLOCKTYPE_SUPERBLOCK_V2;
  const field = (at: number) => (v2 ? be32(raw, at) : 0);
  const jsb: JournalSuperblock = {
    version: v2 ? 2 : 1,
    blockSize: be32(raw, S_BLOCKSIZE),
    maxLen: be32(raw, S_MAXLEN),
    first: be32(raw, S_FIRST),
    sequence: be32(raw, S_SEQUENCE),
    start: be32(raw, S_START),
    errno: be32(raw, S_ERRNO) | 0,
    featureCompat: field(S_FEATURE_COMPAT),
    featureIncompat: field(S_FEATURE_INCOMPAT),
    featureRoCompat: field(S_FEATURE_RO_COMPAT),
    uuid: v2 ? raw.slice(S_UUID, S_UUID + 16) : new Uint8Array(16),
    nrUsers: field(S_NR_USERS),
    maxTransaction: field(S_MAX_TRANSACTION),
    maxTransData: field(S_MAX_TRANS_DATA),
    checksumType: v2 ? raw[S_CHECKSUM_TYPE] : 0,
    numFcBlocks: field(S_NUM_FC_BLKS),
    users: v2 ? raw.slice(S_USERS, S_USERS + 16 * USERS_MAX) : new Uint8Array(16 * USERS_MAX),
  };
  const { blockSize, maxLen, first, start } = jsb;
  if (blockSize < 1024 || blockSize > 65536 || (blockSize & (blockSize - 1)) !== 0) throw corruptJournal(`the journal superblock's block size is ${blockSize}`);
  if (first < 1 || first >= maxLen) throw corruptJournal(`the journal superblock's first log block ${first} is not inside its ${maxLen} blocks`);
  if (start !== 0 && (start < first || start >= maxLen)) throw corruptJournal(`the journal superblock's log start ${start} is not between blocks ${first} and ${maxLen - 1}`);
  const unknown = (jsb.featureIncompat & ~FEATURE_INCOMPAT_SUPPORTED) >>> 0;
  if (unknown) {
    const names: string[] = [];
    for (let bit = 1; bit !== 0 && bit <= unknown; bit = (bit << 1) >>> 0) {
      if (unknown & bit) names.push(FEATURE_INCOMPAT_NAMES[bit] ?? `0x${bit.toString(16)}`);
    }
    throw new SysError('ENOTSUP', `ext2: cannot recover the journal: unsupported journal feature(s) ${names.join(', ')}`);
  }
  if ((jsb.featureIncompat & FEATURE_INCOMPAT_CSUM_V2) && (jsb.featureIncompat & FEATURE_INCOMPAT_CSUM_V3)) {
    throw corruptJournal('the journal superblock sets both csum_v2 and csum_v3');
  }
  if (hasCsumV2or3(jsb)) {
    if (jsb.checksumType !== CHECKSUM_CRC32C) throw corruptJournal(`the journal superblock's checksum type is ${jsb.checksumType}, not crc32c (${CHECKSUM_CRC32C})`);
    const stored = be32(raw, S_CHECKSUM);
    const computed = journalSuperblockChecksum(raw);
    if (stored !== computed) {
      throw corruptJournal(`the journal superblock's checksum is 0x${stored.toString(16)}, computed 0x${computed.toString(16)}`);
    }
  }
  return jsb;
}

/**
 * Encodes `jsb` as the JOURNAL_SUPERBLOCK_SIZE bytes of a journal superblock (the rest of the
 * journal's first block is zero), with s_checksum computed when csum v2/v3 is set. A v1
 * superblock gets only the fields up to s_errno. The inverse of decodeJournalSuperblock.
 */
export function encodeJournalSuperblock(jsb: JournalSuperblock): Uint8Array {
  const raw = new Uint8Array(JOURNAL_SUPERBLOCK_SIZE);
  writeHeader(raw, jsb.version === 2 ? BLOCKTYPE_SUPERBLOCK_V2 : BLOCKTYPE_SUPERBLOCK_V1, 0);
  setBe32(raw, S_BLOCKSIZE, jsb.blockSize);
  setBe32(raw, S_MAXLEN, jsb.maxLen);
  setBe32(raw, S_FIRST, jsb.first);
  setBe32(raw, S_SEQUENCE, jsb.sequence);
  setBe32(raw, S_START, jsb.start);
  setBe32(raw, S_ERRNO, jsb.errno >>> 0);
  if (jsb.version === 1) return raw;
  setBe32(raw, S_FEATURE_COMPAT, jsb.featureCompat);
  setBe32(raw, S_FEATURE_INCOMPAT, jsb.featureIncompat);
  setBe32(raw, S_FEATURE_RO_COMPAT, jsb.featureRoCompat);
  raw.set(jsb.uuid.subarray(0, 16), S_UUID);
  setBe32(raw, S_NR_USERS, jsb.nrUsers);
  setBe32(raw, S_MAX_TRANSACTION, jsb.maxTransaction);
  setBe32(raw, S_MAX_TRANS_DATA, jsb.maxTransData);
  raw[S_CHECKSUM_TYPE] = jsb.checksumType;
  setBe32(raw, S_NUM_FC_BLKS, jsb.numFcBlocks);
  raw.set(jsb.users.subarray(0, 16 * USERS_MAX), S_USERS);
  if (hasCsumV2or3(jsb)) setBe32(raw, S_CHECKSUM, journalSuperblockChecksum(raw));
  return raw;
}

/**
 * A copy of the raw journal superblock `raw` (as read, JOURNAL_SUPERBLOCK_SIZE bytes or more)
 * marked empty: s_start 0 and s_sequence `sequence`, s_checksum recomputed with csum v2/v3;
 * every other byte kept, fields this module does not decode included. What a recovery leaves
 * (jbd2_mark_journal_empty in fs/jbd2/journal.c; e2fsck's e2fsck_journal_release).
 */
export function emptiedJournalSuperblock(raw: Uint8Array, sequence: number): Uint8Array {
  return journalSuperblockWithLog(raw, 0, sequence);
}

/**
 * A copy of the raw journal superblock `raw` with the log starting at journal block `start`
 * with transaction `sequence` (start 0: empty), s_checksum recomputed with csum v2/v3; every
 * other byte kept. What jbd2 writes at mount and at each checkpoint (jbd2_journal_update_sb_log_tail).
 */
export function journalSuperblockWithLog(raw: Uint8Array, start: number, sequence: number): Uint8Array {
  const out = raw.slice(0, JOURNAL_SUPERBLOCK_SIZE);
  setBe32(out, S_START, start);
  setBe32(out, S_SEQUENCE, sequence);
  if (readHeader(out).blocktype === BLOCKTYPE_SUPERBLOCK_V2 && hasCsumV2or3({ featureIncompat: be32(out, S_FEATURE_INCOMPAT) })) {
    setBe32(out, S_CHECKSUM, journalSuperblockChecksum(out));
  }
  return out;
}

/**
 * The journal superblock's s_checksum: crc32c seeded with ~0 over its 1024 bytes with
 * s_checksum taken as zero, no final inversion (jbd2_superblock_csum in fs/jbd2/journal.c).
 */
export function journalSuperblockChecksum(raw: Uint8Array): number {
  let crc = crc32cUpdate(0xffffffff, raw.subarray(0, S_CHECKSUM));
  crc = crc32cUpdate(crc, new Uint8Array(4));
  return crc32cUpdate(crc, raw.subarray(S_CHECKSUM + 4, JOURNAL_SUPERBLOCK_SIZE));
}

/**
 * The seed of every other journal checksum: crc32c of s_uuid seeded with ~0 (j_csum_seed,
 * set in fs/jbd2/journal.c's load_superblock).
 */
export function journalChecksumSeed(uuid: Uint8Array): number {
  return crc32cUpdate(0xffffffff, uuid.subarray(0, 16));
}

/**
 * The checksum in the last 4 bytes of a descriptor or revoke block (t_checksum / r_checksum):
 * crc32c from `seed` over the whole block with those 4 bytes zero (jbd2_descriptor_block_csum_set
 * in fs/jbd2/journal.c; verified in fs/jbd2/recovery.c).
 */
export function blockTailChecksum(seed: number, block: Uint8Array): number {
  const tail = block.length - BLOCK_TAIL_SIZE;
  return crc32cUpdate(crc32cUpdate(seed, block.subarray(0, tail)), new Uint8Array(BLOCK_TAIL_SIZE));
}

/**
 * A commit block's checksum with csum v2/v3, stored big-endian in h_chksum[0]: crc32c from
 * `seed` over the whole block with h_chksum[0] zero (jbd2_commit_block_csum_set in
 * fs/jbd2/commit.c).
 */
export function commitBlockChecksum(seed: number, block: Uint8Array): number {
  let crc = crc32cUpdate(seed, block.subarray(0, COMMIT_CHKSUM));
  crc = crc32cUpdate(crc, new Uint8Array(4));
  return crc32cUpdate(crc, block.subarray(COMMIT_CHKSUM + 4));
}

/**
 * A logged data block's checksum, for its tag: crc32c from `seed` over the big-endian
 * transaction `sequence`, then over the block's bytes as logged (escaped); csum v3 stores all
 * 32 bits, csum v2 the low 16 (jbd2_block_tag_csum_set in fs/jbd2/commit.c).
 */
export function dataBlockChecksum(seed: number, sequence: number, block: Uint8Array): number {
  const seq = new Uint8Array(4);
  setBe32(seq, 0, sequence);
  return crc32cUpdate(crc32cUpdate(seed, seq), block);
}

/**
 * Bytes of one block tag in a descriptor block (journal_tag_bytes in include/linux/jbd2.h):
 * 16 with csum v3 (journal_block_tag3_t); else 8, plus 4 with 64bit (t_blocknr_high), plus 2
 * with csum v2. Not counting the uuid after a tag without SAME_UUID.
 */
export function tagBytes(featureIncompat: number): number {
  if (featureIncompat & FEATURE_INCOMPAT_CSUM_V3) return 16;
  let size = 8;
  if (featureIncompat & FEATURE_INCOMPAT_64BIT) size += 4;
  if (featureIncompat & FEATURE_INCOMPAT_CSUM_V2) size += 2;
  return size;
}

/** One block tag: where a logged block goes, its flags, and its checksum (v2: 16 bits). */
export interface BlockTag {
  /** The file system block the logged block belongs to. */
  blockNr: number;
  flags: number;
  checksum: number;
}

/**
 * Decodes the tag at `at` of a descriptor block. Layouts: journal_block_tag3_t (csum v3:
 * t_blocknr, t_flags u32, t_blocknr_high, t_checksum u32) or journal_block_tag_t (t_blocknr,
 * t_checksum u16, t_flags u16, t_blocknr_high only with 64bit).
 */
export function readTag(block: Uint8Array, at: number, featureIncompat: number): BlockTag {
  const high64 = (featureIncompat & FEATURE_INCOMPAT_64BIT) !== 0;
  if (featureIncompat & FEATURE_INCOMPAT_CSUM_V3) {
    const high = high64 ? be32(block, at + 8) : 0;
    return { blockNr: high * 2 ** 32 + be32(block, at), flags: be32(block, at + 4), checksum: be32(block, at + 12) };
  }
  const high = high64 ? be32(block, at + 8) : 0;
  return { blockNr: high * 2 ** 32 + be32(block, at), flags: be16(block, at + 6), checksum: be16(block, at + 4) };
}

/**
 * Writes `tag` at `at` of a descriptor block, in the layout readTag reads (journal_block_tag3_t
 * with csum v3, else journal_block_tag_t): a csum v2 checksum keeps its low 16 bits. EINVAL for
 * a block number past 32 bits in a journal without 64bit.
 */
export function writeTag(block: Uint8Array, at: number, featureIncompat: number, tag: BlockTag): void {
  const high = Math.floor(tag.blockNr / 2 ** 32);
  const high64 = (featureIncompat & FEATURE_INCOMPAT_64BIT) !== 0;
  if (high !== 0 && !high64) throw new SysError('EINVAL', `ext2: block ${tag.blockNr} does not fit in a tag of a journal without 64bit`);
  setBe32(block, at, tag.blockNr >>> 0);
  if (featureIncompat & FEATURE_INCOMPAT_CSUM_V3) {
    setBe32(block, at + 4, tag.flags);
    setBe32(block, at + 8, high);
    setBe32(block, at + 12, tag.checksum);
    return;
  }
  setBe16(block, at + 4, tag.checksum & 0xffff);
  setBe16(block, at + 6, tag.flags);
  if (high64) setBe32(block, at + 8, high);
}

function setBe16(buf: Uint8Array, at: number, v: number): void {
  buf[at] = (v >>> 8) & 0xff;
  buf[at + 1] = v & 0xff;
}

/** Bytes of one revoke record: 8 with 64bit, else 4 (jbd2_journal_revoke_header_t's entries). */
export function revokeRecordBytes(featureIncompat: number): number {
  return featureIncompat & FEATURE_INCOMPAT_64BIT ? 8 : 4;
}
