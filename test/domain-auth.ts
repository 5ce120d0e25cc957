// Channels between domains are made only with peers that prove who they are (kernel/sockets.ts):
// a stranger who connects to a process domain's socket — saying hello as a real domain, with no
// proof, a wrong one or a replayed one, or sending garbage, cut-off, oversize or very slow
// frames — costs only its own connection; the kernel goes on serving ext2 and tmpfs, nothing
// restarts, the supervisor reports nothing. A genuine channel comes back after a restart; one
// that breaks while both domains run is reported and made again. And the socket directories
// that killed kernels leave behind are swept by the next boot, and nothing else is.

import { spawn } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Packr } from 'msgpackr';
import t, { type Test } from 'tap';
import { boot, type Kernel, type KernelEvent } from '../kernel/index.js';
import type { Domains } from '../kernel/domains.js';
import type { PlacementSpec } from '../kernel/placement.js';
import { HELLO_TIMEOUT_MS, MAX_UNPROVEN, PREAUTH_FRAME, checkPrivateDir } from '../kernel/sockets.js';
import { peerPairs, socketEnds } from '../kernel/topology.js';
import { mkImage } from './lib/e2fs.js';
import { alive } from './lib/os.js';

const packr = new Packr({ useRecords: false, moreTypes: false });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A frame as the stream transport frames it: 4-byte little-endian length, msgpack body. */
function frame(body: unknown): Buffer {
  const b = packr.pack(body);
  const head = Buffer.alloc(4);
  head.writeUInt32LE(b.length);
  return Buffer.concat([head, b]);
}

/** A local process that connects to a domain's socket: whatever it sends, it reads all replies. */
class Stranger {
  readonly frames: unknown[] = [];
  closed = false;
  private buf = Buffer.alloc(0);
  private readonly waiters: (() => void)[] = [];

