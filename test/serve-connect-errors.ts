// What connect() says when it does not get in: the server's own refusal (its errno and its
// sentence), never a generic "connection closed" — the first version rejected with ECONNRESET
// before the refusal frame was read (found by review) — and a unix socket that is not the
// user's or root's gets no token at all, since a planted symlink on a shared directory can lead
// to a stranger's socket (found by review: such a server received an admin token).

import { chownSync } from 'node:fs';
import t from 'tap';
import { connect } from '../kernel/index.js';
import { served } from './lib/serve.js';

const refusal = (p: Promise<{ exit(): Promise<void> }>) =>
  p.then(async (c) => (await c.exit(), null), (e: { errno: string; message: string }) => e);

t.test('connect() reports the server\'s refusal', async (t) => {
  const s = await served({ policy: 'monolithic' }, { maxConnections: 1 });
  t.teardown(() => s.stop());
  for (const url of [s.unix, s.tcp]) {
    const wrong = await refusal(connect(url, { token: '0'.repeat(64), timeoutMs: 5000 }));
    t.equal(wrong?.errno, 'EACCES', `${url.split(':')[0]}: a wrong token is EACCES`);
    t.match(wrong?.message, /not one this server accepts/, 'with the server\'s sentence');
  }
  const first = await connect(s.unix, { token: s.token, timeoutMs: 5000 });
  const over = await refusal(connect(s.unix, { token: s.token, timeoutMs: 5000 }));
  t.equal(over?.errno, 'EAGAIN', 'a connection over the limit is EAGAIN');
  await first.exit();
});

t.test('no token goes to a unix socket that belongs to someone else', async (t) => {
  const s = await served({ policy: 'monolithic' });
  t.teardown(() => s.stop());
  const path = s.unix.slice('unix://'.length);
  chownSync(path, 65534, 65534); // as if a stranger had put it there (the tests run as root)
  const err = await refusal(connect(s.unix, { token: s.token, timeoutMs: 5000 }));
  t.equal(err?.errno, 'EACCES', 'refused before connecting');
  t.match(err?.message, /belongs to uid 65534/, 'saying whose it is');
  t.equal(s.server.connections, 0, 'the server never saw a connection');
  chownSync(path, 0, 0);
  const p = await connect(s.unix, { token: s.token, timeoutMs: 5000 });
  t.equal(await p.getpid(), p.pid, 'a socket of root\'s is used');
  await p.exit();
});
