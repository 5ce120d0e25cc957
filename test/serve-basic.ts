// rumpus serve, end to end: the hello and its refusals, syscalls as raw frames (bin both ways,
// errors, unknown ops), connect() and connectKernel() over unix and TCP, localControl(), and a
// client whose server goes away. Under the monolithic and the microkernel policy.

import t from 'tap';
import { O_RDONLY, SysError, TokenTable, connect, connectKernel, localControl, readClientToken, type FaultSpec } from '../kernel/index.js';
import { errnoOf } from './lib/errno.js';
import { RawClient, asText, served } from './lib/serve.js';

const POLICIES = ['monolithic', 'microkernel'];
const bin = (s: string | number[]) => (typeof s === 'string' ? new Uint8Array(Buffer.from(s, 'latin1')) : new Uint8Array(s));

for (const policy of POLICIES) {
  t.test(`${policy}: hello and syscalls as raw frames`, async (t) => {
    const s = await served({ policy });
    t.teardown(() => s.stop());
    const c = await RawClient.connect(s.unix);
    t.teardown(() => c.close());
    c.send({ rumpus: 1, token: s.token });
    const [welcome] = await c.waitFrames(1);
    t.match(welcome, { rumpus: 1, uid: 0, gid: 0, groups: [], admin: true }, 'the welcome says who the process is');
    const pid = (welcome as { pid: number }).pid;

    c.send([0, 1, 'sys', 'getpid', {}]);
    c.send([0, 2, 'sys', 'stat', { path: bin('/no/such') }]);
    c.send([0, 3, 'sys', 'frobnicate', { path: '/x' }]);
    c.send([0, 4, 'sys', 'mkdir', { path: bin([0x2f, 0x74, 0x6d, 0x70, 0x2f, 0xff, 0x61]), mode: 0o755 }]);
    c.send([0, 5, 'sys', 'stat', { path: '/tmp' }]);
    const frames = await c.waitFrames(6);
    const byId = new Map(frames.slice(1).map((f) => [(f as unknown[])[1], f]));
    t.same(byId.get(1), [1, 1, pid], 'getpid answers the pid of the welcome');
    const notFound = byId.get(2) as unknown[];
    t.equal(notFound[2], 'ENOENT', 'an error reply carries the errno name');
    t.ok(notFound[3] instanceof Uint8Array, 'and its message as bin');
    t.equal((byId.get(3) as unknown[])[2], 'ENOSYS', 'an unknown op gets ENOSYS');
    t.same(byId.get(4), [1, 4, null], 'a path given as bin, with a byte that is not UTF-8; void is nil');
    t.equal((byId.get(5) as unknown[])[2], 'EINVAL', 'a path given as str is refused');

    c.send([0, 6, 'sys', 'readdir', { path: bin('/tmp') }]);
    const [, , , , , , readdir] = await c.waitFrames(7);
    const entries = (readdir as [number, number, { name: Uint8Array }[]])[2];
    t.same(entries.map((e) => [...e.name]), [[0xff, 0x61]], "readdir's names are bin, their exact bytes");
    t.notOk(c.closed, 'the connection lives after errors and an unknown op');

    c.send([0, 7, 'sys', 'exit', {}]);
    t.ok(await c.waitClosed(), 'exit is answered and the connection closed');
    t.same(c.frames.at(-1), [1, 7, null]);
  });

  t.test(`${policy}: refusals`, async (t) => {
    const s = await served({ policy });
    t.teardown(() => s.stop());
    const refusal = async (first: unknown, raw?: Buffer) => {
      const c = await RawClient.connect(s.tcp);
      if (raw) c.socket.write(raw);
      else c.send(first);
      const closed = await c.waitClosed();
      c.close();
      const f = c.frames[0] as unknown[];
      return { errno: f?.[2], id: f?.[1], message: asText(f?.[3]) as string, closed, count: c.frames.length };
    };
    const wrong = await refusal({ rumpus: 1, token: 'f'.repeat(64) });
    t.match(wrong, { errno: 'EACCES', id: 0, closed: true, count: 1 }, 'a wrong token: EACCES, closed');
    t.match(await refusal({ rumpus: 1 }), { errno: 'EACCES', closed: true }, 'no token: EACCES, closed');
    const version = await refusal({ rumpus: 2, token: s.token });
    t.match(version, { errno: 'EPROTONOSUPPORT', closed: true }, 'another version: EPROTONOSUPPORT');
    t.match(version.message, /version 2.*version 1/, 'the sentence names both versions');
    t.match(await refusal([0, 1, 'sys', 'getpid', {}]), { errno: 'EPROTO', closed: true }, 'a call before the hello: EPROTO');
    const big = Buffer.alloc(8);
    big.writeUInt32LE(5000, 0);
    t.match(await refusal(null, big), { errno: 'EMSGSIZE', closed: true }, 'a frame over 4 KiB before the hello: EMSGSIZE');
    t.match(await refusal(null, Buffer.from([1, 0, 0, 0, 0xc1])), { errno: 'EPROTO', closed: true }, 'a body that is not msgpack: EPROTO');

    // After the hello: malformed frames close the connection, with EPROTO first.
    for (const bad of [{ a: 1 }, [0, 1, 'sys', 'getpid'], [0, 0, 'sys', 'getpid', {}], [0, 1, 'sys', 'getpid', []], [1, 1, null], [0, 1, 'xyz', 'getpid', {}]]) {
      const c = await RawClient.connect(s.unix);
      c.send({ rumpus: 1, token: s.token });
      await c.waitFrames(1);
      c.send(bad);
      t.ok(await c.waitClosed(), `${JSON.stringify(bad)} closes the connection`);
      t.match(c.frames[1], [2, 0, 'EPROTO'], 'after an error frame EPROTO');
      c.close();
    }
    const huge = await RawClient.connect(s.unix);
    huge.send({ rumpus: 1, token: s.token });
    await huge.waitFrames(1);
    const head = Buffer.alloc(4);
    head.writeUInt32LE(0xffffffff, 0);
    huge.socket.write(head);
    t.ok(await huge.waitClosed(), 'a frame over the largest after the hello closes the connection');
    t.match(huge.frames[1], [2, 0, 'EMSGSIZE'], 'after an error frame EMSGSIZE');
    huge.close();
    const p = await connect(s.unix);
    t.equal(await p.getpid(), p.pid, 'the server goes on for others');
    await p.exit();
  });

  t.test(`${policy}: connect() and connectKernel()`, async (t) => {
    const s = await served({ policy });
    t.teardown(() => s.stop());
    const viaUnix = await connect(s.unix); // the token from k.sock.token beside the socket
    const viaTcp = await connect(s.tcp, { token: s.token });
    t.not(viaUnix.pid, viaTcp.pid, 'each connection is its own process');
    await viaUnix.writeFile('/tmp/café', 'hello');
    t.same((await viaTcp.readdir('/tmp')).map((e) => e.name), ['café'], 'one kernel: what one writes the other reads');
    t.equal(new TextDecoder().decode(await viaTcp.readFile('/tmp/café')), 'hello');
    const err = await viaTcp.open('/tmp/nope', O_RDONLY).catch((e: unknown) => e);
    t.ok(err instanceof SysError && err.errno === 'ENOENT', 'errors arrive as SysErrors');
    t.match((err as Error).message, /nope/, 'with the sentence');
    await viaTcp.chdir('/tmp');
    t.equal(await viaTcp.getcwd(), '/tmp');
    t.equal(await viaUnix.getcwd(), '/', 'each its own cwd');
    t.same((await viaTcp.mounts()).map((m) => m.target), (await s.k.init.mounts()).map((m) => m.target), 'mounts as locally');

    const kc = await connectKernel(s.unix);
    t.same((await kc.ps()).map((d) => d.name), s.k.domains().map((d) => d.name), 'ctl ps: the domains');
    const fault: FaultSpec = { component: 'tmpfs', type: 'error', errno: 'EIO', op: 'getattr', count: 1 };
    await kc.inject(fault);
    t.same(await kc.faults(), [fault], 'ctl faults: as injected');
    t.ok((await kc.dmesg()).some((e) => e.kind === 'fault'), 'ctl dmesg: the fault armed');
    await kc.clear('tmpfs');
    t.same(await kc.faults(), []);
    t.equal(await errnoOf(kc.inject({ component: 'nope', type: 'crash' } as FaultSpec)), 'EINVAL', 'inject checks the fault');
    t.equal(await kc.panicked(), null);
    const local = localControl(s.k);
    t.same((await local.ps()).map((d) => d.name), (await kc.ps()).map((d) => d.name), 'localControl: the same ps');
    await kc.close();
    await viaUnix.exit();
    await viaTcp.exit();
  });

  t.test(`${policy}: a non-admin token`, async (t) => {
    const user = 'a'.repeat(40);
    const tokens = TokenTable.parse(`# the test's tokens\n${'b'.repeat(40)} uid=0 gid=0 admin\n${user} uid=1000 gid=1000 groups=5,6\n`);
    const s = await served({ policy }, { tokens });
    t.teardown(() => s.stop());
    const root = await connect(s.unix, { token: 'b'.repeat(40) });
    await root.writeFile('/tmp/secret', 'x', 0o600);
    const p = await connect(s.unix, { token: user });
    t.same(p.cred, { uid: 1000, gid: 1000, groups: [5, 6] }, 'the token decides the credentials');
    t.equal(await errnoOf(p.readFile('/tmp/secret')), 'EACCES', "its uid's EACCES on a root-only file");
    const kc = await connectKernel(s.unix, { token: user });
    t.equal(await errnoOf(kc.ps()), 'EPERM', 'ctl needs an admin token');
    t.equal(await errnoOf(kc.halt()), 'EPERM');
    await kc.close();
    await p.exit();
    await root.exit();
  });

  t.test(`${policy}: the server goes away`, async (t) => {
    const s = await served({ policy });
    t.teardown(() => s.stop());
    const p = await connect(s.tcp, { token: readClientToken(`${s.unix.slice(7)}.token`) });
    const [rfd, wfd] = await p.pipe();
    const blocked = errnoOf(p.read(rfd, 10)); // waits: no writer wrote (its outcome taken at once, as it comes during close)
    t.ok(wfd > rfd);
    await s.server.close();
    t.equal(await blocked, 'ECONNRESET', 'a pending call: ECONNRESET');
    t.equal(await errnoOf(p.getpid()), 'ECONNRESET', 'a later call: ECONNRESET');
    t.equal(s.server.connections, 0);
    await s.server.halted;
  });
}

t.test('ctl halt: replied to, then the kernel halts and the server closes', async (t) => {
  const s = await served({ policy: 'microkernel' });
  t.teardown(() => s.stop());
  const p = await connect(s.unix);
  await p.writeFile('/tmp/x', 'x');
  const kc = await connectKernel(s.tcp, { token: s.token });
  await kc.halt();
  await s.server.halted;
  t.equal(s.server.connections, 0, 'every connection dropped');
  t.equal(await errnoOf(p.getpid()), 'ECONNRESET', 'a client of the halted server gets ECONNRESET');
  t.equal(await errnoOf(s.k.spawn()), 'EIO', 'the kernel has halted');
});
