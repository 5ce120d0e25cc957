// ext2 dies again while vfs mounts it again after a restart — at an open of an open file, or
// at a change of the replay — and nothing acknowledged is lost: vfs keeps the whole replay log
// for the next incarnation instead of dropping it (the changes since the last sync, then fsync
// and sync EIO). The first crash strikes an op on a second mount, so that the first is mounted
// again only at its next op, after the second fault is armed (a fault lives in the domain and
// goes with it). Found by attack.

import t from 'tap';
import { join } from 'node:path';
import { O_RDWR, boot } from '../kernel/index.js';
import { fsckClean, mkImage, tempDir } from './lib/e2fs.js';
import { errnoOf } from './lib/errno.js';

const dir = tempDir('rumpus-restart-replay-');
const enc = new TextEncoder();
const dec = new TextDecoder();
let images = 0;

const cases = [
  { policy: 'microkernel', op: 'open' },
  { policy: 'microkernel', op: 'create' },
  { policy: 'multiprocess', op: 'write' },
] as const;

for (const c of cases) {
  t.test(`${c.policy}: ext2 dies again at ${c.op === 'open' ? 'an open' : `a replayed ${c.op}`} while mounted again: nothing unsynced is lost`, async (t) => {
    const imgE = join(dir, `${++images}-e.img`);
    const imgF = join(dir, `${images}-f.img`);
    mkImage(imgE, { size: 4 * 1024 * 1024, blockSize: 1024 });
    mkImage(imgF, { size: 4 * 1024 * 1024, blockSize: 1024 });
    const k = await boot({ policy: c.policy });
    try {
      const p = await k.spawn();
      await p.mkdir('/mnt/e', { recursive: true });
      await p.mkdir('/mnt/f', { recursive: true });
      await p.mount('/mnt/e', 'ext2', { source: imgE });
      await p.mount('/mnt/f', 'ext2', { source: imgF });
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
      await p.unmount('/mnt/e');
      await p.unmount('/mnt/f');
    } finally {
      await k.halt();
    }
    const fsck = fsckClean(imgE);
    t.ok(fsck.clean, `e2fsck clean${fsck.clean ? '' : `: ${fsck.report}`}`);
  });
}
