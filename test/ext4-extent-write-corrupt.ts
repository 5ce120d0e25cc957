// A damaged extent tree block met by a change (a write into a hole, a truncate) on an image
// rumpus writes (mke2fs -t ext2 -O extent, 1 KiB blocks): known damage is EUCLEAN naming the
// node, seeded damage gives an errno or success within a bound, never a hang or an internal
// error, and the rest of the system (tmpfs at /tmp) goes on serving — under monolithic and
// microkernel. RUMPUS_FUZZ_SEEDS=N runs N seeded damages.

import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_MOUNTS, boot } from '../kernel/index.js';
import { attempt } from './lib/attempt.js';
import { readAt, writeAt } from './lib/disks.js';
import { debugfs, mkImage, random, seededBytes, tempDir } from './lib/e2fs.js';
import { NO_E2FSPROGS } from './lib/ext4.js';

const MiB = 1024 * 1024;
const dir = tempDir('rumpus-extent-corrupt-');
const POLICIES = ['monolithic', 'microkernel'];
const SEEDS = Number(process.env.RUMPUS_FUZZ_SEEDS ?? 6);

t.test('a damaged extent block met by a write is EUCLEAN, and the rest goes on', { skip: NO_E2FSPROGS }, async (t) => {
  const bs = 1024;
  const img = join(dir, 'corrupt.img');
  mkImage(img, { size: 8 * MiB, blockSize: bs, features: 'extent' });
  // A file of 20 separate extents: more than i_block holds, so its leaf is a block.
  const k0 = await boot({ policy: 'monolithic', mounts: [...DEFAULT_MOUNTS, { target: '/mnt', fstype: 'ext2', source: img }] });
  try {
    const p = await k0.spawn();
    const fd = await p.open('/mnt/f', 'w');
    for (let l = 0; l < 40; l += 2) await p.pwrite(fd, seededBytes(bs, l), l * bs);
    await p.close(fd);
  } finally {
    await k0.halt();
  }
  const etb = Number(/\(ETB0\):(\d+)/.exec(debugfs(img, 'stat /f'))![1]);
  const rnd = random(7);
  const damages: [string, number, number[]][] = [
    ['eh_magic', 0, [0, 0]],
    ['eh_entries past eh_max', 2, [0xe8, 0x03]],
    ['an extent out of order', 12 + 12, [0, 0, 0, 0]],
    // Seeded damage anywhere in the node's header and first entries: any errno, or success, within the bound.
    ...Array.from({ length: SEEDS }, (_, i): [string, number, number[]] => [`seeded damage ${i}`, Math.floor(rnd() * 60), [Math.floor(rnd() * 256)]]),
  ];
  for (const policy of POLICIES) {
    const k = await boot({ policy, mounts: DEFAULT_MOUNTS });
    try {
      const p = await k.spawn();
      await p.mkdir('/mnt');
      for (const [what, at, bytes] of damages) {
        const copy = join(dir, 'corrupt-copy.img');
        writeFileSync(copy, readFileSync(img));
        writeAt(copy, etb * bs + at, Uint8Array.from(bytes));
        const seeded = what.startsWith('seeded');
        if (!seeded) t.not(Buffer.from(readAt(copy, etb * bs, 64)).equals(Buffer.from(readAt(img, etb * bs, 64))), `${what}: the block is damaged`);
        await p.mount('/mnt', 'ext2', { source: copy });
        for (const [op, call] of [
          ['a write into a hole', () => p.open('/mnt/f', 'r+').then(async (fd) => { try { await p.pwrite(fd, 'x', 41 * bs); } finally { await p.close(fd); } })],
          ['a truncate', () => p.truncate('/mnt/f', 3 * bs)],
        ] as [string, () => Promise<unknown>][]) {
          let message = '';
          const errno = await attempt(t, `${policy}, ${what}: ${op}`, () => call().catch((err: Error) => { message = err.message; throw err; }));
          if (seeded) {
            t.not(errno, 'broken', `${policy}, ${what}: ${op} answers ${errno}`);
            continue;
          }
          t.equal(errno, 'EUCLEAN', `${policy}, ${what}: ${op} is EUCLEAN`);
          t.match(message, /extent tree node at block \d+/, `${policy}, ${what}: naming the node`);
        }
        await p.writeFile('/tmp/alive', what);
        t.equal(Buffer.from(await p.readFile('/tmp/alive')).toString(), what, `${policy}, ${what}: the rest of the system still serves`);
        await p.unmount('/mnt');
      }
    } finally {
      await k.halt();
    }
  }
});
