// A file unlinked (or renamed over) while open lives until its last close, also across a
// restart of its file system: vfs replays the unlink into the new incarnation, and opens the
// open files there again — before the replay those still on its disk, and those the replay
// makes again as soon as it makes them. Opened only after the replay, the file was freed by
// the replayed unlink under its fd, which then read EIO (found by attack).

import t from 'tap';
import { O_CREAT, O_EXCL, O_RDWR } from '../kernel/index.js';
import { tempDir } from './lib/e2fs.js';
import { onExt2Mounts } from './lib/mounted.js';

const dir = tempDir('rumpus-restart-unlinked-');
const DATA = new Uint8Array(3000).map((_, i) => i % 251);

const cases = [
  { policy: 'microkernel', synced: true, how: 'unlink' },
  { policy: 'microkernel', synced: false, how: 'unlink' },
  { policy: 'microkernel', synced: false, how: 'rename over' },
  { policy: 'multiprocess', synced: true, how: 'rename over' },
] as const;

for (const c of cases) {
  const when = c.synced ? 'made and synced before' : 'made since the last sync';
  t.test(`${c.policy}: a file ${when}, open, removed by ${c.how}, then ext2 restarts: its fd reads it, its close frees it`, async (t) => {
    await onExt2Mounts(t, { policy: c.policy, at: ['/mnt/e'], image: { size: 4 * 1024 * 1024, blockSize: 1024 }, dir }, async (p, k) => {
      await p.writeFile('/mnt/e/other', 'other');
      await p.sync();
      const before = await p.statfs('/mnt/e');
      const fd = await p.open('/mnt/e/f', O_CREAT | O_EXCL | O_RDWR, 0o644);
      t.equal(await p.write(fd, DATA), DATA.length);
      if (c.synced) await p.sync();
      if (c.how === 'unlink') await p.unlink('/mnt/e/f');
      else await p.rename('/mnt/e/other', '/mnt/e/f');
      await k.inject({ component: 'ext2', type: 'crash', op: 'read' });
      t.same(await p.pread(fd, 4000, 0), DATA, 'read through the restart');
      await k.settled();
      t.equal(k.domains().find((d) => d.name === 'ext2')?.restarts, 1, 'ext2 restarted');
      t.equal((await p.fstat(fd)).nlink, 0, 'no name left');
      await p.close(fd);
      if (c.how === 'rename over') t.equal(new TextDecoder().decode(await p.readFile('/mnt/e/f')), 'other', 'the name holds what was renamed over it');
      const after = await p.statfs('/mnt/e');
      t.same([after.ffree, after.bfree], [before.ffree, before.bfree], 'its inode and blocks freed at its close');
    });
  });
}
