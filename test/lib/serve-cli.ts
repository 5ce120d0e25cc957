// `rumpus serve` and its clients as child processes of the built command (dist/), for
// test/cli-serve*.ts: a command's run, a server started and waited for, and stopped at the end
// of the test whatever happens; and the comparison of the commands' output with and without a
// server, one policy per call (so that the policies can be split among test files, each
// within tap's time limit on a loaded machine).

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { RUMPUS } from './cli.js';
import { debugfs, fsckClean, hostTree, mkImage, tempDir } from './e2fs.js';

export { RUMPUS };
/** For t.test's skip: set when dist/ is missing. */
export const skip = existsSync(RUMPUS) ? false : 'dist/ is missing: `npm run build` compiles the command';
export const POLICIES = ['monolithic', 'microkernel', 'multiprocess'];
/** How long any one command or server start may take before the test gives up on it. */
export const DEADLINE_MS = 60_000;

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `rumpus ARGS…` from dist/ in `cwd`, with env additions; RUMPUS_* from the test's own environment are not inherited. */
export function rumpus(cwd: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('RUMPUS_')));
  return new Promise((resolve) => {
    execFile(process.execPath, [RUMPUS, ...args], { cwd, env: { ...base, ...env }, timeout: DEADLINE_MS, encoding: 'latin1' }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout, stderr });
    });
  });
}

export interface Served {
  child: ChildProcess;
  /** The readiness line. */
  ready: string;
  /** Everything on stdout and stderr so far. */
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit status (or the signal's name) once the server has exited. */
  exited: Promise<number | string>;
}

/**
 * Starts `rumpus serve ARGS…` and waits for its readiness line; the server is killed at the end
 * of the test `t` whatever happens, if it is still running.
 */
export async function startServer(t: Test, cwd: string, args: string[]): Promise<Served> {
  const child = spawn(process.execPath, [RUMPUS, 'serve', ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  const ready = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no readiness line within ${DEADLINE_MS} ms; stderr: ${err}`)), DEADLINE_MS);
    const check = () => {
      if (out.includes('\n')) {
        clearTimeout(timer);
        resolve(out.slice(0, out.indexOf('\n') + 1));
      }
    };
    child.stdout!.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the server exited (${code}) before it was ready; stderr: ${err}`));
    });
  });
  return { child, ready, stdout: () => out, stderr: () => err, exited };
}

/** Waits for the server's exit, at most DEADLINE_MS. */
export function exitOf(s: Served): Promise<number | string> {
  return Promise.race([s.exited, new Promise<string>((resolve) => setTimeout(() => resolve('still running'), DEADLINE_MS))]);
}

/** The host tree the image is made from, with fixed times (2020: ls -l shows them with the year). */
function buildSource(root: string): void {
  mkdirSync(join(root, 'd/sub'), { recursive: true });
  writeFileSync(join(root, 'd/f'), 'hello from the image\n');
  writeFileSync(join(root, 'd/sub/g'), Buffer.alloc(70_000, 7));
  writeFileSync(join(root, 'untouched'), 'only stat looks at me\n');
  chmodSync(join(root, 'untouched'), 0o640);
  for (const rel of ['d/sub/g', 'd/sub', 'd/f', 'd', 'untouched', '']) utimesSync(join(root, rel), 1_600_000_000, 1_600_000_000);
}

/** The host tree cp copies into the image. */
function buildUpload(root: string): void {
  mkdirSync(join(root, 'photos/2024'), { recursive: true });
  writeFileSync(join(root, 'photos/notes.txt'), 'holiday notes\n');
  writeFileSync(join(root, 'photos/2024/sea.raw'), Buffer.alloc(200_000, 42));
  for (const rel of ['photos/2024/sea.raw', 'photos/2024', 'photos/notes.txt', 'photos']) utimesSync(join(root, rel), 1_650_000_000, 1_650_000_000);
}

/**
 * The commands compared, run in order in a directory holding disk.img and the host tree
 * `upload`; several carry an operand that fails, for the messages. stat comes first and looks
 * at a file nothing reads, so that access times agree; the listing after the changes shows
 * names only, as the times of new files differ from run to run. No `ls -a` of an image's root:
 * its '..' is the directory the kernel mounted it in, made when that kernel booted.
 */
