// The orphan list (s_last_orphan; i_dtime names the next orphan) on a journaled read-write
// mount, ext4 as mke2fs -t ext4 makes it:
// - files unlinked while open join the list in the commit of their unlink (dumpe2fs and
//   debugfs read the chain from the image) and leave it when their last close frees them, from
//   the head or the middle;
// - an image copied while they are open (as a crash leaves it): e2fsck alone clears the orphans
//   ("Clearing orphaned inode") with no leaked inode or block in passes 4 and 5, then is clean;
//   a read-only rumpus mount leaves the image as it is; a read-write one frees them, clean;
// - an ext2 restart (microkernel) keeps the list: the file is still open through vfs, and its
//   last close frees it.

import { copyFileSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import t from 'tap';
import { DEFAULT_MOUNTS, boot, type Proc } from '../kernel/index.js';
import { debugfs, debugfsWrite, fsckClean, seededBytes, superblock, tempDir } from './lib/e2fs.js';
import { errnoOf } from './lib/errno.js';
import { NO_E2FSPROGS } from './lib/ext4.js';
import { mkJournaled } from './lib/jbd2.js';

const MiB = 1024 * 1024;
const dir = tempDir('rumpus-ext4-orphan-');
const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

/** s_last_orphan as dumpe2fs shows it ("First orphan inode"), 0 when the list is empty. */
const lastOrphan = (img: string) => Number(superblock(img)['First orphan inode'] ?? 0);

/** An inode's i_dtime as debugfs shows it: on the orphan list, the next orphan's number. */
function dtime(img: string, ino: number): number {
  const m = /dtime: 0x([0-9a-f]+)/.exec(debugfs(img, `stat <${ino}>`));
  return m ? parseInt(m[1], 16) : 0;
}

/** The chain from s_last_orphan through each i_dtime, as the image holds it (at most 10 links). */
function chainOf(img: string): number[] {
  const chain: number[] = [];
  for (let ino = lastOrphan(img); ino !== 0 && chain.length < 10; ino = dtime(img, ino)) chain.push(ino);
  return chain;
}

/** Writes `name` under /j, opens it, unlinks it; returns the fd and the inode number. */
async function openUnlinked(p: Proc, name: string, seed: number): Promise<{ fd: number; ino: number }> {
  await p.writeFile(`/j/${name}`, seededBytes(30_000, seed));
  const fd = await p.open(`/j/${name}`, 'r');
  const { ino } = await p.fstat(fd);
  await p.unlink(`/j/${name}`);
  return { fd, ino };
}

t.test('monolithic: unlinked open files on the orphan list; after a crash e2fsck or rumpus frees them', { skip: NO_E2FSPROGS }, async (t) => {
  const img = join(dir, 'live.img');
  const crashed = join(dir, 'crashed.img');
  mkJournaled(img, { type: 'ext4', blockSize: 1024, size: 16 * MiB });
  const k = await boot({ policy: 'monolithic', mounts: [...DEFAULT_MOUNTS, { target: '/j', fstype: 'ext2', source: img }] });
  let before: { ffree: number; bfree: number };
  try {
    const p = await k.spawn();
    before = await p.statfs('/j');
    const a = await openUnlinked(p, 'a', 1);
    const b = await openUnlinked(p, 'b', 2);
    const c = await openUnlinked(p, 'c', 3);
    await p.sync();
    t.same(chainOf(img), [c.ino, b.ino, a.ino], 'each unlink put its inode at the head: s_last_orphan → c → b → a');
    copyFileSync(img, crashed);

    t.same(await p.pread(b.fd, 30_000, 0), seededBytes(30_000, 2), 'an orphan still reads through its fd');
    await p.close(b.fd);
    await p.sync();
    t.same(chainOf(img), [c.ino, a.ino], 'b closed (the middle): c now names a');
    await p.close(c.fd);
    await p.sync();
    t.same(chainOf(img), [a.ino], 'c closed (the head): s_last_orphan names a');
    await p.close(a.fd);
    await p.sync();
    t.equal(lastOrphan(img), 0, 'a closed: the list is empty');
    const after = await p.statfs('/j');
    t.same({ ffree: after.ffree, bfree: after.bfree }, { ffree: before.ffree, bfree: before.bfree }, 'every inode and block is free again');
  } finally {
    await k.halt();
  }
  const clean = fsckClean(img);
  t.ok(clean.clean, 'unmounted: both e2fsck checks pass', { report: clean.report });

  // The image as a crash left it, three times over.
  const byE2fsck = join(dir, 'by-e2fsck.img');
  const byRumpus = join(dir, 'by-rumpus.img');
  copyFileSync(crashed, byE2fsck);
  copyFileSync(crashed, byRumpus);

  const fixed = spawnSync('e2fsck', ['-fy', byE2fsck], { encoding: 'utf8' });
  const out = fixed.stdout + fixed.stderr;
  t.ok(fixed.status === 0 || fixed.status === 1, 'e2fsck -fy recovers the crashed image', { out });
  t.equal(out.match(/Clearing orphaned inode/g)?.length, 3, 'and clears the three orphans', { out });
  t.notMatch(out, /Unattached inode|zero dtime|bitmap differences|count wrong|Inode \d+ ref count/, 'no leaked inode or block in passes 1, 4 or 5', { out });
  const r = fsckClean(byE2fsck);
  t.ok(r.clean, 'then both e2fsck checks pass', { report: r.report });

  const image = sha(byRumpus);
  const k2 = await boot({ policy: 'monolithic' });
  try {
    const p = await k2.spawn();
    await p.mkdir('/j');
    await p.mount('/j', 'ext2', { source: byRumpus, readonly: true });
    t.same((await p.readdir('/j')).map((e) => e.name).sort(), ['lost+found'], 'read-only: the orphans have no names');
    await p.unmount('/j');
    t.equal(sha(byRumpus), image, 'and a read-only mount leaves the image, its list included, as it is');

    await p.mount('/j', 'ext2', { source: byRumpus });
    const s = await p.statfs('/j');
    t.same({ ffree: s.ffree, bfree: s.bfree }, { ffree: before!.ffree, bfree: before!.bfree }, 'read-write: the mount freed the orphans, inodes and blocks');
    await p.unmount('/j');
  } finally {
    await k2.halt();
  }
  t.equal(lastOrphan(byRumpus), 0, 'the list is empty');
  const r2 = fsckClean(byRumpus);
  t.ok(r2.clean, 'both e2fsck checks pass', { report: r2.report });
});

t.test('a damaged orphan list refuses a read-write mount with EUCLEAN naming it', { skip: NO_E2FSPROGS }, async (t) => {
  const damaged = (name: string, damage: (img: string) => number) => {
    const img = join(dir, `damaged-${name}.img`);
    mkJournaled(img, { type: 'ext4', blockSize: 1024, size: 16 * MiB });
    return { img, ino: damage(img) };
  };
  const cases = [
    { what: 'a reserved inode', ...damaged('reserved', (img) => (debugfsWrite(img, ['ssv last_orphan 5']), 5)), says: (ino: number) => `s_last_orphan names inode ${ino}, which cannot be an orphan` },
    { what: 'an inode not in use', ...damaged('free', (img) => (debugfsWrite(img, ['ssv last_orphan 40']), 40)), says: (ino: number) => `s_last_orphan names inode ${ino}, which is not in use` },
    {
      what: 'a loop',
      ...damaged('loop', (img) => {
        debugfsWrite(img, ['write /dev/null loop']);
        const ino = Number(/Inode: (\d+)/.exec(debugfs(img, 'stat /loop'))![1]);
        debugfsWrite(img, [`sif <${ino}> dtime ${ino}`, `ssv last_orphan ${ino}`]);
        return ino;
      }),
      says: (ino: number) => `inode ${ino}'s i_dtime names inode ${ino} a second time`,
    },
  ];
  const k = await boot({ policy: 'monolithic' });
  try {
    const p = await k.spawn();
    await p.mkdir('/j');
    for (const c of cases) {
      const err = await p.mount('/j', 'ext2', { source: c.img }).then(() => null, (e: { code?: string; message: string }) => e);
      t.equal(err?.code, 'EUCLEAN', `${c.what}: EUCLEAN`);
      t.match(err?.message, `the orphan list: ${c.says(c.ino)}`, `${c.what}: naming the link`);
    }
  } finally {
    await k.halt();
  }
});

t.test('microkernel: an ext2 restart keeps the list; the last close frees the file', { skip: NO_E2FSPROGS }, async (t) => {
  const img = join(dir, 'restart.img');
  mkJournaled(img, { type: 'ext4', blockSize: 1024, size: 16 * MiB });
  const k = await boot({ policy: 'microkernel', mounts: [...DEFAULT_MOUNTS, { target: '/j', fstype: 'ext2', source: img }] });
  try {
    const p = await k.spawn();
    const before = await p.statfs('/j');
    const f = await openUnlinked(p, 'f', 4);
    await p.sync();
    t.same(chainOf(img), [f.ino], 'on the list');
    await k.inject({ component: 'ext2', type: 'crash', op: 'walk' });
    t.equal(await errnoOf(p.stat('/j/f')), 'ENOENT', 'the walk that met the crash is made again: no such name');
    await k.settled();
    t.ok(k.domains().find((d) => d.components.includes('ext2'))!.restarts >= 1, 'ext2 was restarted');
    t.same(await p.pread(f.fd, 30_000, 0), seededBytes(30_000, 4), 'the fd still reads the orphan');
    t.same(chainOf(img), [f.ino], 'which is still on the list');
    await p.close(f.fd);
    await p.sync();
    t.equal(lastOrphan(img), 0, 'its last close took it off');
    const after = await p.statfs('/j');
    t.same({ ffree: after.ffree, bfree: after.bfree }, { ffree: before.ffree, bfree: before.bfree }, 'and freed it');
  } finally {
    await k.halt();
  }
  const r = fsckClean(img);
  t.ok(r.clean, 'both e2fsck checks pass', { report: r.report });
});