  private constructor(private readonly sock: Socket) {
    sock.on('data', (c: Buffer) => {
      this.buf = Buffer.concat([this.buf, c]);
      while (this.buf.length >= 4 && this.buf.length >= 4 + this.buf.readUInt32LE(0)) {
        const n = this.buf.readUInt32LE(0);
        try {
          this.frames.push(packr.unpack(this.buf.subarray(4, 4 + n)));
        } catch {
          this.frames.push('undecodable');
        }
        this.buf = this.buf.subarray(4 + n);
      }
      this.wake();
    });
    sock.on('error', () => {});
    sock.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  static open(path: string): Promise<Stranger> {
    return new Promise((resolve, reject) => {
      const sock = connect(path);
      sock.once('connect', () => resolve(new Stranger(sock)));
      sock.once('error', reject);
    });
  }

  send(bytes: Uint8Array): void {
    if (!this.closed) this.sock.write(bytes);
  }

  /** The listener's challenge nonce, once it has come (null if the connection closed first). */
  async challenge(ms = 5000): Promise<Uint8Array | null> {
    await this.until(() => this.frames.length > 0, ms);
    const f = this.frames[0] as [number, number, string, string, { nonce?: Uint8Array }] | undefined;
    return f?.[3] === 'challenge' && f[4]?.nonce instanceof Uint8Array ? f[4].nonce : null;
  }

  /** Whether the peer ever said OK to the hello (frame id 1). */
  get accepted(): boolean {
    return this.frames.some((f) => Array.isArray(f) && f[0] === 1 && f[1] === 1);
  }

  /** Waits until `check` holds or the connection closes, at most `ms`. */
  async until(check: () => boolean, ms: number): Promise<void> {
    const end = Date.now() + ms;
    while (!check() && !this.closed && Date.now() < end) {
      await Promise.race([new Promise<void>((r) => this.waiters.push(r)), sleep(Math.max(0, end - Date.now()))]);
    }
  }

  end(): void {
    this.sock.end();
  }

  destroy(): void {
    this.sock.destroy();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

/** The kernel's domains at run time (a test reaches into the kernel for them). */
const domainsOf = (k: Kernel): Domains => (k as unknown as { domainSet: Domains }).domainSet;

/** The core's key for the channel between two domains. */
const keyOf = (k: Kernel, a: string, b: string): Uint8Array => domainsOf(k).channelKey(a, b);

/** A dialer's proof, as kernel/sockets.ts computes it. */
function proof(key: Uint8Array, dialer: string, listener: string, listenerNonce: Uint8Array, dialerNonce: Uint8Array): Uint8Array {
  return createHmac('sha256', key).update(JSON.stringify(['hello', dialer, listener])).update(listenerNonce).update(dialerNonce).digest();
}

/** A small seeded generator (mulberry32): the same seed, the same campaign. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** Asserts, in test t, that the kernel still serves ext2 and tmpfs content and takes a write. */
type Check = (t: Test) => Promise<void>;

/** Boots `policy` with tmpfs at / and /tmp and an ext2 image at /mnt, a file in each. */
async function bootWithFiles(t: Test, policy: PlacementSpec | string, events: KernelEvent[]): Promise<{ k: Kernel; check: Check }> {
  const dir = mkdtempSync(join(tmpdir(), 'rumpus-auth-'));
  const img = join(dir, 'auth.img');
  mkImage(img, { size: 4 * 1024 * 1024 });
  const k = await boot({
    policy,
    calls: { reconnectMs: 4000 },
    onEvent: (e) => events.push(e),
    mounts: [{ target: '/', fstype: 'tmpfs' }, { target: '/tmp', fstype: 'tmpfs' }, { target: '/dev', fstype: 'dev' }, { target: '/mnt', fstype: 'ext2', source: img }],
  });
  t.teardown(async () => {
    await k.halt();
    rmSync(dir, { recursive: true, force: true });
  });
  const p = await k.spawn({ uid: 0, gid: 0 });
  await p.writeFile('/mnt/f', 'on the image');
  await p.writeFile('/tmp/t', 'in tmpfs');
  let n = 0;
  const check = async (t: Test) => {
    const text = (path: string) => p.readFile(path).then((b) => new TextDecoder().decode(b), (e) => `${e.errno} ${e.message}`);
    t.equal(await text('/mnt/f'), 'on the image', 'ext2 still serves its file');
    t.equal(await text('/tmp/t'), 'in tmpfs', 'tmpfs still serves its file');
    const name = `/mnt/g${n++}`;
    await p.writeFile(name, 'written after');
    t.equal(await text(name), 'written after', 'ext2 still takes a write');
  };
  return { k, check };
}

const supervisorEvents = (events: KernelEvent[]) => events.filter((e) => e.kind !== 'fault').map((e) => `${e.kind} ${e.domain}: ${e.reason}`);
const noRestarts = (k: Kernel) => k.domains().filter((d) => d.restarts > 0 || d.status !== 'running').map((d) => `${d.name}:${d.status}:${d.restarts}`);

t.test('process domains under multiprocess', async (t) => {
  const events: KernelEvent[] = [];
  const { k, check } = await bootWithFiles(t, 'multiprocess', events);
  await t.test('the reproducer: a hello without proof takes over nothing', (t) => reproducer(t, k, check, events));
  await t.test('a peer with the right key still cannot replace a live channel, nor replay a proof', (t) => keyed(t, k, check, events));
  await t.test('fuzzed strangers on every domain socket', (t) => fuzz(t, k, check, events));
  await t.test('genuine channels come back after a restart; a broken one is reported and made again', (t) => restarts(t, k, check, events));
});

async function reproducer(t: Test, k: Kernel, check: Check, events: KernelEvent[]): Promise<void> {
  for (const [sock, from] of [['ext2', 'vfs'], ['tmpfs', 'main'], ['vfs', 'ext2']]) {
    const s = await Stranger.open(join(k.socketDir!, `${sock}.sock`));
    s.send(frame([0, 1, '@domain', 'hello', { from }]));
    await s.until(() => s.closed, 3000);
    t.notOk(s.accepted, `hello as ${from} on ${sock}.sock is not accepted`);
    t.ok(s.closed, `and its connection is closed`);
    const err = s.frames.find((f) => Array.isArray(f) && f[0] === 2 && f[1] === 1) as unknown[] | undefined;
    t.match(err?.[2], 'EACCES', 'with an EACCES reply');
    s.destroy();
  }
  await sleep(500);
  await check(t);
  t.same(noRestarts(k), [], 'no domain restarted or stopped');
  t.same(supervisorEvents(events), [], 'no supervisor events');
}

async function keyed(t: Test, k: Kernel, check: Check, events: KernelEvent[]): Promise<void> {
  const key = keyOf(k, 'ext2', 'vfs');
  const path = join(k.socketDir!, 'ext2.sock');
  // A correct proof for this very connection: refused all the same, the channel is live.
  const a = await Stranger.open(path);
  const na = (await a.challenge())!;
  t.ok(na, 'the listener sends a challenge');
  const mine = randomBytes(32);
  a.send(frame([0, 1, '@domain', 'hello', { from: 'vfs', nonce: mine, proof: proof(key, 'vfs', 'ext2', na, mine) }]));
  await a.until(() => a.closed, 3000);
  t.notOk(a.accepted, 'a proven hello while the channel is live is refused');
  t.match((a.frames.find((f) => Array.isArray(f) && f[0] === 2) as unknown[])?.[2], /EBUSY|EACCES/);
  // The same proof on another connection (another challenge): refused.
  const b = await Stranger.open(path);
  t.ok(await b.challenge());
  b.send(frame([0, 1, '@domain', 'hello', { from: 'vfs', nonce: mine, proof: proof(key, 'vfs', 'ext2', na, mine) }]));
  await b.until(() => b.closed, 3000);
  t.notOk(b.accepted, 'a replayed proof is refused');
  t.match((b.frames.find((f) => Array.isArray(f) && f[0] === 2) as unknown[])?.[2], 'EACCES');
  // A key for another channel proves nothing on this one.
  const c = await Stranger.open(path);
  const nc = (await c.challenge())!;
  c.send(frame([0, 1, '@domain', 'hello', { from: 'vfs', nonce: mine, proof: proof(keyOf(k, 'tmpfs', 'vfs'), 'vfs', 'ext2', nc, mine) }]));
  await c.until(() => c.closed, 3000);
  t.notOk(c.accepted, "another channel's key is refused");
  for (const s of [a, b, c]) s.destroy();
  await check(t);
  t.same(noRestarts(k), []);
  t.same(supervisorEvents(events), []);
}

/** A real peer of `listener` and the key of their channel, or null when it has none: from the kernel. */
type Genuine = (listener: string, rnd: () => number) => { dialer: string; key: Uint8Array } | null;

/** One fuzzed stranger against one socket; resolves with what became of it. */
async function fuzzOne(path: string, names: string[], kind: string, rnd: () => number, genuine: Genuine): Promise<{ accepted: boolean; closed: boolean }> {
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)];
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(rnd() * 256)));
  const name = () => (rnd() < 0.7 ? pick(names) : bytes(1 + Math.floor(rnd() * 12)).toString('latin1'));
  const listener = basename(path, '.sock');
  const real = genuine(listener, rnd);
  if (kind === 'replayed' && real) {
    // A proof made for another connection's challenge (one a stranger might have overheard).
    const other = await Stranger.open(path);
    const nonce = await other.challenge();
    other.destroy();
    if (nonce) {
      const mine = bytes(32);
      const s = await Stranger.open(path);
      await s.challenge();
      s.send(frame([0, 1, '@domain', 'hello', { from: real.dialer, nonce: mine, proof: proof(real.key, real.dialer, listener, nonce, mine) }]));
      await s.until(() => s.closed, HELLO_TIMEOUT_MS + 5000);
      s.destroy();
      return { accepted: s.accepted, closed: s.closed };
    }
  }
  const s = await Stranger.open(path);
  const wait = kind === 'hello-early' || kind === 'garbage' ? null : await s.challenge();
  const nonce = wait ?? bytes(32);
  switch (kind) {
    case 'hello-early':
      s.send(frame([0, 1, '@domain', 'hello', { from: name() }]));
      break;
    case 'wrong-proof':
      s.send(frame([0, 1, '@domain', 'hello', { from: name(), nonce: bytes(32), proof: bytes(pick([0, 16, 32, 64])) }]));
      break;
    case 'no-proof':
      s.send(frame([0, 1, '@domain', 'hello', { from: name(), nonce: bytes(pick([0, 31, 32, 33])) }]));
      break;
    case 'wrong-shape':
      s.send(frame(pick<unknown>([null, {}, 'hello', [0, 1, '@domain', 'hello', null], [2, 1, 'EIO', 'x'], [1, 1, { proof: nonce }], [0, 1, 'ext2', 'read', {}], [0, 2 ** 53, '@domain', 'hello', {}], new Array(300).fill(name())])));
      break;
    case 'garbage':
      s.send(bytes(1 + Math.floor(rnd() * 2000)));
      break;
    case 'bad-body': {
      const body = bytes(1 + Math.floor(rnd() * 200));
      const head = Buffer.alloc(4);
      head.writeUInt32LE(body.length);
      s.send(Buffer.concat([head, body]));
      break;
    }
    case 'truncated': {
      const f = frame([0, 1, '@domain', 'hello', { from: name(), nonce: bytes(32), proof: bytes(32) }]);
      s.send(f.subarray(0, 1 + Math.floor(rnd() * (f.length - 1))));
      if (rnd() < 0.5) s.end();
      break;
    }
    case 'oversize': {
      const head = Buffer.alloc(4);
      head.writeUInt32LE(PREAUTH_FRAME + 1 + Math.floor(rnd() * (2 ** 32 - PREAUTH_FRAME - 2)));
      s.send(Buffer.concat([head, bytes(Math.floor(rnd() * 5000))]));
      break;
    }
    case 'two-frames':
      s.send(Buffer.concat([frame([0, 1, '@domain', 'hello', { from: name() }]), frame([0, 2, 'ext2', 'statfs', {}])]));
      break;
    case 'proven-while-live': {
      // The right key for this very connection: still refused, the channel it would replace is live.
      if (!real || !wait) break;
      const mine = bytes(32);
      s.send(frame([0, 1, '@domain', 'hello', { from: real.dialer, nonce: mine, proof: proof(real.key, real.dialer, listener, wait, mine) }]));
      break;
    }
    case 'slow': {
      // A byte at a time, slower than the deadline allows.
      const f = frame([0, 1, '@domain', 'hello', { from: name(), nonce: bytes(32), proof: bytes(32) }]);
      for (let i = 0; i < f.length && !s.closed; i++) {
        s.send(f.subarray(i, i + 1));
        await sleep(HELLO_TIMEOUT_MS / 10);
      }
      break;
    }
  }
  await s.until(() => s.closed, HELLO_TIMEOUT_MS + 5000); // a "settles at all" bound
  const out = { accepted: s.accepted, closed: s.closed };
  s.destroy();
  return out;
}

