// The ways of a LUKS passphrase through the command line, with cryptsetup as the oracle: luks
// addkey and removekey change keyslots as cryptsetup then sees them, and luks dump shows them;
// without --key-file the passphrase is asked for on a terminal (a pseudo-terminal from
// util-linux's `script`), echo off, and with no terminal one sentence asks for --key-file;
// serve --image with --key-file serves the container and shows its key nowhere.

import { writeFileSync } from 'node:fs';
import t from 'tap';
import { CRYPTSETUP, LuksFixture, NO_CRYPTSETUP, SCRIPT } from './lib/luks-cli.js';
import { exitOf, rumpus as built, skip as noDist, startServer } from './lib/serve-cli.js';

if (!CRYPTSETUP) {
  t.plan(0, NO_CRYPTSETUP);
} else {
  const f = new LuksFixture();

  t.test('luks addkey, removekey and dump, with cryptsetup agreeing', async (t) => {
    await f.cryptsetupContainer('slots.img', 'key.txt', 'luks2');
    const add = await f.rumpus('luks', 'addkey', 'slots.img', '--key-file', 'key.txt', '--new-key-file', 'new.txt', '--pbkdf', 'pbkdf2', '--pbkdf-force-iterations', '1000');
    t.same({ code: add.code, stdout: add.stdout }, { code: 0, stdout: 'slots.img: keyslot 1 added\n' }, add.stderr);
    t.ok(f.opens('slots.img', 'new.txt'), 'cryptsetup opens it with the new key');
    t.ok(f.opens('slots.img', 'key.txt'), 'and with the old one');

    const dump = await f.rumpus('luks', 'dump', 'slots.img');
    t.equal(dump.code, 0, dump.stderr);
    t.match(dump.stdout, /^slots\.img: LUKS2 header\n/);
    t.match(dump.stdout, /\n {2}0: argon2id \(time 4, memory 32768 KiB/);
    t.match(dump.stdout, /\n {2}1: pbkdf2-sha256 \(1000 iterations\)/);
    const json = JSON.parse((await f.rumpus('luks', 'dump', 'slots.img', '--json')).stdout);
    t.same(json.keyslots.map((k: { slot: number }) => k.slot), [0, 1]);

    const wrong = await f.rumpus('luks', 'removekey', 'slots.img', '--key-file', 'wrong.txt');
    t.equal(wrong.code, 1);
    t.match(wrong.stderr, /^rumpus luks: slots\.img: [^\n]*passphrase[^\n]*\n$/);
    const remove = await f.rumpus('luks', 'removekey', 'slots.img', '--key-file', 'key.txt');
    t.same({ code: remove.code, stdout: remove.stdout }, { code: 0, stdout: 'slots.img: keyslot 0 removed\n' }, remove.stderr);
    t.notOk(f.opens('slots.img', 'key.txt'), 'cryptsetup no longer opens it with the removed key');
    t.ok(f.opens('slots.img', 'new.txt'), 'but does with the other');
    const last = await f.rumpus('luks', 'removekey', 'slots.img', '--key-file', 'new.txt');
    t.equal(last.code, 1, 'the last keyslot stays');
    t.match(last.stderr, /^rumpus luks: slots\.img: [^\n]*last[^\n]*\n$/);
    t.ok(f.opens('slots.img', 'new.txt'));
  });

  t.test('no key file: the passphrase is asked for on the terminal, echo off', { skip: SCRIPT ? false : 'script (util-linux) is not installed' }, async (t) => {
    await f.cryptsetupContainer('tty.img', 'typed.txt', 'luks2');
    const r = await f.onTerminal(['ls', 'tty.img:/'], ['typed at a terminal']);
    t.equal(r.code, 0, r.screen);
    t.match(r.screen, /Enter passphrase for tty\.img: /);
    t.match(r.screen, /lost\+found/);
    t.notMatch(r.screen, /typed at a terminal/, 'what was typed is not shown');

    const wrong = await f.onTerminal(['ls', 'tty.img:/'], ['not the passphrase']);
    t.equal(wrong.code, 1);
    t.match(wrong.screen, /rumpus ls: tty\.img: /);

    const made = await f.onTerminal(['mkfs', 'tty-new.img', '--size', '20M', '--encrypt', '--pbkdf', 'pbkdf2', '--pbkdf-force-iterations', '1000'], ['typed at a terminal', 'typed at a terminal']);
    t.equal(made.code, 0, made.screen);
    t.equal(made.prompts, 2, 'mkfs --encrypt asks twice');
    t.match(made.screen, /Verify passphrase: /);
    t.ok(f.opens('tty-new.img', 'typed.txt'), 'the line typed, without its newline, is the passphrase');

    const differ = await f.onTerminal(['mkfs', 'tty-differ.img', '--size', '20M', '--encrypt'], ['one', 'another']);
    t.equal(differ.code, 2);
    t.match(differ.screen, /do not match/);
  });

  t.test('no key file and no terminal: one sentence, status 1', async (t) => {
    await f.cryptsetupContainer('notty.img', 'key.txt', 'luks2');
    const before = f.sha('notty.img');
    const r = await f.withoutTerminal(['cat', 'notty.img:/x']);
    t.same(r, { code: 1, stdout: '', stderr: 'rumpus cat: notty.img: there is no terminal to ask for its passphrase on; give it with --key-file FILE\n' });
    const mk = await f.withoutTerminal(['mkfs', 'notty-new.img', '--size', '20M', '--encrypt']);
    t.equal(mk.code, 1);
    t.match(mk.stderr, /^rumpus mkfs: notty-new\.img: there is no terminal .* --key-file FILE\n$/);
    t.equal(f.sha('notty.img'), before);
  });

  t.test('serve --image with --key-file: clients use the container, and the key is shown nowhere', { skip: noDist }, async (t) => {
    await f.cryptsetupContainer('served.img', 'key.txt', 'luks2');
    const url = `unix://${f.at('served.sock')}`;
    const s = await startServer(t, f.dir, ['--image', 'served.img', '--key-file', 'key.txt', '--listen', url, '--policy', 'microkernel']);
    const env = { RUMPUS_SERVER: url };
    writeFileSync(f.at('via-server'), 'written through the server\n');
    const cp = await built(f.dir, ['cp', 'via-server', 'served.img:/via-server'], env);
    t.equal(cp.code, 0, cp.stderr);
    const shown: string[] = [s.ready];
    for (const args of [['ls', 'served.img:/'], ['df', 'served.img:/'], ['ctl', 'ps'], ['ctl', 'dmesg'], ['sh', '-c', 'mount; ps']]) {
      const r = await built(f.dir, args, env);
      t.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
      shown.push(r.stdout, r.stderr);
    }
    t.match(shown.join(''), /via-server/);
    t.match(shown.join(''), /cipher/, 'ps shows the cipher');
    const refused = await built(f.dir, ['ls', '--key-file', 'key.txt', 'served.img:/'], env);
    t.equal(refused.code, 2, 'a key file with a server: usage error');
    t.equal((await built(f.dir, ['ctl', 'halt'], env)).code, 0);
    t.equal(await exitOf(s), 0);
    shown.push(s.stdout(), s.stderr());
    t.notMatch(shown.join(''), /correct horse/, 'the passphrase appears in no output');
    const cat = await f.rumpus('cat', '--key-file', 'key.txt', 'served.img:/via-server');
    t.same({ code: cat.code, stdout: cat.stdout }, { code: 0, stdout: 'written through the server\n' }, 'what a client wrote is in the container');
  });
}
