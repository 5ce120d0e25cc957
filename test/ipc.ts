// The transports under stress: many concurrent calls matched by id, payloads intact, frames
// split at any byte, garbage and oversized frames refused, and a dead peer failing its callers.

import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { MessageChannel } from 'node:worker_threads';
import t, { type Test } from 'tap';
import { Endpoint } from '../ipc/endpoint.js';
import { PortLink } from '../ipc/port-link.js';
import { MAX_FRAME, StreamLink } from '../ipc/stream-link.js';
import type { Link } from '../ipc/frame.js';
import { SysError, boot, type PlacementSpec } from '../kernel/index.js';
import { BUILTIN } from '../kernel/registry.js';
import { MOVE_MIN_BYTES } from '../ipc/ring-link.js';
import { OK, REQ, handOver, portMessage, type Frame } from '../ipc/frame.js';
import { pattern } from './fixtures/probe.js';
import { mainThreadPoller } from '../kernel/domain-host.js';
import { seededRandom } from '../kernel/faults.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** A seeded generator, so a failure can be replayed. */
const rng = seededRandom;

/** Both ends of a unix socket. */
async function socketPair(): Promise<[net.Socket, net.Socket, () => void]> {
  const path = join(mkdtempSync(join(tmpdir(), 'rumpus-ipc-')), 's');
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(path, r));
  const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
  const client = net.connect(path);
  await new Promise((r) => client.once('connect', r));
  return [client, await accepted, () => server.close()];
}

/** An echo server: replies with the payload and its checksum. */
const echo = (_to: string, _op: string, args: unknown) => {
  const data = (args as { data: Uint8Array }).data;
  return { data, sum: sha(data) };
};

async function hammer(t: Test, a: Link, b: Link, calls: number, seed: number) {
  const client = new Endpoint(a, 'server', null);
  new Endpoint(b, 'client', echo);
  const rand = rng(seed);
  const jobs = Array.from({ length: calls }, (_, i) => {
    const size = rand() < 0.05 ? Math.floor(rand() * 300_000) : Math.floor(rand() * 200);
    const data = new Uint8Array(size);
    for (let j = 0; j < size; j += 97) data[j] = (i + j) & 0xff;
    return client.call('echo', 'echo', { data }).then((r) => {
      const { data: back, sum } = r as { data: Uint8Array; sum: string };
      return back.length === size && sum === sha(data) && sha(back) === sum;
    });
  });
  const results = await Promise.all(jobs);
  t.equal(results.filter(Boolean).length, calls, `${calls} concurrent calls each got their own reply, intact`);
  t.equal(client.inFlight, 0, 'nothing left in flight');
}

t.test('stream link: thousands of concurrent calls over a unix socket', async (t) => {
  const [x, y, close] = await socketPair();
  await hammer(t, new StreamLink(x), new StreamLink(y), 3000, 1);
  x.destroy();
  y.destroy();
  close();
});

t.test('port link: thousands of concurrent calls over a MessageChannel', async (t) => {
  const { port1, port2 } = new MessageChannel();
  await hammer(t, new PortLink(port1), new PortLink(port2), 3000, 2);
  port1.close();
});

/** A duplex whose writes land in `sink` and whose reads are fed by hand. */
function fakeStream(sink: Buffer[]): Duplex {
  return new Duplex({
    read() {},
    write(chunk, _enc, cb) {
      sink.push(chunk);
      cb();
    },
  });
}

t.test('stream link: frames split at every possible byte are reassembled', async (t) => {
  const wire: Buffer[] = [];
  const sender = new StreamLink(fakeStream(wire));
  const frames = Array.from({ length: 50 }, (_, i) => [1, i + 1, { text: 'x'.repeat(i * 37), n: i }] as const);
  for (const f of frames) sender.send(f as never);
  await new Promise((r) => process.nextTick(r));
  const bytes = Buffer.concat(wire);
  const rand = rng(3);
  const receiving = fakeStream([]);
  const receiver = new StreamLink(receiving);
  const got: unknown[] = [];
  receiver.onFrame = (f) => got.push(f);
  for (let at = 0; at < bytes.length; ) {
    const n = 1 + Math.floor(rand() * 64);
    receiving.push(bytes.subarray(at, at + n));
    at += n;
  }
  await new Promise((r) => setImmediate(r));
  t.same(got, frames, 'every frame arrives whole and in order');
});

