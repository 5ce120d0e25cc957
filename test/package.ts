// rumpus as a user installs it: `npm pack` of the checkout's dist/ (as `npm run build` made
// it), installed from the tarball into a fresh empty project, then used from that project only
// — its directory as cwd, a PATH and an environment without the checkout, its node_modules or
// the test runner's loaders — through `npx rumpus` and through `import … from 'rumpus'`.
//
// Needs `npm`, env(1), and the npm registry (or an npm cache with the metadata and tarballs of
// msgpackr, piscina and theirs): the tarball's dependencies are resolved as for any user.

import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, relative } from 'node:path';
import type { Readable } from 'node:stream';
import t from 'tap';

const CHECKOUT = join(import.meta.dirname, '..');
const skip = existsSync(join(CHECKOUT, 'dist', 'kernel', 'index.js')) ? false : 'dist/ is missing: `npm run build` compiles the kernel';

/** What a command did: its exit status (null when killed at its deadline) and output. */
interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * What tap's process tracking adds to the environment of every process this one starts, even
 * one given an environment of its own: NODE_OPTIONS with its loader (a module of the checkout's
 * node_modules) and its own variables. env(1) takes them out again before `command` runs.
 */
const unsetTapAdditions = (): string[] => ['NODE_OPTIONS', ...Object.keys(process.env).filter((k) => k.startsWith('_TAPJS_'))].flatMap((k) => ['-u', k]);

type Child = ChildProcessByStdio<null, Readable, Readable>;

/**
 * Starts `command args…` in `cwd` with `env`, stdin closed, in a process group of its own (its
 * pid's), so that what it starts can be ended with it.
 */
function start(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Child {
  return spawn('env', [...unsetTapAdditions(), command, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
}

/** Kills the process group of `child` (see start()), if anything in it is left. */
function killGroup(child: Child): void {
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** Runs `command args…` as start() does; the group is killed after `timeoutMs`. */
function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = start(command, args, cwd, env);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => killGroup(child), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The first line `child` prints, or null if it exits or `timeoutMs` passes first. */
function firstLine(child: Child, timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    let out = '';
    const done = (line: string | null) => {
      clearTimeout(timer);
      child.stdout.off('data', onData);
      child.off('exit', onExit);
      resolve(line);
    };
    const onData = (s: string) => {
      out += s;
      if (out.includes('\n')) done(out.slice(0, out.indexOf('\n')));
    };
    const onExit = () => done(null);
    const timer = setTimeout(() => done(null), timeoutMs);
    child.stdout.setEncoding('utf8').on('data', onData);
    child.on('exit', onExit);
  });
}

/** The exit status of `child`, or null if it has not exited within `timeoutMs`. */
function exitCode(child: Child, timeoutMs: number): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

/**
 * The environment of a user's shell as far as this test can tell: this one without what npm
 * (`npm_*`, which would make a child npm act on the checkout), tap (TAP_*, NODE_OPTIONS with its
 * loader) or rumpus (RUMPUS_*) put there, and a PATH without the checkout or any node_modules.
 * npm's cache and registry settings are kept, so the install finds what `npm ci` fetched.
 */
function userEnv(): NodeJS.ProcessEnv {
  const keep = new Set(['npm_config_cache', 'npm_config_registry', 'npm_config_userconfig']);
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(npm_|TAP|_TAPJS_|RUMPUS_)/.test(k) && !keep.has(k)) continue;
    if (k === 'NODE_OPTIONS' || k === 'INIT_CWD') continue;
    env[k] = v;
  }
  const path = (process.env.PATH ?? '').split(delimiter).filter((d) => d !== '' && !d.includes('node_modules') && relative(CHECKOUT, d).startsWith('..'));
  env.PATH = [dirname(process.execPath), ...path].join(delimiter);
  return env;
}

/** The files of a tree, as paths relative to its root. */
function filesUnder(root: string): string[] {
  return readdirSync(root, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => relative(root, join(e.parentPath, e.name)));
}

