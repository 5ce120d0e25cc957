// While vfs gives a restarted ext2 back the changes since the last sync (its replay log), no
// other syscall may reach the mount: it would see the file system half replayed — a file that
// the log truncates and then writes again reads as empty in between — or reach it with a handle
// of the lost incarnation. Found by the load run of `rumpus serve` (fsync-acknowledged files that
// read back as 0 bytes for a moment after ext2 restarted). A delay on blk's reads holds the
// replay open long enough for calls from other processes to arrive in the middle of it.

import t from 'tap';
import { join } from 'node:path';
import { DEFAULT_MOUNTS, O_CREAT, O_TRUNC, O_WRONLY, boot } from '../kernel/index.js';
import { FAKE_TIME, UUID, fsckClean, seededBytes, tempDir } from './lib/e2fs.js';

const dir = tempDir();
const img = join(dir, 'replay-window.img');

t.test('no syscall sees a file system in the middle of its replay', async (t) => {
  const k0 = await boot({ policy: 'monolithic', mounts: [] });
  await k0.call('ext2', 'mkfs', { source: img, size: 16 * 1024 * 1024, uuid: UUID, time: FAKE_TIME });
  await k0.halt();

  const k = await boot({ policy: 'microkernel', mounts: [...DEFAULT_MOUNTS, { target: '/mnt', fstype: 'ext2', source: img }] });
  try {
    const writer = await k.spawn();
    const readers = await Promise.all(Array.from({ length: 12 }, () => 0).map(() => k.spawn()));
    const first = seededBytes(70_000, 1);
    const second = seededBytes(90_000, 2);
    await writer.writeFile('/mnt/f', first);
    await writer.sync(); // the log starts here
    // The log now holds a truncation of f and a write of its new content, both acknowledged.
    const fd = await writer.open('/mnt/f', O_WRONLY | O_CREAT | O_TRUNC);
    await writer.writeAll(fd, second);
    const readFds = await Promise.all(readers.map((r) => r.open('/mnt/f', 'r')));
    const writerRead = await writer.open('/mnt/f', 'r');

    // The restarted ext2's cache is cold: each block it reads from blk in the replay takes 150 ms.
    await k.inject({ component: 'blk', type: 'delay', op: 'read', ms: 150, count: 0 });
    // A read, not a stat: vfs answers a stat of a path walked before from its name cache.
    await k.inject({ component: 'ext2', type: 'crash', op: 'read' });
    const trigger = writer.pread(writerRead, second.length + 10, 0); // meets the crash; its retry mounts again and replays
    // Once ext2 is back, vfs mounts it again and replays. Readers start one by one from then on,
    // so that some of them call while the replay runs (the reads of a cold cache make it last).
    for (let i = 0; i < 500 && !k.events.some((e) => e.kind === 'restarted' && e.components.includes('ext2')); i++) {
      await new Promise((res) => setTimeout(res, 10));
    }
    const seen = await Promise.all(readers.map(async (r, i) => {
      await new Promise((res) => setTimeout(res, 100 * i));
      const byPath = i % 2 === 0;
      const got = byPath ? await r.readFile('/mnt/f') : await r.pread(readFds[i], second.length + 10, 0);
      return { reader: i, how: byPath ? 'by path' : 'on an fd opened before', length: got.length, same: Buffer.from(got).equals(Buffer.from(second)) };
    }));
    t.ok(Buffer.from(await trigger).equals(Buffer.from(second)), 'the call that met the crash sees the file whole');
    t.same(seen.filter((s) => !s.same), [], 'every read gave the acknowledged content');
    await k.clearFaults();
    await k.settled();
    t.ok(k.domains().find((d) => d.name === 'ext2')!.restarts >= 1, 'ext2 was restarted');
  } finally {
    await k.halt();
  }
  t.ok(fsckClean(img).clean, 'e2fsck finds the image clean');
});
