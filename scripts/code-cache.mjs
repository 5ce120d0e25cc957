// The build's third step, after bundle.mjs: warms V8's code cache of each thread bundle. It
// boots the compiled kernel with RUMPUS_SAVE_CODE_CACHE=1 — each built-in server in a thread
// of its own, then all of them in one thread (so that the full bundle, which spares start from,
// warms too) — makes the calls that a boot and a first use make, ext2 on an image included, and
// halts: as its components stop, each thread domain saves what V8 compiled beside its bundle
// (NAME.bundle.cjs.v8cache). A domain started from a bundle with a cache then skips compiling
// that code again: about 10 ms of a five-thread boot on 2 cores.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

process.env.RUMPUS_SAVE_CODE_CACHE = '1';
const { boot } = await import('../dist/kernel/index.js');
const { BUILTIN } = await import('../dist/kernel/registry.js');

const servers = [...BUILTIN];
// Each in a thread of its own (as microkernel places them, but a pure one, which it pools).
const eachInAThread = { name: 'warm-up-each', domains: Object.fromEntries(servers.map((c) => [c, { kind: 'thread', components: [c] }])) };
const oneThread = { name: 'warm-up', domains: { all: { kind: 'thread', components: servers } } };
const dir = mkdtempSync(join(tmpdir(), 'rumpus-warm-'));
const image = join(dir, 'warm.img');

try {
  for (const policy of [eachInAThread, oneThread]) {
    const k = await boot({ policy });
    try {
      await k.call('ext2', 'mkfs', { source: image, size: 4 << 20 });
      const p = await k.spawn();
      await p.mkdir('/mnt');
      await p.mount('/mnt', 'ext2', { source: image });
      for (const root of ['/tmp', '/mnt']) {
        await p.mkdir(`${root}/d`);
        await p.writeFile(`${root}/d/f`, 'warm');
        const fd = await p.open(`${root}/d/f`, 'r+');
        await p.pwrite(fd, new Uint8Array(8192), 4096);
        await p.pread(fd, 4096, 0);
        await p.fsync(fd);
        await p.close(fd);
        await p.readFile(`${root}/d/f`);
        await p.stat(`${root}/d/f`);
        await p.readdir(`${root}/d`);
        await p.rename(`${root}/d/f`, `${root}/d/g`);
        await p.unlink(`${root}/d/g`);
        await p.rmdir(`${root}/d`);
      }
      await p.writeFile('/dev/null', 'warm');
      await p.getpid();
      await p.unmount('/mnt');
    } finally {
      await k.halt();
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
