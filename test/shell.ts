// The shell: its language, its commands and their output, and its errors, the POSIX way.

import { PassThrough } from 'node:stream';
import t from 'tap';
import { Shell } from '../bin/shell/shell.js';
import { parse } from '../bin/shell/parse.js';
import { boot, localControl, type Kernel } from '../kernel/index.js';

const dec = new TextDecoder();

async function shellOn(k: Kernel) {
  const out: string[] = [];
  const err: string[] = [];
  const sh = new Shell(localControl(k), await k.spawn(), {
    stdout: (x) => out.push(typeof x === 'string' ? x : dec.decode(x)),
    stderr: (x) => err.push(x),
  });
  return {
    sh,
    /** Runs a script; its status and what it printed (then clears the capture). */
    async run(script: string) {
      const status = await sh.run(script);
      const r = { status, out: out.join(''), err: err.join('') };
      out.length = err.length = 0;
      return r;
    },
  };
}

t.test('parse: quoting, escapes, joins and redirections', async (t) => {
  t.same(parse(`echo 'a b' "c \\"d\\"" e\\ f # comment`)[0].argv, ['echo', 'a b', 'c "d"', 'e f']);
  const [a, b, c] = parse('mkdir /x && echo ok >> /x/log || echo failed; cat < /in');
  t.same([a.join, b.join, c.join], [';', '&&', '||']);
  t.same(b.redirects, [{ op: '>>', path: '/x/log' }]);
  t.same(parse('cat < /in')[0].redirects, [{ op: '<', path: '/in' }]);
  t.throws(() => parse("echo 'open"), /unterminated quote/);
  t.throws(() => parse('echo >'), /needs a file name/);
  const [piped] = parse('cat < /in | grep x > /out | wc');
  t.same([piped.argv, piped.redirects, piped.piped], [['cat'], [{ op: '<', path: '/in' }], [{ argv: ['grep', 'x'], redirects: [{ op: '>', path: '/out' }] }, { argv: ['wc'], redirects: [] }]], "'|' joins stages, each with its redirections");
  t.throws(() => parse('ls &'), /not supported/);
  t.throws(() => parse('| wc'), /'\|' without a command before it/);
  t.throws(() => parse('ls |'), /'\|' without a command after it/);
  t.throws(() => parse('ls | ; wc'), /'\|' without a command after it/);
  t.throws(() => parse('&& ls'), /without a command before it/);
});

