// The compiled kernel, as `npm start` and the rumpus command run it: its thread and process
// domains load from the CommonJS bundles that `npm run build` makes (scripts/bundle.mjs), a
// component a placement adds is still imported from its own module, and halt ends them all.

import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import t from 'tap';
import { alive, threads } from './lib/os.js';

const dist = join(import.meta.dirname, '..', 'dist');
const entry = (kind: string) => join(dist, 'kernel', `domain-${kind}.js`);
const bundle = (kind: string) => join(dist, 'kernel', `domain-${kind}.bundle.cjs`);

/** Waits up to a second for a condition the OS reports asynchronously (thread exit). */
async function eventually(check: () => boolean): Promise<boolean> {
  for (let i = 0; i < 100 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  return check();
}

const skip = existsSync(join(dist, 'kernel', 'index.js')) ? false : 'dist/ is missing: `npm run build` compiles the kernel';
const probe = pathToFileURL(join(dist, 'test', 'fixtures', 'probe.js')).href;

for (const [policy, kind] of [['microkernel', 'thread'], ['multiprocess', 'process']] as const) {
  t.test(`compiled ${policy}: domains run from the ${kind} bundle`, { skip }, async (t) => {
    const { boot } = (await import(pathToFileURL(join(dist, 'kernel', 'index.js')).href)) as typeof import('../kernel/index.js');
    t.ok(existsSync(bundle(kind)) && statSync(bundle(kind)).mtimeMs >= statSync(entry(kind)).mtimeMs,
      `${bundle(kind)} is there and not older than its entry (npm run build makes it; tsc alone does not)`);
    const threadsBefore = threads();
    const components = ['vfs', 'tmpfs', 'dev', 'ext2', 'blk', 'probe'];
    const k = await boot({
      policy: { name: policy, modules: { probe }, domains: Object.fromEntries(components.map((c) => [c, { kind, components: [c] }])) },
    });
    const domains = k.domains();
    t.same(domains.map((d) => d.bundle), domains.map(() => bundle(kind)), 'every domain says its code came from the bundle');

    const p = await k.spawn();
    await p.writeFile('/tmp/hello', 'hello from the bundle');
    t.equal(new TextDecoder().decode(await p.readFile('/tmp/hello')), 'hello from the bundle', 'a file on /tmp reads back');
    t.equal(await p.getpid(), p.pid, 'getpid');
    t.same(await k.call('probe', 'echo', { value: [1, 'two'] }), [1, 'two'], 'a component from its own module (import() in the bundle) answers');

    const children = domains.filter((d) => d.kind === 'process').map((d) => d.id);
    await k.halt();
    t.ok(children.every((pid) => !alive(pid)), 'no child process is left');
    t.ok(await eventually(() => threads() <= threadsBefore), `no thread is left (${threads()} now, ${threadsBefore} before)`);
  });
}
