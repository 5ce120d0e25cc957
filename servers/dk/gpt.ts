// The GUID partition table (UEFI spec 2.10, §5.3): a protective MBR at LBA 0, the primary GPT
// header at LBA 1 with its partition entry array (normally from LBA 2), and a backup header at
// the disk's last LBA with its own copy of the array before it. Each header carries the CRC32 of
// its first HeaderSize bytes (the field itself zeroed) and of its entry array. When the primary
// header or its array is damaged the backup is used, and the table says so in a note; when both
// are, the disk is refused (EUCLEAN) naming what is wrong with each.
//
// An LBA is a logical sector of the disk: 512 bytes, or 4096 on a disk with 4 KiB sectors ("4Kn",
// `fdisk -b 4096`). An image file does not say which, so, as the headers themselves tell (MyLBA,
// the CRC32s), a GPT found at 512-byte LBAs is read so, and only a disk with none there is tried
// at 4096-byte LBAs.

import { SysError } from '../../kernel/api.js';
import { crc32 } from './crc32.js';
import { refuseOverlaps, SECTOR, type DiskReader, type Partition, type PartitionTable, type SectorSize } from './table.js';

/** "EFI PART". */
const SIGNATURE = [0x45, 0x46, 0x49, 0x20, 0x50, 0x41, 0x52, 0x54];
/** The smallest header the spec has (92 bytes); a header is at most one LBA. */
const MIN_HEADER = 92;
/** The largest entry array read, in bytes: 128 entries of 128 bytes is the spec's minimum; this bounds a damaged count. */
const MAX_ARRAY = 1024 * 1024;
/** Attribute bit 2: legacy BIOS bootable (§5.3.3, table 5.8). */
const LEGACY_BIOS_BOOTABLE = 2n;

/** Short names of the common partition type GUIDs, as sgdisk and fdisk print them. */
const TYPE_NAMES: Record<string, string> = {
  '0FC63DAF-8483-4772-8E79-3D69D8477DE4': 'Linux filesystem',
  'C12A7328-F81F-11D2-BA4B-00A0C93EC93B': 'EFI System',
  '0657FD6D-A4AB-43C4-84E5-0933C84B4F4F': 'Linux swap',
  'EBD0A0A2-B9E5-4433-87C0-68B6B72699C7': 'Microsoft basic data',
  'E6D6D379-F507-44C2-A23C-238F2A3DF928': 'Linux LVM',
  'A19D880F-05FC-4D3B-A006-743F0F84911E': 'Linux RAID',
  '21686148-6449-6E6F-744E-656564454649': 'BIOS boot',
  '4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709': 'Linux root (x86-64)',
  '933AC7E1-2EB4-4F13-B844-0E14E2AEF915': 'Linux home',
};

