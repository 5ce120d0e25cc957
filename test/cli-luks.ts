// The LUKS commands as a user runs them, with cryptsetup as the oracle: mkfs --encrypt makes a
// container that cryptsetup luksDump and open --test-passphrase accept; ls, cat and cp open a
// container cryptsetup made with --key-file's exact bytes; a wrong key is EACCES and changes no
// byte; luks addkey and removekey change keyslots as cryptsetup then sees them; the passphrase
// is asked for on a terminal (a pseudo-terminal from util-linux's `script`), echo off, and
// without a terminal one sentence asks for --key-file. serve --image with --key-file serves the
// container and shows its key nowhere. And the fault campaign on an encrypted image, with
// faults in cgd and the cipher.

import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { e2fsprogsTool } from '../bench/e2fsprogs.js';
import { runRumpus, type CliRun } from './lib/cli.js';
import { tempDir } from './lib/e2fs.js';
import { exitOf, rumpus as built, skip as noDist, startServer } from './lib/serve-cli.js';

const CRYPTSETUP = e2fsprogsTool('cryptsetup');
const SCRIPT = e2fsprogsTool('script');
const BIN = join(import.meta.dirname, '..', 'bin', 'rumpus.ts');
const TSX = import.meta.resolve('tsx');

const dir = tempDir('rumpus-cli-luks-');
const at = (name: string) => join(dir, name);
const rumpus = (...args: string[]): Promise<CliRun> => runRumpus(dir, args, 120_000);
const sha = (name: string) => createHash('sha256').update(readFileSync(at(name))).digest('hex');

/** cryptsetup ARGS… in the fixture directory: its status and output. */
function cryptsetup(...args: string[]): { code: number; out: string } {
  const r = spawnSync(CRYPTSETUP!, args, { cwd: dir, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status ?? 1, out: `${r.stdout}${r.stderr}` };
}

// Key files: one ending in a newline (which is part of the passphrase, as for cryptsetup), one
// without (what a terminal gives: the line typed without its newline), and a wrong one.
writeFileSync(at('key.txt'), 'correct horse battery\n');
writeFileSync(at('typed.txt'), 'typed at a terminal');
writeFileSync(at('new.txt'), 'a second passphrase');
writeFileSync(at('wrong.txt'), 'correct horse battery'); // no newline: not the same bytes

/** A container made by cryptsetup (LUKS2 argon2id, or LUKS1 pbkdf2), with an ext2 file system made inside by rumpus. */
async function cryptsetupContainer(name: string, keyFile: string, type: 'luks2' | 'luks1'): Promise<void> {
  writeFileSync(at(name), '');
  truncateSync(at(name), 24 << 20);
  const kdf = type === 'luks2' ? ['--pbkdf', 'argon2id', '--pbkdf-memory', '32768', '--pbkdf-force-iterations', '4'] : ['--pbkdf', 'pbkdf2', '--pbkdf-force-iterations', '1000'];
  const made = cryptsetup('luksFormat', '-q', '--type', type, ...kdf, '--key-file', keyFile, name);
  if (made.code !== 0) throw new Error(`cryptsetup luksFormat: ${made.out}`);
  const fs = await rumpus('mkfs', name, '--key-file', keyFile);
  if (fs.code !== 0) throw new Error(`rumpus mkfs inside ${name}: ${fs.stderr}`);
}

/**
 * Runs `rumpus ARGS…` on a pseudo-terminal (`script -qfec CMD /dev/null`, util-linux): types
 * each line of `typed` (with Enter, '\r') when the terminal shows the next prompt. Killed after
 * 120 s. Its status and everything the terminal showed.
 */
function onTerminal(args: string[], typed: string[]): Promise<{ code: number; screen: string; prompts: number }> {
  const quote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;
  const cmd = [process.execPath, '--import', TSX, BIN, ...args].map(quote).join(' ');
  return new Promise((resolve) => {
    const child = spawn(SCRIPT!, ['-qfec', cmd, '/dev/null'], { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] });
    let screen = '';
    let prompts = 0;
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.stdout.on('data', (b: Buffer) => {
      screen += b.toString('utf8');
      const seen = screen.match(/passphrase[^:\n]*: /gi)?.length ?? 0;
      while (prompts < seen && prompts < typed.length) child.stdin.write(`${typed[prompts++]}\r`);
    });
    child.stderr.on('data', (b: Buffer) => (screen += b.toString('utf8')));
    child.on('close', (code) => {
      clearTimeout(timer);
      child.stdin.destroy();
      resolve({ code: code ?? 1, screen, prompts });
    });
  });
}