const KINDS = ['hello-early', 'wrong-proof', 'no-proof', 'wrong-shape', 'garbage', 'bad-body', 'truncated', 'oversize', 'two-frames', 'replayed', 'proven-while-live'];

async function fuzz(t: Test, k: Kernel, check: Check, events: KernelEvent[]): Promise<void> {
  const seed = Number(process.env.RUMPUS_SEED ?? Date.now() % 2 ** 31);
  t.comment(`seed ${seed} (RUMPUS_SEED=${seed} repeats this campaign)`);
  const rnd = seeded(seed);
  const sockets = readdirSync(k.socketDir!).filter((f) => f.endsWith('.sock')).map((f) => join(k.socketDir!, f));
  const names = [...k.domains().map((d) => d.name), 'spare process', ''];
  const pairs = peerPairs(k.placement);
  const genuine: Genuine = (listener, rnd) => {
    const peers = pairs.filter((p) => p.includes(listener)).map(([x, y]) => (x === listener ? y : x));
    if (peers.length === 0) return null;
    const dialer = peers[Math.floor(rnd() * peers.length)];
    return { dialer, key: keyOf(k, dialer, listener) };
  };
  const started = Date.now();
  const COUNT = 50;
  const BATCH = 10;
  const results: { kind: string; accepted: boolean; closed: boolean }[] = [];
  // Each stranger draws from its own generator, seeded from the campaign's: the same seed makes the same strangers.
  const own = () => seeded(Math.floor(rnd() * 2 ** 32));
  const slow = fuzzOne(sockets[0], names, 'slow', own(), genuine).then((r) => results.push({ kind: 'slow', ...r }));
  for (let i = 0; i < COUNT && Date.now() - started < 60_000; i += BATCH) {
    const batch = Array.from({ length: BATCH }, () => {
      const kind = KINDS[Math.floor(rnd() * KINDS.length)];
      const path = sockets[Math.floor(rnd() * sockets.length)];
      return fuzzOne(path, names, kind, own(), genuine).then((r) => results.push({ kind, ...r }));
    });
    await Promise.all(batch);
  }
  // More connections at once than a listener runs handshakes for.
  const flood = await Promise.all(Array.from({ length: MAX_UNPROVEN + 8 }, () => Stranger.open(sockets[0]).catch(() => null)));
  await sleep(200);
  t.ok(flood.some((s) => s?.closed), 'connections beyond the handshake limit are closed');
  for (const s of flood) s?.destroy();
  await slow;
  t.ok(results.length > 0, `${results.length} strangers in ${Date.now() - started} ms`);
  t.same(results.filter((r) => r.accepted), [], 'no stranger was accepted');
  t.same(results.filter((r) => !r.closed).map((r) => r.kind), [], 'every stranger was cut off, the slow ones by the deadline');
  await check(t);
  t.same(noRestarts(k), [], 'no domain restarted or stopped');
  t.same(supervisorEvents(events), [], 'no supervisor events');
}