function u32(b: Uint8Array, at: number): number {
  return (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0;
}

/** A 64-bit LBA; past 2^53 it is no sector of any disk rumpus opens (Infinity, refused as outside). */
function lba(b: Uint8Array, at: number): number {
  const v = u32(b, at + 4) * 2 ** 32 + u32(b, at);
  return Number.isSafeInteger(v) ? v : Infinity;
}

/** A GUID as text: its first three fields are little-endian (§ Appendix A). */
function guid(b: Uint8Array, at: number): string {
  const hex = (from: number, to: number, reverse: boolean) => {
    const bytes = [...b.subarray(at + from, at + to)];
    return (reverse ? bytes.reverse() : bytes).map((x) => x.toString(16).padStart(2, '0')).join('');
  };
  return [hex(0, 4, true), hex(4, 6, true), hex(6, 8, true), hex(8, 10, false), hex(10, 16, false)].join('-').toUpperCase();
}

/** The partition name: up to 36 UTF-16LE code units, ending at the first NUL. */
function nameOf(b: Uint8Array, at: number): string {
  const units: number[] = [];
  for (let i = 0; i < 36; i++) {
    const u = b[at + 2 * i] | (b[at + 2 * i + 1] << 8);
    if (u === 0) break;
    units.push(u);
  }
  return String.fromCharCode(...units);
}

/** A header and its array read and checked: the table, or why not (a sentence). */
type Read = { ok: true; id: string; partitions: Partition[] } | { ok: false; why: string };

/**
 * Reads the header at LBA `at` (of `ss` bytes: 1 for the primary, the last LBA for the backup) and its entry
 * array, checking (§5.3.2) the signature, HeaderSize, the header CRC32, MyLBA, the usable range,
 * the entry size (128 × 2^n) and count, the array's place and its CRC32, and then each used
 * entry: inside the usable range, and no two overlapping (that one throws: both copies agree).
 */
async function readHeader(disk: DiskReader, at: number, ss: SectorSize): Promise<Read> {
  const sectors = disk.size / ss;
  const h = await disk.read(at * ss, ss);
  const bad = (why: string): Read => ({ ok: false, why });
  if (!SIGNATURE.every((x, i) => h[i] === x)) return bad('no "EFI PART" signature');
  const headerSize = u32(h, 12);
  if (headerSize < MIN_HEADER || headerSize > ss) return bad(`HeaderSize ${headerSize} is not from ${MIN_HEADER} to ${ss}`);
  const zeroed = h.slice(0, headerSize);
  zeroed.fill(0, 16, 20);
  if (crc32(zeroed) !== u32(h, 16)) return bad('header CRC32 mismatch');
  if (lba(h, 24) !== at) return bad(`MyLBA is ${lba(h, 24)}, not ${at}`);
  const firstUsable = lba(h, 40);
  const lastUsable = lba(h, 48);
  if (firstUsable > lastUsable + 1 || lastUsable >= sectors) return bad(`its usable LBAs ${firstUsable}–${lastUsable} are not inside the disk (${sectors} sectors)`);
  const arrayLba = lba(h, 72);
  const count = u32(h, 80);
  const entrySize = u32(h, 84);
  if (entrySize < 128 || entrySize > SECTOR * 8 || (entrySize & (entrySize - 1)) !== 0) return bad(`SizeOfPartitionEntry ${entrySize} is not 128 × 2^n`);
  const arrayBytes = count * entrySize;
  if (arrayBytes > MAX_ARRAY) return bad(`its partition entry array (${count} entries of ${entrySize} bytes) is larger than ${MAX_ARRAY} bytes`);
  const arraySectors = Math.ceil(arrayBytes / ss);
  const arrayEnd = arrayLba + arraySectors;
  if (arrayLba < 1 || arrayEnd > sectors || (arrayLba <= lastUsable && arrayEnd > firstUsable) || (at >= arrayLba && at < arrayEnd)) {
    return bad(`its partition entry array (LBA ${arrayLba}, ${arraySectors} sectors) is not outside the usable LBAs and inside the disk`);
  }
  const array = arraySectors === 0 ? new Uint8Array(0) : (await disk.read(arrayLba * ss, arraySectors * ss)).subarray(0, arrayBytes);
  if (crc32(array) !== u32(h, 88)) return bad('partition entry array CRC32 mismatch');
  const partitions: Partition[] = [];
  for (let i = 0; i < count; i++) {
    const e = array.subarray(i * entrySize, (i + 1) * entrySize);
    if (e.subarray(0, 16).every((x) => x === 0)) continue;
    const first = lba(e, 32);
    const last = lba(e, 40);
    if (first < firstUsable || last > lastUsable || first > last) {
      throw new SysError('EUCLEAN', `dk: ${disk.name}: GPT entry ${i + 1} (LBAs ${first}–${last}) is not inside the usable LBAs ${firstUsable}–${lastUsable}`);
    }
    const type = guid(e, 0);
    const attributes = BigInt(u32(e, 48)) | (BigInt(u32(e, 52)) << 32n);
    partitions.push({
      number: i + 1, start: first * ss, size: (last - first + 1) * ss, type, typeName: TYPE_NAMES[type] ?? 'unknown',
      bootable: ((attributes >> LEGACY_BIOS_BOOTABLE) & 1n) === 1n, name: nameOf(e, 56), uuid: guid(e, 16),
    });
  }
  refuseOverlaps(disk.name, partitions, 'GPT', ss);
  return { ok: true, id: guid(h, 56), partitions };
}

/**
 * The GPT of `disk` (its LBA 0 a protective MBR), at 512-byte LBAs or else at 4096-byte ones (see
 * the top): from the primary header, or from the backup with a note saying why when the primary
 * (or its array) is damaged; a note too when the backup is. EUCLEAN naming what is wrong with
 * each (at 512-byte LBAs) when both are damaged at either size, or for an entry outside the usable
 * LBAs or two overlapping.
 */
export async function readGpt(disk: DiskReader): Promise<PartitionTable> {
  const found = (h: Headers) => h.primary.ok || h.backup.ok;
  const at512 = await headersAt(disk, SECTOR);
  const at4096 = found(at512) || disk.size % 4096 !== 0 ? null : await headersAt(disk, 4096);
  const { primary, backup, last, ss } = at4096 && found(at4096) ? at4096 : at512;
  const notes: string[] = [];
  let chosen: Read = primary;
  if (!primary.ok) {
    if (!backup.ok) {
      throw new SysError('EUCLEAN', `dk: ${disk.name}: GPT primary header at LBA 1: ${primary.why}; backup header at LBA ${last}: ${backup.why}`);
    }
    notes.push(`the GPT primary header at LBA 1 is damaged (${primary.why}): the table was read from the backup header at LBA ${last}`);
    chosen = backup;
  } else if (!backup.ok) {
    notes.push(`the GPT backup header at LBA ${last} is damaged (${backup.why}); the primary is sound`);
  }
  const { id, partitions } = chosen as Extract<Read, { ok: true }>;
  return { scheme: 'gpt', diskSize: disk.size, sectorSize: ss, id, partitions, notes };
}

/** Both headers of a disk read at LBAs of `ss` bytes, and its last LBA (the backup's place). */
interface Headers {
  primary: Read;
  backup: Read;
  last: number;
  ss: SectorSize;
}

/** The Headers of `disk` at LBAs of `ss` bytes. */
async function headersAt(disk: DiskReader, ss: SectorSize): Promise<Headers> {
  const last = disk.size / ss - 1;
  const primary = await readHeader(disk, 1, ss);
  const backup = last > 1 ? await readHeader(disk, last, ss) : ({ ok: false, why: 'the disk has no sector for it' } as const);
  return { primary, backup, last, ss };
}
