// Key files that cannot be a passphrase, and errors about LUKS images, as the rumpus command
// says them: a key file is read to at most 8 MiB + 1 byte (cryptsetup's default key-file size
// limit, --keyfile-size-max), so an endless one (/dev/zero, an endless pipe on '-') is refused
// in one sentence with status 1 in bounded time and memory (review of issue 16, defect 1); a
// key file that is a directory or missing is one rumpus sentence naming it, not Node's words;
// sh --image and serve --image with a wrong key name the image; the shell's mount of a LUKS
// image without a key prints ext2's whole sentence.

import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { RUMPUS, runRumpus } from './lib/cli.js';
import { cryptsetupFormat, luksTempDir, noCryptsetup } from './lib/luks.js';

const MIB = 1 << 20;

interface Run {
  killed: boolean;
  code: number;
  stdout: string;
  stderr: string;
}

/** `sh -c SCRIPT` where "$RUMPUS" runs rumpus with a 512 MiB heap: a bounded reader never nears it, an unbounded one dies or is killed at 25 s. */
function runCapped(dir: string, script: string): Promise<Run> {
  const rumpus = [process.execPath, '--max-old-space-size=512', RUMPUS].map((s) => `'${s}'`).join(' ');
  return new Promise((resolve) => {
    execFile('/bin/sh', ['-c', script], { cwd: dir, env: { ...process.env, RUMPUS: rumpus }, timeout: 25_000, killSignal: 'SIGKILL', maxBuffer: MIB },
      (err, stdout, stderr) => {
        const e = err as (Error & { killed?: boolean; code?: number }) | null;
        resolve({ killed: e?.killed ?? false, code: typeof e?.code === 'number' ? e.code : e ? 1 : 0, stdout, stderr });
      });
  });
}

if (noCryptsetup) {
  t.plan(0, noCryptsetup);
} else {
  const dir = luksTempDir();
  const img = join(dir, 'c.img');
  cryptsetupFormat(img, 'pw', { type: 'luks2', pbkdf: 'pbkdf2' });
  writeFileSync(join(dir, 'bad'), 'not the passphrase');

  t.test('an endless key file is refused with a sentence, in bounded time and memory', async (t) => {
    for (const script of [`eval "$RUMPUS ls --key-file /dev/zero c.img:/"`, `yes | eval "$RUMPUS ls --key-file - c.img:/"`]) {
      const run = await runCapped(dir, script);
      t.notOk(run.killed, `${script}: ends on its own (not killed at the 25 s deadline)`);
      t.equal(run.code, 1, 'status 1');
      t.match(run.stderr, /^rumpus ls: key file (\/dev\/zero|-) is larger than 8 MiB[^\n]*cryptsetup[^\n]*\n$/, 'one sentence about the key file');
      t.notMatch(run.stderr, /heap|allocation failed|at .*\.js:\d+/, 'no crash, no stack trace');
    }
  });

  t.test('a key file of 8 MiB is read, one of 8 MiB + 1 byte refused', async (t) => {
    writeFileSync(join(dir, 'max'), Buffer.alloc(8 * MIB, 0x61));
    writeFileSync(join(dir, 'over'), Buffer.alloc(8 * MIB + 1, 0x61));
    const max = await runRumpus(dir, ['ls', '--key-file', 'max', 'c.img:/']);
    t.same({ code: max.code, stderr: max.stderr }, { code: 1, stderr: 'rumpus ls: c.img: cgd: no keyslot opens with this passphrase\n' }, 'read whole, and tried as the passphrase');
    const over = await runRumpus(dir, ['ls', '--key-file', 'over', 'c.img:/']);
    t.equal(over.code, 1);
    t.match(over.stderr, /^rumpus ls: key file over is larger than 8 MiB[^\n]*\n$/);
  });

  t.test('a key file that is a directory or missing: one rumpus sentence naming it', async (t) => {
    mkdirSync(join(dir, 'keys.d'));
    const isDir = await runRumpus(dir, ['ls', '--key-file', 'keys.d', 'c.img:/']);
    t.same({ code: isDir.code, stdout: isDir.stdout, stderr: isDir.stderr }, { code: 1, stdout: '', stderr: 'rumpus ls: key file keys.d: Is a directory\n' });
    const missing = await runRumpus(dir, ['luks', 'addkey', 'c.img', '--key-file', 'pw-nowhere', '--new-key-file', 'bad']);
    t.same({ code: missing.code, stderr: missing.stderr }, { code: 1, stderr: 'rumpus luks: key file pw-nowhere: No such file or directory\n' });
  });

  t.test('sh --image and serve --image with a wrong key name the image', async (t) => {
    const sh = await runRumpus(dir, ['sh', '--image', 'c.img', '--key-file', 'bad', '-c', 'ls /mnt']);
    t.same({ code: sh.code, stdout: sh.stdout, stderr: sh.stderr }, { code: 1, stdout: '', stderr: 'rumpus sh: c.img: cgd: no keyslot opens with this passphrase\n' });
    const serve = await runRumpus(dir, ['serve', '--image', 'c.img', '--key-file', 'bad', '--listen', `unix://${join(dir, 's.sock')}`]);
    t.same({ code: serve.code, stdout: serve.stdout, stderr: serve.stderr }, { code: 1, stdout: '', stderr: 'rumpus serve: c.img: cgd: no keyslot opens with this passphrase\n' });
  });

  t.test("the shell's mount of a LUKS image without a key prints ext2's sentence", async (t) => {
    const r = await runRumpus(dir, ['sh', '-c', `mkdir /m; mount -t ext2 ${img} /m`]);
    t.same({ code: r.code, stdout: r.stdout, stderr: r.stderr }, { code: 1, stdout: '', stderr: `mount: /m: ext2: ${img} is a LUKS2 container: give its passphrase (a key)\n` });
  });
}
