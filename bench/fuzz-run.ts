#!/usr/bin/env node
// The frame fuzzer as a command: boots a kernel in this process, serves it on a unix socket and
// on loopback TCP, sends the hostile units (half over each), and then checks that the server is
// up (a new client's calls work), has no connection left, and holds no more host fds than
// before. "Before" is after a short warm-up fuzz: the first connections make Node open a few
// fds once for good (an event loop's epoll, eventfd and pipe, /dev/null), which a second run
// does not add to. Prints the counts; exits 1 on any answer the protocol does not allow, any error of a
// well-behaved client, or a leak.
//
//   node dist/bench/fuzz-run.js [--frames 100000] [--seed 1] [--connections 32] [--policy microkernel] [--json]

import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { TokenTable, boot, connect, serve, type Server } from '../kernel/index.js';
import { formatFuzzReport, fuzzServer, type FuzzReport } from './fuzz-frames.js';

/** Hostile units of the warm-up run, before the fds are counted. */
export const WARM_UP_UNITS = 500;

/** Open fds of this process. */
export const openFds = (): number => readdirSync('/proc/self/fd').length;

/** Polls every 100 ms, for up to `ms`, until `done()`. */
async function until(done: () => boolean, ms: number): Promise<void> {
  for (const end = Date.now() + ms; !done() && Date.now() < end; ) await new Promise((r) => setTimeout(r, 100));
}

/** Waits (up to `ms`) until the server has no connection left, as after a run it should soon. */
export const drained = (server: Server, ms = 10_000): Promise<void> => until(() => server.connections === 0, ms);

/**
 * After the fuzz: polls (up to `ms`) until the server has no connection and this process no
 * more fds than `fdsBefore`; returns what is still wrong, in words.
 */
export async function leaksAfter(server: Server, fdsBefore: number, ms = 10_000): Promise<string[]> {
  await until(() => server.connections === 0 && openFds() <= fdsBefore, ms);
  const out: string[] = [];
  if (server.connections > 0) out.push(`${server.connections} connections still open`);
  if (openFds() > fdsBefore) out.push(`${openFds()} open fds, ${fdsBefore} before the fuzz`);
  return out;
}

/** Whether a new client is served: a getpid and a stat of '/' work. Null when so, else why not. */
export async function stillServes(url: string, token: string): Promise<string | null> {
  try {
    const p = await connect(url, { token });
    await p.getpid();
    await p.stat('/');
    await p.exit();
    return null;
  } catch (err) {
    return `a new client is not served: ${(err as Error).message}`;
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      frames: { type: 'string', default: '100000' },
      seed: { type: 'string', default: '1' },
      connections: { type: 'string', default: '32' },
      policy: { type: 'string', default: 'microkernel' },
      json: { type: 'boolean', default: false },
    },
  });
  const frames = Number(values.frames);
  const seed = Number(values.seed);
  const connections = Number(values.connections);
  const k = await boot({ policy: values.policy! });
  const dir = mkdtempSync(join(tmpdir(), 'rumpus-fuzz-'));
  const tokens = TokenTable.generate();
  const token = tokens.generated!;
  try {
    const server = await serve(k, { listen: [`unix://${join(dir, 'fuzz.sock')}`, 'tcp://127.0.0.1:0'], tokens });
    for (const url of server.addresses) await fuzzServer(url, { seed: 0, frames: WARM_UP_UNITS, connections, token, wellBehaved: 1 });
    await drained(server);
    const fdsBefore = openFds();
    const reports: FuzzReport[] = [];
    for (const [i, url] of server.addresses.entries()) {
      process.stderr.write(`fuzzing ${url}\n`);
      reports.push(await fuzzServer(url, { seed: seed + i, frames: Math.ceil(frames / server.addresses.length), connections, token }));
    }
    const problems = [...(await Promise.all(server.addresses.map((u) => stillServes(u, token)))).filter((x): x is string => x !== null)];
    problems.push(...(await leaksAfter(server, fdsBefore)));
    await server.close();
    for (const r of reports) {
      if (r.unexpectedCount) problems.push(`seed ${r.seed}: ${r.unexpectedCount} answers the protocol does not allow`);
      if (r.wellBehaved.errors.length) problems.push(`seed ${r.seed}: ${r.wellBehaved.errors.length} errors of well-behaved clients`);
    }
    if (values.json) process.stdout.write(`${JSON.stringify({ addresses: server.addresses, reports, problems }, null, 2)}\n`);
    else process.stdout.write(`${[...reports.map((r, i) => `${server.addresses[i].split(':')[0]}: ${formatFuzzReport(r)}`), problems.length ? `FAILED:\n  ${problems.join('\n  ')}` : 'ok: the server is up, no connection left, no fd leaked'].join('\n\n')}\n`);
    return problems.length ? 1 : 0;
  } finally {
    await k.halt();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  main().then((code) => process.exit(code), (err: Error) => {
    process.stderr.write(`fuzz: ${err.message}\n`);
    process.exit(1);
  });
}
