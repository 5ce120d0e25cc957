// Running the rumpus command line from the tests: from source, through tsx, as a user would.

import { execFile } from 'node:child_process';
import { join } from 'node:path';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'rumpus.ts');
const TSX = import.meta.resolve('tsx');

/** What one `rumpus` run did: its exit status (1 for a run killed at its deadline) and output. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `rumpus ARGS…` in `cwd`; a run that hangs past `timeoutMs` is killed and fails. */
export function runRumpus(cwd: string, args: string[], timeoutMs = 60_000): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', TSX, BIN, ...args], { cwd, timeout: timeoutMs }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}
