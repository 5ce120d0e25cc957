// What the bench runs: each policy once per thread transport it uses (only threads have a
// choice), labelled with the transport its client→vfs and component channels use.

import { SysError, THREAD_TRANSPORTS, type PlacementSpec, type ThreadTransport } from '../kernel/index.js';
import { BUILTIN } from '../kernel/registry.js';
import { POLICIES, placeComponent, presetSpec, readPlacement } from '../kernel/placement.js';

export interface Config {
  /** A policy name, placement file or bench placement (VFS_IN_CLIENT): the results' label. */
  policy: string;
  /** What boot() takes as its policy: the name or file itself, or a bench placement's spec. */
  placement: string | PlacementSpec;
  transport: ThreadTransport;
  /** The label of results: 'direct', 'ring', 'postMessage', 'pipe+msgpackr', or a mix. */
  label: string;
  /** How many domains boot starts beside main. */
  threads: number;
  processes: number;
}

/**
 * Fuchsia's fdio shape: vfs in the client's domain (main, where the bench's client processes
 * run), each file system and the rest in a worker thread of its own as under microkernel.
 */
export const VFS_IN_CLIENT = 'vfs-in-client';

/** The placements the bench knows by name beside the policies. */
const BENCH_PLACEMENTS: Record<string, () => PlacementSpec> = {
  [VFS_IN_CLIENT]: () => ({ ...placeComponent(presetSpec('microkernel', BUILTIN), 'vfs', 'main'), name: VFS_IN_CLIENT }),
};

/** What `rumpus bench` runs without --policies: the three policies, and vfs-in-client (ring only, to keep the default run short). */
export const BENCH_POLICIES = [...POLICIES, `${VFS_IN_CLIENT}:ring`];

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
    const spec = BENCH_PLACEMENTS[policy]?.() ?? readPlacement(policy);
    const placement = BENCH_PLACEMENTS[policy] ? spec : policy;
    const kinds = Object.values(spec.domains ?? {}).map((d) => d.kind);
    const threads = kinds.filter((k) => k === 'thread').length;
    const processes = kinds.filter((k) => k === 'process').length;
    const transports: ThreadTransport[] = threads === 0 ? ['postMessage'] : only ? [only as ThreadTransport] : [...THREAD_TRANSPORTS];
    return transports.map((transport) => {
      const parts = [...(threads ? [transport] : []), ...(processes ? ['pipe+msgpackr'] : [])];
      return { policy, placement, transport, label: parts.join(' & ') || 'direct', threads, processes };
    });
  });
}
