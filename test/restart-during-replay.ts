// ext2 dies again while vfs mounts it again after a restart — at an open of an open file, or
// at a change of the replay — and nothing acknowledged is lost: vfs keeps the whole replay log
// for the next incarnation instead of dropping it (the changes since the last sync, then fsync
// and sync EIO). The first crash strikes an op on a second mount, so that the first is mounted
// again only at its next op, after the second fault is armed (a fault lives in the domain and
// goes with it). Found by attack.

import t from 'tap';
import { O_RDWR } from '../kernel/index.js';
import { tempDir } from './lib/e2fs.js';
import { errnoOf } from './lib/errno.js';
import { onExt2Mounts } from './lib/mounted.js';

const dir = tempDir('rumpus-restart-replay-');
const enc = new TextEncoder();
const dec = new TextDecoder();

const cases = [
  { policy: 'microkernel', op: 'open' },
  { policy: 'microkernel', op: 'create' },
  { policy: 'multiprocess', op: 'write' },
] as const;

for (const c of cases) {
  t.test(`${c.policy}: ext2 dies again at ${c.op === 'open' ? 'an open' : `a replayed ${c.op}`} while mounted again: nothing unsynced is lost`, async (t) => {
    await onExt2Mounts(t, { policy: c.policy, at: ['/mnt/e', '/mnt/f'], image: { size: 4 * 1024 * 1024, blockSize: 1024 }, dir }, async (p, k) => {
      await p.writeFile('/mnt/f/x', 'x');
      await p.writeFile('/mnt/e/a', 'synced-a');
      const fd = await p.open('/mnt/e/a', O_RDWR, 0);
      await p.sync();
      await p.writeFile('/mnt/e/g', 'unsynced-g'); // a create and a write, in the replay log only
      await p.pwrite(fd, enc.encode('UNSYNCED'), 0);

      await k.inject({ component: 'ext2', type: 'crash', op: 'read' });
      t.equal(dec.decode(await p.readFile('/mnt/f/x')), 'x', 'the first crash, on /mnt/f');
      await k.settled();
      await k.inject({ component: 'ext2', type: 'crash', op: c.op });
      t.equal(await errnoOf(p.pread(fd, 100, 0)), 'EIO', 'the second, while /mnt/e is mounted again: the pread that met it fails');
      await k.settled();

      t.equal(dec.decode(await p.pread(fd, 100, 0)), 'UNSYNCED', 'the unsynced write is there');
      t.equal(dec.decode(await p.readFile('/mnt/e/g')), 'unsynced-g', 'and the unsynced file');
      await p.fsync(fd);
      await p.sync();
      await p.close(fd);
    });
  });
}
