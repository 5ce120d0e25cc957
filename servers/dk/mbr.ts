// The MBR partition table: four entries at byte 446 of sector 0, the 0x55AA signature at 510,
// and an extended partition's chain of EBRs, each one logical partition (its first entry, its
// start relative to the EBR) and a link to the next EBR (its second entry, relative to the
// extended partition's start). Logical partitions are numbered from 5, as Linux's
// block/partitions/msdos.c and sfdisk do. A type 0xEE entry makes it a protective MBR: the disk
// is GPT (gpt.ts).

import { SysError } from '../../kernel/api.js';
import { refuseOverlaps, SECTOR, type DiskReader, type Partition, type PartitionTable } from './table.js';

const ENTRIES_AT = 446;
const ENTRY_SIZE = 16;
const DISK_ID_AT = 440;
/** The protective MBR's type: the disk is GPT. */
const GPT_PROTECTIVE = 0xee;
/** DOS, Windows (LBA) and Linux extended partitions. */
const EXTENDED = new Set([0x05, 0x0f, 0x85]);
/** The most logical partitions read: Linux's DISK_MAX_PARTS (256). Bounds the EBR chain. */
const MAX_LOGICAL = 256;

/** Short names of the common MBR types, as fdisk prints them (shortened). */
const TYPE_NAMES: Record<number, string> = {
  0x01: 'FAT12', 0x04: 'FAT16 <32M', 0x05: 'Extended', 0x06: 'FAT16', 0x07: 'HPFS/NTFS/exFAT', 0x0b: 'FAT32',
  0x0c: 'FAT32 (LBA)', 0x0e: 'FAT16 (LBA)', 0x0f: 'Extended (LBA)', 0x82: 'Linux swap', 0x83: 'Linux', 0x85: 'Linux extended',
  0x8e: 'Linux LVM', 0xa5: 'FreeBSD', 0xa6: 'OpenBSD', 0xa9: 'NetBSD', 0xee: 'GPT', 0xef: 'EFI (FAT-12/16/32)', 0xfd: 'Linux raid autodetect',
};

/** One entry of an MBR or EBR: sectors (LBA). */
interface MbrEntry {
  bootable: boolean;
  type: number;
  start: number;
  sectors: number;
}

/** Sector 0 read as an MBR: its non-empty entries by slot (0–3). */
export interface Mbr {
  protective: boolean;
  diskId: number;
  entries: Array<{ slot: number; entry: MbrEntry }>;
  /** The first entry that leaves the disk, as a sentence; null when none does. */
  outside: string | null;
}

