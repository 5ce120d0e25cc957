// Partitioned disk images for the dk tests, made by the real tools (sfdisk, sgdisk, mkfs.vfat,
// mke2fs), and the oracles around them: sfdisk --json's view of a table, a partition extracted
// as dd would, and the digest of every byte outside a partition.

import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, openSync, readFileSync, readSync, rmSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { mkImage } from './e2fs.js';
import { mkExt4Image } from './ext4.js';
import { SysError } from '../../kernel/index.js';

export const SECTOR = 512;
export const MiB = 1024 * 1024;

/** Why the partition tests cannot run here, or null when they can. */
export function diskToolsMissing(): string | null {
  for (const [tool, pkg] of [['sfdisk', 'fdisk'], ['fdisk', 'fdisk'], ['sgdisk', 'gdisk'], ['mkfs.vfat', 'dosfstools'], ['mke2fs', 'e2fsprogs']]) {
    if (spawnSync(tool, ['--version'], { stdio: 'ignore' }).error) return `${tool} is not installed (CI installs ${pkg})`;
  }
  return null;
}

/** A partition as the tests know it: number, and start and size in bytes. */
export interface Part {
  number: number;
  start: number;
  size: number;
}

/**
 * The MBR disk of the tests, 64 MiB, made by sfdisk: 1 FAT32 (LBA) of 16 MiB, bootable, with a
 * FAT volume (mkfs.vfat --offset); 2 Linux of 24 MiB with an ext2 file system (mke2fs, then
 * copied in); 3 extended, with logical 5 (Linux, 8 MiB, ext2 too) and 6 (Linux swap, 4 MiB).
 */
export const MBR_PARTS: Record<number, Part> = {
  1: { number: 1, start: 2048 * SECTOR, size: 16 * MiB },
  2: { number: 2, start: 34816 * SECTOR, size: 24 * MiB },
  5: { number: 5, start: 86016 * SECTOR, size: 8 * MiB },
};

export function makeMbrDisk(path: string): void {
  rmSync(path, { force: true });
  writeFileSync(path, '');
  truncateSync(path, 64 * MiB);
  const script = 'label: dos\nlabel-id: 0x1234abcd\nstart=2048, size=16M, type=c, bootable\nstart=34816, size=24M, type=83\nstart=83968, type=5\nsize=8M, type=83\nsize=4M, type=82\n';
  execFileSync('sfdisk', ['-q', path], { input: script, stdio: ['pipe', 'pipe', 'pipe'] });
  execFileSync('mkfs.vfat', ['-F', '32', '--offset', String(MBR_PARTS[1].start / SECTOR), '-i', '1234abcd', path, String(MBR_PARTS[1].size / 1024)], { stdio: 'pipe' });
  for (const p of [MBR_PARTS[2], MBR_PARTS[5]]) putExt2(path, p);
}

/**
 * The GPT disk of the tests, 64 MiB, made by sgdisk: 1 EFI System 'esp' (8 MiB), 2 Linux
 * filesystem 'root' (20 MiB, with ext2), 3 Linux swap 'swap' (4 MiB), 4 Linux filesystem 'home'
 * (the rest, with ext2).
 */
export const GPT_PARTS: Record<number, Part> = {
  2: { number: 2, start: 18432 * SECTOR, size: 20 * MiB },
  4: { number: 4, start: 67584 * SECTOR, size: (131038 - 67584 + 1) * SECTOR },
};

export function makeGptDisk(path: string): void {
  rmSync(path, { force: true });
  writeFileSync(path, '');
  truncateSync(path, 64 * MiB);
  execFileSync('sgdisk', [
    '-U', '11111111-2222-3333-4444-555555555555',
    '-n', '1:2048:+8M', '-t', '1:ef00', '-c', '1:esp',
    '-n', '2:0:+20M', '-t', '2:8300', '-c', '2:root',
    '-n', '3:0:+4M', '-t', '3:8200', '-c', '3:swap',
    '-n', '4:0:0', '-t', '4:8300', '-c', '4:home',
    path,
  ], { stdio: 'pipe' });
  for (const p of Object.values(GPT_PARTS)) putExt2(path, p);
}

