// Changing a file system keeps it consistent: seeded sequences of creates, overwrites,
// truncates, renames, links and removals give the same results on ext2 as on tmpfs (the
// reference), the image passes both e2fsck checks after each remount, and once everything
// is deleted the free block and inode counts are back where they started.
// RUMPUS_MUTATE_STEPS and RUMPUS_MUTATE_SEED run longer or other sequences.

import t from 'tap';
import { join } from 'node:path';
import { DEFAULT_MOUNTS, SysError, boot, type Proc } from '../kernel/index.js';
import { FAKE_TIME, UUID, fsckClean, mkImage, random, rumpusTree, seededBytes, superblock, tempDir, type Tree } from './lib/e2fs.js';

const MiB = 1024 * 1024;
const STEPS = Number(process.env.RUMPUS_MUTATE_STEPS ?? 600);
const SEED = Number(process.env.RUMPUS_MUTATE_SEED ?? 1000);
const REMOUNT_EVERY = 150;
const dir = tempDir();

type Op = { name: string; run: (p: Proc, root: string) => Promise<unknown> };

/** A random op on a small namespace, so that names collide and every error path is taken. */
function randomOp(rnd: () => number): Op {
  const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)];
  const path = () => [pick(['', 'd1/', 'd1/d2/', 'd3/']), pick(['f1', 'f2', 'f3', 'd1', 'd2', 'd3', 'l1'])].join('');
  const a = path();
  const b = path();
  const size = pick([0, 1, 1000, 1024, 4096, 13 * 1024, 300 * 1024, 70 * MiB + 5]);
  const offset = pick([0, 10, 1023, 4096, 12 * 1024, 270 * 1024, 5 * MiB, 70 * MiB]);
  const data = seededBytes(pick([1, 100, 1024, 5000, 70000]), Math.floor(rnd() * 1e9));
  const target = rnd() < 0.5 ? a : `${a}/${'long'.repeat(20)}`;
  const ops: Op[] = [
    { name: `write ${a} @${offset}+${data.length}`, run: async (p, r) => {
      const fd = await p.open(`${r}/${a}`, 'r+').catch(() => p.open(`${r}/${a}`, 'wx'));
      try {
        return await p.pwrite(fd, data, offset);
      } finally {
        await p.close(fd);
      }
    } },
    { name: `append ${a}`, run: async (p, r) => {
      const fd = await p.open(`${r}/${a}`, 'a');
      try {
        return await p.write(fd, data);
      } finally {
        await p.close(fd);
      }
    } },
    { name: `overwrite ${a}`, run: (p, r) => p.writeFile(`${r}/${a}`, data) },
    { name: `truncate ${a} ${size}`, run: (p, r) => p.truncate(`${r}/${a}`, size) },
    { name: `mkdir ${a}`, run: (p, r) => p.mkdir(`${r}/${a}`, 0o755) },
    { name: `rmdir ${a}`, run: (p, r) => p.rmdir(`${r}/${a}`) },
    { name: `unlink ${a}`, run: (p, r) => p.unlink(`${r}/${a}`) },
    { name: `rename ${a} ${b}`, run: (p, r) => p.rename(`${r}/${a}`, `${r}/${b}`) },
    { name: `link ${a} ${b}`, run: (p, r) => p.link(`${r}/${a}`, `${r}/${b}`) },
    { name: `symlink ${b} -> ${target}`, run: (p, r) => p.symlink(target, `${r}/${b}`) },
    { name: `chmod ${a}`, run: (p, r) => p.chmod(`${r}/${a}`, 0o640) },
  ];
  return pick(ops);
}

async function outcome(op: Op, p: Proc, root: string): Promise<string> {
  try {
    const v = await op.run(p, root);
    return `ok ${v ?? ''}`;
  } catch (err) {
    if (err instanceof SysError) return err.errno;
    throw err;
  }
}

/** A tree without times and block counts (which the two file systems need not share). */
function shape(tree: Tree): Tree {
  return Object.fromEntries(Object.entries(tree).map(([path, n]) => [path, { ...n, mtime: 0 }]));
}

async function removeAll(p: Proc, path: string): Promise<void> {
  for (const e of await p.readdir(path)) {
    if (path.endsWith('/mnt') && e.name === 'lost+found') continue;
    if (e.type === 'dir') {
      await removeAll(p, `${path}/${e.name}`);
      await p.rmdir(`${path}/${e.name}`);
    } else {
      await p.unlink(`${path}/${e.name}`);
    }
  }
}

const images = [
  { name: 'mke2fs defaults, 1 KiB blocks', make: (img: string) => mkImage(img, { size: 48 * MiB, blockSize: 1024 }) },
  { name: 'rumpus mkfs, 4 KiB blocks', make: null },
];

for (const [i, image] of images.entries()) {
  t.test(`seeded changes on ${image.name}`, async (t) => {
    const img = join(dir, `mutate-${i}.img`);
    const policy = i === 0 ? 'monolithic' : 'microkernel';
    const k = await boot({ policy, mounts: DEFAULT_MOUNTS });
    try {
      if (image.make) image.make(img);
      else await k.call('ext2', 'mkfs', { source: img, size: 48 * MiB, blockSize: 4096, uuid: UUID, time: FAKE_TIME });
      const p = await k.spawn();
      await p.mkdir('/mnt');
      await p.mount('/mnt', 'ext2', { source: img });
      t.equal(superblock(img)['Filesystem state'], 'not clean', 'the image is marked not clean while mounted read-write');
      const start = await p.statfs('/mnt');
      const remount = async (when: string) => {
        await p.unmount('/mnt');
        const r = fsckClean(img);
        t.ok(r.clean, `e2fsck is happy ${when}`, { report: r.report });
        await p.mount('/mnt', 'ext2', { source: img });
      };

      const rnd = random(SEED + i);
      let mismatches = 0;
      for (let step = 1; step <= STEPS; step++) {
        const op = randomOp(rnd);
        const [want, got] = [await outcome(op, p, '/tmp'), await outcome(op, p, '/mnt')];
        if (want !== got && mismatches++ < 5) t.equal(got, want, `step ${step}: ${op.name} does on ext2 what it does on tmpfs`);
        if (step % REMOUNT_EVERY === 0) {
          await remount(`after ${step} steps`);
          t.same(shape(await rumpusTree(p, '/mnt', { skip: ['lost+found'] })), shape(await rumpusTree(p, '/tmp')), `after ${step} steps the trees match`);
        }
      }
      t.equal(mismatches, 0, 'every step had the same outcome on both');

      await removeAll(p, '/mnt');
      await removeAll(p, '/tmp');
      await remount('after deleting everything');
      const end = await p.statfs('/mnt');
      t.same({ bfree: end.bfree, ffree: end.ffree }, { bfree: start.bfree, ffree: start.ffree }, 'free blocks and inodes are back to where they started');
      await p.unmount('/mnt');
      t.equal(superblock(img)['Filesystem state'], 'clean', 'and the image is clean after unmount');
    } finally {
      await k.halt();
    }
  });
}