function u32(b: Uint8Array, at: number): number {
  return (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0;
}

function hasSignature(sector: Uint8Array): boolean {
  return sector[510] === 0x55 && sector[511] === 0xaa;
}

function entryAt(sector: Uint8Array, slot: number): MbrEntry {
  const at = ENTRIES_AT + slot * ENTRY_SIZE;
  return { bootable: sector[at] === 0x80, type: sector[at + 4], start: u32(sector, at + 8), sectors: u32(sector, at + 12) };
}

/**
 * Sector 0 as an MBR when it has the form of one: the signature, every boot indicator 0x00 or
 * 0x80, at least one entry, and each entry with a type, a start past sector 0 and a size. Null
 * else: a file system's boot record, or no table. Whether each entry ends inside the disk's
 * `diskSectors` is said in `outside` (a protective entry may claim more: a GPT disk over 2 TiB,
 * or one grown since).
 */
export function mbrOf(sector: Uint8Array, diskSectors: number): Mbr | null {
  if (!hasSignature(sector)) return null;
  const entries: Mbr['entries'] = [];
  let outside: string | null = null;
  for (let slot = 0; slot < 4; slot++) {
    const flag = sector[ENTRIES_AT + slot * ENTRY_SIZE];
    if (flag !== 0 && flag !== 0x80) return null;
    const entry = entryAt(sector, slot);
    if (entry.type === 0 && entry.start === 0 && entry.sectors === 0) continue;
    if (entry.type === 0 || entry.start === 0 || entry.sectors === 0) return null;
    if (outside === null && entry.type !== GPT_PROTECTIVE && entry.start + entry.sectors > diskSectors) {
      outside = `MBR entry ${slot + 1} (sectors ${entry.start}–${entry.start + entry.sectors - 1}) runs past the end of the disk (${diskSectors} sectors)`;
    }
    entries.push({ slot, entry });
  }
  if (entries.length === 0) return null;
  return { protective: entries.some((e) => e.entry.type === GPT_PROTECTIVE), diskId: u32(sector, DISK_ID_AT), entries, outside };
}

function partition(number: number, e: MbrEntry, startSector: number): Partition {
  const p: Partition = {
    number, start: startSector * SECTOR, size: e.sectors * SECTOR, type: e.type.toString(16).padStart(2, '0'),
    typeName: TYPE_NAMES[e.type] ?? 'unknown', bootable: e.bootable,
  };
  if (EXTENDED.has(e.type)) p.extended = true;
  return p;
}

/**
 * The MBR table of `disk`, whose sector 0 is `mbr`: its primary partitions (numbered by slot,
 * 1–4) and the logical ones of its extended partition (from 5). EUCLEAN naming what for an
 * entry that leaves the disk, overlapping primaries, two extended partitions, an EBR without its signature, a logical
 * partition or EBR outside the extended partition, an EBR chain that loops or is longer than
 * MAX_LOGICAL.
 */
export async function readMbr(disk: DiskReader, mbr: Mbr): Promise<PartitionTable> {
  if (mbr.outside !== null) throw new SysError('EUCLEAN', `dk: ${disk.name}: ${mbr.outside}`);
  const primaries = mbr.entries.map(({ slot, entry }) => partition(slot + 1, entry, entry.start));
  refuseOverlaps(disk.name, primaries, 'MBR');
  const extended = primaries.filter((p) => p.extended);
  if (extended.length > 1) throw new SysError('EUCLEAN', `dk: ${disk.name}: MBR: partitions ${extended.map((p) => p.number).join(' and ')} are both extended partitions`);
  const logical = extended.length === 1 ? await readEbrChain(disk, extended[0]) : [];
  return {
    scheme: 'mbr', diskSize: disk.size, sectorSize: SECTOR, id: `0x${mbr.diskId.toString(16).padStart(8, '0')}`,
    partitions: [...primaries, ...logical], notes: [],
  };
}

/** The logical partitions of extended partition `ext`, following its EBR chain. */
async function readEbrChain(disk: DiskReader, ext: Partition): Promise<Partition[]> {
  const first = ext.start / SECTOR;
  const end = first + ext.size / SECTOR;
  const inside = (start: number, sectors: number) => start >= first && start + sectors <= end;
  const logical: Partition[] = [];
  const seen = new Set<number>();
  let ebr = first;
  for (let links = 0; ; links++) {
    const where = `the EBR at sector ${ebr}`;
    if (links >= MAX_LOGICAL) throw new SysError('EUCLEAN', `dk: ${disk.name}: the EBR chain of extended partition ${ext.number} is longer than ${MAX_LOGICAL} links`);
    if (seen.has(ebr)) throw new SysError('EUCLEAN', `dk: ${disk.name}: the EBR chain of extended partition ${ext.number} loops back to sector ${ebr}`);
    seen.add(ebr);
    const sector = await disk.read(ebr * SECTOR, SECTOR);
    if (!hasSignature(sector)) throw new SysError('EUCLEAN', `dk: ${disk.name}: ${where} has no 0x55AA signature`);
    const e = entryAt(sector, 0);
    if (e.type !== 0 && e.sectors !== 0) {
      if (e.start === 0 || !inside(ebr + e.start, e.sectors)) {
        throw new SysError('EUCLEAN', `dk: ${disk.name}: ${where}: logical partition ${5 + logical.length} (sectors ${ebr + e.start}+${e.sectors}) is not inside extended partition ${ext.number}`);
      }
      logical.push(partition(5 + logical.length, e, ebr + e.start));
    }
    const next = entryAt(sector, 1);
    if (next.type === 0 || next.sectors === 0) break;
    if (!EXTENDED.has(next.type)) throw new SysError('EUCLEAN', `dk: ${disk.name}: ${where}: its link to the next EBR has type 0x${next.type.toString(16)}, not an extended type`);
    if (!inside(first + next.start, 1)) {
      throw new SysError('EUCLEAN', `dk: ${disk.name}: ${where}: the next EBR (sector ${first + next.start}) is not inside extended partition ${ext.number}`);
    }
    ebr = first + next.start;
  }
  refuseOverlaps(disk.name, logical, `extended partition ${ext.number}`);
  return logical;
}
