// The rumpus command as a user runs it: help for every command and the shell example under every
// policy (the bench has its own test, test/bench.ts).

import { execFile } from 'node:child_process';
import t from 'tap';
import { ALL_POLICIES, policyName } from './lib/policies.js';
import { RUMPUS } from './lib/cli.js';


function rumpus(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [RUMPUS, ...args], { timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

t.test('help describes every command', async (t) => {
  const main = await rumpus('--help');
  t.equal(main.code, 0);
  const commands = [...main.stdout.matchAll(/^ {2}(\w+) {2,}/gm)].map((m) => m[1]);
  t.ok(commands.includes('sh') && commands.includes('bench'), `lists the commands (${commands.join(', ')})`);
  for (const c of commands) {
    const r = await rumpus(c, '--help');
    t.equal(r.code, 0, `${c} --help succeeds`);
    t.match(r.stdout, new RegExp(`^usage: rumpus ${c}`), `${c} --help gives its usage`);
    t.ok(r.stdout.split('\n').length > 3, `${c} --help explains it`);
  }
  const bad = await rumpus('frob');
  t.equal(bad.code, 2);
  t.match(bad.stderr, /unknown command 'frob'/);
  const badOption = await rumpus('sh', '--nope');
  t.equal(badOption.code, 2);
  t.match(badOption.stderr, /--nope/);
  const badPolicy = await rumpus('sh', '--policy', 'nosuch', '-c', 'ls');
  t.equal(badPolicy.code, 1);
  t.match(badPolicy.stderr, /policy 'nosuch' is neither/);
});

for (const policy of ALL_POLICIES) {
  t.test(`the shell example prints what the issue shows under ${policyName(policy)}`, async (t) => {
    const r = await rumpus('sh', '--policy', policy, '-c', 'mkdir /tmp/a; echo hello > /tmp/a/f; cat /tmp/a/f; ls -l /tmp/a');
    t.equal(r.code, 0);
    t.equal(r.stderr, '');
    t.match(r.stdout, /^hello\n-rw-r--r-- {2}1 0 0 {2}6 \w{3} [ \d]\d \d\d:\d\d f\n$/);
  });
}

t.test('sh exits with the status of its last command, or of exit', async (t) => {
  t.equal((await rumpus('sh', '-c', 'cat /nope')).code, 1);
  t.equal((await rumpus('sh', '-c', 'exit 7')).code, 7);
});