t.test('stream link: garbage and oversized frames close the link and fail pending calls', async (t) => {
  for (const [what, bytes] of [
    ['an oversized length', Buffer.from([0xff, 0xff, 0xff, 0x7f])],
    ['a body that does not decode', Buffer.concat([Buffer.from([3, 0, 0, 0]), Buffer.from([0xc1, 0xc1, 0xc1])])],
  ] as const) {
    const stream = fakeStream([]);
    const link = new StreamLink(stream);
    const ep = new Endpoint(link, 'a liar', null);
    let reason = '';
    ep.onClose = (r) => (reason = r);
    const pending = ep.call('x', 'y', {});
    stream.push(bytes);
    await t.rejects(pending, { errno: 'EIO', message: /a liar is gone/ }, `${what}: the pending call fails with EIO`);
    t.match(reason, what === 'an oversized length' ? /exceeds the limit/ : /not valid msgpack/, `${what}: the reason is given`);
  }
  t.equal(MAX_FRAME, 64 * 1024 * 1024);
});

t.test('endpoint: malformed requests get EINVAL, replies nobody awaits are dropped', async (t) => {
  const { port1, port2 } = new MessageChannel();
  const server = new Endpoint(new PortLink(port2), 'client', echo);
  const replies: unknown[] = [];
  port1.on('message', (m) => replies.push(m));
  port1.postMessage([0, 7, 'echo']); // a request with too few fields
  port1.postMessage({ not: 'a frame' });
  port1.postMessage([1, 12345, 'a reply to nothing']);
  await new Promise((r) => setTimeout(r, 50));
  t.same(replies, [[2, 7, 'EINVAL', 'malformed request from client']], 'only the request with an id is answered');
  t.equal(server.inFlight, 0);
  port1.close();
});

const probe = pathToFileURL(join(import.meta.dirname, 'fixtures', 'probe.ts')).href;

/** The built-in components in the main thread, the probe alone in a thread or process domain. */
const probePlacement = (name: string, kind: 'thread' | 'process'): PlacementSpec => ({
  name, modules: { probe }, domains: { main: { kind: 'main', components: [...BUILTIN] }, p: { kind, components: ['probe'] } },
});

for (const kind of ['thread', 'process'] as const) {
  t.test(`a ${kind} domain that dies mid-call fails its callers with EIO instead of hanging them`, async (t) => {
    const k = await boot({
      policy: probePlacement('dying', kind),
      supervision: { probe: { restart: 'temporary' } }, // not restarted: its callers must hear of it
    });
    t.teardown(() => k.halt());
    const slow = Promise.allSettled([1, 2, 3].map(() => k.call('probe', 'sleep', { ms: 60_000 })));
    await k.call('probe', 'crash', {});
    const results = await slow;
    t.ok(results.every((r) => r.status === 'rejected' && r.reason instanceof SysError && r.reason.errno === 'EIO'), 'every pending call failed with EIO');
    t.match((results[0] as PromiseRejectedResult).reason.message, /probe failed/);
    await t.rejects(k.call('probe', 'echo', { value: 1 }), { errno: 'EIO', message: /probe is down/ }, 'later calls fail too');
    const p = await k.spawn();
    await p.writeFile('/tmp/ok', 'ok');
    t.equal((await p.stat('/tmp/ok')).size, 2, 'the rest of the kernel keeps serving');
  });
}

t.test('ring transport: concurrent calls of random sizes through a worker, across idle periods', async (t) => {
  const k = await boot({
    transport: 'ring',
    policy: probePlacement('ring', 'thread'),
  });
  t.teardown(() => k.halt());
  const rand = rng(4);
  // 300 and 50 ms: long enough for both sides to park; 1 ms: they doze.
  for (const [round, idleMs] of [[1, 0], [2, 300], [3, 50], [4, 1]] as const) {
    await new Promise((r) => setTimeout(r, idleMs));
    const jobs = Array.from({ length: 1000 }, (_, i) => {
      // Mostly small; some bigger than a ring record may be (they go by port), some filling it.
      const size = rand() < 0.02 ? 600_000 + Math.floor(rand() * 100_000) : rand() < 0.1 ? Math.floor(rand() * 200_000) : Math.floor(rand() * 300);
      const data = new Uint8Array(size);
      for (let j = 0; j < size; j += 101) data[j] = (i + j + round) & 0xff;
      return k.call<Uint8Array>('probe', 'echo', { value: data }).then((back) => back.length === size && sha(back) === sha(data));
    });
    const ok = (await Promise.all(jobs)).filter(Boolean).length;
    t.equal(ok, 1000, `round ${round} (after ${idleMs} ms idle): every reply matched its request, intact`);
  }
});

