// `rumpus bench ARGS…` as a user runs it (the built command), for the bench's tests.

import { execFile } from 'node:child_process';
import { RUMPUS } from './cli.js';

/** Runs the bench CLI; its exit code (1 when killed at the 540 s bound), stdout and stderr. */
export function bench(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    // A quick 'all' run holds the tree copy-out, the concurrency workloads and vfs-in-client too:
    // minutes on a loaded 2-core machine.
    execFile(process.execPath, [RUMPUS, 'bench', ...args], { timeout: 540_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}
