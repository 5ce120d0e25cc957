// Journaled images for the jbd2 tests: ext3/ext4 images made by mke2fs (reproducibly), block
// access by number, the journal's blocks as debugfs maps them, and journals left needing
// recovery by debugfs's journal commands (jo, jw, jc), which write real jbd2 transactions;
// images with a file too wide for one journal transaction.

import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readSync, rmSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { decodeJournalSuperblock } from '../../servers/ext2/jbd2-format.js';
import { recoverJournal } from '../../servers/ext2/jbd2-recovery.js';
import { FAKE_TIME, UUID, debugfs, debugfsWrite, superblock, tempDir } from './e2fs.js';

export interface JournaledImage {
  /** mke2fs -t: ext3 (no checksums: the journal gets v1 commit checksums with jo -c) or ext4 (metadata_csum: csum v3). */
  type: 'ext3' | 'ext4';
  blockSize: 1024 | 4096;
  /** Bytes. */
  size: number;
  /** mke2fs -d: a host directory copied in. */
  from?: string;
}

/** Makes a journaled image with mke2fs (fixed UUID, hash seed and time). */
export function mkJournaled(path: string, o: JournaledImage): void {
  rmSync(path, { force: true });
  writeFileSync(path, '');
  truncateSync(path, o.size);
  const args = ['-q', '-F', '-t', o.type, '-b', String(o.blockSize), '-U', UUID, '-E', `hash_seed=${UUID}`];
  if (o.from) args.push('-d', o.from);
  execFileSync('mke2fs', [...args, path], { env: { ...process.env, E2FSPROGS_FAKE_TIME: String(FAKE_TIME) }, stdio: 'pipe' });
}

/** Blocks of the file mkWideFile makes: preallocated over ~1,050 groups of 256 blocks. */
export const WIDE_BLOCKS = 270_000;

/**
 * An ext3 or ext4 image (300 MiB, sparse on the host; 1 KiB blocks, 256 a group, the smallest
 * journal: 1024 blocks) with /big: WIDE_BLOCKS blocks preallocated by debugfs (uninitialised
 * extents on ext4, a block map with indirect blocks on ext3), whose bitmaps and descriptors
 * are more than one journal transaction holds.
 */
export function mkWideFile(path: string, type: 'ext3' | 'ext4'): void {
  rmSync(path, { force: true });
  writeFileSync(path, '');
  truncateSync(path, 300 * 1024 * 1024);
  execFileSync('mke2fs', ['-q', '-F', '-t', type, '-b', '1024', '-O', '^resize_inode', '-g', '256', '-J', 'size=1', path], { stdio: 'pipe' });
  debugfsWrite(path, ['write /dev/null big', `fallocate big 0 ${WIDE_BLOCKS - 1}`, `sif big size ${WIDE_BLOCKS * 1024}`]);
}

/** The superblock's free block count, as dumpe2fs shows it. */
export const freeBlocks = (img: string) => Number(superblock(img)['Free blocks']);

/** Copies an image keeping its holes (node's copyFileSync writes every byte of mkWideFile's 300 MiB). */
export function sparseCopy(from: string, to: string): void {
  execFileSync('cp', ['--sparse=always', from, to]);
}

/** The free block count debugfs leaves after `requests` (rm big, …) on a copy of `img`. */
export function freeAfterDebugfs(img: string, requests: string[]): number {
  const copy = `${img}.debugfs`;
  sparseCopy(img, copy);
  debugfsWrite(copy, requests);
  const free = freeBlocks(copy);
  rmSync(copy);
  return free;
}

export function readBlock(img: string, block: number, bs: number): Uint8Array {
  const fd = openSync(img, 'r');
  try {
    const out = new Uint8Array(bs);
    readSync(fd, out, 0, bs, block * bs);
    return out;
  } finally {
    closeSync(fd);
  }
}

export function writeBytes(img: string, offset: number, bytes: Uint8Array): void {
  const fd = openSync(img, 'r+');
  try {
    writeSync(fd, bytes, 0, bytes.length, offset);
  } finally {
    closeSync(fd);
  }
}

/** The image block holding journal block `n` (logical block n of inode 8), as debugfs maps it. */
export function journalBlock(img: string, n: number): number {
  return Number(debugfs(img, `bmap <8> ${n}`).trim());
}

/** The image blocks of the journal, by journal block, from debugfs's `stat <8>` (block map or extents). */
export function journalMap(img: string): number[] {
  const map: number[] = [];
  for (const m of debugfs(img, 'stat <8>').matchAll(/\((\d+)(?:-(\d+))?\):(\d+)/g)) {
    const [from, to, phys] = [Number(m[1]), Number(m[2] ?? m[1]), Number(m[3])];
    for (let l = from; l <= to; l++) map[l] = phys + l - from;
  }
  return map;
}

/**
 * One transaction for debugfs's jw: blocks written with `data` (one block's bytes each), or
 * blocks revoked. Not both: debugfs 1.47's `jw -b … -r …` leaves the commit block out.
 */
export type Transaction = { write: { blocks: number[]; data: Uint8Array } } | { revoke: number[] };

/**
 * Leaves the journal of `img` needing recovery: opens it (`jo`, with `-c` for checksums: v1
 * crc32 commit checksums on ext3, csum v3 on a metadata_csum image), writes each transaction
 * with `jw` and closes it without recovering (`jc`).
 */
export function journalTransactions(img: string, transactions: Transaction[], opts: { checksums?: boolean } = {}): void {
  const dir = tempDir('rumpus-jw-');
  const cmds = [opts.checksums ? 'jo -c' : 'jo'];
  transactions.forEach((tx, i) => {
    if ('revoke' in tx) {
      cmds.push(`jw -r ${tx.revoke.join(',')}`);
      return;
    }
    const file = join(dir, `tx${i}`);
    writeFileSync(file, tx.write.data);
    cmds.push(`jw -b ${tx.write.blocks.join(',')} ${file}`);
  });
  cmds.push('jc');
  debugfsWrite(img, cmds);
}

/**
 * Recovers `img`'s journal straight from the file (its blocks mapped by debugfs), as the
 * driver would at mount; nothing is written. Throws what decoding or recovery throws.
 */
export async function recoverImage(img: string, bs: number) {
  const map = journalMap(img);
  const read = async (n: number) => readBlock(img, map[n], bs);
  const jsb = decodeJournalSuperblock(await read(0));
  return { jsb, rec: await recoverJournal(jsb, read, Number(superblock(img)['Block count'])) };
}
