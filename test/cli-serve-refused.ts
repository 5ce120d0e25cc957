// `rumpus serve` over TCP and refusing, from the built command (dist/): a generated token
// written to --token-out and used by a client (none without it); the operand forms only a server
// has (a bare kernel path, ':/PATH', an image it has not mounted); mkfs with a server set; a bad
// address, an unsafe socket directory and an address in use, each refused in one sentence.

import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { fsckClean, mkImage, tempDir } from './lib/e2fs.js';
import { exitOf, rumpus, skip, startServer, type Run } from './lib/serve-cli.js';

t.test('TCP with a generated token in --token-out; the operand forms only a server has; mkfs with a server set', { skip }, async (t) => {
  const dir = tempDir('rumpus-cli-tcp-');
  mkImage(join(dir, 'disk.img'), { size: 4 << 20 });
  writeFileSync(join(dir, 'other.img'), 'not served');
  const out = join(dir, 'tcp.token');
  const server = await startServer(t, dir, ['--image', 'disk.img', '--listen', 'tcp://127.0.0.1:0', '--token-out', out]);
  const url = /ready on (tcp:\/\/127\.0\.0\.1:\d+) /.exec(server.ready)?.[1] ?? 'none';
  t.notOk(url.endsWith(':0'), `the line names the port taken (${server.ready.trim()})`);
  t.equal(statSync(out).mode & 0o777, 0o600, 'the token file is 0600');
  const none = await rumpus(dir, ['ls', 'disk.img:/'], { RUMPUS_SERVER: url });
  t.equal(none.code, 1, 'without the token the server refuses');
  t.match(none.stderr, /^rumpus ls: [^\n]+\n$/, 'in one line');
  const env = { RUMPUS_SERVER: url, RUMPUS_TOKEN_FILE: out };
  t.same(await rumpus(dir, ['mkdir', 'disk.img:/d'], env), { code: 0, stdout: '', stderr: '' }, 'with it, mkdir');
  t.same(await rumpus(dir, ['ls', '/mnt'], env), { code: 0, stdout: 'd\nlost+found\n', stderr: '' }, 'a bare absolute path is a path of the server\'s kernel');
  t.same(await rumpus(dir, ['cp', 'other.img', ':/mnt/d/copied'], env), { code: 0, stdout: '', stderr: '' }, 'cp host → :/PATH');
  t.same(await rumpus(dir, ['cp', ':/mnt/d/copied', 'back'], env), { code: 0, stdout: '', stderr: '' }, 'cp :/PATH → host');
  t.equal(readFileSync(join(dir, 'back'), 'utf8'), 'not served');
  t.same(await rumpus(dir, ['cat', ':/mnt/d/copied', '/mnt/d/nope'], env),
    { code: 1, stdout: 'not served', stderr: 'cat: /mnt/d/nope: No such file or directory\n' }, 'cat of :/PATH and /PATH');
  const other = await rumpus(dir, ['ls', 'other.img:/'], env);
  t.equal(other.code, 1, 'an image the server has not mounted is an error');
  t.match(other.stderr, /^rumpus ls: other\.img: not mounted by the server at tcp:\S+ \(it has mounted \S*\/disk\.img on \/mnt\)\n$/, 'naming the image and what the server has');
  const local = await rumpus(dir, ['cp', ':/x', 'y']);
  t.equal(local.code, 2, ':/PATH without a server is a usage error');
  t.match(local.stderr, /^rumpus cp: :\/x: ':\/PATH' is a path in a server's kernel, and no server is set/);
  const mkfs = await rumpus(dir, ['mkfs', 'fresh.img', '--size', '4M'], env);
  t.equal(mkfs.code, 0, 'mkfs goes on locally with a server set');
  t.match(mkfs.stderr, /^rumpus mkfs: not using the server at tcp:\S+: it makes the image here, as a host file\n$/, 'and says so in one line');
  t.ok(fsckClean(join(dir, 'fresh.img')).clean, 'the image mkfs made is sound');
  server.child.kill('SIGINT');
  t.equal(await exitOf(server), 0, 'SIGINT: the server exits 0');
  t.notOk(existsSync(out), 'and removes the token file it wrote');
  t.ok(fsckClean(join(dir, 'disk.img')).clean, 'the image is sound');
});

t.test('refused in one sentence: a bad address, an unsafe socket directory, an address in use', { skip }, async (t) => {
  const dir = tempDir('rumpus-cli-refused-');
  const refused = (r: Run, what: string, pattern: RegExp) => {
    t.same([r.code, r.stdout], [1, ''], `${what}: exit status 1, nothing on stdout`);
    t.match(r.stderr, pattern, `${what}: says why`);
    t.match(r.stderr, /^rumpus serve: [^\n]+\n$/, `${what}: in one line, no stack trace`);
  };
  refused(await rumpus(dir, ['serve', '--listen', 'http://localhost:80']), 'an unknown scheme', /'http:\/\/localhost:80' is not a server address/);
  refused(await rumpus(dir, ['serve', '--listen', 'unix://relative.sock']), 'a relative socket path', /absolute/);
  const open = join(dir, 'open');
  mkdirSync(open);
  chmodSync(open, 0o755);
  refused(await rumpus(dir, ['serve', '--listen', `unix://${open}/s.sock`]), 'a socket directory others can enter', /0755/);
  t.notOk(existsSync(join(open, 's.sock')), 'no socket is made there');

  const sock = join(dir, 'run', 'busy.sock');
  const pidfile = join(dir, 'busy.pid');
  const first = await startServer(t, dir, ['--listen', `unix://${sock}`, '--pidfile', pidfile]);
  refused(await rumpus(dir, ['serve', '--listen', `unix://${sock}`, '--pidfile', pidfile]), 'a socket a server answers at', /already answers/);
  t.equal(readFileSync(pidfile, 'utf8'), `${first.child.pid}\n`, 'the refused server leaves the running one\'s pidfile alone');
  first.child.kill('SIGTERM');
  t.equal(await exitOf(first), 0);
});

t.test('a kernel panic ends the server with status 1 and the report on stderr', { skip }, async (t) => {
  const dir = tempDir('rumpus-cli-panic-');
  mkImage(join(dir, 'disk.img'), { size: 4 << 20 });
  const sock = join(dir, 'run', 'panic.sock');
  const pidfile = join(dir, 'panic.pid');
  const server = await startServer(t, dir, ['--policy', 'monolithic', '--image', 'disk.img', '--listen', `unix://${sock}`, '--pidfile', pidfile]);
  const env = { RUMPUS_SERVER: `unix://${sock}` };
  const armed = await rumpus(dir, ['ctl', 'inject', 'ext2', 'crash'], env);
  t.equal(armed.code, 0, 'a crash armed in ext2, which runs in the kernel\'s own thread', armed);
  const hit = await rumpus(dir, ['ls', '-l', 'disk.img:/'], env);
  t.equal(hit.code, 1, 'the command that hits it fails');
  t.notMatch(hit.stderr, /\n\s+at /, 'without a stack trace');
  t.equal(await exitOf(server), 1, 'the server exits 1');
  // Before it, the kernel's own log (RUMPUS_LOG) has a line of its own about the panic.
  t.match(server.stderr(), /(^|\n)rumpus serve: kernel panic: injected crash at ext2\.getattr[^\n]*\n$/, 'with the panic report on stderr, last');
  t.equal(server.stdout(), server.ready, 'nothing more on stdout');
  t.notOk(existsSync(sock), 'its socket removed');
  t.notOk(existsSync(pidfile), 'and its pidfile');
});
