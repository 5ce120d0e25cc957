// Tokens: the server's token file (its format and its refusals), the generated token and the
// file written for it, and where a client finds its token, in order.

import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { TokenTable, defaultTokenOut, findToken, readClientToken } from '../kernel/index.js';
import { tempDir } from './lib/e2fs.js';

const A = 'a'.repeat(32);
const B = 'B-_b'.repeat(10);

t.test('a token file', async (t) => {
  const table = TokenTable.parse(`# tokens\n\n${A} uid=1000 gid=100 groups=4,24 # a user\n  ${B} uid=0 gid=0 admin\n`);
  t.same(table.lookup(A), { cred: { uid: 1000, gid: 100, groups: [4, 24] }, admin: false });
  t.same(table.lookup(B), { cred: { uid: 0, gid: 0, groups: [] }, admin: true });
  t.equal(table.lookup('c'.repeat(32)), null, 'an unknown token grants nothing');
  t.equal(table.lookup(A.slice(1)), null, 'nor a part of one');
  const refused = (text: string) => {
    try {
      TokenTable.parse(text, 'f');
      return 'accepted';
    } catch (err) {
      return `${(err as { errno: string }).errno}: ${(err as Error).message}`;
    }
  };
  t.match(refused(`${'a'.repeat(31)} uid=0 gid=0`), /^EINVAL: f, line 1: a token must be at least 32/, 'a short token');
  t.match(refused(`${'a'.repeat(31)}! uid=0 gid=0`), /^EINVAL/, 'a char that is not hex or base64url');
  t.match(refused(`${A} uid=0`), /^EINVAL: f, line 1: a token needs uid=N and gid=N/);
  t.match(refused(`${A} uid=0 gid=0 root`), /unknown field 'root'/);
  t.match(refused(`${A} uid=x gid=0`), /uid must be a number/);
  t.match(refused(`${A} uid=0 gid=0\n${A} uid=1 gid=1`), /line 2: the same token is there twice/);
  t.match(refused('# nothing\n'), /no token in it/);
});

t.test('a generated token and its file', async (t) => {
  const dir = tempDir('rumpus-tokens-');
  const table = TokenTable.generate();
  t.match(table.generated, /^[0-9a-f]{64}$/, '32 random bytes in hex');
  t.same(table.lookup(table.generated!), { cred: { uid: 0, gid: 0, groups: [] }, admin: true }, 'an admin root token');
  const file = join(dir, 'k.token');
  writeFileSync(file, 'old', { mode: 0o644 });
  table.writeGenerated(file);
  t.equal(statSync(file).mode & 0o777, 0o600, 'written 0600, even over a file that was there');
  t.equal(readClientToken(file), table.generated, 'a client reads the token from it');
  t.same(TokenTable.read(file).lookup(table.generated!)?.admin, true, 'and a server can take it as its token file');
  t.throws(() => TokenTable.parse(`${A} uid=0 gid=0`).writeGenerated(file), /only a generated token/, 'a table from a file writes nothing');
});

t.test('where a client finds its token', async (t) => {
  const dir = tempDir('rumpus-tokens-');
  const file = (name: string, token: string) => {
    writeFileSync(join(dir, name), `${token} uid=0 gid=0\n`);
    return join(dir, name);
  };
  const [f1, f2] = [file('one', '1'.repeat(32)), file('two', '2'.repeat(32))];
  mkdirSync(join(dir, 's'));
  file('s/k.sock.token', '3'.repeat(32));
  const url = `unix://${join(dir, 's', 'k.sock')}`;
  const env = { RUMPUS_TOKEN: '4'.repeat(32), RUMPUS_TOKEN_FILE: f2 };
  t.equal(findToken(url, { token: '0'.repeat(32), tokenFile: f1 }, env), '0'.repeat(32), 'options.token first');
  t.equal(findToken(url, { tokenFile: f1 }, env), '1'.repeat(32), 'then options.tokenFile');
  t.equal(findToken(url, {}, env), '4'.repeat(32), 'then RUMPUS_TOKEN');
  t.equal(findToken(url, {}, { RUMPUS_TOKEN_FILE: f2 }), '2'.repeat(32), 'then RUMPUS_TOKEN_FILE');
  t.equal(findToken(url, {}, {}), '3'.repeat(32), 'then the file beside the socket');
  t.throws(() => findToken('tcp://127.0.0.1:1', {}, {}), /no token for tcp/, 'none: refused');
});

t.test('where a generated token goes for TCP', async (t) => {
  t.equal(defaultTokenOut({ XDG_RUNTIME_DIR: '/run/user/7' }), `/run/user/7/rumpus-${process.pid}.token`);
  const out = defaultTokenOut({});
  t.equal(out, `/tmp/rumpus-${process.getuid!()}/rumpus-${process.pid}.token`);
  t.equal(statSync(`/tmp/rumpus-${process.getuid!()}`).mode & 0o777, 0o700, 'its directory 0700');
});
