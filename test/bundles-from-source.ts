// A kernel that runs from TypeScript source (as these tests run it) starts its thread and process
// domains from the compiled bundles in dist/ when the build there is newer than every source file
// they are made from — `npm test` builds first — and through tsx from source when a source file is
// newer, or tsc's output is older than one (the bundles may run stale code); a code cache older
// than its bundle is refused. Either way a component from a TypeScript module (a fixture, named
// .js as tsx allows) loads in them. The checkout's own sources cannot be touched while other
// tests run, so the test works on a copy of kernel/, ipc/, servers/ and dist/kernel/.

import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import t from 'tap';

const ROOT = join(import.meta.dirname, '..');
const skip = existsSync(join(ROOT, 'dist', 'kernel', 'domain-thread.bundle.cjs')) ? false : 'dist/ is missing: `npm run build` makes the bundles';
// Named .js: tsx maps it to probe.ts, as in main, once a domain has registered tsx.
const probe = pathToFileURL(join(import.meta.dirname, 'fixtures', 'probe.js')).href;

/** What the child reports of one boot: each domain's bundle (null: from source), whether V8's code cache served it, and the probe's echo. */
interface Report {
  bundles: Record<string, string | null>;
  caches: Record<string, boolean>;
  echo: unknown;
  tmp: string;
}

/** Boots the copy's kernel from source in a child (through tsx), under `kind` domains, and reports. */
function bootCopy(copy: string, kind: 'thread' | 'process'): Promise<Report> {
  const script = `
    const { boot } = await import(${JSON.stringify(pathToFileURL(join(copy, 'kernel', 'index.ts')).href)});
    const domains = { main: { kind: 'main', components: ['ext2', 'cgd', 'dk', 'blk', 'cipher'] }, vfs: { kind: '${kind}', components: ['vfs'] }, tmpfs: { kind: '${kind}', components: ['tmpfs'] },
      dev: { kind: '${kind}', components: ['dev'] }, probe: { kind: '${kind}', components: ['probe'] } };
    const k = await boot({ policy: { name: 'copy', modules: { probe: ${JSON.stringify(probe)} }, domains } });
    try {
      const p = await k.spawn();
      await p.writeFile('/tmp/hello', 'hello');
      const tmp = new TextDecoder().decode(await p.readFile('/tmp/hello'));
      const echo = await k.call('probe', 'echo', { value: [1, 'two'] });
      const domains = k.domains().filter((d) => d.kind !== 'main');
      const bundles = Object.fromEntries(domains.map((d) => [d.name, d.bundle ?? null]));
      const caches = Object.fromEntries(domains.map((d) => [d.name, d.codeCache ?? false]));
      console.log(JSON.stringify({ bundles, caches, echo, tmp }));
    } finally {
      await k.halt();
    }`;
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: copy, timeout: 120_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${err.message}\n${stderr}`));
      else resolve(JSON.parse(stdout.trim().split('\n').at(-1)!) as Report);
    });
  });
}

t.test('domains start from the bundles in dist/ when they are current, from source when not', { skip }, async (t) => {
  const copy = mkdtempSync(join(tmpdir(), 'rumpus-from-source-'));
  t.teardown(() => rmSync(copy, { recursive: true, force: true }));
  for (const dir of ['kernel', 'ipc', 'servers']) cpSync(join(ROOT, dir), join(copy, dir), { recursive: true });
  for (const f of ['package.json', 'tsconfig.json']) cpSync(join(ROOT, f), join(copy, f));
  symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'));
  // The build's output keeps its times (their order is what the kernel reads), and the sources
  // are dated before all of it, as after a build.
  cpSync(join(ROOT, 'dist', 'kernel'), join(copy, 'dist', 'kernel'), { recursive: true, preserveTimestamps: true });
  const built = Math.min(...readdirSync(join(copy, 'dist', 'kernel'), { recursive: true, encoding: 'utf8' }).map((f) => statSync(join(copy, 'dist', 'kernel', f)).mtimeMs));
  for (const dir of ['kernel', 'ipc', 'servers']) {
    for (const f of readdirSync(join(copy, dir), { recursive: true, encoding: 'utf8' })) utimesSync(join(copy, dir, f), built / 1000 - 60, built / 1000 - 60);
  }

  for (const kind of ['thread', 'process'] as const) {
    const fresh = await bootCopy(copy, kind);
    const bundle = (server: string) => join(copy, 'dist', 'kernel', kind === 'thread' ? `domain-thread.${server}.bundle.cjs` : 'domain-process.bundle.cjs');
    t.same(fresh.bundles, { vfs: bundle('vfs'), tmpfs: bundle('tmpfs'), dev: bundle('dev'), probe: join(copy, 'dist', 'kernel', `domain-${kind}.bundle.cjs`) },
      `${kind} domains start from the copy's bundles, each the one meant for it`);
    t.same(fresh.echo, [1, 'two'], `${kind}: the component from a TypeScript module loads and answers`);
    t.equal(fresh.tmp, 'hello', `${kind}: a file written through vfs and tmpfs reads back`);
  }

  // A code cache older than its bundle was made for other code (the build's warm-up did not
  // run): refused, the bundle compiled without it.
  const vfsCache = join(copy, 'dist', 'kernel', 'domain-thread.vfs.bundle.cjs.v8cache');
  const beforeBuild = built / 1000 - 3600;
  utimesSync(vfsCache, beforeBuild, beforeBuild);
  const oldCache = await bootCopy(copy, 'thread');
  t.same(oldCache.caches, { vfs: false, tmpfs: true, dev: true, probe: true }, 'a code cache older than its bundle is refused; the others serve');
  t.equal(oldCache.tmp, 'hello', 'and vfs serves');

  // tsc's output older than a source file (the bundles made again without tsc): refused.
  const threadEntry = join(copy, 'dist', 'kernel', 'domain-thread.js');
  utimesSync(threadEntry, beforeBuild, beforeBuild);
  const oldTsc = await bootCopy(copy, 'thread');
  t.same(oldTsc.bundles, { vfs: null, tmpfs: null, dev: null, probe: null }, 'thread domains start from source when tsc\'s output is older than a source file');
  t.same(oldTsc.echo, [1, 'two'], 'and the component from a TypeScript module loads');
  t.same((await bootCopy(copy, 'process')).bundles.vfs, join(copy, 'dist', 'kernel', 'domain-process.bundle.cjs'), 'process domains, whose output is newer, still start from their bundle');

  // A source file edited after the build: the bundles may be stale.
  const edited = join(copy, 'servers', 'tmpfs', 'index.ts');
  const later = Date.now() / 1000 + 60;
  utimesSync(edited, later, later);
  for (const kind of ['thread', 'process'] as const) {
    const stale = await bootCopy(copy, kind);
    t.same(stale.bundles, { vfs: null, tmpfs: null, dev: null, probe: null }, `${kind} domains start from source once a source file is newer than the bundles`);
    t.same(stale.echo, [1, 'two'], `${kind}: the component from a TypeScript module loads and answers`);
    t.equal(stale.tmp, 'hello', `${kind}: a file written through vfs and tmpfs reads back`);
  }
});
