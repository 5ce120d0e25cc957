// `rumpus luks dump`: what cgd's dump op says of a container's header (no key involved), laid
// out as `cryptsetup luksDump` lays out the same facts.

/** One keyslot in cgd's dump answer (the LUKS library's KeyslotInfo). */
export interface KeyslotDump {
  slot: number;
  keyBytes: number;
  kdf: { type: string; hash?: string; iterations?: number; time?: number; memory?: number; parallel?: number };
  stripes: number;
  afHash: string;
  areaOffset: number;
  areaSize: number;
  priority: number;
}

/** cgd's dump answer (the LUKS library's LuksInfo): sizes and offsets in bytes. */
export interface LuksDump {
  version: 1 | 2;
  uuid: string;
  label: string;
  cipher: string;
  keyBytes: number;
  offset: number;
  size: number;
  sectorSize: number;
  seqid: number;
  headerSize: number;
  keyslots: KeyslotDump[];
  notes: string[];
}

/** 'argon2id (time 4, memory 32768 KiB, 1 thread)' or 'pbkdf2-sha256 (1000 iterations)'. */
function kdfText(k: KeyslotDump['kdf']): string {
  if (k.type === 'pbkdf2') return `pbkdf2-${k.hash} (${k.iterations} iterations)`;
  return `${k.type} (time ${k.time}, memory ${k.memory} KiB, ${k.parallel} thread${k.parallel === 1 ? '' : 's'})`;
}

/** The header of `image` as text, field per line. */
export function formatLuksDump(image: string, d: LuksDump): string {
  const rows: [string, string][] = [
    ['Version', String(d.version)],
    ['UUID', d.uuid],
    ['Label', d.label || '(no label)'],
    ['Cipher', d.cipher],
    ['Cipher key', `${d.keyBytes * 8} bits`],
    ['Sector size', `${d.sectorSize} bytes`],
    ['Payload offset', `${d.offset} bytes`],
    ['Payload size', `${d.size} bytes`],
    ...(d.version === 2 ? ([['Header size', `${d.headerSize} bytes`], ['Seqid', String(d.seqid)]] as [string, string][]) : []),
  ];
  const width = Math.max(...rows.map(([name]) => name.length)) + 2;
  const out = [`${image}: LUKS${d.version} header`, ...rows.map(([name, value]) => `${`${name}:`.padEnd(width)}${value}`), 'Keyslots:'];
  for (const k of d.keyslots) {
    out.push(`  ${k.slot}: ${kdfText(k.kdf)}, ${k.keyBytes * 8}-bit key, AF ${k.stripes} stripes (${k.afHash}), ` +
      `area of ${k.areaSize} bytes at ${k.areaOffset}${k.priority === 2 ? ', high priority' : k.priority === 0 ? ', ignored' : ''}`);
  }
  if (d.keyslots.length === 0) out.push('  (none)');
  for (const note of d.notes) out.push(`Note: ${note}`);
  return out.join('\n');
}
