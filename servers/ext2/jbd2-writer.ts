// Writing a jbd2 journal: each commit of the file system becomes one transaction in the log,
// as fs/jbd2/commit.c writes one, so that an image left by a crash is recovered by e2fsck or
// Linux (or by this driver's own recovery, jbd2-recovery.ts) from the image alone.
//
// A transaction is descriptor blocks (block tags: 32 or 64-bit, tag3 with csum v3, the v2 tag
// with csum v2; the journal's uuid after the first tag of each descriptor, SAME_UUID after;
// ESCAPE for a block that starts with the jbd2 magic, logged with it zeroed; the descriptor
// tail checksum with csum v2/v3), the logged copies, and a commit block (its time; a crc32 of
// the transaction with the v1 checksum feature, or the crc32c of the block with csum v2/v3).
// Every block of a commit is logged, file data included (data=journal): a block's last logged
// copy is always its newest content, so replay never puts an older one over a block reused
// since, and no revoke block is ever needed.
//
// Order, per transaction: the descriptors and copies, a flush; the commit block, a flush (the
// transaction is durable: what fsync waits for); then the home locations, written without a
// flush. The log's tail (s_start) moves only at a checkpoint — when the next transaction does
// not fit in the ring — after a flush has made every home write durable: then the whole ring
// is free again. One log block is always left free, so the block after the last commit is
// never the log's own start. At mount the log starts empty at s_first (jbd2's journal_reset);
// at unmount, after a flush, the journal superblock is marked empty (s_start 0).
//
// A commit that fails half-way (the device refused, or restarted) is settled before the next:
// if its commit block is on the log, it committed — its home writes are made again — else the
// next transaction is written over it, with the same sequence number.

import { SysError } from '../../kernel/api.js';
import { crc32BeUpdate } from './crc32-be.js';
import type { Write } from './device.js';
import {
  BLOCK_TAIL_SIZE, BLOCKTYPE_COMMIT, BLOCKTYPE_DESCRIPTOR, CHECKSUM_CRC32, COMMIT_CHKSUM, COMMIT_CHKSUM_SIZE, COMMIT_CHKSUM_TYPE, COMMIT_NSEC,
  COMMIT_SEC, FEATURE_COMPAT_CHECKSUM, FEATURE_INCOMPAT_CSUM_V3, JBD2_MAGIC, JOURNAL_HEADER_SIZE, JOURNAL_SUPERBLOCK_SIZE, TAG_FLAG_ESCAPE,
  TAG_FLAG_LAST_TAG, TAG_FLAG_SAME_UUID, TAG_UUID_SIZE, be32, blockTailChecksum, commitBlockChecksum, dataBlockChecksum, hasCsumV2or3,
  journalChecksumSeed, journalSuperblockWithLog, setBe32, tagBytes, writeHeader, writeTag, type BlockTag, type JournalSuperblock,
} from './jbd2-format.js';

/** The largest single device write. */
const MAX_WRITE = 16 * 1024 * 1024;

/** What the writer needs of the device: sector-aligned reads and writes, and a barrier. */
export interface JournalDevice {
  read(offset: number, length: number): Promise<Uint8Array>;
  write(offset: number, data: Uint8Array): Promise<void>;
  flush(): Promise<void>;
}

/** One transaction as logged: its blocks from the descriptor on, and its commit block. */
export interface EncodedTransaction {
  /** Descriptor blocks, each followed by the copies its tags name. */
  logged: Uint8Array[];
  commit: Uint8Array;
}

/**
 * Encodes transaction `sequence` logging `blocks` (file system block → its bytes, one block
 * each), committed at `nowMs` (ms since the epoch), for the journal `jsb` describes. Pure.
 */
