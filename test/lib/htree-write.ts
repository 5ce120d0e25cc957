// The htree write test (test/ext2-htree-write-*.ts, one file per policy): directories of 10,
// 500 and 5,000 names made by rumpus on dir_index images (mke2fs's ext2 defaults, 1 and 4 KiB
// blocks), a third of the names unlinked, some renamed within and across directories,
// subdirectories made, moved and removed — then e2fsprogs says the htree is right: both e2fsck
// checks clean (no "Pass 3A: Optimizing directories", which a lost index would cause), debugfs
// shows an index where a directory grew past one block (two levels for 5,000 names at 1 KiB),
// debugfs lists exactly the expected names, and a new mount finds each through its index.

import t from 'tap';
import { join } from 'node:path';
import { DEFAULT_MOUNTS, boot, type Proc } from '../../kernel/index.js';
import { debugfs, fsckClean, mkImage, tempDir } from './e2fs.js';
import { errnoOf } from './errno.js';

const MiB = 1024 * 1024;

/** A name of varied length (8 to 60 bytes), so leaves split at varied points. */
export function nameOf(dir: string, i: number): string {
  return `${dir}-${i}-${'x'.repeat((i * 7) % 53)}`;
}

/** The names debugfs lists in a directory of the image, sorted: '.', '..' and unused entries (inode 0, which it lists too) left out. */
export function debugfsNames(img: string, path: string): string[] {
  return debugfs(img, `ls -p ${path}`).split('\n').filter((l) => l.startsWith('/')).map((l) => l.split('/'))
    .filter((f) => f[1] !== '0' && f[5] !== '.' && f[5] !== '..').map((f) => f[5]).sort();
}

/** Whether debugfs sees an htree on the directory, and its indirect levels. */
export function htreeLevels(img: string, path: string): number | null {
  const m = /Indirect levels: (\d+)/.exec(debugfs(img, `htree ${path}`));
  return m ? Number(m[1]) : null;
}

interface Layout {
  /** Directory → the names it should hold at the end. */
  expected: Map<string, Set<string>>;
}

/** Makes the directories and names, then unlinks, renames, moves; returns what each directory should hold. */
async function mutate(p: Proc, root: string): Promise<Layout> {
  const expected = new Map<string, Set<string>>();
  const sizes: [string, number][] = [['d10', 10], ['d500', 500], ['d5000', 5000]];
  await p.mkdir(`${root}/moved`, 0o755);
  expected.set('moved', new Set());
  for (const [d, n] of sizes) {
    await p.mkdir(`${root}/${d}`, 0o755);
    const names = new Set<string>();
    for (let i = 0; i < n; i++) {
      const name = nameOf(d, i);
      const fd = await p.open(`${root}/${d}/${name}`, 'wx');
      await p.close(fd);
      names.add(name);
    }
    expected.set(d, names);
  }
  for (const [d, n] of sizes) {
    const names = expected.get(d)!;
    for (let i = 0; i < n; i += 3) {
      await p.unlink(`${root}/${d}/${nameOf(d, i)}`);
      names.delete(nameOf(d, i));
    }
    // Across directories, and within one under a longer name.
    for (let i = 1; i < n; i += 11) {
      if (!names.has(nameOf(d, i))) continue;
      await p.rename(`${root}/${d}/${nameOf(d, i)}`, `${root}/moved/${d}-${i}`);
      names.delete(nameOf(d, i));
      expected.get('moved')!.add(`${d}-${i}`);
    }
    for (let i = 2; i < n; i += 13) {
      if (!names.has(nameOf(d, i))) continue;
      const to = `renamed-${i}-${'y'.repeat(i % 100)}`;
      await p.rename(`${root}/${d}/${nameOf(d, i)}`, `${root}/${d}/${to}`);
      names.delete(nameOf(d, i));
      names.add(to);
    }
  }
  // Subdirectories in the big directory: made, one moved out (its '..' changes), one removed.
  const big = expected.get('d5000')!;
  for (const sub of ['sub-a', 'sub-b', 'sub-c']) {
    await p.mkdir(`${root}/d5000/${sub}`, 0o755);
    big.add(sub);
  }
  await p.rename(`${root}/d5000/sub-a`, `${root}/moved/sub-a`);
  big.delete('sub-a');
  expected.get('moved')!.add('sub-a');
  await p.rmdir(`${root}/d5000/sub-b`);
  big.delete('sub-b');
  return { expected };
}

/** The test under one policy. */
export function htreeWriteTest(policy: string): void {
  t.test(`htree directories written under ${policy}`, async (t) => {
    const dir = tempDir('rumpus-htree-');
    const images = [
      { name: 'ext2 defaults, 1 KiB blocks', img: join(dir, 'k1.img'), blockSize: 1024, levelsOfBig: 1 },
      { name: 'ext2 defaults, 4 KiB blocks', img: join(dir, 'k4.img'), blockSize: 4096, levelsOfBig: 0 },
    ];
    for (const im of images) mkImage(im.img, { size: 64 * MiB, blockSize: im.blockSize });
    const mounts = images.map((im, i) => ({ target: `/w${i}`, fstype: 'ext2', source: im.img }));
    const layouts: Layout[] = [];
    let k = await boot({ policy, mounts: [...DEFAULT_MOUNTS, ...mounts] });
    try {
      const p = await k.spawn();
      for (let i = 0; i < images.length; i++) layouts.push(await mutate(p, `/w${i}`));
    } finally {
      await k.halt();
    }
    for (const [i, im] of images.entries()) {
      const r = fsckClean(im.img);
      t.ok(r.clean, `${im.name}: e2fsck -fn silent and e2fsck -fy changes nothing`, { report: r.report });
      t.equal(htreeLevels(im.img, '/d10'), null, `${im.name}: the one-block directory stays linear`);
      t.not(htreeLevels(im.img, '/d500'), null, `${im.name}: the directory of 500 names is indexed`);
      t.equal(htreeLevels(im.img, '/d5000'), im.levelsOfBig, `${im.name}: the directory of 5,000 names has ${im.levelsOfBig} indirect levels`);
      for (const [d, names] of layouts[i].expected) {
        t.same(debugfsNames(im.img, `/${d}`), [...names].sort(), `${im.name}: debugfs lists exactly the names of /${d}`);
      }
    }
    k = await boot({ policy, mounts: [...DEFAULT_MOUNTS, ...mounts] });
    try {
      const p = await k.spawn();
      for (const [i, im] of images.entries()) {
        let missing = 0;
        for (const [d, names] of layouts[i].expected) {
          for (const name of names) if (!(await p.lstat(`/w${i}/${d}/${name}`).then(() => true, () => false))) missing++;
        }
        t.equal(missing, 0, `${im.name}: a new mount finds every name through the index`);
        const gone = await errnoOf(p.lstat(`/w${i}/d5000/${nameOf('d5000', 0)}`));
        t.equal(gone, 'ENOENT', `${im.name}: an unlinked name is not found`);
      }
    } finally {
      await k.halt();
    }
  });
}
