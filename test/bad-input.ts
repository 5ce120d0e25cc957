// Bad input gets an errno and a sentence, and the kernel goes on serving: malformed
// placements are refused at boot; unknown ops, wrong argument types, calls outside `requires`
// and misaligned block I/O are refused at run time, under every policy.

import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import t, { type Test } from 'tap';
import { BUILTIN } from '../kernel/registry.js';
import { SysError, boot, type Kernel } from '../kernel/index.js';
import { ALL_POLICIES, policyName } from './lib/policies.js';

const fixture = (name: string) => pathToFileURL(join(import.meta.dirname, 'fixtures', name)).href;

/** Places every built-in component in main, plus the given domains and modules. */
function placement(extra: Record<string, { kind: string; components: string[] }>, modules: Record<string, string> = {}, mainless: string[] = []) {
  return {
    name: 'test',
    domains: { main: { kind: 'main', components: BUILTIN.filter((c) => !mainless.includes(c)) }, ...extra },
    modules,
  };
}

async function refused(t: Test, spec: unknown, pattern: RegExp, what: string) {
  await t.rejects(boot({ policy: spec as never }), { errno: 'EINVAL', message: pattern }, what);
}

t.test('malformed placements are refused at boot with a sentence naming the problem', async (t) => {
  await refused(t, placement({}, { probe: fixture('probe.ts') }), /component 'probe' is not placed/, 'a component placed nowhere');
  await refused(t, placement({ x: { kind: 'thread', components: ['nosuch'] } }), /unknown component 'nosuch'/, 'an unknown component');
  await refused(t, placement({ x: { kind: 'fiber', components: [] } }), /unknown kind 'fiber'/, 'an unknown domain kind');
  await refused(t, placement({ x: { kind: 'thread', components: ['tmpfs'] } }), /'tmpfs' is placed twice/, 'a component placed twice');
  await refused(
    t,
    placement({ x: { kind: 'thread', components: ['cyclea', 'cycleb'] } }, { cyclea: fixture('cycle-a.ts'), cycleb: fixture('cycle-b.ts') }),
    /cycle: cyclea → cycleb → cyclea/,
    'a requires cycle',
  );
  await refused(t, placement({ other: { kind: 'main', components: [] } }), /must be of kind main/, 'a second main domain');
  await refused(t, { domains: [] }, /"domains" must be an object/, 'domains as an array');
  await refused(t, [], /must be a JSON object/, 'an array for a placement');

  const dir = mkdtempSync(join(tmpdir(), 'rumpus-placement-'));
  const broken = join(dir, 'broken.json');
  writeFileSync(broken, '{ "domains": ');
  await t.rejects(boot({ policy: broken }), { errno: 'EINVAL', message: /not valid JSON/ }, 'a placement file that is not JSON');
  await t.rejects(boot({ policy: join(dir, 'missing.json') }), { errno: 'ENOENT', message: /neither monolithic, microkernel, multiprocess nor a readable placement file/ }, 'a policy that is neither a name nor a file');
  const relative = join(dir, 'probe.json');
  writeFileSync(relative, JSON.stringify(placement({ p: { kind: 'thread', components: ['probe'] } }, { probe: join(import.meta.dirname, 'fixtures', 'probe.ts') })));
  const k = await boot({ policy: relative });
  t.equal(await k.call('probe', 'echo', { value: 'from a file' }), 'from a file', 'a placement file with a module path boots');
  await k.halt();
});

/** The policy's own placement with the probe component added to it (for the named policies). */
function withProbe(policy: string) {
  const kind = ({ monolithic: 'main', microkernel: 'thread', multiprocess: 'process' } as Record<string, string>)[policy];
  if (!kind) return null;
  const all = [...BUILTIN, 'probe'];
  const domains = kind === 'main'
    ? { main: { kind, components: all } }
    : Object.fromEntries(all.map((c) => [c, { kind, components: [c] }]));
  return { name: policy, modules: { probe: fixture('probe.ts') }, domains };
}

