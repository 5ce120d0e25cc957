// `rumpus luks dump`: what cgd's dump op says of a container's header (no key involved), as an
// indented listing in the spirit of `cryptsetup luksDump`.

/** cgd's dump answer (the LUKS library's LuksInfo): plain data, bytes as Uint8Array. */
export type LuksDump = Record<string, unknown>;

const label = (key: string) => key.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();

function scalar(value: unknown): string {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex');
  if (typeof value === 'number') return value.toLocaleString('en-US').replaceAll(',', '');
  return String(value);
}

/** One line per field; nested objects and lists indented under their name. */
function lines(value: Record<string, unknown>, indent: string): string[] {
  const out: string[] = [];
  for (const [key, v] of Object.entries(value)) {
    if (v === undefined || v === null) continue;
    if (Array.isArray(v) && v.every((x) => typeof x !== 'object' || x === null)) {
      out.push(`${indent}${label(key)}: ${v.length ? v.map(scalar).join(', ') : '(none)'}`);
    } else if (Array.isArray(v)) {
      out.push(`${indent}${label(key)}:`);
      for (const [i, item] of v.entries()) {
        out.push(`${indent}  ${i}:`, ...lines(item as Record<string, unknown>, `${indent}    `));
      }
    } else if (typeof v === 'object' && !(v instanceof Uint8Array)) {
      out.push(`${indent}${label(key)}:`, ...lines(v as Record<string, unknown>, `${indent}  `));
    } else {
      out.push(`${indent}${label(key)}: ${scalar(v)}`);
    }
  }
  return out;
}

/** The header of `image` as text: 'IMAGE: LUKS header' then its fields. */
export function formatLuksDump(image: string, info: LuksDump): string {
  return [`${image}: LUKS header`, ...lines(info, '  ')].join('\n');
}
