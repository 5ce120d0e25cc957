// The command line takes and prints names with their exact bytes. Node decodes argv as UTF-8
// (the byte 0xE9 would become U+FFFD), so the arguments are taken from /proc/self/cmdline: a
// name `rumpus ls` prints escaped (`'caf'$'\351'`) can be given back through a shell, to the
// image commands and to `rumpus sh` (-c or a script on stdin); and messages that name such a
// file write its bytes, never U+FFFD. Outputs are read here as latin1: one char per byte.

import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { mkImage, tempDir } from './lib/e2fs.js';
import { RUMPUS } from './lib/cli.js';

const dir = tempDir('rumpus-cli-bytes-');

/** Runs `rumpus ARGS` through bash, so ARGS may use $'…' to pass raw bytes. */
function rumpus(args: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('bash', ['-c', `exec "${process.execPath}" ${RUMPUS} ${args}`], { cwd: dir, timeout: 60_000, encoding: 'latin1' }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

t.test('image commands on a name with the byte 0xE9', async (t) => {
  const src = join(dir, 'src');
  mkdirSync(src);
  writeFileSync(Buffer.from(`${src}/caf\xe9`, 'latin1'), 'one');
  mkImage(join(dir, 'a.img'), { size: 4 << 20, blockSize: 1024 });
  t.equal((await rumpus('cp -r src a.img:/d')).code, 0, 'cp -r HOST IMG works (the host names come from readdir, as bytes)');
  const ls = await rumpus('ls a.img:/d');
  t.equal(ls.stdout, "'caf'$'\\351'\n", 'ls shows the name escaped');
  const cat = await rumpus(`cat a.img:/d/'caf'$'\\351'`);
  t.same([cat.code, cat.stdout], [0, 'one'], `cat of the name as ls printed it`);
  const host = await rumpus(`cp src/'caf'$'\\351' a.img:/copy`);
  t.equal(host.code, 0, `cp of a host path with that byte`);
  t.notMatch(cat.stderr + host.stderr, /\xef\xbf\xbd/, 'no message shows U+FFFD for a byte');
});

t.test("cp -r out of an image: the 'skipped' message shows the name as ls does", async (t) => {
  const src = join(dir, 'src2');
  mkdirSync(src);
  execFileSync('bash', ['-c', "mkfifo src2/fifo$'\\351'"], { cwd: dir });
  mkImage(join(dir, 'b.img'), { size: 4 << 20, blockSize: 1024 });
  t.equal((await rumpus('cp -r src2 b.img:/d')).code, 0, 'cp -r HOST IMG (the FIFO is made in the image)');
  const out = await rumpus('cp -r b.img:/d out');
  t.equal(out.code, 1, 'exit 1: a FIFO was skipped');
  t.match(out.stderr, /skipped b\.img:\/d\/fifo\xe9: a FIFO/, `the message names it with its exact bytes (got: ${out.stderr.trim()})`);
});

t.test("rumpus sh: a raw byte in a script (stdin or -c) names that byte, not U+FFFD", async (t) => {
  for (const how of [`sh -c $'touch /tmp/caf\\351; ls /tmp'`, `sh <<< $'touch /tmp/caf\\351\\nls /tmp'`]) {
    const r = await rumpus(how);
    t.equal(r.stdout, "'caf'$'\\351'\n", `${how}: ls shows the byte escaped}, a file named caf\\xEF\\xBF\\xBD)`);
  }
});
