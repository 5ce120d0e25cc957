// What one connection may make a server hold: calls in flight (EAGAIN past the limit; an id
// already in flight: EINVAL), fds (EMFILE past the limit, kept across a vfs restart),
// connections (the extra one refused with EAGAIN), and the time to say hello.

import * as net from 'node:net';
import t from 'tap';
import { O_RDONLY, connect } from '../kernel/index.js';
import { errnoOf } from './lib/errno.js';
import { RawClient, served } from './lib/serve.js';

const byId = (frames: unknown[], id: number) => frames.filter((f) => Array.isArray(f) && f[1] === id) as unknown[][];

for (const policy of ['monolithic', 'microkernel']) {
  t.test(`${policy}: calls in flight`, async (t) => {
    const s = await served({ policy }, { maxCallsInFlight: 4 });
    t.teardown(() => s.stop());
    const c = await RawClient.connect(s.unix);
    t.teardown(() => c.close());
    c.send({ rumpus: 1, token: s.token });
    c.send([0, 1, 'sys', 'pipe', {}]);
    const [, pipe] = await c.waitFrames(2);
    const [rfd] = (pipe as [number, number, [number, number]])[2];
    // Reads of an empty pipe wait: four of them fill the connection's calls in flight.
    for (let id = 10; id < 14; id++) c.send([0, id, 'sys', 'read', { fd: rfd, length: 1 }]);
    c.send([0, 10, 'sys', 'getpid', {}]);
    c.send([0, 14, 'sys', 'getpid', {}]);
    await c.waitFrames(4);
    t.match(byId(c.frames, 10)[0], [2, 10, 'EINVAL'], 'an id already in flight: EINVAL');
    t.match(byId(c.frames, 14)[0], [2, 14, 'EAGAIN'], 'a call past the limit: EAGAIN');
    t.notOk(c.closed, 'the connection lives');
  });

  t.test(`${policy}: fds`, async (t) => {
    const s = await served({ policy }, { maxFds: 8 });
    t.teardown(() => s.stop());
    const p = await connect(s.unix);
    await p.writeFile('/tmp/f', 'x');
    const fds: number[] = [];
    for (let i = 0; i < 8; i++) fds.push(await p.open('/tmp/f', O_RDONLY));
    t.same(fds, [0, 1, 2, 3, 4, 5, 6, 7]);
    t.equal(await errnoOf(p.open('/tmp/f', O_RDONLY)), 'EMFILE', 'EMFILE past the limit');
    t.equal(await errnoOf(p.dup2(0, 8)), 'EBADF', 'dup2 beyond the last fd it may have: EBADF');
    if (policy === 'microkernel') {
      await s.k.inject({ component: 'vfs', type: 'crash', op: 'getpid' });
      await p.getpid(); // crashes vfs; made again after its restart
      await s.k.settled();
      t.ok(s.k.domains().some((d) => d.components.includes('vfs') && d.restarts === 1), 'vfs restarted');
      // Open fds do not survive a vfs restart; the limit does.
      const again: number[] = [];
      for (let i = 0; i < 8; i++) again.push(await p.open('/tmp/f', O_RDONLY));
      t.equal(await errnoOf(p.open('/tmp/f', O_RDONLY)), 'EMFILE', 'the limit is kept across a vfs restart');
    }
    const other = await connect(s.tcp, { token: s.token });
    t.equal(await other.open('/tmp/f', O_RDONLY), 0, "another connection's fds are its own");
    await other.exit();
    await p.exit();
  });

  t.test(`${policy}: connections`, async (t) => {
    const s = await served({ policy }, { maxConnections: 2 });
    t.teardown(() => s.stop());
    const a = await connect(s.unix);
    const b = await RawClient.connect(s.tcp); // counts from its first byte, hello or not
    const c = await RawClient.connect(s.tcp);
    t.ok(await c.waitClosed(), 'the connection past the limit is closed');
    t.match(c.frames[0], [2, 0, 'EAGAIN'], 'after an error frame EAGAIN');
    b.close();
    // b's going frees its place.
    let d = null;
    for (let i = 0; i < 50 && !d; i++) d = await connect(s.tcp, { token: s.token }).catch(() => new Promise((r) => setTimeout(() => r(null), 20)));
    t.ok(d, 'a place freed is taken again');
    t.equal(await a.getpid(), a.pid);
    c.close();
  });
}

t.test('a connection that says nothing is closed', async (t) => {
  const s = await served({ policy: 'monolithic' });
  t.teardown(() => s.stop());
  const c = await RawClient.connect(s.unix);
  t.ok(await c.waitClosed(15_000), 'closed without a hello');
  t.match(c.frames[0], [2, 0, 'ETIMEDOUT']);
  t.equal(s.server.connections, 0);
});

t.test('a client that does not read its replies is not read either', async (t) => {
  const s = await served({ policy: 'monolithic' });
  t.teardown(() => s.stop());
  const observer = await connect(s.unix);
  await observer.writeFile('/tmp/big', new Uint8Array(8 << 20));
  const c = await RawClient.connect(s.unix);
  t.teardown(() => c.close());
  c.send({ rumpus: 1, token: s.token });
  await c.waitFrames(1);
  c.send([0, 1, 'sys', 'open', { path: new Uint8Array(Buffer.from('/tmp/big')), flags: 0, mode: 0 }]);
  await c.waitFrames(2);
  // Sockets the server stops reading from, from now on (seen through net.Socket's pause).
  const paused = new Set<net.Socket>();
  const pause = net.Socket.prototype.pause;
  net.Socket.prototype.pause = function (this: net.Socket) {
    if (this !== c.socket) paused.add(this);
    return pause.call(this);
  };
  t.teardown(() => void (net.Socket.prototype.pause = pause));
  c.socket.pause(); // reads nothing from now on
  // 80 MiB of replies: more than the server keeps waiting to be sent before it stops reading.
  for (let id = 10; id < 20; id++) c.send([0, id, 'sys', 'pread', { fd: 0, length: 8 << 20, offset: 0 }]);
  for (let i = 0; i < 500 && paused.size === 0; i++) await new Promise((r) => setTimeout(r, 10));
  t.equal(paused.size, 1, 'the server stops reading the connection');
  c.send([0, 20, 'sys', 'mkdir', { path: new Uint8Array(Buffer.from('/tmp/after')), mode: 0o755 }]);
  await new Promise((r) => setTimeout(r, 300));
  t.equal(await errnoOf(observer.stat('/tmp/after')), 'ENOENT', 'a call sent meanwhile is not read');
  c.socket.resume();
  await c.waitFrames(2 + 11, 60_000);
  t.equal(await errnoOf(observer.stat('/tmp/after')), 'ok', 'once the client reads its replies, its calls are read again');
  t.equal(c.frames.length, 13, 'every call answered');
  await observer.exit();
});
