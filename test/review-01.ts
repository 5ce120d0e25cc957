// Review of issue 16, defect 1: a key file that never ends (/dev/zero, or any endless stream
// such as a FIFO fed by `yes`) is read to its "end" without bound. cryptsetup stops at
// --keyfile-size-max (8 MiB) with one sentence; rumpus has a bound (16 MiB for a call's
// argument) but applies it only after the whole file is in memory, so the command grows
// without limit (3 GB of RSS in 30 s here) and never answers.
//
// Reproduce: rumpus ls --key-file /dev/zero IMG:/   (IMG any LUKS container)

import { execFile } from 'node:child_process';
import { join } from 'node:path';
import t from 'tap';
import { cryptsetupFormat, luksTempDir, noCryptsetup } from './lib/luks.js';

const BIN = join(import.meta.dirname, '..', 'bin', 'rumpus.ts');
const TSX = import.meta.resolve('tsx');

t.test('an endless key file is refused with a sentence, in bounded time and memory', { skip: noCryptsetup }, async (t) => {
  const dir = luksTempDir();
  const img = join(dir, 'c.img');
  cryptsetupFormat(img, 'pw', { type: 'luks2', pbkdf: 'pbkdf2' });
  const run = await new Promise<{ killed: boolean; code: number; stderr: string }>((resolve) => {
    // A heap cap: a bounded reader never comes near it; an unbounded one dies or is killed.
    execFile(process.execPath, ['--max-old-space-size=512', '--import', TSX, BIN, 'ls', '--key-file', '/dev/zero', `${img}:/`],
      { cwd: dir, timeout: 25_000, killSignal: 'SIGKILL', maxBuffer: 1 << 20 }, (err, _stdout, stderr) => {
        const e = err as (Error & { killed?: boolean; code?: number }) | null;
        resolve({ killed: e?.killed ?? false, code: typeof e?.code === 'number' ? e.code : e ? 1 : 0, stderr });
      });
  });
  t.notOk(run.killed, 'the command ends on its own (not killed at the 25 s deadline)');
  t.equal(run.code, 1, 'status 1');
  t.match(run.stderr, /^rumpus ls: .*key file.*\n$/s, 'one sentence about the key file');
  t.notMatch(run.stderr, /heap|allocation failed|at .*\.js:\d+/, 'no crash, no stack trace');
});
