// Review: the JS client reports every refusal of the server (wrong token, connection limit) as
// ECONNRESET "the server closed the connection (closed)", though connect()'s docstring and
// PROTOCOL.md promise the server's errno (EACCES, EAGAIN). Cause: Session.open's fail() calls
// link.close(), which runs link.onClose first, and that rejects with ECONNRESET before fail's
// own reject(err) gets its turn.

import * as net from 'node:net';
import t from 'tap';
import { connect } from '../kernel/index.js';
import { served } from './lib/serve.js';

t.test('a wrong token is refused with EACCES, as connect() documents', async (t) => {
  const s = await served({ policy: 'monolithic' });
  t.teardown(() => s.stop());
  const err = await connect(s.unix, { token: '0'.repeat(64), timeoutMs: 5000 }).then(
    () => null,
    (e: { errno: string; message: string }) => e,
  );
  t.equal(err?.errno, 'EACCES', `wrong token: errno (got: ${err?.errno} ${err?.message})`);
  t.match(err?.message, /not one this server accepts/, "the server's sentence reaches the user");
});

t.test('the connection limit is refused with EAGAIN, as PROTOCOL.md says', async (t) => {
  const s = await served({ policy: 'monolithic' }, { maxConnections: 1 });
  t.teardown(() => s.stop());
  const first = await connect(s.unix, { token: s.token, timeoutMs: 5000 });
  const err = await connect(s.unix, { token: s.token, timeoutMs: 5000 }).then(
    (p) => (void p.exit(), null),
    (e: { errno: string; message: string }) => e,
  );
  t.equal(err?.errno, 'EAGAIN', `over the limit: errno (got: ${err?.errno} ${err?.message})`);
  await first.exit();
});

t.test('connections that never say hello (no token at all) hold every slot: a token holder is locked out', async (t) => {
  const s = await served({ policy: 'monolithic' }, { maxConnections: 8 });
  t.teardown(() => s.stop());
  const port = Number(/:(\d+)$/.exec(s.tcp)![1]);
  const strangers: net.Socket[] = [];
  t.teardown(() => strangers.forEach((c) => c.destroy()));
  for (let i = 0; i < 8; i++) {
    const c = net.connect(port, '127.0.0.1');
    c.on('error', () => {});
    await new Promise((resolve) => c.once('connect', resolve));
    strangers.push(c);
  }
  await new Promise((resolve) => setTimeout(resolve, 200));
  const result = await connect(s.unix, { token: s.token, timeoutMs: 3000 }).then(
    async (p) => (await p.exit(), 'welcomed'),
    (e: { errno: string }) => e.errno,
  );
  t.equal(result, 'welcomed', 'an authenticated client gets in although 8 unauthenticated sockets are open');
});