async function restarts(t: Test, k: Kernel, check: Check, events: KernelEvent[]): Promise<void> {
  for (const victim of ['ext2', 'vfs']) {
    const pid = k.domains().find((d) => d.name === victim)!.id;
    process.kill(pid, 'SIGKILL');
    for (let i = 0; i < 100 && !events.some((e) => e.kind === 'restarted' && e.domain === victim); i++) await sleep(100);
    await k.settled();
    t.ok(events.some((e) => e.kind === 'restarted' && e.domain === victim), `${victim} was restarted after kill -9`);
    await check(t);
  }
  const before = events.length;
  // The listener of the vfs–ext2 channel drops it, as if the connection broke: both domains run on.
  const [, listener] = socketEnds(k.placement, 'ext2', 'vfs');
  const dialer = listener === 'ext2' ? 'vfs' : 'ext2';
  await domainsOf(k).control(listener, 'expect', { peer: dialer });
  for (let i = 0; i < 100 && !events.slice(before).some((e) => e.kind === 'reconnected'); i++) await sleep(100);
  const after = events.slice(before).map((e) => `${e.kind} ${e.domain}`);
  t.ok(after.includes(`channel-lost ${dialer}`), `the lost channel is reported (${after.join('; ')})`);
  t.ok(after.includes(`reconnected ${dialer}`), 'and made again');
  t.notOk(after.some((e) => e.startsWith('failed') || e.startsWith('restarted')), 'without a restart');
  await check(t);
}

