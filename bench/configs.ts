// What the bench runs: each policy once per thread transport it uses (only threads have a
// choice), labelled with the transport its client→vfs and component channels use.

import { SysError, THREAD_TRANSPORTS, type ThreadTransport } from '../kernel/index.js';
import { readPlacement } from '../kernel/placement.js';

export interface Config {
  /** A policy name or placement file, as boot() takes it. */
  policy: string;
  transport: ThreadTransport;
  /** The label of results: 'direct', 'ring', 'postMessage', 'pipe+msgpackr', or a mix. */
  label: string;
  /** How many domains boot starts beside main. */
  threads: number;
  processes: number;
}

/**
 * 'microkernel' → one config per thread transport; 'microkernel:ring' → that one only;
 * 'monolithic', 'multiprocess' and placement files without threads → one config.
 */
export function expandConfigs(policies: string[]): Config[] {
  return policies.flatMap((entry) => {
    const [policy, only] = entry.split(/:(?=[A-Za-z]+$)/);
    if (only !== undefined && !(THREAD_TRANSPORTS as readonly string[]).includes(only)) {
      throw new SysError('EINVAL', `unknown transport '${only}' in '${entry}' (known: ${THREAD_TRANSPORTS.join(', ')})`);
    }
    const kinds = Object.values(readPlacement(policy).domains ?? {}).map((d) => d.kind);
    const threads = kinds.filter((k) => k === 'thread').length;
    const processes = kinds.filter((k) => k === 'process').length;
    const transports: ThreadTransport[] = threads === 0 ? ['postMessage'] : only ? [only as ThreadTransport] : [...THREAD_TRANSPORTS];
    return transports.map((transport) => {
      const parts = [...(threads ? [transport] : []), ...(processes ? ['pipe+msgpackr'] : [])];
      return { policy, transport, label: parts.join(' & ') || 'direct', threads, processes };
    });
  });
}