/**
 * A GPT disk with 4 KiB sectors ("4Kn"), 64 MiB, made by `fdisk -b 4096`: two Linux filesystem
 * partitions of 16 MiB from LBA 256 and 4352 (4096-byte LBAs), the second with an ext4 file
 * system of 4 KiB blocks (mke2fs -t ext4).
 */
export const GPT_4KN_PARTS: Record<number, Part> = {
  1: { number: 1, start: 256 * 4096, size: 16 * MiB },
  2: { number: 2, start: 4352 * 4096, size: 16 * MiB },
};

export function makeGpt4knDisk(path: string): void {
  rmSync(path, { force: true });
  writeFileSync(path, '');
  truncateSync(path, 64 * MiB);
  // fdisk's dialogue: a new GPT, two new partitions of 16 MiB where fdisk puts them, write.
  execFileSync('fdisk', ['-b', '4096', path], { input: 'g\nn\n\n\n+16M\nn\n\n\n+16M\nw\n', stdio: ['pipe', 'pipe', 'pipe'] });
  const fs = `${path}.part2`;
  mkExt4Image(fs, { size: GPT_4KN_PARTS[2].size, blockSize: 4096 });
  writeAt(path, GPT_4KN_PARTS[2].start, readFileSync(fs));
  rmSync(fs, { force: true });
}

/** An ext2 file system of the partition's size (mke2fs, reproducible) written into it. */
function putExt2(disk: string, p: Part): void {
  const fs = `${disk}.part${p.number}`;
  mkImage(fs, { size: p.size });
  writeAt(disk, p.start, readFileSync(fs));
  rmSync(fs, { force: true });
}

/** Writes bytes into a host file at a byte offset. */
export function writeAt(path: string, offset: number, data: Uint8Array): void {
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, data, 0, data.length, offset);
  } finally {
    closeSync(fd);
  }
}

/** `length` bytes of a host file at `offset`. */
export function readAt(path: string, offset: number, length: number): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    const buf = new Uint8Array(length);
    readSync(fd, buf, 0, length, offset);
    return buf;
  } finally {
    closeSync(fd);
  }
}

/** The partition copied out to `out`, as `dd skip= count=` would. */
export function extract(disk: string, p: Part, out: string): string {
  writeFileSync(out, readAt(disk, p.start, p.size));
  return out;
}

/** sha256 of every byte of the disk outside the partitions given. */
export function outsideDigest(disk: string, ...parts: Part[]): string {
  const bytes = readFileSync(disk);
  const h = createHash('sha256');
  let at = 0;
  for (const p of [...parts].sort((a, b) => a.start - b.start)) {
    h.update(bytes.subarray(at, p.start));
    at = p.start + p.size;
  }
  h.update(bytes.subarray(at));
  return h.digest('hex');
}

/** One partition as sfdisk --json lists it. */
export interface SfdiskPartition {
  node: string;
  start: number;
  size: number;
  type: string;
  bootable?: boolean;
  uuid?: string;
  name?: string;
}

/** sfdisk --json's table of a disk image. */
export function sfdiskJson(disk: string): { label: string; id: string; partitions: SfdiskPartition[] } {
  return JSON.parse(execFileSync('sfdisk', ['--json', disk], { encoding: 'utf8' })).partitiontable;
}

/** A call's answer, or its errno and message (a SysError's) with `dir` written DIR; anything else is thrown. */
export async function outcomeIn<T>(dir: string, p: Promise<T>): Promise<T | string> {
  try {
    return await p;
  } catch (err) {
    if (!(err instanceof SysError)) throw err;
    return `${err.errno}: ${err.message.replaceAll(dir, 'DIR')}`;
  }
}
