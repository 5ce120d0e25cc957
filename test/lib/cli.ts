// Running the rumpus command line from the tests as a user runs it: the built command
// (package.json's bin, dist/bin/rumpus.js), which `npm test` builds first. Running it from source
// through tsx cost every run about 0.8 s of compiling before it did anything.

import { execFile } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');
/** The built command: `node RUMPUS ARGS…` is `npx rumpus ARGS…`. */
export const RUMPUS = join(ROOT, 'dist', 'bin', 'rumpus.js');

/**
 * Throws, saying to build, when dist/ is missing or older than a source file of the command
 * (bin/, kernel/, servers/, ipc/): the tests would otherwise run yesterday's command.
 */
function requireFreshBuild(): void {
  const built = statSync(RUMPUS, { throwIfNoEntry: false })?.mtimeMs;
  if (built === undefined) throw new Error(`${RUMPUS} is missing: run \`npm run build\` (npm test builds first)`);
  for (const dir of ['bin', 'kernel', 'servers', 'ipc']) {
    for (const f of readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })) {
      if (f.endsWith('.ts') && statSync(join(ROOT, dir, f)).mtimeMs > built) {
        throw new Error(`${dir}/${f} is newer than dist/: run \`npm run build\` (npm test builds first)`);
      }
    }
  }
}
requireFreshBuild();

/** What one `rumpus` run did: its exit status (1 for a run killed at its deadline) and output. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `rumpus ARGS…` in `cwd`; a run that hangs past `timeoutMs` is killed and fails. */
export function runRumpus(cwd: string, args: string[], timeoutMs = 60_000): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(process.execPath, [RUMPUS, ...args], { cwd, timeout: timeoutMs }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}
