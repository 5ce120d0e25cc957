// A disk's partition table, read through any reader of its bytes: the MBR (with an extended
// partition's chain of EBRs, mbr.ts) or the GPT (gpt.ts) it has, or none. What counts as a table
// is decided carefully, because an ext2 image, a FAT volume or a LUKS container may be given
// where a partitioned disk is expected: an ext2 image starts with 1024 zero bytes, and a FAT or
// NTFS volume boot record ends with 0x55AA too but holds boot code where an MBR has its entries —
// only an MBR whose entries are sane and inside the disk, or a protective MBR and its GPT, is one.

import { SysError } from '../../kernel/api.js';
import { readGpt } from './gpt.js';
import { mbrOf, readMbr } from './mbr.js';

/** The sector of an MBR, and of a GPT's LBAs unless it is found at 4096-byte ones (gpt.ts): 512 bytes, blk's default. */
export const SECTOR = 512;

/** The logical sector sizes a table is read at, in bytes. */
export type SectorSize = 512 | 4096;

/** The bytes of a disk, as a table is read from them. */
export interface DiskReader {
  /** What the messages call the disk: its path. */
  name: string;
  /** Size in bytes. */
  size: number;
  /** `length` bytes at byte `offset`, both multiples of SECTOR, inside the disk. */
  read(offset: number, length: number): Promise<Uint8Array>;
}

/** One partition of a table. Offsets and sizes in bytes. */
export interface Partition {
  /** As Linux and sfdisk number them: MBR primaries 1–4, logical partitions from 5; GPT entry index + 1. */
  number: number;
  start: number;
  size: number;
  /** The MBR type byte as two hex digits ('83'), or the GPT partition type GUID (upper case). */
  type: string;
  /** A short name of the type: 'Linux', 'FAT32 (LBA)', 'EFI System', 'Linux filesystem'…; 'unknown' else. */
  typeName: string;
  /** MBR: the boot indicator 0x80; GPT: attribute bit 2 (legacy BIOS bootable). */
  bootable: boolean;
  /** An MBR extended partition: the container of the logical ones, not a device of its own. */
  extended?: true;
  /** GPT: the partition name (UTF-16LE in the entry). */
  name?: string;
  /** GPT: the unique partition GUID. */
  uuid?: string;
}

/** A disk's partition table. */
export interface PartitionTable {
  scheme: 'mbr' | 'gpt';
  /** The disk's size in bytes. */
  diskSize: number;
  /** The table's LBA unit: 512, or 4096 for a GPT of a disk with 4 KiB sectors. */
  sectorSize: SectorSize;
  /** The MBR disk signature ('0x1234abcd') or the GPT disk GUID. */
  id: string;
  partitions: Partition[];
  /** What was found amiss but read around (a damaged primary GPT header: read from the backup). */
  notes: string[];
}

/**
 * The partition table of `disk`, or null when it has none (no 0x55AA signature, or an MBR whose
 * entries are not those of a partition table: a boot flag other than 0x00/0x80, no partition,
 * one without a type, a start or a size). EUCLEAN naming the structure for a table that is
 * damaged: a partition leaving the disk, overlapping partitions, two extended ones, an EBR
 * chain that loops or leaves its extended partition, both GPT headers (or their entry arrays)
 * damaged.
 */
export function readTable(disk: DiskReader): Promise<PartitionTable | null> {
  return tableOf(disk, false);
}

/**
 * readTable for a user of a whole image that is not expecting a table (a file system's mount):
 * only a valid MBR — its entries inside the disk, too — or a protective MBR's GPT counts; an MBR
 * with an entry that leaves the disk is no table (a boot record that looks like one by chance).
 */
export function probeTable(disk: DiskReader): Promise<PartitionTable | null> {
  return tableOf(disk, true);
}

async function tableOf(disk: DiskReader, probing: boolean): Promise<PartitionTable | null> {
  if (disk.size < SECTOR) return null;
  const mbr = mbrOf(await disk.read(0, SECTOR), disk.size / SECTOR);
  if (mbr === null || (probing && !mbr.protective && mbr.outside !== null)) return null;
  return mbr.protective ? readGpt(disk) : readMbr(disk, mbr);
}

/** readTable's table; EINVAL naming the disk when it has none. */
export async function requireTable(disk: DiskReader): Promise<PartitionTable> {
  const t = await readTable(disk);
  if (t === null) throw new SysError('EINVAL', `dk: ${disk.name} has no partition table (neither an MBR nor a GPT)`);
  return t;
}

/** Bytes as people read a disk's sizes: '48 MiB', '1.5 GiB', '512 B'. */
export function sizeText(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = bytes;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${Number.isInteger(v) ? v : v.toFixed(1)} ${units[i]}`;
}

/** 'an MBR' or 'a GPT'. */
function schemeText(t: PartitionTable): string {
  return t.scheme === 'mbr' ? 'an MBR' : 'a GPT';
}

/**
 * The sentence for a disk with a table mounted or opened whole: `disk.img has an MBR partition
 * table: name a partition, disk.img@1 (FAT32 (LBA), 16 MiB) or disk.img@2 (Linux, 48 MiB)`.
 */
export function namePartitionSentence(source: string, t: PartitionTable): string {
  const parts = t.partitions.filter((p) => !p.extended).map((p) => `${source}@${p.number} (${p.typeName}, ${sizeText(p.size)})`);
  if (parts.length === 0) return `${source} has ${schemeText(t)} partition table with no partition in it`;
  const list = parts.length === 1 ? parts[0] : `${parts.slice(0, -1).join(', ')} or ${parts[parts.length - 1]}`;
  return `${source} has ${schemeText(t)} partition table: name a partition, ${list}`;
}

/** EUCLEAN when two partitions share a sector (of `ss` bytes): names both. `what` says where they are listed. */
export function refuseOverlaps(name: string, parts: readonly Partition[], what: string, ss: SectorSize = SECTOR): void {
  const sorted = [...parts].sort((a, b) => a.start - b.start);
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1];
    const b = sorted[i];
    if (b.start < a.start + a.size) {
      throw new SysError('EUCLEAN', `dk: ${name}: ${what}: partitions ${a.number} and ${b.number} overlap (sectors ${a.start / ss}–${(a.start + a.size) / ss - 1} and ${b.start / ss}–${(b.start + b.size) / ss - 1})`);
    }
  }
}