export function encodeTransaction(jsb: JournalSuperblock, sequence: number, blocks: ReadonlyMap<number, Uint8Array>, nowMs: number): EncodedTransaction {
  const bs = jsb.blockSize;
  const incompat = jsb.featureIncompat;
  const csum = hasCsumV2or3(jsb);
  const v3 = (incompat & FEATURE_INCOMPAT_CSUM_V3) !== 0;
  const v1Checksum = (jsb.featureCompat & FEATURE_COMPAT_CHECKSUM) !== 0;
  const seed = journalChecksumSeed(jsb.uuid);
  const tb = tagBytes(incompat);
  const space = bs - (csum ? BLOCK_TAIL_SIZE : 0);
  const logged: Uint8Array[] = [];
  let crc32Sum = 0xffffffff;
  const entries = [...blocks];
  for (let i = 0; i < entries.length; ) {
    const desc = new Uint8Array(bs);
    writeHeader(desc, BLOCKTYPE_DESCRIPTOR, sequence);
    const copies: Uint8Array[] = [];
    let at = JOURNAL_HEADER_SIZE;
    let last: { at: number; tag: BlockTag } | null = null;
    for (let first = true; i < entries.length && at + tb + (first ? TAG_UUID_SIZE : 0) <= space; first = false, i++) {
      const [fsBlock, data] = entries[i];
      let copy = data;
      let flags = first ? 0 : TAG_FLAG_SAME_UUID;
      if (be32(data, 0) === JBD2_MAGIC) {
        copy = data.slice();
        setBe32(copy, 0, 0);
        flags |= TAG_FLAG_ESCAPE;
      }
      const sum = csum ? dataBlockChecksum(seed, sequence, copy) : 0;
      const tag = { blockNr: fsBlock, flags, checksum: v3 ? sum : sum & 0xffff };
      writeTag(desc, at, incompat, tag);
      last = { at, tag };
      at += tb;
      if (first) {
        desc.set(jsb.uuid.subarray(0, TAG_UUID_SIZE), at);
        at += TAG_UUID_SIZE;
      }
      copies.push(copy);
    }
    writeTag(desc, last!.at, incompat, { ...last!.tag, flags: last!.tag.flags | TAG_FLAG_LAST_TAG });
    if (csum) setBe32(desc, bs - BLOCK_TAIL_SIZE, blockTailChecksum(seed, desc));
    if (v1Checksum) for (const b of [desc, ...copies]) crc32Sum = crc32BeUpdate(crc32Sum, b);
    logged.push(desc, ...copies);
  }
  const commit = new Uint8Array(bs);
  writeHeader(commit, BLOCKTYPE_COMMIT, sequence);
  const sec = Math.floor(nowMs / 1000);
  setBe32(commit, COMMIT_SEC, Math.floor(sec / 2 ** 32));
  setBe32(commit, COMMIT_SEC + 4, sec >>> 0);
  setBe32(commit, COMMIT_NSEC, (nowMs % 1000) * 1_000_000);
  if (v1Checksum) {
    commit[COMMIT_CHKSUM_TYPE] = CHECKSUM_CRC32;
    commit[COMMIT_CHKSUM_SIZE] = 4;
    setBe32(commit, COMMIT_CHKSUM, crc32Sum);
  }
  if (csum) setBe32(commit, COMMIT_CHKSUM, commitBlockChecksum(seed, commit));
  return { logged, commit };
}

/** Log blocks a transaction of `n` file system blocks takes: its descriptors, the copies, the commit. */
export function transactionBlocks(jsb: JournalSuperblock, n: number): number {
  if (n === 0) return 0;
  const tb = tagBytes(jsb.featureIncompat);
  const space = jsb.blockSize - (hasCsumV2or3(jsb) ? BLOCK_TAIL_SIZE : 0) - JOURNAL_HEADER_SIZE - TAG_UUID_SIZE;
  const perDescriptor = Math.floor(space / tb);
  return Math.ceil(n / perDescriptor) + n + 1;
}

/** A transaction written but not known to be whole on the device. */
interface Pending {
  sequence: number;
  /** Its first log block, and how many it takes. */
  start: number;
  length: number;
  commit: Uint8Array;
  home: Map<number, Uint8Array>;
  /** Whether its commit block is known to be durable (only its home writes are missing). */
  committed: boolean;
}

export class JournalWriter {
  /** The next log block to write. */
  private head: number;
  /** The sequence of the next transaction. */
  private sequence: number;
  /** Log blocks written since the tail (s_start). */
  private used = 0;
  private pending: Pending | null = null;
  private lastCommitMs = 0;
  private readonly bs: number;
  /** The most file system blocks one transaction may log. */
  readonly capacity: number;

  /**
   * `jsbRaw`: the journal superblock's block as on the image; `phys`: the image block of each
   * journal block 0 … s_maxlen − 1 (the journal inode's map); `fsBlocks`: the file system's
   * block count. Nothing is written until start().
   */
  constructor(
    private readonly dev: JournalDevice,
    private readonly jsb: JournalSuperblock,
    private readonly jsbRaw: Uint8Array,
    private readonly phys: ArrayLike<number>,
    private readonly now: () => number,
  ) {
    this.bs = jsb.blockSize;
    this.head = jsb.first;
    this.sequence = jsb.sequence;
    let n = Math.max(0, this.room - 2);
    while (n > 0 && transactionBlocks(jsb, n) > this.room) n--;
    this.capacity = n;
  }

  /** Log blocks in the ring, less the one always left free. */
  private get room(): number {
    return this.jsb.maxLen - this.jsb.first - 1;
  }

  /** The sequence the next transaction gets. */
  get nextSequence(): number {
    return this.sequence;
  }

  /** Opens the log, empty, at s_first with the journal's s_sequence (jbd2's journal_reset), durably. */
  async start(): Promise<void> {
    await this.writeSuperblock(this.jsb.first);
    this.head = this.jsb.first;
    this.used = 0;
  }

