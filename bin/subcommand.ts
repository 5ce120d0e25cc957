// What every rumpus subcommand is made of, and the kernel options they share.

import type { ParseArgsConfig } from 'node:util';
import { readFileSync } from 'node:fs';
import { POLICIES, SysError, THREAD_TRANSPORTS, connectKernel, parsePlan, type BootOptions, type KernelControl, type ThreadTransport } from '../kernel/index.js';
import { BUILTIN } from '../kernel/registry.js';

export type Values = Record<string, string | boolean | string[] | undefined>;

export interface Subcommand {
  summary: string;
  usage: string;
  /** Help text after the usage line. */
  help: string;
  options: NonNullable<ParseArgsConfig['options']>;
  /** Set when the command parses its arguments itself: run() gets them all as positionals, and no values. */
  ownArgs?: boolean;
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

export const SERVER_HELP = `  --server URL        use the kernel of a running 'rumpus serve' (unix:///PATH or
                      tcp://HOST:PORT) instead of booting one; default: env RUMPUS_SERVER
  --token-file F      the server's token: the first word of F; default: env RUMPUS_TOKEN,
                      RUMPUS_TOKEN_FILE, else the file SOCKET.token beside a unix socket`;

export const serverOptions = {
  server: { type: 'string' },
  'token-file': { type: 'string' },
} as const;

/** The server a command is to use, from --server and --token-file. */
export interface ServerChoice {
  url: string;
  /** Absent: connect() looks for the token itself (RUMPUS_TOKEN, RUMPUS_TOKEN_FILE, SOCKET.token). */
  tokenFile?: string;
}

/** The server chosen by --server or else env RUMPUS_SERVER (an empty one is none), or null. */
export function serverChoice(v: Values): ServerChoice | null {
  const url = typeof v.server === 'string' ? v.server : process.env.RUMPUS_SERVER || undefined;
  if (url === undefined) return null;
  return { url, tokenFile: typeof v['token-file'] === 'string' ? v['token-file'] : undefined };
}

/** The server's kernel; close() it when done. */
export function connectServer(server: ServerChoice): Promise<KernelControl & { close(): Promise<void> }> {
  return connectKernel(server.url, { tokenFile: server.tokenFile });
}

/**
 * For the commands that never use a server (mkfs, bench): when one is chosen, one sentence on
 * stderr saying that this command runs here instead.
 */
export function noServerHere(v: Values, command: string, why: string, say: (text: string) => void): void {
  const server = serverChoice(v);
  if (server) say(`rumpus ${command}: not using the server at ${server.url}: ${why}\n`);
}