for (const policy of ALL_POLICIES) {
  t.test(`bad requests at run time fail cleanly under ${policyName(policy)}`, async (t) => {
    const spec = withProbe(policy);
    const k: Kernel = await boot({ policy: (spec ?? policy) as never });
    t.teardown(() => k.halt());
    const p = await k.spawn();
    const stillServing = async (what: string) => {
      await p.writeFile('/tmp/alive', what);
      t.equal(new TextDecoder().decode(await p.readFile('/tmp/alive')), what, `the kernel still serves after ${what}`);
    };

    await t.rejects(k.call('tmpfs', 'frobnicate', {}), { errno: 'ENOSYS', message: /tmpfs: unknown op 'frobnicate'/ }, 'an unknown op');
    await stillServing('an unknown op');
    await t.rejects(k.call('vfs', 'open', { pid: p.pid, path: 42, flags: 0, mode: 0 }), { errno: 'EINVAL', message: /argument 'path' must be a string, got 42/ }, 'a number for a path');
    await t.rejects(k.call('vfs', 'read', { pid: p.pid, fd: -1, length: 1 }), { errno: 'EINVAL', message: /'fd' must be a non-negative integer/ }, 'a negative fd');
    await t.rejects(k.call('vfs', 'read', { pid: p.pid, fd: 0 }), { errno: 'EINVAL', message: /missing argument 'length'/ }, 'a missing argument');
    await t.rejects(k.call('vfs', 'getpid', { pid: p.pid, extra: 1 }), { errno: 'EINVAL', message: /unknown argument 'extra'/ }, 'an unknown argument');
    await t.rejects(k.call('blk', 'write', { unit: 1, offset: 0, data: 'text' }), { errno: 'EINVAL', message: /'data' must be a Uint8Array/ }, 'a string for bytes');
    await t.rejects(k.call('vfs', 'getpid', { pid: 999 }), { errno: 'ESRCH', message: /no process 999/ }, 'a process that does not exist');
    await t.rejects(k.call('nosuch', 'x', {}), { errno: 'ENXIO', message: /no component named 'nosuch'/ }, 'a component that does not exist');
    await stillServing('wrong argument types');

    // Misaligned and out-of-range block I/O: EINVAL, and the file is not touched.
    const dir = mkdtempSync(join(tmpdir(), 'rumpus-blk-'));
    const img = join(dir, 'disk.img');
    writeFileSync(img, Buffer.alloc(8192, 7));
    const before = statSync(img).mtimeMs;
    const { unit } = await k.call<{ unit: number }>('blk', 'attach', { path: img });
    await t.rejects(k.call('blk', 'write', { unit, offset: 100, data: new Uint8Array(512) }), { errno: 'EINVAL', message: /not aligned/ }, 'a misaligned offset');
    await t.rejects(k.call('blk', 'write', { unit, offset: 0, data: new Uint8Array(100) }), { errno: 'EINVAL', message: /not aligned/ }, 'a misaligned length');
    await t.rejects(k.call('blk', 'write', { unit, offset: 8192, data: new Uint8Array(512) }), { errno: 'EINVAL', message: /past the end/ }, 'a write past the end');
    await t.rejects(k.call('blk', 'read', { unit, offset: 7680, length: 1024 }), { errno: 'EINVAL', message: /past the end/ }, 'a read past the end');
    await t.rejects(k.call('blk', 'commit', { unit, writes: [{ offset: 0, data: new Uint8Array(512) }, { offset: 1, data: new Uint8Array(512) }] }), { errno: 'EINVAL', message: /not aligned/ }, 'a commit with one bad write');
    t.same(readFileSync(img), Buffer.alloc(8192, 7), 'the file is untouched');
    t.equal(statSync(img).mtimeMs, before, 'not even its mtime changed');
    await k.call('blk', 'write', { unit, offset: 512, data: new Uint8Array(512).fill(1) });
    t.same(Array.from((await k.call<Uint8Array>('blk', 'read', { unit, offset: 512, length: 512 })).subarray(0, 4)), [1, 1, 1, 1], 'aligned I/O works');
    await k.call('blk', 'detach', { unit });
    await stillServing('bad block I/O');

    if (spec) {
      await t.rejects(k.call('probe', 'poke', { component: 'blk', op: 'info', args: { unit: 1 } }), { errno: 'EPERM', message: /probe may not call blk.info: 'blk' is not in its requires/ }, 'a call outside requires');
      t.ok(await k.call('probe', 'poke', { component: 'tmpfs', op: 'mount', args: {} }), 'a call inside requires');
      await t.rejects(k.call('probe', 'fail', {}), { errno: 'EIO', message: /probe.fail: internal error: TypeError: a bug in the probe/ }, 'a bug becomes EIO with a sentence, not a stack trace');
      t.same(await k.call('probe', 'echo', { value: { nested: [1, 'two', new Uint8Array([3])] } }), { nested: [1, 'two', new Uint8Array([3])] }, 'values cross intact');
      await stillServing('refused calls');
    }
  });
}

t.test('SysError reads the same as strerror', async (t) => {
  const e = new SysError('ENOENT');
  t.equal(e.message, 'No such file or directory');
  t.equal(e.number, 2);
});
