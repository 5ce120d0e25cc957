// The LUKS image commands as a user runs them, with cryptsetup as the oracle: mkfs --encrypt
// makes containers that cryptsetup luksDump and open --test-passphrase accept; ls, cat and cp
// open LUKS1 and LUKS2 containers cryptsetup made, with --key-file's exact bytes; a wrong key is
// EACCES in one sentence and changes no byte. (Keyslots, the terminal prompt and serve:
// test/cli-luks-keys.ts; the fault campaign: test/cli-luks-campaign.ts.)

import { readFileSync, writeFileSync } from 'node:fs';
import t from 'tap';
import { CRYPTSETUP, LuksFixture, NO_CRYPTSETUP } from './lib/luks-cli.js';

if (!CRYPTSETUP) {
  t.plan(0, NO_CRYPTSETUP);
} else {
  const f = new LuksFixture();

  t.test('mkfs --encrypt makes a LUKS2 container cryptsetup accepts, with ext2 inside', async (t) => {
    const made = await f.rumpus('mkfs', 'enc.img', '--size', '24M', '--encrypt', '--key-file', 'key.txt', '--pbkdf', 'argon2id', '--pbkdf-memory', '8192', '--pbkdf-force-iterations', '4');
    t.equal(made.code, 0, made.stderr);
    t.match(made.stdout, /^enc\.img: LUKS2 container, aes-xts-plain64, 4096-byte sectors, payload of 8388608 bytes at 16777216/);
    const dump = f.cryptsetup('luksDump', 'enc.img');
    t.equal(dump.code, 0, dump.out);
    t.match(dump.out, /Version:\s+2/);
    t.match(dump.out, /PBKDF:\s+argon2id/);
    t.match(dump.out, /Memory:\s+8192/);
    t.ok(f.opens('enc.img', 'key.txt'), 'cryptsetup opens it with the key file');
    t.notOk(f.opens('enc.img', 'wrong.txt'), 'and not without its final newline');

    writeFileSync(f.at('hello.txt'), 'hello, encrypted world\n');
    const cp = await f.rumpus('cp', 'hello.txt', 'enc.img:/hello.txt', '--key-file', 'key.txt');
    t.equal(cp.code, 0, cp.stderr);
    const cat = await f.rumpus('cat', '--key-file', 'key.txt', 'enc.img:/hello.txt');
    t.same({ code: cat.code, stdout: cat.stdout }, { code: 0, stdout: 'hello, encrypted world\n' });
    t.notOk(readFileSync(f.at('enc.img')).includes('hello, encrypted world'), 'the file is not in the image in clear');
  });

  t.test('mkfs --encrypt --type luks1 --pbkdf pbkdf2 --key-size 256', async (t) => {
    const made = await f.rumpus('mkfs', 'enc1.img', '--size', '8M', '--encrypt', '--type', 'luks1', '--pbkdf', 'pbkdf2', '--pbkdf-force-iterations', '1000', '--key-size', '256', '--key-file', 'key.txt');
    t.equal(made.code, 0, made.stderr);
    const dump = f.cryptsetup('luksDump', 'enc1.img');
    t.match(dump.out, /Version:\s+1/);
    t.match(dump.out, /MK bits:\s+256/);
    t.ok(f.opens('enc1.img', 'key.txt'));
    const bad = await f.rumpus('mkfs', 'bad.img', '--size', '8M', '--encrypt', '--type', 'luks1', '--sector-size', '4096', '--key-file', 'key.txt');
    t.equal(bad.code, 2, 'LUKS1 has no sector size: usage error');
  });

  for (const type of ['luks2', 'luks1'] as const) {
    t.test(`ls, cat and cp with --key-file on a ${type} container cryptsetup made`, async (t) => {
      const img = `cs-${type}.img`;
      await f.cryptsetupContainer(img, 'key.txt', type);
      writeFileSync(f.at('note'), `a note in ${type}\n`);
      const cp = await f.rumpus('cp', '--key-file', 'key.txt', 'note', `${img}:/note`);
      t.equal(cp.code, 0, cp.stderr);
      const ls = await f.rumpus('ls', '--key-file', 'key.txt', `${img}:/`);
      t.same({ code: ls.code, names: ls.stdout.split('\n').filter(Boolean).sort() }, { code: 0, names: ['lost+found', 'note'] });
      const back = await f.rumpus('cp', '--key-file', 'key.txt', `${img}:/note`, 'note-back');
      t.equal(back.code, 0, back.stderr);
      t.equal(readFileSync(f.at('note-back'), 'utf8'), `a note in ${type}\n`);
      t.ok(f.opens(img, 'key.txt'), 'cryptsetup still opens it');
    });
  }

  t.test('two LUKS images on one command line: the one key for each', async (t) => {
    // enc.img (mkfs --encrypt) and cs-luks2.img (cryptsetup's), both with key.txt, made above.
    const cp = await f.rumpus('cp', '--key-file', 'key.txt', 'enc.img:/hello.txt', 'cs-luks2.img:/hello-copy');
    t.equal(cp.code, 0, cp.stderr);
    const cat = await f.rumpus('cat', '--key-file', 'key.txt', 'cs-luks2.img:/hello-copy', 'enc.img:/hello.txt');
    t.same({ code: cat.code, stdout: cat.stdout }, { code: 0, stdout: 'hello, encrypted world\n'.repeat(2) });
  });

  t.test('a wrong key file: EACCES in one sentence, status 1, not a byte written', async (t) => {
    await f.cryptsetupContainer('wrong.img', 'key.txt', 'luks2');
    const before = f.sha('wrong.img');
    for (const args of [['touch', 'wrong.img:/new'], ['ls', 'wrong.img:/']]) {
      const r = await f.rumpus(args[0], '--key-file', 'wrong.txt', ...args.slice(1));
      t.equal(r.code, 1, `${args[0]}: status 1`);
      t.equal(r.stdout, '');
      t.match(r.stderr, new RegExp(`^rumpus ${args[0]}: wrong\\.img: [^\\n]*passphrase[^\\n]*\\n$`), `${args[0]}: one line naming the image`);
      t.notMatch(r.stderr, /correct horse/, 'the key is not shown');
    }
    t.equal(f.sha('wrong.img'), before, 'the image is unchanged');
    const empty = await f.rumpus('ls', '--key-file', '/dev/null', 'wrong.img:/');
    t.same({ code: empty.code, stderr: empty.stderr }, { code: 1, stderr: 'rumpus ls: key file /dev/null is empty: a passphrase has at least one byte\n' });
  });
}
