// The compiled kernel, as `npm start` and the rumpus command run it: its thread and process
// domains load from the CommonJS bundles that `npm run build` makes (scripts/bundle.mjs), thread
// domains with V8's code cache that the build saved beside each (scripts/code-cache.mjs), a
// component a placement adds is still imported from its own module, a restarted domain runs in
// the spare, and halt ends them all.

import { cpSync, existsSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import argon2 from 'argon2';
import t from 'tap';
import { BUILTIN } from '../kernel/registry.js';
import { alive, threads } from './lib/os.js';

const dist = join(import.meta.dirname, '..', 'dist');
const entry = (kind: string) => join(dist, 'kernel', `domain-${kind}.js`);
/** A domain bundle: the full one of a kind, or the thread bundle with only one built-in server. */
const bundle = (kind: string, server?: string) => join(dist, 'kernel', `domain-${kind}${server ? `.${server}` : ''}.bundle.cjs`);

/** Waits up to a second for a condition the OS reports asynchronously (thread exit). */
async function eventually(check: () => boolean): Promise<boolean> {
  for (let i = 0; i < 100 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  return check();
}

const skip = existsSync(join(dist, 'kernel', 'index.js')) ? false : 'dist/ is missing: `npm run build` compiles the kernel';
const probe = pathToFileURL(join(dist, 'test', 'fixtures', 'probe.js')).href;

// Thread domains that host one built-in server start from the bundle with only that server, the
// others (several servers, or only a component a placement adds) from the full one. A domain is
// never asked to load a server its bundle lacks: the core picks the bundle from the same list of
// components it then asks the domain to load, and a spare, whose list is not known when it
// starts, runs the full bundle. So that case is not tested; the stubs in its place throw anyway.
const cases = [
  {
    policy: 'microkernel', kind: 'thread',
    domains: { vfs: ['vfs'], tmpfs: ['tmpfs'], dev: ['dev'], disk: ['ext2', 'cgd', 'dk', 'blk'], cipher: ['cipher'], probe: ['probe'] },
    from: { vfs: bundle('thread', 'vfs'), tmpfs: bundle('thread', 'tmpfs'), dev: bundle('thread', 'dev'), disk: bundle('thread'), cipher: bundle('thread', 'cipher'), probe: bundle('thread') },
  },
  {
    policy: 'multiprocess', kind: 'process',
    domains: { vfs: ['vfs'], tmpfs: ['tmpfs'], dev: ['dev'], ext2: ['ext2'], cgd: ['cgd'], dk: ['dk'], blk: ['blk'], cipher: ['cipher'], probe: ['probe'] },
    from: Object.fromEntries(['vfs', 'tmpfs', 'dev', 'ext2', 'cgd', 'dk', 'blk', 'cipher', 'probe'].map((d) => [d, bundle('process')])),
  },
] as const;

for (const { policy, kind, domains: placed, from } of cases) {
  t.test(`compiled ${policy}: domains run from the ${kind} bundles`, { skip }, async (t) => {
    const { boot } = (await import(pathToFileURL(join(dist, 'kernel', 'index.js')).href)) as typeof import('../kernel/index.js');
    for (const file of new Set([...Object.values(from), bundle(kind)])) {
      t.ok(existsSync(file) && statSync(file).mtimeMs >= statSync(entry(kind)).mtimeMs,
        `${file} is there and not older than its entry (npm run build makes it; tsc alone does not)`);
      if (kind === 'thread') {
        t.ok(existsSync(`${file}.v8cache`) && statSync(`${file}.v8cache`).mtimeMs >= statSync(file).mtimeMs, `${file}.v8cache is there and not older than its bundle`);
      }
    }
    const threadsBefore = threads();
    const k = await boot({
      policy: { name: policy, modules: { probe }, domains: Object.fromEntries(Object.entries(placed).map(([d, components]) => [d, { kind, components: [...components] }])) },
    });
    t.teardown(() => k.halt()); // also when a step throws: its threads would keep the test running until tap's timeout
    const domains = k.domains();
    t.same(Object.fromEntries(domains.map((d) => [d.name, d.bundle])), from, 'each domain says its code came from the bundle meant for it');
    t.same(domains.filter((d) => d.kind !== 'main').map((d) => d.codeCache ?? false), domains.filter((d) => d.kind !== 'main').map(() => kind === 'thread'),
      kind === 'thread' ? 'and V8 compiled each from its code cache' : 'process domains load without a code cache');

    const p = await k.spawn();
    await p.writeFile('/tmp/hello', 'hello from the bundle');
    t.equal(new TextDecoder().decode(await p.readFile('/tmp/hello')), 'hello from the bundle', 'a file on /tmp reads back');
    t.equal(await p.getpid(), p.pid, 'getpid');
    t.same(await k.call('probe', 'echo', { value: [1, 'two'] }), [1, 'two'], 'a component from its own module (import() in the bundle) answers');
    const salt = new Uint8Array(16).fill(7);
    const derived = await k.call('cipher', 'derive', { kdf: { type: 'argon2id', time: 1, memory: 64, parallel: 1, salt }, passphrase: new TextEncoder().encode('secret'), length: 32 });
    const expected = await argon2.hash('secret', { type: argon2.argon2id, raw: true, salt: Buffer.from(salt), timeCost: 1, memoryCost: 64, parallelism: 1, hashLength: 32 });
    t.same(Buffer.from(derived as Uint8Array), expected, 'argon2, a package the cipher imports by name, derives the key in the cipher domain');

    await k.inject({ component: 'dev', type: 'crash', op: 'walk' });
    await p.stat('/dev/null');
    await k.settled();
    const dev = k.domains().find((d) => d.name === 'dev')!;
    t.equal(dev.restarts, 1, 'dev crashed and was restarted');
    t.equal(dev.bundle, bundle(kind), 'the restarted dev runs in the spare, from the full bundle');
    t.equal(dev.codeCache ?? false, kind === 'thread', kind === 'thread' ? 'with its code cache' : 'without a code cache');
    await p.stat('/dev/null');

    const children = k.domains().filter((d) => d.kind === 'process').map((d) => d.id);
    await k.halt();
    t.ok(children.every((pid) => !alive(pid)), 'no child process is left');
    t.ok(await eventually(() => threads() <= threadsBefore), `no thread is left (${threads()} now, ${threadsBefore} before)`);
  });
}

// A code cache that V8 cannot use (cut short, or not V8's at all) is refused: the domain compiles
// its bundle as it would without one, and serves. The compiled kernel is copied inside dist/ (so
// that it still finds node_modules) with every cache spoilt, newer than its bundle.
t.test('compiled microkernel: a spoilt code cache is refused and the domain compiles its bundle', { skip }, async (t) => {
  const copy = join(dist, `.spoilt-code-cache-${process.pid}`);
  t.teardown(() => rmSync(copy, { recursive: true, force: true }));
  for (const dir of ['kernel', 'ipc', 'servers']) cpSync(join(dist, dir), join(copy, dir), { recursive: true, preserveTimestamps: true });
  const caches = readdirSync(join(copy, 'kernel')).filter((f) => f.endsWith('.v8cache'));
  t.ok(caches.length >= 6, `${caches.length} code caches to spoil`);
  for (const [i, f] of caches.entries()) writeFileSync(join(copy, 'kernel', f), i % 2 ? 'not a code cache' : new Uint8Array(4096));
  const { boot } = (await import(pathToFileURL(join(copy, 'kernel', 'index.js')).href)) as typeof import('../kernel/index.js');
  const k = await boot({ policy: 'microkernel' });
  try {
    const domains = k.domains().filter((d) => d.kind === 'thread');
    t.same(domains.map((d) => d.codeCache), domains.map(() => false), 'no domain says its code came from the cache');
    t.ok(domains.every((d) => d.bundle?.startsWith(copy)), 'each still runs from its bundle');
    const p = await k.spawn();
    await p.writeFile('/tmp/hello', 'compiled anyway');
    t.equal(new TextDecoder().decode(await p.readFile('/tmp/hello')), 'compiled anyway', 'and the kernel serves');
  } finally {
    await k.halt();
  }
});

// A component module named by a relative path (or a package name) is resolved once, in main, by
// Node's import rules, so that every domain loads the same file: a thread started from a bundle
// resolved it from the working directory before, a process from its bundle's place.
t.test('compiled: a component module given by a relative path loads alike in main, a thread and a process', { skip }, async (t) => {
  const { boot } = (await import(pathToFileURL(join(dist, 'kernel', 'index.js')).href)) as typeof import('../kernel/index.js');
  for (const kind of ['main', 'thread', 'process'] as const) {
    const domains: Record<string, { kind: typeof kind; components: string[] }> = kind === 'main'
      ? { main: { kind, components: [...BUILTIN, 'probe'] } }
      : { main: { kind: 'main', components: [...BUILTIN] }, p: { kind, components: ['probe'] } };
    const k = await boot({ policy: { name: `relative-${kind}`, modules: { probe: '../test/fixtures/probe.js' }, domains } });
    try {
      t.same(await k.call('probe', 'echo', { value: kind }), kind, `${kind}: the probe answers`);
    } finally {
      await k.halt();
    }
  }
});
