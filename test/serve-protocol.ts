// PROTOCOL.md against the code: its example frames are what a server really sends and takes, it
// lists every syscall (CLIENT_SYSCALLS) and control op with the arguments they take, and its
// errno table is ipc/errno.ts's.

import { readFileSync } from 'node:fs';
import t from 'tap';
import { ERRNO } from '../ipc/errno.js';
import { CLIENT_SYSCALLS } from '../kernel/proc.js';
import { CTL_OPS } from '../kernel/serve/wire.js';
import { TokenTable, boot, serve } from '../kernel/index.js';
import { RawClient, frameBytes } from './lib/serve.js';

const doc = readFileSync(new URL('../PROTOCOL.md', import.meta.url), 'utf8');
const between = (mark: string) => doc.split(`<!-- ${mark} -->`)[1].split(`<!-- /${mark} -->`)[0];
const TOKEN = '00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff';

/** Splits a byte stream into its frames (length and body, as sent). */
function frames(stream: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at + 4 <= stream.length; ) {
    const end = at + 4 + stream.readUInt32LE(at);
    out.push(stream.subarray(at, end));
    at = end;
  }
  return out;
}

t.test('the example exchange is what the server does', async (t) => {
  const k = await boot({ policy: 'monolithic' });
  t.teardown(() => k.halt());
  const s = await serve(k, { listen: ['tcp://127.0.0.1:0'], tokens: TokenTable.parse(`${TOKEN} uid=0 gid=0 admin`) });
  t.teardown(() => s.close());
  const c = await RawClient.connect(s.addresses[0]);
  t.teardown(() => c.close());
  const received: Buffer[] = [];
  c.socket.on('data', (b: Buffer) => received.push(b));
  const calls: [string, string, unknown][] = [
    ['hello', 'welcome', { rumpus: 1, token: TOKEN }],
    ['getpid', 'reply', [0, 1, 'sys', 'getpid', {}]],
    ['stat', 'error', [0, 2, 'sys', 'stat', { path: new Uint8Array(Buffer.from('/nonexistent')) }]],
  ];
  const lines: string[] = [];
  for (const [i, [sent, answer, value]] of calls.entries()) {
    const bytes = frameBytes(value);
    c.socket.write(bytes);
    await c.waitFrames(i + 1);
    lines.push(`C→S ${sent.padEnd(9)} ${bytes.toString('hex')}`);
    lines.push(`S→C ${answer.padEnd(9)} ${frames(Buffer.concat(received))[i].toString('hex')}`);
  }
  t.equal(between('example').trim(), ['```', ...lines, '```'].join('\n'), 'PROTOCOL.md §10 holds these bytes');
});

t.test('every syscall and control op is described, with its arguments', async (t) => {
  for (const [op, args] of Object.entries(CLIENT_SYSCALLS)) {
    const row = doc.split('\n').find((l) => l.startsWith(`| \`${op}\` |`));
    t.ok(row, `syscall ${op} has a row`);
    for (const a of args) t.match(row ?? '', new RegExp(`\\b${a}\\??:`), `${op}: argument ${a}`);
  }
  for (const op of CTL_OPS) t.ok(doc.includes(`| \`${op}\` |`), `ctl ${op} has a row`);
});

t.test('the errno table is ipc/errno.ts', async (t) => {
  const rows = between('errno-table').trim().split('\n').slice(2);
  const expected = Object.entries(ERRNO).sort((a, b) => a[1][0] - b[1][0]).map(([name, [n, text]]) => `| ${name} | ${n} | ${text} |`);
  t.same(rows, expected);
});