// What an installed rumpus needs, and nothing else: dist's runtime code with the kernel's types,
// the domain bundles and their code caches; the documents (bench/README.md, which `rumpus bench
// --help` refers to, included).
const PACKED = /^(package\.json|README\.md|PROTOCOL\.md|LICENSE|bench\/README\.md|dist\/(kernel|ipc|servers)\/.*\.(js|cjs|d\.ts|cjs\.v8cache)|dist\/(bin|bench)\/.*\.js)$/;

// The script a user writes: boots a kernel under each policy that starts domains, makes a few
// syscalls, and tells where each domain's code came from.
const BOOT_SCRIPT = `
import { boot } from 'rumpus';
const out = {};
for (const policy of ['microkernel', 'multiprocess']) {
  const k = await boot({ policy });
  try {
    const p = await k.spawn();
    await p.writeFile('/tmp/hello', 'hello from ' + policy);
    out[policy] = {
      text: new TextDecoder().decode(await p.readFile('/tmp/hello')),
      pid: await p.getpid(),
      // A pool's workers load the compiled modules, not a bundle, and only at the pool's first call.
      bundles: k.domains().filter((d) => d.kind !== 'main' && d.kind !== 'pool').map((d) => d.bundle ?? null),
      codeCaches: k.domains().filter((d) => d.kind === 'thread').map((d) => d.codeCache ?? false),
    };
  } finally {
    await k.halt();
  }
}
console.log(JSON.stringify(out));
`;

// A client program of a server: the URL in argv, the token from the file the server wrote
// beside its socket. It writes a file on the server's image and reads one back.
const CONNECT_SCRIPT = `
import { connect } from 'rumpus';
const p = await connect(process.argv[2]);
try {
  await p.writeFile('/mnt/from-client.txt', 'written through connect()\\n');
  console.log(JSON.stringify({ pid: await p.getpid(), notes: new TextDecoder().decode(await p.readFile('/mnt/notes.txt')) }));
} finally {
  await p.exit();
}
`;

// The same from TypeScript: the kernel's types resolve through the package's exports, and are
// real types (an unused @ts-expect-error would fail the check).
const TYPED_SCRIPT = `
import { boot, type Kernel } from 'rumpus';
const k: Kernel = await boot({ policy: 'monolithic' });
const p = await k.spawn();
const pid: number = await p.getpid();
// @ts-expect-error getpid() answers a number
const wrong: string = await p.getpid();
console.log(pid, wrong);
await k.halt();
`;