t.test('ring transport: threads that die while they run give their cores back', async (t) => {
  const share = mainThreadPoller().share;
  const k = await boot({ policy: 'microkernel', transport: 'ring' });
  t.teardown(() => k.halt());
  const p = await k.spawn();
  const served = async () => {
    const deadline = performance.now() + 10_000;
    for (;;) {
      try {
        return await p.writeFile('/tmp/ok', 'ok');
      } catch (err) {
        if (performance.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  };
  // Armed while the system is idle, hit while 300 calls are in flight: tmpfs alone, vfs alone,
  // then both. Whether tmpfs meets its 10th call in the round where vfs dies at its 100th depends
  // on how many calls vfs passed on before dying, so only the first round promises a tmpfs crash.
  const rounds = [{ tmpfs: true, vfs: false }, { tmpfs: false, vfs: true }, { tmpfs: true, vfs: true }];
  for (const [round, armed] of rounds.entries()) {
    if (armed.tmpfs) await k.inject({ component: 'tmpfs', type: 'crash', after: 10 });
    if (armed.vfs) await k.inject({ component: 'vfs', type: 'crash', after: 100 });
    await Promise.allSettled(Array.from({ length: 300 }, (_, i) => p.writeFile(`/tmp/r${round}-${i}`, 'x'.repeat(i))));
    await served(); // both are back before the next round arms its faults
  }
  const count = (kind: string, domain: string) => k.events.filter((e) => e.kind === kind && e.domain === domain).length;
  t.equal(count('restarted', 'vfs'), 2, 'vfs crashed and was restarted in each round that armed it');
  t.ok(count('restarted', 'tmpfs') >= 1, 'tmpfs crashed and was restarted too');
  t.equal(count('restarted', 'tmpfs'), count('failed', 'tmpfs'), 'each crash of tmpfs was followed by its restart');
  await k.halt();
  const deadline = performance.now() + 2000;
  while (share.running !== 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  t.equal(share.running, 0, 'no thread of a halted kernel still counts as running a poller');
});

t.test('a frame posted on a port moves its bulk bytes: a view copied once to exactly its bytes, handed-over reply bytes as they are', async (t) => {
  const whole = pattern(1 << 20, 3);
  const view = whole.subarray(3, 3 + 600_000);
  const small = whole.subarray(0, 100);
  const args = { data: view, key: small, sector: 8 };
  const request: Frame = [REQ, 1, 'cipher', 'encrypt', args];
  const sent = portMessage(request, MOVE_MIN_BYTES);
  const moved = (sent.message[4] as typeof args).data;
  t.equal(moved.byteLength, view.byteLength, 'a request\'s view arrives as its bytes');
  t.equal(moved.buffer.byteLength, view.byteLength, 'in a buffer of their own, not its whole buffer');
  t.same(sent.transfer, [moved.buffer], 'which is moved');
  t.equal(sha(moved), sha(view), 'the same bytes');
  t.equal((sent.message[4] as typeof args).key, small, 'bytes under the bound go as they are');
  t.ok(request[4] === args && args.data === view, 'the request itself is not changed: it may be sent again');

  const fresh = handOver(pattern(200_000, 4));
  const reply: Frame = [OK, 2, fresh];
  const answered = portMessage(reply, MOVE_MIN_BYTES);
  t.ok(answered.message === reply && answered.transfer[0] === fresh.buffer, 'handed-over reply bytes are moved as they are');
  const kept = portMessage([OK, 3, view], MOVE_MIN_BYTES);
  t.ok((kept.message[2] as Uint8Array).buffer !== whole.buffer && kept.transfer.length === 1, 'reply bytes not handed over are copied, then moved');
  t.same(portMessage([REQ, 4, 'probe', 'echo', { value: small }], MOVE_MIN_BYTES).transfer, [], 'a small request moves nothing');
  const shared = new Uint8Array(new SharedArrayBuffer(200_000));
  const posted = portMessage([REQ, 5, 'probe', 'echo', { value: shared }], MOVE_MIN_BYTES);
  t.ok(posted.transfer.length === 0 && (posted.message[4] as { value: Uint8Array }).value === shared, 'shared memory is posted as it is, to be seen by both sides');
});

for (const transport of ['ring', 'postMessage'] as const) {
  t.test(`${transport} transport: handed-over replies of every size arrive intact; the caller's data is never moved`, async (t) => {
    const k = await boot({
      transport,
      policy: probePlacement('bulk', 'thread'),
    });
    t.teardown(() => k.halt());
    const rand = rng(9);
    const sizes = [0, 1, MOVE_MIN_BYTES - 1, MOVE_MIN_BYTES, MOVE_MIN_BYTES + 1, 600_000, 2 << 20];
    for (let i = 0; i < 300; i++) sizes.push(Math.floor(rand() * 300_000));
    const results = await Promise.all(sizes.map((size, seed) => k.call<Uint8Array>('probe', 'bytes', { size, seed })));
    const bad = results.filter((r, i) => sha(r) !== sha(pattern(sizes[i], i))).length;
    t.equal(bad, 0, `${sizes.length} concurrent replies, some moved and some copied, each matched its request`);
    const data = handOver(pattern(1 << 20, 7)); // even handed over, a request's bytes are copied: it may be sent again
    const back = await k.call<Uint8Array>('probe', 'echo', { value: data });
    t.equal(data.length, 1 << 20, 'a request\'s bytes stay with the caller');
    t.equal(sha(back), sha(data), 'and come back intact');
  });
}