  /**
   * Commits `writes` (byte offsets and data, multiples of 512; a partial block is completed from
   * the device) as one transaction; returns once its commit block is durable and its home
   * locations are written. ENOSPC, before anything is written, when it needs more blocks than
   * the journal holds; the device's errors (then the next commit or close settles it).
   */
  async commit(writes: Write[]): Promise<void> {
    const home = await this.blocksOf(writes);
    if (home.size === 0) return;
    const length = transactionBlocks(this.jsb, home.size);
    if (length > this.room) {
      throw new SysError('ENOSPC', `ext2: a commit of ${home.size} blocks does not fit in the journal (at most ${this.capacity} blocks a transaction)`);
    }
    await this.settle();
    if (this.used + length > this.room) await this.checkpoint();
    this.lastCommitMs = Math.max(this.lastCommitMs, this.now());
    const tx = encodeTransaction(this.jsb, this.sequence, home, this.lastCommitMs);
    const p: Pending = { sequence: this.sequence, start: this.head, length, commit: tx.commit, home, committed: false };
    this.pending = p;
    await this.writeLog(p.start, tx.logged);
    await this.dev.flush();
    await this.writeLog(this.at(p.start, length - 1), [tx.commit]);
    await this.dev.flush();
    this.committed(p);
    await this.writeHome(home);
    this.pending = null;
  }

  /** Makes every home write durable and marks the journal empty (s_start 0): the unmount's end. */
  async close(): Promise<void> {
    await this.settle();
    await this.dev.flush();
    await this.writeSuperblock(0);
  }

  /** Settles a commit that failed half-way: committed (its commit block is on the log) or not. */
  private async settle(): Promise<void> {
    const p = this.pending;
    if (p === null) return;
    if (!p.committed) {
      const at = this.at(p.start, p.length - 1);
      const onLog = await this.dev.read(this.phys[at] * this.bs, this.bs);
      if (!equal(onLog, p.commit)) {
        this.pending = null; // never committed: the next transaction takes its place and sequence
        return;
      }
      this.committed(p);
    }
    await this.writeHome(p.home);
    await this.dev.flush();
    this.pending = null;
  }

  /** Moves past a transaction whose commit block is durable. */
  private committed(p: Pending): void {
    p.committed = true;
    this.head = this.at(p.start, p.length);
    this.used += p.length;
    this.sequence = (p.sequence + 1) >>> 0;
  }

  /** Frees the whole ring: every home write made durable, then the tail moved to the head. */
  private async checkpoint(): Promise<void> {
    await this.dev.flush();
    await this.writeSuperblock(this.head);
    this.used = 0;
  }

  /** Writes the journal superblock with the log at `start` (0: empty) and the next sequence, durably. */
  private async writeSuperblock(start: number): Promise<void> {
    await this.dev.write(this.phys[0] * this.bs, journalSuperblockWithLog(this.jsbRaw, start, this.sequence).subarray(0, JOURNAL_SUPERBLOCK_SIZE));
    await this.dev.flush();
  }

  /** The log block `k` blocks after `start`, wrapping from the end of the journal to s_first. */
  private at(start: number, k: number): number {
    const { first, maxLen } = this.jsb;
    return first + ((start - first + k) % (maxLen - first));
  }

  /** Writes `blocks` to the log from `start` on, physically adjacent ones in one write. */
  private async writeLog(start: number, blocks: Uint8Array[]): Promise<void> {
    await this.writeRuns(blocks.map((data, k) => [this.phys[this.at(start, k)], data]));
  }

  private async writeHome(home: Map<number, Uint8Array>): Promise<void> {
    await this.writeRuns([...home].sort((a, b) => a[0] - b[0]));
  }

  /** Writes (image block, bytes) pairs, joining runs of adjacent blocks up to MAX_WRITE. */
  private async writeRuns(blocks: [number, Uint8Array][]): Promise<void> {
    const bs = this.bs;
    for (let i = 0; i < blocks.length; ) {
      let j = i + 1;
      while (j < blocks.length && blocks[j][0] === blocks[j - 1][0] + 1 && (j - i + 1) * bs <= MAX_WRITE) j++;
      const data = j === i + 1 ? blocks[i][1] : new Uint8Array((j - i) * bs);
      if (j > i + 1) for (let k = i; k < j; k++) data.set(blocks[k][1], (k - i) * bs);
      await this.dev.write(blocks[i][0] * bs, data);
      i = j;
    }
  }

  /** The commit's writes as whole file system blocks (a later write wins); partial ones completed from the device. */
  private async blocksOf(writes: Write[]): Promise<Map<number, Uint8Array>> {
    const bs = this.bs;
    const out = new Map<number, Uint8Array>();
    for (const w of writes) {
      const end = w.offset + w.data.length;
      for (let b = Math.floor(w.offset / bs); b * bs < end; b++) {
        const start = b * bs;
        if (start >= w.offset && start + bs <= end) {
          out.set(b, w.data.subarray(start - w.offset, start - w.offset + bs));
          continue;
        }
        const block = (out.get(b) ?? (await this.dev.read(start, bs))).slice();
        const from = Math.max(start, w.offset);
        const to = Math.min(start + bs, end);
        block.set(w.data.subarray(from - w.offset, to - w.offset), from - start);
        out.set(b, block);
      }
    }
    return out;
  }
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
