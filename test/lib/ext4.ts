// ext4 images for the ext4 tests: made by mke2fs -t ext4 (reproducibly: fixed uuid, hash seed
// and time), optionally with their directories indexed by e2fsck -fyD (mke2fs -d writes only
// linear directories), and host trees with what exercises ext4 reading: a directory that
// becomes an htree, a file with enough separate extents to need an extent tree block.

import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { e2fsprogsTool } from '../../bench/e2fsprogs.js';
import { FAKE_TIME, UUID, indexDirectories, seededBytes } from './e2fs.js';

/** A tap skip reason when e2fsprogs is missing, or false. */
export const NO_E2FSPROGS = ['mke2fs', 'e2fsck', 'debugfs'].every((t) => e2fsprogsTool(t)) ? false : 'e2fsprogs (mke2fs, e2fsck, debugfs) is not installed';

export interface Ext4ImageOptions {
  /** Bytes. */
  size: number;
  blockSize: number;
  /** mke2fs -O on top of ext4's defaults, e.g. '^64bit' or '^metadata_csum,uninit_bg'. */
  features?: string;
  /** mke2fs -g: blocks per group (more groups in a small image). */
  groupBlocks?: number;
  /** mke2fs -d: a host directory copied in. */
  from?: string;
  /** Index every directory large enough (indexDirectories). */
  index?: boolean;
  /** The directory hash the index uses (tune2fs -E hash_alg= before indexing): half_md4 (mke2fs's), tea, legacy. */
  hashAlg?: 'half_md4' | 'tea' | 'legacy';
  /** Hash names as unsigned chars (s_flags' unsigned_directory_hash, set before indexing); x86's mke2fs sets signed. */
  unsignedHash?: boolean;
}

/** Makes an ext4 image with mke2fs -t ext4. */
export function mkExt4Image(path: string, o: Ext4ImageOptions): void {
  rmSync(path, { force: true });
  writeFileSync(path, '');
  truncateSync(path, o.size);
  const args = ['-q', '-F', '-t', 'ext4', '-U', UUID, '-E', `hash_seed=${UUID}`, '-b', String(o.blockSize)];
  if (o.features) args.push('-O', o.features);
  if (o.groupBlocks) args.push('-g', String(o.groupBlocks));
  if (o.from) args.push('-d', o.from);
  const env = { ...process.env, E2FSPROGS_FAKE_TIME: String(FAKE_TIME) };
  execFileSync(e2fsprogsTool('mke2fs') ?? 'mke2fs', [...args, path], { env, stdio: 'pipe' });
  if (o.hashAlg) execFileSync(e2fsprogsTool('tune2fs') ?? 'tune2fs', ['-E', `hash_alg=${o.hashAlg}`, path], { env, stdio: 'pipe' });
  if (o.unsignedHash) execFileSync(e2fsprogsTool('debugfs') ?? 'debugfs', ['-w', '-R', 'ssv flags 2', path], { env, stdio: 'pipe' });
  if (o.index) indexDirectories(path);
}

/** BIG_DIR: enough long names for a two-level htree at 1 KiB blocks, and names with bytes past 0x7F (signed and unsigned hashes differ on them). */
export const BIG_DIR = 'big';
export const BIG_DIR_NAMES = [
  ...Array.from({ length: 3000 }, (_, i) => `a-rather-long-file-name-number-${String(i).padStart(5, '0')}`),
  ...Array.from({ length: 100 }, (_, i) => `héllo-wörld-✓-${i}`),
];
/** A file of EXTENT_PIECES pieces of 100 bytes, 64 KiB apart: more extents than i_block holds. */
export const FRAGMENTED = 'fragmented';
export const EXTENT_PIECES = 30;

/** Adds BIG_DIR and FRAGMENTED to a host directory. */
export function addExt4Shapes(dir: string): void {
  mkdirSync(join(dir, BIG_DIR));
  BIG_DIR_NAMES.forEach((name, i) => writeFileSync(join(dir, BIG_DIR, name), `${i}\n`));
  const fd = openSync(join(dir, FRAGMENTED), 'w');
  for (let i = 0; i < EXTENT_PIECES; i++) writeSync(fd, seededBytes(100, 1000 + i), 0, 100, i * 65536);
  closeSync(fd);
}
