// Bundles the entries of thread and process domains, as tsc compiled them into dist/kernel/,
// each with everything it imports, into one CommonJS file beside it (NAME.bundle.cjs): a new
// domain then loads one file instead of some forty ES modules, which is most of what it costs
// to start (kernel/bundles.ts picks the bundle). A warning fails the build and writes
// nothing: esbuild warns, for one, when bundled code uses import.meta, empty in CommonJS.
//
// The thread entry is also bundled once per built-in component with only that component's
// server (domain-thread.COMPONENT.bundle.cjs), for a domain that hosts just it: a worker then
// compiles a fraction of the code. The full bundles stay for spares and for domains that host
// several built-in components.

import { build } from 'esbuild';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BUILTIN } from '../dist/kernel/registry.js';

const kernelDir = fileURLToPath(new URL('../dist/kernel/', import.meta.url));

/**
 * Resolves the index module of every built-in server but `keep` to a stub that throws when it
 * is loaded: registry.ts imports them with literal import() calls, and each import only runs
 * when a domain is asked to load that component.
 */
const onlyServer = (keep, bundle) => ({
  name: 'only-server',
  setup(b) {
    b.onResolve({ filter: /\/servers\/[a-z0-9]+\/index\.js$/ }, ({ path }) => {
      const name = path.match(/\/servers\/([a-z0-9]+)\/index\.js$/)[1];
      return name === keep ? undefined : { path: name, namespace: 'absent-server' };
    });
    b.onLoad({ filter: /.*/, namespace: 'absent-server' }, ({ path }) => ({
      contents: `throw new Error(${JSON.stringify(`${bundle} holds only the ${keep} server, not ${path}`)});`,
      loader: 'js',
    }));
  },
});

async function bundle(entry, outName, plugins = []) {
  const { warnings, outputFiles } = await build({
    entryPoints: [`${kernelDir}${entry}.js`],
    outfile: `${kernelDir}${outName}`,
    write: false,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['msgpackr-extract', 'argon2'], // native add-ons: msgpackr's, which domains do not load; argon2, which hyp loads from node_modules
    plugins,
    // Less for each worker to parse (330 -> 210 KB); identifiers are kept for stack traces, as
    // renaming them too gained nothing measurable at load.
    minifyWhitespace: true,
    minifySyntax: true,
    logLevel: 'warning',
  });
  if (warnings.length > 0) {
    console.error(`scripts/bundle.mjs: ${outName} not made: see the warnings above`);
    process.exit(1);
  }
  for (const file of outputFiles) writeFileSync(file.path, file.contents);
}

for (const entry of ['domain-thread', 'domain-process']) await bundle(entry, `${entry}.bundle.cjs`);
for (const c of BUILTIN) {
  const outName = `domain-thread.${c}.bundle.cjs`;
  await bundle('domain-thread', outName, [onlyServer(c, outName)]);
}
