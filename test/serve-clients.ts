// Clients of one server: many at once, each with its own fds and cwd; a client program killed
// in the middle of a call (its process exits, its fds close, the others go on); a component
// restart under a connected client (as locally: the call is answered by the next incarnation).

import { spawn } from 'node:child_process';
import { join } from 'node:path';
import t from 'tap';
import { DEFAULT_MOUNTS, O_CREAT, O_RDONLY, O_WRONLY, boot, connect, connectKernel, type Proc } from '../kernel/index.js';
import { FAKE_TIME, UUID, tempDir } from './lib/e2fs.js';
import { served } from './lib/serve.js';

const text = (b: Uint8Array) => new TextDecoder().decode(b);
const CLIENTS = 16;

for (const policy of ['monolithic', 'microkernel', 'multiprocess']) {
  t.test(`${policy}: ${CLIENTS} clients at once, each its own fds and cwd`, async (t) => {
    const s = await served({ policy });
    t.teardown(() => s.stop());
    const procs = await Promise.all(Array.from({ length: CLIENTS }, (_, i) => connect(i % 2 ? s.unix : s.tcp, { token: s.token })));
    t.equal(new Set(procs.map((p) => p.pid)).size, CLIENTS, 'a process each');
    t.equal(s.server.connections, CLIENTS);
    await Promise.all(procs.map(async (p, i) => {
      await p.mkdir(`/tmp/c${i}`);
      await p.chdir(`/tmp/c${i}`);
      const fd = await p.open('own', 'w+');
      await p.write(fd, `client ${i}`);
      await p.lseek(fd, 0);
      return fd;
    }));
    const seen = await Promise.all(procs.map(async (p) => [await p.getcwd(), text(await p.read(0, 100))]));
    t.same(seen, procs.map((_, i) => [`/tmp/c${i}`, `client ${i}`]), 'each reads its own fd 0 in its own cwd');
    await Promise.all(procs.map((p) => p.exit()));
  });
}

/** A client program in a process of its own: connects, holds a FIFO's write end, then waits in a read. */
const CHILD = `
import { connect, O_WRONLY } from ${JSON.stringify(new URL('../kernel/index.js', import.meta.url).href)};
const p = await connect(process.env.URL, { token: process.env.TOKEN });
await p.open('/tmp/fifo', O_WRONLY);
const [rfd] = await p.pipe();
console.log('ready', p.pid);
await p.read(rfd, 1); // never answered: no one writes
`;

for (const policy of ['monolithic', 'microkernel']) {
  t.test(`${policy}: a client killed in the middle of a call`, async (t) => {
    const s = await served({ policy });
    t.teardown(() => s.stop());
    const reader = await connect(s.unix);
    await reader.mkfifo('/tmp/fifo');
    const child = spawn(process.execPath, ['--import=tsx', '--input-type=module', '-e', CHILD], {
      env: { ...process.env, URL: s.tcp, TOKEN: s.token }, stdio: ['ignore', 'pipe', 'inherit'],
    });
    t.teardown(() => child.kill('SIGKILL'));
    const opened = reader.open('/tmp/fifo', O_RDONLY); // meets the child's open for writing
    const ready = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (b: Buffer) => resolve(b.toString()));
      child.once('exit', (code) => reject(new Error(`the child exited (${code}) before it was ready`)));
    });
    t.match(ready, /^ready \d+/, 'the child connected, holds the write end, and waits in a read');
    const rfd = await opened;
    t.equal(s.server.connections, 2);
    child.kill('SIGKILL');
    t.same(await reader.read(rfd, 10), new Uint8Array(), "the reader sees EOF: the child's write end was closed when its process exited");
    t.equal(await reader.getpid(), reader.pid, 'the other client goes on');
    for (let i = 0; i < 100 && s.server.connections > 1; i++) await new Promise((r) => setTimeout(r, 20));
    t.equal(s.server.connections, 1, "the child's connection is gone");
    await reader.exit();
  });
}

t.test('microkernel: ext2 restarts under a connected client', async (t) => {
  const dir = tempDir('rumpus-serve-');
  const img = join(dir, 'k.img');
  const k0 = await boot({ policy: 'monolithic', mounts: [] });
  await k0.call('ext2', 'mkfs', { source: img, size: 8 * 1024 * 1024, uuid: UUID, time: FAKE_TIME });
  await k0.halt();
  const s = await served({ policy: 'microkernel', mounts: [...DEFAULT_MOUNTS, { target: '/mnt', fstype: 'ext2', source: img }] });
  t.teardown(() => s.stop());
  const p: Proc = await connect(s.unix);
  await p.writeFile('/mnt/f', 'before');
  const fd = await p.open('/mnt/f', O_RDONLY);
  const ctl = await connectKernel(s.unix);
  await ctl.inject({ component: 'ext2', type: 'crash', op: 'read' });
  t.equal(text(await p.pread(fd, 100, 0)), 'before', 'a read met by the crash is answered by the next incarnation');
  await s.k.settled();
  t.ok((await ctl.dmesg()).some((e) => e.kind === 'restarted' && e.components.includes('ext2')), 'ctl dmesg tells of the restart');
  const wfd = await p.open('/mnt/g', O_WRONLY | O_CREAT);
  t.equal(await p.write(wfd, 'after'), 5, 'writes after the restart');
  t.equal(text(await p.readFile('/mnt/g')), 'after');
  await ctl.close();
  await p.exit();
});
