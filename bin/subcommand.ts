// What every rumpus subcommand is made of, and the kernel options they share.

import type { ParseArgsConfig } from 'node:util';
import { readFileSync } from 'node:fs';
import { POLICIES, SysError, THREAD_TRANSPORTS, parsePlan, type BootOptions, type ThreadTransport } from '../kernel/index.js';
import { BUILTIN } from '../kernel/registry.js';

export type Values = Record<string, string | boolean | string[] | undefined>;

export interface Subcommand {
  summary: string;
  usage: string;
  /** Help text after the usage line. */
  help: string;
  options: NonNullable<ParseArgsConfig['options']>;
  /** The exit status; throws SysError (status 1) or UsageError (status 2). */
  run(values: Values, positionals: string[]): Promise<number>;
}

/** Wrong arguments: reported with the command's usage line, exit status 2. */
export class UsageError extends Error {}

const POLICY_HELP = `  --policy NAME|FILE  kernel policy: ${POLICIES.join(', ')} (default monolithic),
                      or a placement JSON file putting components into named domains`;

export const KERNEL_HELP = `${POLICY_HELP}
  --transport T       between threads: ${THREAD_TRANSPORTS.join(' or ')} (default ring)
  --faults FILE       arm the faults of a plan at boot: {"faults": [{"component", "type", …}]}`;

export const kernelOptions = {
  policy: { type: 'string', default: 'monolithic' },
  transport: { type: 'string', default: 'ring' },
  faults: { type: 'string' },
} as const;

/** Boot options from the options every kernel-booting command takes. */
export function bootOptions(v: Values, extra: Partial<BootOptions> = {}): BootOptions {
  let faults;
  if (typeof v.faults === 'string') {
    let text: string;
    try {
      text = readFileSync(v.faults, 'utf8');
    } catch (err) {
      throw new SysError('ENOENT', `cannot read fault plan ${v.faults}: ${(err as Error).message}`);
    }
    faults = parsePlan(text, BUILTIN);
  }
  return { policy: v.policy as string, transport: v.transport as ThreadTransport, faults, ...extra };
}
