// Where a server listens: a unix socket 0600 in a directory only the server's user can enter
// (made 0700 when missing; one open to others or of another user refused), a live socket
// refused, a stale one replaced, both removed at close; TCP on loopback unless told.

import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { TokenTable, boot, connect, serve, type Kernel } from '../kernel/index.js';
import { tempDir } from './lib/e2fs.js';

const mode = (p: string) => statSync(p).mode & 0o777;

async function serveErrno(k: Kernel, url: string): Promise<{ errno: string; message: string } | 'ok'> {
  try {
    const s = await serve(k, { listen: [url], tokens: TokenTable.generate() });
    await s.close();
    return 'ok';
  } catch (err) {
    return { errno: (err as { errno: string }).errno, message: (err as Error).message };
  }
}

t.test('unix sockets: modes, directories, stale and live sockets', async (t) => {
  const k = await boot({ policy: 'monolithic' });
  t.teardown(() => k.halt());
  const dir = tempDir('rumpus-serve-');

  const path = join(dir, 'new', 'k.sock');
  const s = await serve(k, { listen: [`unix://${path}`], tokens: TokenTable.generate() });
  t.equal(mode(join(dir, 'new')), 0o700, 'a missing directory is made 0700');
  t.ok(statSync(path).isSocket());
  t.equal(mode(path), 0o600, 'the socket is 0600');
  t.equal(mode(`${path}.token`), 0o600, 'the generated token is written 0600 beside it');
  t.match(await serveErrno(k, `unix://${path}`), { errno: 'EADDRINUSE', message: /already answers/ }, 'a live socket is refused');
  const p = await connect(`unix://${path}`);
  t.equal(await p.getpid(), p.pid, 'and the server there goes on');
  await s.close();
  t.notOk(existsSync(path), 'the socket is removed at close');
  t.notOk(existsSync(`${path}.token`), 'and its token file');

  const open = join(dir, 'open');
  mkdirSync(open, { mode: 0o755 });
  chmodSync(open, 0o755);
  t.match(await serveErrno(k, `unix://${join(open, 'k.sock')}`), { errno: 'EACCES', message: /0755.*others can enter/ }, 'a directory others can enter is refused');
  const foreign = join(dir, 'foreign');
  mkdirSync(foreign, { mode: 0o700 });
  chownSync(foreign, 4321, 4321);
  t.match(await serveErrno(k, `unix://${join(foreign, 'k.sock')}`), { errno: 'EACCES', message: /belongs to uid 4321/ }, "another user's directory is refused");

  const stale = join(dir, 'stale');
  mkdirSync(stale, { mode: 0o700 });
  // A server that exits without closing leaves its socket file behind: stale.
  execFileSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(join(stale, 'k.sock'))}, () => process.exit(0))`]);
  t.ok(statSync(join(stale, 'k.sock')).isSocket(), 'a stale socket file is there');
  t.equal(await serveErrno(k, `unix://${join(stale, 'k.sock')}`), 'ok', 'a stale socket is replaced');

  const file = join(dir, 'file');
  mkdirSync(file, { mode: 0o700 });
  writeFileSync(join(file, 'k.sock'), 'not a socket');
  t.match(await serveErrno(k, `unix://${join(file, 'k.sock')}`), { errno: 'EEXIST' }, 'a file that is not a socket is left alone');

  t.match(await serveErrno(k, 'unix://relative.sock'), { errno: 'EINVAL' }, 'a relative path is refused');
});

t.test('tcp: loopback unless a host is given; a token always', async (t) => {
  const k = await boot({ policy: 'monolithic' });
  t.teardown(() => k.halt());
  const tokens = TokenTable.generate();
  const s = await serve(k, { listen: ['tcp://:0'], tokens });
  t.teardown(() => s.close());
  t.match(s.addresses, [/^tcp:\/\/127\.0\.0\.1:\d+$/], 'no host: loopback, the port resolved');
  t.match(await connect(s.addresses[0], { token: '' }).catch((e: { errno: string }) => e.errno), 'EACCES', 'no token: refused before any connection');
  const p = await connect(s.addresses[0], { token: tokens.generated });
  await p.exit();
});
