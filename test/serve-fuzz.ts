// The frame fuzzer against a real server, on a bounded count: a few seeds of at most 1,000
// hostile units each (RUMPUS_FUZZ_FRAMES=N for N per seed), over unix and TCP. Every answer
// must be one the protocol allows, the well-behaved clients see no error, and afterwards the
// server still serves, has no connection left and holds no more fds. And the fuzzer itself can
// fail: a server that hangs up on everyone is reported.

import { createServer } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { TokenTable, boot, serve } from '../kernel/index.js';
import { fuzzServer, formatFuzzReport } from '../bench/fuzz-frames.js';
import { WARM_UP_UNITS, drained, leaksAfter, openFds, stillServes } from '../bench/fuzz-run.js';

const FRAMES = Number(process.env.RUMPUS_FUZZ_FRAMES ?? 1000);
const SEEDS = [1, 2, 3];

t.test('hostile frames get the answers the protocol allows, and leak nothing', async (t) => {
  const k = await boot({ policy: 'monolithic' });
  const dir = mkdtempSync(join(tmpdir(), 'rumpus-serve-fuzz-'));
  const tokens = TokenTable.generate();
  const token = tokens.generated!;
  const server = await serve(k, { listen: [`unix://${join(dir, 's.sock')}`, 'tcp://127.0.0.1:0'], tokens });
  t.teardown(async () => {
    await server.close();
    await k.halt();
    rmSync(dir, { recursive: true, force: true });
  });
  // Fds counted after a warm-up (see bench/fuzz-run.ts), with the server still listening.
  for (const url of server.addresses) await fuzzServer(url, { seed: 0, frames: WARM_UP_UNITS, connections: 8, token, wellBehaved: 1 });
  await drained(server);
  const fdsBefore = openFds();
  for (const seed of SEEDS) {
    const url = server.addresses[seed % server.addresses.length];
    const r = await fuzzServer(url, { seed, frames: FRAMES, connections: 8, token, wellBehaved: 2, answerTimeoutMs: 10_000 });
    t.equal(r.units, FRAMES, `seed ${seed}: every unit sent`);
    t.equal(r.unexpectedCount, 0, `seed ${seed} over ${url.split(':')[0]}: no answer the protocol does not allow`, { report: formatFuzzReport(r) });
    t.same(r.wellBehaved.errors, [], `seed ${seed}: the well-behaved clients saw no error`);
    t.ok(r.wellBehaved.calls > 0, `seed ${seed}: the well-behaved clients made calls`);
    t.ok((r.byAnswer['closed after EPROTO'] ?? 0) > 0 && (r.byAnswer.reply ?? 0) > 0, `seed ${seed}: both malformed frames and served calls were answered`);
  }
  for (const url of server.addresses) t.equal(await stillServes(url, token), null, `${url.split(':')[0]}: a new client is served`);
  t.same(await leaksAfter(server, fdsBefore), [], 'no connection left, no fd leaked');
});

t.test('the same seed sends the same units', async (t) => {
  const k = await boot({ policy: 'monolithic' });
  const dir = mkdtempSync(join(tmpdir(), 'rumpus-serve-fuzz-'));
  const tokens = TokenTable.generate();
  const server = await serve(k, { listen: [`unix://${join(dir, 's.sock')}`], tokens });
  t.teardown(async () => {
    await server.close();
    await k.halt();
    rmSync(dir, { recursive: true, force: true });
  });
  const run = () => fuzzServer(server.addresses[0], { seed: 7, frames: 300, connections: 4, token: tokens.generated!, wellBehaved: 0 });
  const [a, b] = [await run(), await run()];
  t.same(a.byKind, b.byKind, 'units by kind');
  t.equal(a.connections, b.connections, 'connections');
});

t.test('a server that hangs up on everyone is reported', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rumpus-serve-fuzz-'));
  const rude = createServer((s) => s.destroy());
  const path = join(dir, 'rude.sock');
  await new Promise<void>((resolve) => rude.listen(path, resolve));
  t.teardown(() => {
    rude.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const r = await fuzzServer(`unix://${path}`, { seed: 1, frames: 50, connections: 2, token: 'a'.repeat(64), wellBehaved: 1, answerTimeoutMs: 1000 });
  t.ok(r.unexpectedCount > 0, 'refused hellos are answers the protocol does not allow');
  t.ok(r.wellBehaved.errors.length > 0, 'the well-behaved client could not connect, and says so');
});
