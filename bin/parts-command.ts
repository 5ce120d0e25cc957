// `rumpus parts IMAGE`: the partition table of a disk image as dk reads it (servers/dk), laid
// out as `fdisk -l` lays out the same facts; with --json, dk's table op's answer as it is.

import { boot } from '../kernel/index.js';
import { sizeText, type Partition, type PartitionTable } from '../servers/dk/table.js';
import { writeErr } from './stdio.js';
import { KERNEL_HELP, UsageError, bootOptions, kernelOptions, noServerHere, serverOptions, type Subcommand } from './subcommand.js';

/** Rows as columns: each padded to its widest cell, numbers (the `right` columns) to the right. */
function columns(rows: string[][], right: ReadonlySet<number>): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((cell, i) => (right.has(i) ? cell.padStart(widths[i]) : cell.padEnd(widths[i]))).join(' ').trimEnd());
}

/** The table of `image` as fdisk -l prints it: the disk, then one line per partition (Device is IMAGE@N). */
export function formatTable(image: string, t: PartitionTable): string {
  const sectors = (bytes: number) => bytes / t.sectorSize;
  const head = [
    `Disk ${image}: ${sizeText(t.diskSize)}, ${t.diskSize} bytes, ${sectors(t.diskSize)} sectors`,
    `Sector size: ${t.sectorSize} bytes`,
    `Disklabel type: ${t.scheme === 'mbr' ? 'dos' : 'gpt'}`,
    `Disk identifier: ${t.id}`,
    '',
  ];
  const place = (p: Partition) => [`${image}@${p.number}`, String(sectors(p.start)), String(sectors(p.start + p.size) - 1), String(sectors(p.size)), sizeText(p.size)];
  const rows = t.scheme === 'mbr'
    ? [['Device', 'Boot', 'Start', 'End', 'Sectors', 'Size', 'Id', 'Type'],
        ...t.partitions.map((p) => { const [device, ...numbers] = place(p); return [device, p.bootable ? '*' : '', ...numbers, p.type.replace(/^0/, ''), p.typeName]; })]
    : [['Device', 'Start', 'End', 'Sectors', 'Size', 'Type', 'Name'], ...t.partitions.map((p) => [...place(p), p.typeName, p.name ?? ''])];
  const right = new Set(t.scheme === 'mbr' ? [2, 3, 4, 5, 6] : [1, 2, 3, 4]);
  const lines = t.partitions.length ? columns(rows, right) : ['(no partitions)'];
  return [...head, ...lines].join('\n');
}

export const PARTS_SUBCOMMAND: Subcommand = {
  summary: 'print the partition table (MBR or GPT) of a disk image, as fdisk -l does',
  usage: 'rumpus parts IMAGE [--json]',
  help: `Prints the partition table of the disk image IMAGE, a host file, as dk (rumpus's partition
device) reads it: an MBR with its primary partitions (1–4) and the logical ones of its extended
partition (from 5), or a GPT (its primary header, or the backup one when the primary is
damaged: said on standard error). Each partition is named as the image commands take it,
IMAGE@N: start, end and size in sectors (512 bytes; 4096 for a GPT at 4 KiB LBAs, which is
read when none is found at 512-byte ones), size, type (the MBR type byte, or the GPT type's
name) and, for GPT, its name. A damaged table (overlapping partitions, one outside the
disk, a looping EBR chain, both GPT headers damaged) is an error naming what; so is an image
without a table.

  --json              dk's table as one JSON object: scheme, diskSize, sectorSize, id, notes,
                      partitions [{number, start, size (bytes), type, typeName, bootable,
                      extended?, name?, uuid?}]
${KERNEL_HELP}
  --server URL        not used (said on stderr): parts reads IMAGE here, as a host file`,
  options: { ...kernelOptions, ...serverOptions, json: { type: 'boolean', default: false } },
  async run(v, positionals) {
    if (positionals.length !== 1) throw new UsageError('needs exactly one IMAGE');
    const [image] = positionals;
    noServerHere(v, 'parts', 'it reads the host file IMAGE here', writeErr);
    const kernel = await boot(bootOptions(v, { mounts: [] }));
    let table: PartitionTable;
    try {
      table = await kernel.call<PartitionTable>('dk', 'table', { path: image });
    } finally {
      await kernel.halt();
    }
    for (const note of table.notes) writeErr(`rumpus parts: ${image}: ${note}\n`);
    process.stdout.write(v.json === true ? JSON.stringify(table, null, 2) + '\n' : formatTable(image, table) + '\n');
    return 0;
  },
};