/** Runs `rumpus ARGS…` in a session of its own, so with no controlling terminal to ask on. */
function withoutTerminal(args: string[]): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', TSX, BIN, ...args], { cwd: dir, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b));
    child.stderr.on('data', (b: Buffer) => (stderr += b));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, stdout, stderr });
    });
  });
}

if (!CRYPTSETUP) {
  t.plan(0, 'cryptsetup is not installed (apt-get install cryptsetup-bin): it is the oracle of these tests');
} else {
  t.test('mkfs --encrypt makes a container cryptsetup accepts, with ext2 inside', async (t) => {
    const made = await rumpus('mkfs', 'enc.img', '--size', '24M', '--encrypt', '--key-file', 'key.txt', '--pbkdf', 'argon2id', '--pbkdf-memory', '8192', '--pbkdf-force-iterations', '4');
    t.equal(made.code, 0, made.stderr);
    t.match(made.stdout, /enc\.img: LUKS2 container, aes-xts-plain64, 4096-byte sectors/);
    const dump = cryptsetup('luksDump', 'enc.img');
    t.equal(dump.code, 0, dump.out);
    t.match(dump.out, /Version:\s+2/);
    t.match(dump.out, /argon2id/);
    t.equal(cryptsetup('open', '--test-passphrase', '--key-file', 'key.txt', 'enc.img').code, 0, 'cryptsetup opens it with the key file');
    t.not(cryptsetup('open', '--test-passphrase', '--key-file', 'wrong.txt', 'enc.img').code, 0, 'and not without its newline');

    writeFileSync(at('hello.txt'), 'hello, encrypted world\n');
    const cp = await rumpus('cp', 'hello.txt', 'enc.img:/hello.txt', '--key-file', 'key.txt');
    t.equal(cp.code, 0, cp.stderr);
    const cat = await rumpus('cat', '--key-file', 'key.txt', 'enc.img:/hello.txt');
    t.same({ code: cat.code, stdout: cat.stdout }, { code: 0, stdout: 'hello, encrypted world\n' });
    t.notOk(readFileSync(at('enc.img')).includes('hello, encrypted world'), 'the file is not in the image in clear');
  });

  t.test('mkfs --encrypt --type luks1 --pbkdf pbkdf2 --key-size 256', async (t) => {
    const made = await rumpus('mkfs', 'enc1.img', '--size', '8M', '--encrypt', '--type', 'luks1', '--pbkdf', 'pbkdf2', '--pbkdf-force-iterations', '1000', '--key-size', '256', '--key-file', 'key.txt');
    t.equal(made.code, 0, made.stderr);
    const dump = cryptsetup('luksDump', 'enc1.img');
    t.match(dump.out, /Version:\s+1/);
    t.match(dump.out, /MK bits:\s+256/);
    t.equal(cryptsetup('open', '--test-passphrase', '--key-file', 'key.txt', 'enc1.img').code, 0);
  });

  for (const type of ['luks2', 'luks1'] as const) {
    t.test(`ls, cat and cp with --key-file on a ${type} container cryptsetup made`, async (t) => {
      const img = `cs-${type}.img`;
      await cryptsetupContainer(img, 'key.txt', type);
      writeFileSync(at('note'), `a note in ${type}\n`);
      const cp = await rumpus('cp', '--key-file', 'key.txt', 'note', `${img}:/note`);
      t.equal(cp.code, 0, cp.stderr);
      const ls = await rumpus('ls', '--key-file', 'key.txt', `${img}:/`);
      t.same({ code: ls.code, names: ls.stdout.split('\n').filter(Boolean).sort() }, { code: 0, names: ['lost+found', 'note'] });
      const back = await rumpus('cp', '--key-file', 'key.txt', `${img}:/note`, 'note-back');
      t.equal(back.code, 0, back.stderr);
      t.equal(readFileSync(at('note-back'), 'utf8'), `a note in ${type}\n`);
      t.equal(cryptsetup('open', '--test-passphrase', '--key-file', 'key.txt', img).code, 0, 'cryptsetup still opens it');
    });
  }

  t.test('a wrong key file: EACCES in one sentence, status 1, not a byte written', async (t) => {
    await cryptsetupContainer('wrong.img', 'key.txt', 'luks2');
    const before = sha('wrong.img');
    for (const args of [['touch', 'wrong.img:/new'], ['ls', 'wrong.img:/'], ['mkdir', 'wrong.img:/d']]) {
      const r = await rumpus(args[0], '--key-file', 'wrong.txt', ...args.slice(1));
      t.equal(r.code, 1, `${args[0]}: status 1`);
      t.equal(r.stdout, '');
      t.match(r.stderr, new RegExp(`^rumpus ${args[0]}: wrong\\.img: .*\\n$`), `${args[0]}: one line naming the image`);
      t.match(r.stderr, /passphrase|key/i);
      t.notMatch(r.stderr, /correct horse/, 'the key is not shown');
    }
    t.equal(sha('wrong.img'), before, 'the image is unchanged');
    const empty = await rumpus('ls', '--key-file', '/dev/null', 'wrong.img:/');
    t.equal(empty.code, 1);
    t.match(empty.stderr, /empty/);
  });

  t.test('luks addkey, removekey and dump, with cryptsetup agreeing', async (t) => {
    await cryptsetupContainer('slots.img', 'key.txt', 'luks2');
    const add = await rumpus('luks', 'addkey', 'slots.img', '--key-file', 'key.txt', '--new-key-file', 'new.txt', '--pbkdf', 'pbkdf2', '--pbkdf-force-iterations', '1000');
    t.same({ code: add.code, stdout: add.stdout }, { code: 0, stdout: 'slots.img: keyslot 1 added\n' }, add.stderr);
    t.equal(cryptsetup('open', '--test-passphrase', '--key-file', 'new.txt', 'slots.img').code, 0, 'cryptsetup opens it with the new key');
    t.equal(cryptsetup('open', '--test-passphrase', '--key-file', 'key.txt', 'slots.img').code, 0, 'and with the old one');

    const dump = await rumpus('luks', 'dump', 'slots.img');
    t.equal(dump.code, 0, dump.stderr);
    t.match(dump.stdout, /^slots\.img: LUKS2 header\n/);
    t.match(dump.stdout, /\n {2}0: argon2id \(time 4, memory 32768 KiB/);
    t.match(dump.stdout, /\n {2}1: pbkdf2-sha256 \(1000 iterations\)/);
    const json = JSON.parse((await rumpus('luks', 'dump', 'slots.img', '--json')).stdout);
    t.same(json.keyslots.map((k: { slot: number }) => k.slot), [0, 1]);

    const wrong = await rumpus('luks', 'removekey', 'slots.img', '--key-file', 'wrong.txt');
    t.equal(wrong.code, 1);
    t.match(wrong.stderr, /^rumpus luks: .*\n$/);
    const remove = await rumpus('luks', 'removekey', 'slots.img', '--key-file', 'key.txt');
    t.same({ code: remove.code, stdout: remove.stdout }, { code: 0, stdout: 'slots.img: keyslot 0 removed\n' }, remove.stderr);
    t.not(cryptsetup('open', '--test-passphrase', '--key-file', 'key.txt', 'slots.img').code, 0, 'cryptsetup no longer opens it with the removed key');
    t.equal(cryptsetup('open', '--test-passphrase', '--key-file', 'new.txt', 'slots.img').code, 0, 'but does with the other');
    const last = await rumpus('luks', 'removekey', 'slots.img', '--key-file', 'new.txt');
    t.equal(last.code, 1, 'the last keyslot stays');
    t.match(last.stderr, /^rumpus luks: .*\n$/);
  });

  t.test('no key file: the passphrase is asked for on the terminal, echo off', { skip: SCRIPT ? false : 'script (util-linux) is not installed' }, async (t) => {
    await cryptsetupContainer('tty.img', 'typed.txt', 'luks2');
    const r = await onTerminal(['ls', 'tty.img:/'], ['typed at a terminal']);
    t.equal(r.code, 0, r.screen);
    t.match(r.screen, /Enter passphrase for tty\.img: /);
    t.match(r.screen, /lost\+found/);
    t.notMatch(r.screen, /typed at a terminal/, 'what was typed is not shown');

    const wrong = await onTerminal(['ls', 'tty.img:/'], ['not the passphrase']);
    t.equal(wrong.code, 1);
    t.match(wrong.screen, /rumpus ls: tty\.img: /);

    const made = await onTerminal(['mkfs', 'tty-new.img', '--size', '20M', '--encrypt', '--pbkdf', 'pbkdf2', '--pbkdf-force-iterations', '1000'], ['typed at a terminal', 'typed at a terminal']);
    t.equal(made.code, 0, made.screen);
    t.equal(made.prompts, 2, 'mkfs --encrypt asks twice');
    t.match(made.screen, /Verify passphrase: /);
    t.equal(cryptsetup('open', '--test-passphrase', '--key-file', 'typed.txt', 'tty-new.img').code, 0, 'the line typed, without its newline, is the passphrase');

    const differ = await onTerminal(['mkfs', 'tty-differ.img', '--size', '20M', '--encrypt'], ['one', 'another']);
    t.equal(differ.code, 2);
    t.match(differ.screen, /do not match/);
  });

  t.test('no key file and no terminal: one sentence, status 1', async (t) => {
    await cryptsetupContainer('notty.img', 'key.txt', 'luks2');
    const before = sha('notty.img');
    const r = await withoutTerminal(['cat', 'notty.img:/x']);
    t.same(r, { code: 1, stdout: '', stderr: 'rumpus cat: notty.img: there is no terminal to ask for its passphrase on; give it with --key-file FILE\n' });
    const mk = await withoutTerminal(['mkfs', 'notty-new.img', '--size', '20M', '--encrypt']);
    t.equal(mk.code, 1);
    t.match(mk.stderr, /^rumpus mkfs: notty-new\.img: there is no terminal .* --key-file FILE\n$/);
    t.equal(sha('notty.img'), before);
  });

  t.test('serve --image with --key-file: clients use the container, and the key is shown nowhere', { skip: noDist }, async (t) => {
    await cryptsetupContainer('served.img', 'key.txt', 'luks2');
    const url = `unix://${at('served.sock')}`;
    const s = await startServer(t, dir, ['--image', 'served.img', '--key-file', 'key.txt', '--listen', url, '--policy', 'microkernel']);
    const env = { RUMPUS_SERVER: url };
    writeFileSync(at('via-server'), 'written through the server\n');
    const cp = await built(dir, ['cp', 'via-server', 'served.img:/via-server'], env);
    t.equal(cp.code, 0, cp.stderr);
    const shown: string[] = [s.ready];
    for (const args of [['ls', 'served.img:/'], ['df', 'served.img:/'], ['ctl', 'ps'], ['ctl', 'dmesg'], ['sh', '-c', 'mount; ps']]) {
      const r = await built(dir, args, env);
      t.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
      shown.push(r.stdout, r.stderr);
    }
    t.match(shown.join(''), /via-server/);
    t.match(shown.join(''), /cipher/, 'ps shows the cipher');
    const refused = await built(dir, ['ls', '--key-file', 'key.txt', 'served.img:/'], env);
    t.equal(refused.code, 2, 'a key file with a server: usage error');
    t.equal((await built(dir, ['ctl', 'halt'], env)).code, 0);
    t.equal(await exitOf(s), 0);
    shown.push(s.stdout(), s.stderr());
    t.notMatch(shown.join(''), /correct horse/, 'the passphrase appears in no output');
    const cat = await rumpus('cat', '--key-file', 'key.txt', 'served.img:/via-server');
    t.same({ code: cat.code, stdout: cat.stdout }, { code: 0, stdout: 'written through the server\n' }, 'what a client wrote is in the container');
  });

  t.test('the fault campaign on an encrypted image hits cgd and the cipher', async (t) => {
    const made = await rumpus('mkfs', 'campaign.img', '--size', '24M', '--encrypt', '--key-file', 'key.txt', '--pbkdf', 'pbkdf2', '--pbkdf-force-iterations', '1000');
    t.equal(made.code, 0, made.stderr);
    const r = await runRumpus(dir, ['faults', '--image', 'campaign.img', '--key-file', 'key.txt', '--components', 'cgd,cipher', '--trials', '4', '--seed', '2', '--json'], 280_000);
    const report = JSON.parse(r.stdout);
    t.equal(report.trials, 4);
    t.same(report.violations, [], 'no invariant broke');
    t.equal(r.code, 0, r.stderr);
    t.ok(report.rows.length > 0 && report.rows.every((x: { component: string }) => ['cgd', 'cipher'].includes(x.component)), 'faults in cgd and cipher only');
    t.ok(report.rows.every((x: { synced_bytes_lost: number }) => x.synced_bytes_lost === 0));
  });
}
