// Tokens: the server's token file (its format and its refusals), the generated token and the
// file written for it, and where a client finds its token, in order.

import { lstatSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { TokenTable, connect, defaultTokenOut, findToken, readClientToken } from '../kernel/index.js';
import { debugfs, mkImage, tempDir } from './lib/e2fs.js';
import { errnoOf } from './lib/errno.js';
import { served } from './lib/serve.js';

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

// The token and pid files are written fresh: a symlink planted at the name is replaced, never
// written through (a server run as root would overwrite what it points to), and a server's
// token table that others can read is refused, as ssh refuses such a key.
t.test('a symlink at the token file path is replaced, not written through; a readable table is refused', async (t) => {
  const dir = tempDir('rumpus-token-out-');
  const victim = join(dir, 'victim');
  writeFileSync(victim, 'precious\n', { mode: 0o644 });
  const out = join(dir, 'rumpus.token');
  symlinkSync(victim, out);
  const table = TokenTable.generate();
  table.writeGenerated(out);
  t.equal(readFileSync(victim, 'utf8'), 'precious\n', 'the file the symlink pointed to is untouched');
  t.ok(lstatSync(out).isFile(), 'the name now holds a regular file');
  t.equal(statSync(out).mode & 0o777, 0o600, 'of mode 0600');
  t.equal(readClientToken(out), table.generated, 'with the token');
  const open = join(dir, 'open.tokens');
  writeFileSync(open, `${'c'.repeat(64)} uid=0 gid=0\n`, { mode: 0o644 });
  t.throws(() => TokenTable.read(open), { errno: 'EACCES', message: /mode 0644: group or others can read/ }, 'a table others can read: EACCES naming the mode');
});

// A non-admin token's reach stays inside the served kernel: mount and unmount name host files
// (opened as the server's host user) and change every client's tree, so they need admin.
t.test('mount and unmount over a connection need an admin token', async (t) => {
  const dir = tempDir('rumpus-host-mount-');
  const image = join(dir, 'someone-elses.img');
  mkImage(image, { size: 4 << 20 });
  const token = 'b'.repeat(64);
  const s = await served({ policy: 'monolithic' }, { tokens: TokenTable.parse(`${token} uid=0 gid=0\n`) });
  t.teardown(() => s.stop());
  const p = await connect(s.unix, { token, timeoutMs: 5000 });
  await p.mkdir('/tmp/m', 0o755);
  t.equal(await errnoOf(p.mount('/tmp/m', 'ext2', { source: image })), 'EPERM', 'mount of a host image: EPERM');
  t.equal(await errnoOf(p.unmount('/tmp')), 'EPERM', 'unmount: EPERM');
  await p.exit();
  t.notMatch(debugfs(image, 'ls /'), /planted/, 'nothing was written into the host file');
});