// ---- leftovers -------------------------------------------------------------------------------

/** The lightest placement with a socket directory: tmpfs alone in a process domain. */
const ONE_PROCESS: PlacementSpec = {
  name: 'one-process',
  domains: { main: { kind: 'main', components: ['vfs', 'dev', 'ext2', 'cgd', 'dk', 'cipher', 'blk'] }, p: { kind: 'process', components: ['tmpfs'] } },
};

const KERNEL_URL = pathToFileURL(join(import.meta.dirname, '..', 'kernel', 'index.ts')).href;

/** A kernel in a child process (ONE_PROCESS, TMPDIR `tmp`), killed at teardown: its pid, socket dir and domain pids. */
async function childKernel(t: Test, tmp: string): Promise<{ pid: number; socketDir: string; domains: number[] }> {
  const code = `const { boot } = await import(${JSON.stringify(KERNEL_URL)});
const k = await boot({ policy: ${JSON.stringify(ONE_PROCESS)}, heartbeat: { periodMs: 0 } });
console.log(JSON.stringify({ socketDir: k.socketDir, domains: k.domains().filter((d) => d.kind === 'process').map((d) => d.id) }));
setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { env: { ...process.env, TMPDIR: tmp }, stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => {
    if (alive(child.pid!)) process.kill(child.pid!, 'SIGKILL');
  });
  let out = '';
  const line = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (c) => {
      out += c;
      if (out.includes('\n')) resolve(out.split('\n')[0]);
    });
    child.once('exit', (code) => reject(new Error(`child kernel exited with ${code}`)));
  });
  return { pid: child.pid!, ...JSON.parse(line) };
}

t.test('the socket directories of killed kernels are swept at the next boot, and nothing else', async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'rumpus-auth-sweep-'));
  const savedTmp = process.env.TMPDIR;
  t.teardown(() => {
    if (savedTmp === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = savedTmp;
    rmSync(tmp, { recursive: true, force: true });
  });
  const [dead, live] = await Promise.all([childKernel(t, tmp), childKernel(t, tmp)]);
  t.teardown(() => {
    for (const pid of [...live.domains, ...dead.domains]) if (alive(pid)) process.kill(pid, 'SIGKILL');
  });
  process.kill(dead.pid, 'SIGKILL');
  for (let i = 0; i < 100 && alive(dead.pid); i++) await sleep(50);
  for (let i = 0; i < 100 && dead.domains.some(alive); i++) await sleep(50);
  t.notOk(dead.domains.some(alive), "the killed kernel's domains end when its pipes close");
  t.ok(existsSync(dead.socketDir), 'kill -9 leaves the socket directory');
  // Things the sweep must not touch: our naming with a file in it, a symlink, another name.
  const withFile = join(tmp, `rumpus-sockets-${dead.pid}-keepme`);
  mkdirSync(withFile, { mode: 0o700 });
  writeFileSync(join(withFile, 'note'), 'not a socket');
  const target = mkdtempSync(join(tmp, 'target-'));
  const link = join(tmp, `rumpus-sockets-${dead.pid}-linkxx`);
  symlinkSync(target, link);
  const other = join(tmp, `rumpus-${dead.pid}-abcdef`);
  mkdirSync(other);

  process.env.TMPDIR = tmp;
  const k = await boot({ policy: ONE_PROCESS, heartbeat: { periodMs: 0 } });
  const mine = k.socketDir!;
  await k.halt();
  t.notOk(existsSync(dead.socketDir), "the killed kernel's socket directory is gone");
  t.ok(existsSync(live.socketDir), "a live kernel's socket directory is kept");
  t.ok(existsSync(join(withFile, 'note')), 'a directory holding more than sockets is kept');
  t.ok(existsSync(link) && existsSync(target), 'a symlink, and what it points to, are kept');
  t.ok(existsSync(other), 'a directory of another name is kept');
  t.match(mine, new RegExp(`rumpus-sockets-${process.pid}-`), 'a socket directory names its kernel');
});

/** The errno `fn` throws, or 'none'. */
function errnoOf(fn: () => void): string {
  try {
    fn();
    return 'none';
  } catch (err) {
    return (err as { errno?: string }).errno ?? String(err);
  }
}

t.test('a socket is refused in a directory that is not private to this user', async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'rumpus-auth-dir-'));
  t.teardown(() => rmSync(tmp, { recursive: true, force: true }));
  const priv = join(tmp, 'private');
  mkdirSync(priv, { mode: 0o700 });
  t.doesNotThrow(() => checkPrivateDir(join(priv, 'x.sock')), 'a 0700 directory of ours is taken');
  const open = join(tmp, 'open');
  mkdirSync(open);
  chmodSync(open, 0o755);
  t.equal(errnoOf(() => checkPrivateDir(join(open, 'x.sock'))), 'EACCES', 'one others can read is refused');
  const link = join(tmp, 'link');
  symlinkSync(priv, link);
  t.equal(errnoOf(() => checkPrivateDir(join(link, 'x.sock'))), 'EACCES', 'a symlink to one is refused');
  t.equal(errnoOf(() => checkPrivateDir(join(tmp, 'missing', 'x.sock'))), 'ENOENT', 'a missing one is refused');
});
