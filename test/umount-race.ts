// Unmount racing a path walk (issue 10, item 5): a walk that meets the file system as it goes
// away never makes vfs mount it again, and once unmount() returns the image is released — another
// program may change it, and halting the first kernel later changes nothing on it (e2fsck clean,
// the other program's changes kept). Also: a refused unmount (EBUSY) leaves the mount serving,
// and the same image can be mounted again after an unmount.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { boot, type Kernel } from '../kernel/index.js';
import { debugfs, fsckClean, mkImage, tempDir } from './lib/e2fs.js';

const POLICIES = ['monolithic', 'microkernel', 'multiprocess'];
/** Runs per policy: the race does not hit every time. */
const RUNS = 2;
/** A generous bound on settling at all: the bug this guards against is a hang. */
const SETTLE_MS = 45_000;
const dir = tempDir('rumpus-umount-race-');

/** Resolves with what `p` resolves to, or fails the test with `what` if it does not settle in time. */
function settles<T>(p: Promise<T>, what: string): Promise<T> {
  let timer!: ReturnType<typeof setTimeout>;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: did not settle in ${SETTLE_MS} ms`)), SETTLE_MS)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

const bootWith = (policy: string, img: string) =>
  boot({ policy, mounts: [{ target: '/', fstype: 'tmpfs' }, { target: '/mnt', fstype: 'ext2', source: img }] });

/** What another program does to the image once it is released: a kernel of its own. */
async function changeElsewhere(img: string): Promise<void> {
  const other = await bootWith('monolithic', img);
  try {
    const p = await other.spawn({ uid: 0, gid: 0 });
    await p.mkdir('/mnt/made-after');
    await p.writeFile('/mnt/copied', 'copied in by another program\n');
    await p.unlink('/mnt/data');
  } finally {
    await other.halt();
  }
}

for (const policy of POLICIES) {
  for (let run = 1; run <= RUNS; run++) {
    t.test(`${policy}, run ${run}: unmount while another process stats a file under the mount`, async (t) => {
      const img = join(dir, `${policy}-${run}.img`);
      mkImage(img, { size: 8 * 1024 * 1024 });
      const k: Kernel = await bootWith(policy, img);
      let halted = false;
      t.teardown(() => (halted ? undefined : k.halt()));
      const root = await k.spawn({ uid: 0, gid: 0 });
      const other = await k.spawn({ uid: 0, gid: 0 });
      await root.writeFile('/mnt/data', 'x'.repeat(100_000));

      const fd = await root.open('/mnt/data', 'r');
      await t.rejects(settles(root.unmount('/mnt'), 'unmount'), { errno: 'EBUSY', message: /in use/ }, 'an open file keeps the mount busy');
      t.equal((await root.stat('/mnt/data')).size, 100_000, 'the mount still serves after the refused unmount');
      await root.close(fd);

      let stop = false;
      const errnos = new Set<string>();
      const hammer = (async () => {
        for (let i = 0; i < 1_000_000 && !stop; i++) {
          await other.stat('/mnt/data').catch((e) => errnos.add(e.errno ?? String(e)));
          await new Promise((r) => setImmediate(r)); // lets timers run under monolithic
        }
      })();
      await new Promise((r) => setTimeout(r, 50));
      const unmounted = await settles(root.unmount('/mnt').then(() => 'OK', (e) => e.errno ?? String(e)), 'unmount');
      stop = true;
      await settles(hammer, 'the racing stats');
      t.equal(unmounted, 'OK', 'unmount returns OK');
      t.notOk((await root.mounts()).some((m) => m.target === '/mnt'), '/mnt is gone from the mount table');
      t.same([...errnos].filter((e) => e !== 'ENOENT'), [], 'a stat racing the unmount finds the file or, after it, nothing (ENOENT)');

      await changeElsewhere(img);
      await settles(k.halt(), 'halt');
      halted = true;

      const fsck = fsckClean(img);
      t.ok(fsck.clean, `e2fsck -fn and -fy on a copy are clean after the first kernel halted\n${fsck.report}`);
      t.match(debugfs(img, 'stat /made-after'), /Type: directory/, "the other program's directory is on the image");
      t.equal(debugfs(img, 'cat /copied'), 'copied in by another program\n', "the other program's file is on the image");
      t.notMatch(debugfs(img, 'stat /data'), /Inode:/, 'the file the other program removed stays removed');
      t.notOk(existsSync(`${img}.wal`), 'no write-ahead log is left beside the image');
    });
  }

  t.test(`${policy}: the image mounts again after an unmount, as it was left`, async (t) => {
    const img = join(dir, `${policy}-again.img`);
    mkImage(img, { size: 8 * 1024 * 1024 });
    const k = await bootWith(policy, img);
    t.teardown(() => k.halt());
    const p = await k.spawn({ uid: 0, gid: 0 });
    await p.writeFile('/mnt/kept', 'kept\n');
    await settles(p.unmount('/mnt'), 'unmount');
    await settles(p.mount('/mnt', 'ext2', { source: img }), 'mount again');
    t.equal(new TextDecoder().decode(await p.readFile('/mnt/kept')), 'kept\n', 'mounted again, the image has what was written');
    await settles(k.halt(), 'halt');
    const fsck = fsckClean(img);
    t.ok(fsck.clean, fsck.report);
  });
}
