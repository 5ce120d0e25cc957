// Crash consistency through cgd: after a crash of cgd, of blk under it, of the cipher (in a
// thread, and a worker of its pool), of ext2 over it or of vfs, in the middle of fsync'd appends to a
// file in a LUKS2 container, every fsync-acknowledged byte reads back and the payload, decrypted
// with the volume key cryptsetup dumps, passes e2fsck.

import { join } from 'node:path';
import t from 'tap';
import { DEFAULT_MOUNTS, boot, type FaultSpec, type PlacementSpec } from '../kernel/index.js';
import { FAST_KDF, KEY, cipherIn, cryptsetupMissing, decryptPayload } from './lib/cgd.js';
import { fsyncedAppends } from './lib/appends.js';
import { fsckClean, tempDir } from './lib/e2fs.js';

const MiB = 1024 * 1024;
const dir = tempDir('rumpus-cgd-crash-');
// A crash is noticed at once; the deadline of a call is a busy machine's (a pool's first worker
// starts within a call), as no hang is injected here.
const FAST = { heartbeat: { periodMs: 200, timeoutMs: 5000 }, calls: { timeoutMs: 20_000, tries: 3, reconnectMs: 20_000 } };
const missing = cryptsetupMissing();
const key = new TextEncoder().encode(KEY);

const line = (i: number) => `line ${String(i).padStart(3, '0')} of the encrypted log\n`;

/** Makes a container with an ext2 inside, then appends with fsync while `fault` hits; returns the lines acknowledged. */
async function appendThrough(policy: PlacementSpec, img: string, fault: FaultSpec): Promise<{ acked: number[]; restarts: number }> {
  const k = await boot({ policy, memoryLimitMb: 96, ...FAST });
  try {
    await k.call('cgd', 'format', { path: img, size: 16 * MiB + 6 * MiB, key, kdf: FAST_KDF });
    await k.call('ext2', 'mkfs', { source: img, key, blockSize: 1024 });
    const p = await k.spawn();
    await p.mkdir('/mnt');
    await p.mount('/mnt', 'ext2', { source: img, key });
    await p.writeFile('/mnt/before', 'synced before the crash');
    await p.sync();
    await k.inject(fault);
    const acked = await fsyncedAppends(p, '/mnt/log', line);
    await k.settled();
    return { acked, restarts: k.domains().reduce((n, d) => n + d.restarts, 0) };
  } finally {
    await k.halt();
  }
}

const CASES: { policy: ReturnType<typeof cipherIn>; fault: FaultSpec }[] = [
  { policy: cipherIn('microkernel', 'thread'), fault: { component: 'cgd', type: 'crash', op: 'commit', after: 4 } },
  { policy: cipherIn('multiprocess', 'pool'), fault: { component: 'cgd', type: 'crash', op: 'commit', after: 4 } },
  { policy: cipherIn('microkernel', 'thread'), fault: { component: 'blk', type: 'crash', op: 'commit', after: 4 } },
  { policy: cipherIn('microkernel', 'thread'), fault: { component: 'ext2', type: 'crash', op: 'fsync', after: 5 } },
  // vfs mounts again from what it kept, the key included.
  { policy: cipherIn('microkernel', 'thread'), fault: { component: 'vfs', type: 'crash', op: 'fsync', after: 5 } },
  { policy: cipherIn('microkernel', 'thread'), fault: { component: 'cipher', type: 'crash', op: 'encrypt', after: 6 } },
  { policy: cipherIn('microkernel', 'pool'), fault: { component: 'cipher', type: 'crash', op: 'encrypt', after: 6 } },
];

for (const { policy, fault } of CASES) {
  t.test(`${policy.name}: ${fault.component} ${fault.type} at ${fault.op}: fsynced bytes survive, e2fsck is clean`, { skip: missing ?? false }, async (t) => {
    const img = join(dir, `${policy.name.replace(/[^a-z]+/g, '-')}-${fault.component}.img`);
    const { acked, restarts } = await appendThrough(policy.policy, img, fault);
    t.ok(restarts >= 1, `the component was restarted (${restarts})`);
    t.ok(acked.length >= 20, `most appends were acknowledged (${acked.length} of 40)`);
    const k = await boot({ mounts: [...DEFAULT_MOUNTS, { target: '/mnt', fstype: 'ext2', source: img, readonly: true, key }] });
    try {
      const p = await k.spawn();
      const log = new TextDecoder().decode(await p.readFile('/mnt/log'));
      t.same(acked.filter((i) => !log.includes(line(i))), [], 'every acknowledged line is in the container');
      t.equal(new TextDecoder().decode(await p.readFile('/mnt/before')), 'synced before the crash');
    } finally {
      await k.halt();
    }
    const fsck = fsckClean(decryptPayload(img, `${img}.plain`));
    t.ok(fsck.clean, fsck.report);
  });
}
