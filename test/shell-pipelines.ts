// The shell's pipelines (bin/shell/pipeline.ts): the FIFO between two stages never takes (or
// removes) a file that is not its own, and each stage has the shell's credentials, its
// supplementary groups included.

import t from 'tap';
import { boot, localControl } from '../kernel/index.js';
import { Shell } from '../bin/shell/shell.js';

const dec = new TextDecoder();

t.test('a pipeline leaves a file named like its FIFO alone', async (t) => {
  const k = await boot({ policy: 'monolithic' });
  t.teardown(() => k.halt());
  const p = await k.spawn();
  const out: string[] = [];
  const sh = new Shell(localControl(k), p, { stdout: (x) => out.push(typeof x === 'string' ? x : dec.decode(x)), stderr: () => {} });
  const name = `/tmp/.sh-pipe-${p.pid}-0`;
  await p.writeFile(name, 'precious');
  await sh.run('echo hi | cat');
  t.equal(await p.readFile(name).then((b) => dec.decode(b), (e) => e.errno), 'precious', 'the file is still there');
});

t.test('a pipeline stage has the shell\'s supplementary groups', async (t) => {
  const k = await boot({ policy: 'monolithic' });
  t.teardown(() => k.halt());
  await k.init.chmod('/tmp', 0o1777);
  await k.init.writeFile('/tmp/g', 'group data\n');
  await k.init.chown('/tmp/g', 0, 2000);
  await k.init.chmod('/tmp/g', 0o640);
  const u = await k.spawn({ uid: 1000, gid: 1000, groups: [2000] });
  const out: string[] = [];
  const sh = new Shell(localControl(k), u, { stdout: (x) => out.push(typeof x === 'string' ? x : dec.decode(x)), stderr: () => {} });
  t.equal(await sh.run('cat /tmp/g'), 0, 'cat F works: the shell is in group 2000');
  out.length = 0;
  await sh.run('cat /tmp/g | cat'); // the status is the last stage's, so look at what came out
  t.equal(out.join(''), 'group data\n', 'cat F | cat prints the file too');
});