t.test('the shell, on a microkernel', async (t) => {
  const k = await boot({ policy: 'microkernel' });
  t.teardown(() => k.halt());
  const { run, sh } = await shellOn(k);

  const example = await run('mkdir /tmp/a; echo hello > /tmp/a/f; cat /tmp/a/f; ls -l /tmp/a');
  t.match(example.out, /^hello\n-rw-r--r-- {2}1 0 0 {2}6 [A-Z][a-z]{2} [ \d]\d \d\d:\d\d f\n$/, 'the issue\'s example prints what it shows');
  t.equal(example.status, 0);

  t.same(await run('cat /x'), { status: 1, out: '', err: 'cat: /x: No such file or directory\n' }, 'errors the POSIX way');
  t.same(await run('mkdir /tmp/a'), { status: 1, out: '', err: 'mkdir: /tmp/a: File exists\n' });
  t.same(await run('frob'), { status: 127, out: '', err: 'sh: frob: command not found\n' });
  t.same((await run('ls -z')).err, "ls: invalid option -- 'z'\nusage: ls [-laR] [-d] [PATH…]\n", 'an unknown flag is a usage error');
  t.equal((await run("echo 'oops")).status, 2, 'a syntax error has status 2');
  t.same(await run('echo x > /nodir/f'), { status: 1, out: '', err: 'sh: /nodir/f: No such file or directory\n' }, 'a redirection that fails');

  await run('echo one > /tmp/log; echo two >> /tmp/log; echo -n three >> /tmp/log');
  t.equal((await run('cat /tmp/log')).out, 'one\ntwo\nthree', '> and >>');
  t.equal((await run('cat < /tmp/log')).out, 'one\ntwo\nthree', '<');
  t.equal((await run('cat /nope && echo yes || echo no')).out, 'no\n', '&& and ||');

  await run('mkdir -p /tmp/p/q/r; echo deep > /tmp/p/q/r/file; ln -s q/r /tmp/p/link; ln /tmp/p/q/r/file /tmp/p/hard');
  t.equal((await run('cat /tmp/p/link/file')).out, 'deep\n', 'mkdir -p and ln -s');
  t.match((await run('ls -l /tmp/p')).out, /^-rw-r--r-- {2}2 0 0 {2}5 .+ hard\nlrwxrwxrwx {2}1 0 0 {2}3 .+ link -> q\/r\ndrwxr-xr-x {2}3 0 0 {2}0 .+ q\n$/, 'ls -l: links, symlink targets, directories');
  t.equal((await run('ls /tmp/p')).out, 'hard\nlink\nq\n');
  t.equal((await run('ls -a /tmp/p/q')).out, '.\n..\nr\n');

  await run('cd /tmp/p/q');
  t.equal((await run('pwd')).out, '/tmp/p/q\n', 'cd and pwd');
  t.equal((await run('cat r/file')).out, 'deep\n', 'relative paths');
  await run('cd');
  t.equal((await run('pwd')).out, '/\n', 'cd without an argument goes to /');

  await run('cp -r /tmp/p /tmp/copy');
  t.equal((await run('cat /tmp/copy/q/r/file; ls -l /tmp/copy/link')).out.split('\n')[0], 'deep', 'cp -r copies the tree');
  t.match((await run('ls -l /tmp/copy/link')).out, /-> q\/r\n$/, 'cp -r copies symlinks as symlinks');
  await run('mv /tmp/copy /tmp/moved');
  t.same((await run('ls /tmp/copy')).err, 'ls: /tmp/copy: No such file or directory\n', 'mv removes the old name');
  await run('mkdir /tmp/into; mv /tmp/moved /tmp/log /tmp/into');
  t.equal((await run('ls /tmp/into')).out, 'log\nmoved\n', 'mv into a directory');
  await run('mv /tmp/into/log /log');
  t.equal((await run('cat /log')).out, 'one\ntwo\nthree', 'mv across mounts copies and removes');

  t.equal((await run('rm /tmp/p')).err, 'rm: /tmp/p: Is a directory\n', 'rm refuses a directory without -r');
  await run('rm -r /tmp/p /tmp/into');
  t.equal((await run('ls /tmp')).out, 'a\n', 'rm -r');
  t.equal((await run('rm -f /tmp/nothing')).status, 0, 'rm -f ignores a missing file');

  await run('touch /tmp/t; chmod 600 /tmp/t; truncate -s 10 /tmp/t');
  const st = (await run('stat /tmp/t')).out;
  t.match(st, /File: \/tmp\/t\n {2}Size: 10 +Blocks: 0 +IO Block: 4096 +regular file/, 'stat: size of a sparse file with no blocks');
  t.match(st, /Access: \(0600\/-rw-------\)/, 'stat: mode after chmod');

  const df = (await run('df')).out.split('\n');
  t.match(df[0], /^Filesystem +1K-blocks +Used +Available +Use% +Mounted on$/);
  t.match(df[2], /^tmpfs +1048576 +\d+ +\d+ +\d+% +\/tmp$/, 'df lists /tmp');

  t.match((await run('help')).out, /ls \[-laR\].*\n/, 'help lists commands');
  t.match((await run('help cp')).out, /^usage: cp/, 'help describes one');
  t.match((await run('ps')).out, /^DOMAIN +KIND +ID +STATUS +RESTARTS +UPTIME +COMPONENTS\nvfs +thread +\d+ +running +0 +[\d.]+s +vfs\n/, 'ps shows the domains');
  t.match((await run('mount')).out, /tmpfs on \/ type tmpfs \(rw\)\ntmpfs on \/tmp type tmpfs \(rw\)\ndev on \/dev type dev \(rw\)\n/);

  await run('echo one > /tmp/log2; echo two >> /tmp/log2');
  t.same(await run('cat /tmp/log2 | cat | cat'), { status: 0, out: 'one\ntwo\n', err: '' }, 'a | b | c: each output into the next one');
  t.same(await run('cat /nope | echo last'), { status: 0, out: 'last\n', err: 'cat: /nope: No such file or directory\n' }, 'the status is the last stage\'s');
  t.equal((await run('echo x | cat /nope')).status, 1, 'and a failing last stage fails the pipeline');
  await run('truncate -s 300000 /tmp/big; cat /tmp/big | cat > /tmp/big2');
  t.match((await run('stat /tmp/big2')).out, /Size: 300000 /, 'more than a pipe holds goes through whole');
  t.equal((await run('cd /tmp/a; pwd | cat; cd /')).out, '/tmp/a\n', 'a stage starts in the shell\'s directory');
  t.equal((await run('cd /tmp | pwd; pwd')).out, '/\n/\n', 'and a cd in a stage changes only that stage');
  t.equal((await run('ls -a /tmp')).out.includes('.sh-pipe'), false, 'no FIFO of a pipeline is left behind');
  t.equal((await run('echo hi | cat | cat; echo after')).out, 'hi\nafter\n', 'the script goes on after a pipeline');
  t.same((await run('ls /tmp/log2 /nope | cat')).err, 'ls: /nope: No such file or directory\n', 'errors of a stage reach stderr');

  t.equal((await run('umask')).out, '0022\n', 'umask prints the mask');
  await run('umask 077; mkfifo /tmp/ff; umask 22; mknod /tmp/nul c 1 3; mknod /tmp/disk b 300 70000; mknod /tmp/pp p');
  t.equal((await run('umask')).out, '0022\n', 'umask sets the mask');
  const specials = (await run('ls -l /tmp/ff /tmp/nul /tmp/disk /tmp/pp')).out;
  t.match(specials, /^brw-r--r-- {2}1 0 0 +300, 70000 .+ \/tmp\/disk\n/m, 'mknod b: a block device, its numbers in ls -l');
  t.match(specials, /^prw------- {2}1 0 0 +0 .+ \/tmp\/ff\n/m, 'mkfifo: a FIFO, with the umask applied');
  t.match(specials, /^crw-r--r-- {2}1 0 0 +1, +3 .+ \/tmp\/nul\n/m, 'mknod c: a character device');
  t.match(specials, /^prw-r--r-- {2}1 0 0 +0 .+ \/tmp\/pp\n/m, 'mknod p: a FIFO');
  t.equal((await run('mkfifo /tmp/ff')).err, 'mkfifo: /tmp/ff: File exists\n');
  t.equal((await run('umask 9')).status, 2, 'umask refuses a mode that is not octal');
  t.equal((await run('mknod /tmp/x c 1')).status, 2, 'mknod c needs two numbers');

  await run('mkdir -p /tmp/r/a/b /tmp/r/c; touch /tmp/r/f /tmp/r/a/g /tmp/r/a/b/h');
  t.equal((await run('ls -R /tmp/r')).out, '/tmp/r:\na\nc\nf\n\n/tmp/r/a:\nb\ng\n\n/tmp/r/a/b:\nh\n\n/tmp/r/c:\n', 'ls -R lists each directory below');

  await run('exit 3; echo not reached');
  t.equal(sh.exitCode, 3, 'exit ends the script with its status');
});

t.test('the interactive shell reads lines, prompts only on a terminal', async (t) => {
  const k = await boot({ policy: 'monolithic' });
  t.teardown(() => k.halt());
  const { sh } = await shellOn(k);
  const input = new PassThrough();
  const done = sh.interact(input);
  input.write('echo hi > /tmp/x\n');
  input.write('cat /tmp/x\n');
  input.end('exit 4\nls\n');
  t.equal(await done, 4);
});