t.test('npm pack makes a tarball that installs into an empty project and runs there', { skip }, async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'rumpus-package-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const env = userEnv();

  // --ignore-scripts: packs dist/ as it is; `prepare` would rebuild it under the other tests.
  const pack = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', root], CHECKOUT, env);
  t.equal(pack.code, 0, 'npm pack succeeds', { stderr: pack.stderr });
  const [packed] = JSON.parse(pack.stdout) as { filename: string; size: number; unpackedSize: number; files: { path: string }[] }[];
  const paths = packed.files.map((f) => f.path);
  t.comment(`${packed.filename}: ${packed.files.length} files, ${packed.size} bytes packed, ${packed.unpackedSize} unpacked`);
  t.same(paths.filter((p) => !PACKED.test(p)), [], 'the tarball holds dist/ runtime code, its types and the documents only');
  for (const p of ['package.json', 'README.md', 'dist/bin/rumpus.js', 'dist/kernel/index.js', 'dist/kernel/index.d.ts', 'dist/kernel/domain-thread.bundle.cjs', 'dist/kernel/domain-process.bundle.cjs']) {
    t.ok(paths.includes(p), `it holds ${p}`);
  }

  const app = join(root, 'app');
  mkdirSync(app);
  const init = await run('npm', ['init', '-y'], app, env);
  t.equal(init.code, 0, 'npm init -y', { stderr: init.stderr });
  const manifest = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(app, 'package.json'), JSON.stringify({ ...manifest, type: 'module' }, null, 2));
  const install = await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', join(root, packed.filename)], app, env, 180_000);
  t.equal(install.code, 0, 'npm install TARBALL succeeds', { stderr: install.stderr });
  if (install.code !== 0) return;

  const installed = join(app, 'node_modules', 'rumpus');
  t.same(Object.keys((JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as { dependencies: object }).dependencies).sort(), ['argon2', 'msgpackr', 'piscina'],
    'its runtime dependencies are argon2, msgpackr and piscina');
  t.same(['tsx', 'typescript', 'tap', 'esbuild', 'ext2fs'].filter((d) => existsSync(join(app, 'node_modules', d))), [], 'no development dependency came with it');
  const bin = join(installed, 'dist', 'bin', 'rumpus.js');
  t.match(readFileSync(bin, 'utf8'), /^#!\/usr\/bin\/env node\n/, 'the rumpus bin starts with its shebang');
  t.ok(statSync(join(app, 'node_modules', '.bin', 'rumpus')).mode & 0o100, 'and is linked executable into node_modules/.bin');
  // Code caches aside: V8 names in them the script they were made from (a path of the build), and
  // uses that name for nothing when it loads one.
  const leaks = filesUnder(installed).filter((f) => !f.endsWith('.v8cache') && readFileSync(join(installed, f), 'utf8').includes(CHECKOUT));
  t.same(leaks, [], 'no installed file refers to the checkout');

  // --no: never fetch a 'rumpus' from the registry; --: what follows is rumpus's, --help included.
  const rumpus = (args: string[]) => run('npx', ['--no', '--', 'rumpus', ...args], app, env);

  const help = await rumpus(['--help']);
  t.equal(help.code, 0, 'npx rumpus --help exits 0', { stderr: help.stderr });
  const commands = [...help.stdout.matchAll(/^ {2}(\w+) {2,}/gm)].map((m) => m[1]);
  t.ok(['sh', 'mkfs', 'cp', 'cat', 'ls', 'bench'].every((c) => commands.includes(c)), `and lists the subcommands (${commands.join(', ')})`);

  const mkfs = await rumpus(['mkfs', 'img', '--size', '8M']);
  t.equal(mkfs.code, 0, 'npx rumpus mkfs img --size 8M', { stderr: mkfs.stderr });
  t.equal(statSync(join(app, 'img')).size, 8 << 20, 'makes an 8 MiB image');
  writeFileSync(join(app, 'notes.txt'), 'written on the host\n');
  const cp = await rumpus(['cp', 'notes.txt', 'img:/notes.txt']);
  t.equal(cp.code, 0, 'npx rumpus cp a file into the image', { stderr: cp.stderr });
  const cat = await rumpus(['cat', 'img:/notes.txt']);
  t.same({ code: cat.code, stdout: cat.stdout }, { code: 0, stdout: 'written on the host\n' }, 'npx rumpus cat reads it back', { stderr: cat.stderr });

  for (const policy of ['microkernel', 'multiprocess']) {
    const sh = await rumpus(['sh', '--policy', policy, '--image', 'img', '-c', `echo ${policy} > /tmp/f; cat /tmp/f; cat /mnt/notes.txt`]);
    t.same({ code: sh.code, stdout: sh.stdout }, { code: 0, stdout: `${policy}\nwritten on the host\n` }, `npx rumpus sh --policy ${policy} runs its domains`, { stderr: sh.stderr });
  }

  // An encrypted image: argon2's native add-on and the pool's workers (the cipher, under
  // microkernel) load from the installed package.
  writeFileSync(join(app, 'key.txt'), 'package passphrase');
  const encrypt = await rumpus(['mkfs', 'enc.img', '--size', '20M', '--encrypt', '--key-file', 'key.txt', '--pbkdf', 'argon2id', '--pbkdf-memory', '8192', '--pbkdf-force-iterations', '1']);
  t.equal(encrypt.code, 0, 'npx rumpus mkfs --encrypt (argon2id)', { stderr: encrypt.stderr });
  const enc = await rumpus(['sh', '--policy', 'microkernel', '--image', 'enc.img', '--key-file', 'key.txt', '-c', 'echo sealed > /mnt/f; cat /mnt/f']);
  t.same({ code: enc.code, stdout: enc.stdout }, { code: 0, stdout: 'sealed\n' }, 'npx rumpus sh --image of it, the cipher in a pool', { stderr: enc.stderr });

  writeFileSync(join(app, 'boot.mjs'), BOOT_SCRIPT);
  const script = await run(process.execPath, ['boot.mjs'], app, env);
  t.equal(script.code, 0, "a script that imports { boot } from 'rumpus' runs", { stderr: script.stderr });
  if (script.code === 0) {
    const out = JSON.parse(script.stdout) as Record<string, { text: string; pid: number; bundles: (string | null)[]; codeCaches: boolean[] }>;
    // The same Node built the code caches: V8 takes them, though they were made in the checkout.
    const caches = out.microkernel?.codeCaches ?? [];
    t.ok(caches.length > 0 && caches.every((used) => used), `microkernel: each thread domain compiled its bundle from its code cache (${caches.join(', ')})`);
    for (const [policy, { text, pid, bundles }] of Object.entries(out)) {
      t.equal(text, `hello from ${policy}`, `${policy}: a file on /tmp reads back`);
      t.ok(pid > 0, `${policy}: getpid answers`);
      t.ok(bundles.length > 0 && bundles.every((b) => b !== null && b.startsWith(join(installed, 'dist', 'kernel'))),
        `${policy}: every domain starts from a bundle of the installed package (${bundles.map((b) => b && relative(app, b)).join(', ')})`);
    }
  }

  const tsc = join(CHECKOUT, 'node_modules', 'typescript', 'bin', 'tsc');
  writeFileSync(join(app, 'typed.ts'), TYPED_SCRIPT);
  writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, types: ['node'], typeRoots: [join(CHECKOUT, 'node_modules', '@types')] },
    files: ['typed.ts'],
  }));
  const typed = await run(process.execPath, [tsc, '-p', '.'], app, env);
  t.same({ code: typed.code, stdout: typed.stdout }, { code: 0, stdout: '' }, "tsc checks a TypeScript user of 'rumpus' against the package's types", { stderr: typed.stderr });

  // rumpus serve from the installed package, with the image; its socket in the test's own
  // directory (mkdtemp makes it 0700), the token in the file it writes beside the socket.
  const url = `unix://${join(root, 'rumpus.sock')}`;
  const server = start('npx', ['--no', '--', 'rumpus', 'serve', '--policy', 'multiprocess', '--image', 'img', '--listen', url], app, env);
  let serverStderr = '';
  server.stderr.setEncoding('utf8').on('data', (s: string) => (serverStderr += s));
  t.teardown(() => killGroup(server));
  const ready = await firstLine(server, 60_000);
  t.match(ready, new RegExp(`^rumpus serve: ready on ${url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(policy multiprocess, pid \\d+\\)$`), 'npx rumpus serve says it is ready', { stderr: serverStderr });
  if (ready === null) return;
  // npx does not pass SIGTERM on to the command it runs: the server is signalled by the pid its
  // readiness line gives.
  const serverPid = Number(/pid (\d+)\)$/.exec(ready)?.[1]);

  const remote = await run('npx', ['--no', '--', 'rumpus', 'sh', '-c', 'echo remote > /tmp/r; cat /tmp/r; cat /mnt/notes.txt'], app, { ...env, RUMPUS_SERVER: url });
  t.same({ code: remote.code, stdout: remote.stdout }, { code: 0, stdout: 'remote\nwritten on the host\n' }, 'RUMPUS_SERVER=URL npx rumpus sh uses the server', { stderr: remote.stderr });

  writeFileSync(join(app, 'connect.mjs'), CONNECT_SCRIPT);
  const client = await run(process.execPath, ['connect.mjs', url], app, env);
  t.equal(client.code, 0, "a script that imports { connect } from 'rumpus' runs", { stderr: client.stderr });
  if (client.code === 0) {
    const { pid, notes } = JSON.parse(client.stdout) as { pid: number; notes: string };
    t.ok(pid > 0 && pid !== serverPid, `its connection is a client process of the server's kernel (pid ${pid})`);
    t.equal(notes, 'written on the host\n', "and reads the server's image");
  }

  process.kill(serverPid, 'SIGTERM');
  t.equal(await exitCode(server, 60_000), 0, 'SIGTERM halts the server, which exits 0', { stderr: serverStderr });
  const synced = await rumpus(['cat', 'img:/from-client.txt']);
  t.same({ code: synced.code, stdout: synced.stdout }, { code: 0, stdout: 'written through connect()\n' }, "what the client wrote is on the image after the server's halt", { stderr: synced.stderr });
});
