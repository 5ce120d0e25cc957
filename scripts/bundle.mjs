// Bundles the entries of thread and process domains, as tsc compiled them into dist/kernel/,
// each with everything it imports, into one CommonJS file beside it (NAME.bundle.cjs): a new
// domain then loads one file instead of some forty ES modules, which is most of what it costs
// to start (kernel/domain-host.ts picks the bundle). A warning fails the build and writes
// nothing: esbuild warns, for one, when bundled code uses import.meta, empty in CommonJS.

import { build } from 'esbuild';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const kernelDir = fileURLToPath(new URL('../dist/kernel/', import.meta.url));

for (const entry of ['domain-thread', 'domain-process']) {
  const { warnings, outputFiles } = await build({
    entryPoints: [`${kernelDir}${entry}.js`],
    outfile: `${kernelDir}${entry}.bundle.cjs`,
    write: false,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['msgpackr-extract'], // msgpackr's native add-on, which domains do not load
    logLevel: 'warning',
  });
  if (warnings.length > 0) {
    console.error(`scripts/bundle.mjs: ${entry} not bundled: see the warnings above`);
    process.exit(1);
  }
  for (const file of outputFiles) writeFileSync(file.path, file.contents);
}
