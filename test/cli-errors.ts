// Every path of the rumpus command ends with a sentence and an exit status, never a stack trace
// (issue 10, item 12): a placement with an empty domain is refused in one line; output into a
// pipe whose reader has gone ends quietly (status 0 or 141, as coreutils), also from the shell,
// whose image is still unmounted cleanly; a write error on standard output is one line.

import { execFileSync, spawn } from 'node:child_process';
import { closeSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { describeUnexpected } from '../bin/stdio.js';
import { fsckClean, seededBytes, tempDir } from './lib/e2fs.js';
import { RUMPUS } from './lib/cli.js';

/** What a stack trace or an unhandled error looks like on stderr. */
const TRACE = /^\s+at |TypeError|ReferenceError|RangeError|Unhandled .error. event|node:internal|node:events/m;
const dir = tempDir('rumpus-cli-errors-');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * `rumpus ARGS…`. With `readBytes`, standard output is a pipe closed by its reader after that
 * many bytes (as `| head -c N` does); with `stdoutFile`, standard output is that file.
 */
function rumpus(args: string[], opts: { readBytes?: number; stdoutFile?: string } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const out = opts.stdoutFile === undefined ? 'pipe' : openSync(opts.stdoutFile, 'w');
    const child = spawn(process.execPath, [RUMPUS, ...args], { stdio: ['ignore', out, 'pipe'] });
    if (typeof out === 'number') closeSync(out);
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    let stdout = '';
    let stderr = '';
    let got = 0;
    child.stdout?.on('data', (chunk: Buffer) => {
      if (opts.readBytes === undefined) {
        stdout += chunk.toString();
        return;
      }
      stdout += chunk.subarray(0, Math.max(0, opts.readBytes - got)).toString('latin1');
      got += chunk.length;
      if (got >= opts.readBytes) child.stdout!.destroy();
    });
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const lines = (text: string) => text.split('\n').filter(Boolean);

t.test('a placement with an empty domain is refused in one line', async (t) => {
  for (const [what, domains] of [
    ['an empty process domain', { main: { kind: 'main', components: ['vfs', 'tmpfs', 'dev', 'ext2', 'blk'] }, x: { kind: 'process', components: [] } }],
    ['an empty main domain', { main: { kind: 'main', components: [] }, x: { kind: 'thread', components: ['vfs', 'tmpfs', 'dev', 'ext2', 'blk'] } }],
  ] as const) {
    const file = join(dir, 'empty-domain.json');
    writeFileSync(file, JSON.stringify({ name: 'empty-domain', domains }));
    const r = await rumpus(['sh', '--policy', file, '-c', 'echo booted']);
    t.notMatch(r.stderr, TRACE, `${what}: no stack trace`);
    t.equal(r.code, 1, `${what}: exit status 1`);
    t.equal(lines(r.stderr).length, 1, `${what}: one line`);
    t.match(r.stderr, /domain '(x|main)' hosts no components/, `${what}: which says what is wrong`);
  }
});

t.test('output into a closed pipe ends quietly', async (t) => {
  const img = join(dir, 'base.img');
  execFileSync('mke2fs', ['-q', '-F', '-t', 'ext2', '-b', '1024', img, '8M'], { stdio: 'pipe' });
  writeFileSync(join(dir, 'big'), seededBytes(3_000_000, 5));
  const put = await rumpus(['cp', join(dir, 'big'), `${img}:/big`]);
  t.equal(put.code, 0, 'a 3 MB file copied into the image', { stderr: put.stderr });
  for (const policy of ['monolithic', 'microkernel', 'multiprocess']) {
    const cat = await rumpus(['cat', '--policy', policy, `${img}:/big`], { readBytes: 10 });
    t.notMatch(cat.stderr, TRACE, `[${policy}] rumpus cat IMG:/big | head -c 10: no stack trace`);
    t.equal(cat.stderr, '', `[${policy}] nothing on stderr`);
    t.ok(cat.code === 0 || cat.code === 141, `[${policy}] exit status 0 or 141 (got ${cat.code})`);
    if (policy === 'multiprocess') continue;
    const sh = join(dir, `sh-${policy}.img`);
    execFileSync('cp', [img, sh]);
    const r = await rumpus(['sh', '--policy', policy, '--image', sh, '-c', 'cat /mnt/big; mkdir /mnt/after'], { readBytes: 10 });
    t.notMatch(r.stderr, TRACE, `[${policy}] rumpus sh -c 'cat /mnt/big; mkdir /mnt/after' | head -c 10: no stack trace`);
    t.equal(r.code, 0, `[${policy}] the shell goes on after the broken pipe, and its last command succeeds`);
    const fsck = fsckClean(sh);
    t.ok(fsck.clean, `[${policy}] the shell's image is unmounted clean`, { report: fsck.report });
    t.match(execFileSync('debugfs', ['-R', 'ls -l /', sh], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }), / after\b/, `[${policy}] and the command after the broken pipe ran`);
  }
});

t.test('a write error on standard output is one line and a failure', async (t) => {
  const img = join(dir, 'small.img');
  execFileSync('mke2fs', ['-q', '-F', '-t', 'ext2', '-b', '1024', img, '4M'], { stdio: 'pipe' });
  for (const args of [['ls', `${img}:/`], ['--help'], ['sh', '-c', 'echo hello']]) {
    const r = await rumpus(args, { stdoutFile: '/dev/full' });
    t.notMatch(r.stderr, TRACE, `rumpus ${args[0]} > /dev/full: no stack trace`);
    t.equal(r.code, 1, `rumpus ${args[0]} > /dev/full: exit status 1`);
    t.equal(lines(r.stderr).length, 1, `rumpus ${args[0]} > /dev/full: one line`, { stderr: r.stderr });
    t.match(r.stderr, /standard output: No space left on device/, `rumpus ${args[0]} > /dev/full: which says so`);
  }
});

t.test('help into a closed pipe, and errors of arguments: no stack trace', async (t) => {
  const help = await rumpus(['--help'], { readBytes: 5 });
  t.notMatch(help.stderr, TRACE, 'rumpus --help | head -c 5: no stack trace');
  t.ok(help.code === 0 || help.code === 141, `exit status 0 or 141 (got ${help.code})`);
  for (const args of [['ls', '--bogus'], ['cat', 'nowhere.img:/x'], ['mkfs', join(dir, 'nodir', 'x.img'), '--size', '1M']]) {
    const r = await rumpus(args);
    t.notMatch(r.stderr, TRACE, `rumpus ${args.join(' ')}: no stack trace`);
    t.not(r.code, 0, `rumpus ${args.join(' ')}: a failure`);
    t.ok(lines(r.stderr).length >= 1 && lines(r.stderr).length <= 2, `rumpus ${args.join(' ')}: a line or two (and a usage line)`, { stderr: r.stderr });
  }
});

t.test('the last-resort handler says what happened in one line, with the errno', async (t) => {
  const err = Object.assign(new Error('first line\n    at somewhere (file.js:1:1)'), { code: 'EACCES' });
  t.equal(describeUnexpected(err), 'internal error: first line (EACCES: Permission denied)', 'the first line of the message, and the errno');
  t.equal(describeUnexpected(new TypeError('x is not a function')), 'internal error: x is not a function', 'no error class name, no trace');
  t.equal(describeUnexpected('a string'), 'internal error: a string', 'something thrown that is not an Error');
  t.equal(describeUnexpected(null), 'internal error: null', 'even null');
});
