// The remote workloads (issue 14): the same calls as the kernel workloads' null-syscall and
// pread-64k, made by a client connected to `serve()` over a unix socket and over loopback TCP,
// so that each one's ratio to the local call (same policy, same run) is the price of the wire;
// and getpid throughput with 1, 8 and 64 connected clients. The server runs in this process on
// the kernel the local workloads use (see runConfig in bench/index.ts).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TokenTable, connect, serve, type Proc, type Server } from '../kernel/index.js';
import { procFiles } from './files.js';
import { ROUND_TRIP_BATCH, repeat, type Samples } from './stats.js';
import { MiB, preads } from './workloads-files.js';
import { TMPFS_DIR, concurrently, type KernelTarget, type Workload } from './workloads.js';

/** A kernel target with a server on it: where to connect, and with what token. */
export interface RemoteTarget extends KernelTarget {
  unix: string;
  tcp: string;
  token: string;
}

/** The local workload each remote one is the wire's version of: its p50 is the ratio's base. */
export const LOCAL_OF: Record<string, string> = {
  'remote-null-syscall-unix': 'null-syscall',
  'remote-null-syscall-tcp': 'null-syscall',
  'remote-pread-64k-unix': 'pread-64k',
  'remote-pread-64k-tcp': 'pread-64k',
};

/** Context for the table and README, not a measurement of this run. */
export const SYSPROXY_CONTEXT = "context: the rump kernels' sysproxy published about 30 µs per remote call on 2012 hardware (not measured here)";

/** The clients of the throughput rows. */
const LOAD_CLIENTS = [1, 8, 64];

/** Serves `t.kernel` on a unix socket (in a fresh 0700 directory) and loopback TCP; `stop` closes it. */
export async function startBenchServer(t: KernelTarget): Promise<{ target: RemoteTarget; stop: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'rumpus-bench-serve-'));
  const tokens = TokenTable.generate();
  let server: Server;
  try {
    server = await serve(t.kernel, { listen: [`unix://${join(dir, 'bench.sock')}`, 'tcp://127.0.0.1:0'], tokens });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const url = (scheme: string) => server.addresses.find((a) => a.startsWith(scheme))!;
  return {
    target: { ...t, unix: url('unix:'), tcp: url('tcp:'), token: tokens.generated! },
    async stop() {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Runs `body` with one connected client process, which exits after. */
async function withClient(url: string, token: string, body: (p: Proc) => Promise<Samples>): Promise<Samples> {
  const p = await connect(url, { token });
  try {
    return await body(p);
  } finally {
    await p.exit();
  }
}

/** The remote workloads; `scale` shrinks every count as kernelWorkloads' does. */
export function remoteWorkloads(scale: number): Workload<RemoteTarget>[] {
  const n = (count: number) => Math.max(10, Math.round(count * scale));
  const bigMib = Math.max(2, Math.round(32 * scale));
  const over = [['unix', 'a unix socket'], ['tcp', 'loopback TCP']] as const;
  return [
    ...over.map(([via, what]): Workload<RemoteTarget> => ({
      name: `remote-null-syscall-${via}`,
      op: `getpid() of a client connected over ${what}`,
      run: (t) => withClient(t[via], t.token, (p) => repeat(() => p.getpid(), n(5000), n(500), t.cpu, ROUND_TRIP_BATCH)),
    })),
    ...over.map(([via, what]): Workload<RemoteTarget> => ({
      name: `remote-pread-64k-${via}`,
      op: `pread of 64 KiB from a ${bigMib} MiB file on tmpfs, walking through it, over ${what}`,
      run: (t) => withClient(t[via], t.token, (p) =>
        preads('/big', bigMib, 65536, n(1000), n(100), (i) => (i * 65536) % (bigMib * MiB))(procFiles(p, TMPFS_DIR), t.cpu)),
    })),
    ...LOAD_CLIENTS.map((clients): Workload<RemoteTarget> => ({
      name: `remote-load-${clients}`,
      op: `getpid() from ${clients} client${clients === 1 ? '' : 's'} connected over a unix socket at once, each calling again when answered`,
      run: (t) => concurrently(t.cpu, () => connect(t.unix, { token: t.token }), clients, Math.max(10, Math.round(n(4000) / clients)), async (p) => () => p.getpid()),
    })),
  ];
}
