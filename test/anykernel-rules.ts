// The anykernel rules, checked on the source tree: a server imports no node: module and
// nothing from the kernel but its component API; ipc/ never imports kernel/.

import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import t from 'tap';

const ROOT = resolve(import.meta.dirname, '..');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : [];
  });
}

function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|require\(\s*['"]([^'"]+)['"]\s*\)/g)]
    .map((m) => m[1] ?? m[2] ?? m[3]);
}

t.test('servers import no node: module, no package, and only kernel/api.ts of the kernel', async (t) => {
  const files = sources(join(ROOT, 'servers'));
  t.ok(files.length > 5, 'found the servers');
  const bad: string[] = [];
  for (const file of files) {
    const ownDir = relative(ROOT, file).split('/').slice(0, 2).join('/');
    for (const spec of imports(file)) {
      if (!spec.startsWith('.')) {
        bad.push(`${relative(ROOT, file)} imports '${spec}'`);
        continue;
      }
      const target = relative(ROOT, resolve(file, '..', spec)).replace(/\.js$/, '.ts');
      if (target !== 'kernel/api.ts' && !target.startsWith(ownDir + '/')) bad.push(`${relative(ROOT, file)} imports ${target}`);
    }
  }
  t.same(bad, [], 'every import stays inside the server or the component API');
});

t.test('ipc/ does not import kernel/', async (t) => {
  const bad = sources(join(ROOT, 'ipc')).flatMap((file) =>
    imports(file).filter((s) => s.includes('kernel/')).map((s) => `${relative(ROOT, file)} imports ${s}`));
  t.same(bad, []);
});

t.test('the import check catches a node: import', async (t) => {
  t.same(imports(join(ROOT, 'kernel/hyp-host.ts')).filter((s) => s.startsWith('node:')).sort(), ['node:fs']);
});