const SCRIPT: string[][] = [
  ['stat', 'disk.img:/untouched'],
  ['ls', '-l', 'disk.img:/', 'disk.img:/nope'],
  ['ls', '-la', 'disk.img:/d/sub'],
  ['cat', 'disk.img:/d/f', 'disk.img:/missing', 'disk.img:/d/sub/g'],
  ['cp', '-r', 'upload/photos', 'disk.img:/photos'],
  ['cp', '-r', 'disk.img:/d', 'out'],
  ['mkdir', 'disk.img:/newdir', 'disk.img:/d'],
  ['mv', 'disk.img:/newdir', 'disk.img:/moved'],
  ['rm', '-r', 'disk.img:/photos/2024', 'disk.img:/gone'],
  ['ls', '-R', 'disk.img:/'],
  ['df', 'disk.img:/'],
];

/** The shell script compared: the image at /mnt in both cases; a pipeline, an error, a redirection into the image. */
const SHELL = 'ls /mnt; cat /mnt/d/f | cat; cat /mnt/nope; echo made > /mnt/d/new; cat /mnt/d/new; ls /mnt/d';

/**
 * The test of `rumpus serve` under `policy`: the image commands and the shell give byte for
 * byte the same stdout, stderr and exit status through RUMPUS_SERVER as without it — each on its
 * own copy of one image, named the same in two directories, so that messages naming it read
 * the same — and SIGTERM halts the server with the image synced.
 */
export function sameOutputThroughServer(policy: string): void {
  t.test(`${policy}: the commands give the same output through RUMPUS_SERVER as without it; SIGTERM halts with the image synced`, { skip }, async (t) => {
    const dir = tempDir('rumpus-cli-serve-');
    const source = join(dir, 'source');
    buildSource(source);
    const local = join(dir, 'local');
    const remote = join(dir, 'remote');
    for (const d of [local, remote]) {
      mkdirSync(d);
      buildUpload(join(d, 'upload'));
    }
    mkImage(join(local, 'disk.img'), { size: 8 << 20, from: source });
    copyFileSync(join(local, 'disk.img'), join(remote, 'disk.img'));

    const sock = join(dir, 'run', 'rumpus.sock');
    const pidfile = join(dir, 'serve.pid');
    const server = await startServer(t, remote, ['--policy', policy, '--image', 'disk.img', '--listen', `unix://${sock}`, '--pidfile', pidfile]);
    t.equal(server.ready, `rumpus serve: ready on unix://${sock} (policy ${policy}, pid ${server.child.pid})\n`, 'the readiness line');
    t.equal(readFileSync(pidfile, 'utf8'), `${server.child.pid}\n`, 'the pidfile holds the server\'s pid');
    t.equal(statSync(sock).mode & 0o777, 0o600, 'the socket is 0600');
    t.equal(statSync(join(dir, 'run')).mode & 0o777, 0o700, 'in a directory made 0700');
    const env = { RUMPUS_SERVER: `unix://${sock}` };

    for (const args of SCRIPT) {
      const without = await rumpus(local, [...args, '--policy', policy]);
      const through = await rumpus(remote, args, env);
      t.same(through, without, `rumpus ${args.join(' ')}`);
    }
    t.same(hostTree(join(remote, 'out')), hostTree(join(local, 'out')), 'cp -r image → host made the same host tree');
    const shLocal = await rumpus(local, ['sh', '--policy', policy, '--image', 'disk.img', '-c', SHELL]);
    const shRemote = await rumpus(remote, ['sh', '-c', SHELL], env);
    t.same(shRemote, shLocal, 'rumpus sh -c: a pipeline, an error, a redirection');

    server.child.kill('SIGTERM');
    t.equal(await exitOf(server), 0, 'SIGTERM: the server exits 0');
    t.equal(server.stdout(), server.ready, 'nothing on stdout but the readiness line');
    t.equal(server.stderr(), '', 'nothing on stderr');
    t.notOk(existsSync(sock), 'the socket is removed');
    t.notOk(existsSync(`${sock}.token`), 'the generated token file beside it too');
    t.notOk(existsSync(pidfile), 'the pidfile too');
    for (const d of [remote, local]) {
      const fsck = fsckClean(join(d, 'disk.img'));
      t.ok(fsck.clean, `${d === remote ? 'the served image' : 'the local one'} passes both e2fsck checks`, { report: fsck.report });
    }
    const img = join(remote, 'disk.img');
    t.equal(debugfs(img, 'cat /d/new'), 'made\n', 'what the shell wrote is on the served image');
    t.equal(debugfs(img, 'cat /photos/notes.txt'), 'holiday notes\n', 'and what cp copied in');
    const names = (path: string) => debugfs(img, `ls -p ${path}`).split('\n').map((l) => l.split('/')[5]).filter((n) => n && n !== '.' && n !== '..').sort();
    t.same(names('/'), ['d', 'lost+found', 'moved', 'photos', 'untouched'], 'mkdir and mv are on it; rm took photos/2024');
    t.same(names('/photos'), ['notes.txt']);
  });
}
