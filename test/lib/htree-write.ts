// The htree write test (test/ext2-htree-write-*.ts, one file per policy): directories of 10,
// 500 and (at 1 KiB blocks, where two index levels come soonest) 5,000 names made by rumpus on
// dir_index images (mke2fs's ext2 defaults at 1 and 4 KiB blocks; tea hash, unsigned, at 1 KiB),
// a third of the names unlinked, some renamed within and across directories,
// subdirectories made, moved and removed — then e2fsprogs says the htree is right: both e2fsck
// checks clean (no "Pass 3A: Optimizing directories", which a lost index would cause), debugfs
// shows an index where a directory grew past one block (two levels for 5,000 names at 1 KiB),
// debugfs lists exactly the expected names, and a new mount finds each through its index.
// And seeded damage of an htree's nodes met by a create: EUCLEAN with a sentence, no hang.

import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_MOUNTS, boot, type Proc, type SysError } from '../../kernel/index.js';
import { debugfs, debugfsWrite, fsckClean, mkImage, tempDir } from './e2fs.js';
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

/**
 * Makes the directories and names (d5000 only when `big`), then unlinks, renames, moves;
 * returns what each directory should hold.
 */
async function mutate(p: Proc, root: string, big: boolean): Promise<Layout> {
  const expected = new Map<string, Set<string>>();
  const sizes: [string, number][] = [['d10', 10], ['d500', 500], ...(big ? [['d5000', 5000] as [string, number]] : [])];
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
  // Subdirectories in the biggest directory: made, one moved out (its '..' changes), one removed.
  const [largest] = sizes[sizes.length - 1];
  const names = expected.get(largest)!;
  for (const sub of ['sub-a', 'sub-b', 'sub-c']) {
    await p.mkdir(`${root}/${largest}/${sub}`, 0o755);
    names.add(sub);
  }
  await p.rename(`${root}/${largest}/sub-a`, `${root}/moved/sub-a`);
  names.delete('sub-a');
  expected.get('moved')!.add('sub-a');
  await p.rmdir(`${root}/${largest}/sub-b`);
  names.delete('sub-b');
  return { expected };
}

/** The test under one policy. */
export function htreeWriteTest(policy: string): void {
  t.test(`htree directories written under ${policy}`, async (t) => {
    const dir = tempDir('rumpus-htree-');
    // levelsOfBig: the indirect levels of d5000's index, null for an image without d5000.
    const images = [
      { name: 'ext2 defaults, 1 KiB blocks', img: join(dir, 'k1.img'), blockSize: 1024, levelsOfBig: 1, hash: 1 },
      { name: 'ext2 defaults, 4 KiB blocks', img: join(dir, 'k4.img'), blockSize: 4096, levelsOfBig: null, hash: 1 },
      { name: 'tea hash, unsigned, 1 KiB blocks', img: join(dir, 'tea.img'), blockSize: 1024, levelsOfBig: null, hash: 2, tea: true },
    ];
    for (const im of images) {
      mkImage(im.img, { size: 64 * MiB, blockSize: im.blockSize });
      if (im.tea) debugfsWrite(im.img, ['ssv def_hash_version tea', 'ssv flags 2']);
    }
    const mounts = images.map((im, i) => ({ target: `/w${i}`, fstype: 'ext2', source: im.img }));
    const layouts: Layout[] = [];
    let k = await boot({ policy, mounts: [...DEFAULT_MOUNTS, ...mounts] });
    try {
      const p = await k.spawn();
      for (const [i, im] of images.entries()) layouts.push(await mutate(p, `/w${i}`, im.levelsOfBig !== null));
    } finally {
      await k.halt();
    }
    for (const [i, im] of images.entries()) {
      const r = fsckClean(im.img);
      t.ok(r.clean, `${im.name}: e2fsck -fn silent and e2fsck -fy changes nothing`, { report: r.report });
      t.equal(htreeLevels(im.img, '/d10'), null, `${im.name}: the one-block directory stays linear`);
      t.not(htreeLevels(im.img, '/d500'), null, `${im.name}: the directory of 500 names is indexed`);
      t.match(debugfs(im.img, 'htree /d500'), new RegExp(`Hash Version: ${im.hash}\\b`), `${im.name}: with the file system's default hash`);
      if (im.levelsOfBig !== null) t.equal(htreeLevels(im.img, '/d5000'), im.levelsOfBig, `${im.name}: the directory of 5,000 names has ${im.levelsOfBig} indirect levels`);
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
        const gone = await errnoOf(p.lstat(`/w${i}/d500/${nameOf('d500', 0)}`));
        t.equal(gone, 'ENOENT', `${im.name}: an unlinked name is not found`);
      }
    } finally {
      await k.halt();
    }
  });
}

/** A seeded damage of an htree's nodes, and the sentence the create it meets answers with. */
interface Seed {
  name: string;
  /** Changes the image's bytes: `root` is the byte offset of the dx_root, `node` of a dx_node (called for each). */
  damage(img: Buffer, root: number, node: number): void;
  message: RegExp;
}

const SEEDS: Seed[] = [
  { name: "the dx_root's limit", damage: (b, root) => b.writeUInt16LE(200, root + 0x20), message: /htree: block 0 has limit 200/ },
  { name: "the dx_root's indirect levels", damage: (b, root) => b.writeUInt8(3, root + 0x1e), message: /htree: block 0 has 3 indirect levels/ },
  { name: "the dx_root's hash version", damage: (b, root) => b.writeUInt8(9, root + 0x1c), message: /htree: block 0 has hash version 9/ },
  { name: "a dx_node's count", damage: (b, _root, node) => b.writeUInt16LE(0, node + 10), message: /htree: block \d+ has count 0/ },
  { name: "a dx_node's fake dirent", damage: (b, _root, node) => b.writeUInt16LE(12, node + 4), message: /htree: block \d+ is not a dx_node/ },
  { name: "a dx_node entry's block", damage: (b, _root, node) => b.writeUInt32LE(70000, node + 8 + 8 * 3 + 4), message: /htree: block \d+ has entry 3 pointing at block 70000/ },
  { name: "a dx_node's hash order", damage: (b, _root, node) => b.writeUInt32LE(1, node + 8 + 8 * 5), message: /htree: block \d+ has entry 5 with hash 0x1 below/ },
];

/**
 * Seeded damage of a two-level htree (a directory of 3,000 names indexed by e2fsck -fyD at
 * 1 KiB blocks), then a create and a lookup there: each is EUCLEAN naming the htree and the
 * damage, and the mount goes on serving the rest.
 */
export function htreeCorruptionTest(policy: string): void {
  t.test(`a damaged htree met by a create under ${policy}`, async (t) => {
    const dir = tempDir('rumpus-htree-bad-');
    const src = join(dir, 'src');
    mkdirSync(join(src, 'big'), { recursive: true });
    for (let i = 0; i < 3000; i++) writeFileSync(join(src, 'big', `a-rather-long-file-name-number-${i}`), '');
    const base = join(dir, 'base.img');
    mkImage(base, { size: 16 * MiB, blockSize: 1024, from: src });
    spawnSync('e2fsck', ['-fyD', base]);
    t.equal(htreeLevels(base, '/big'), 1, 'the fixture has a two-level htree');
    const bs = 1024;
    const rootBlock = Number(debugfs(base, 'bmap /big 0').trim());
    const baseBytes = readFileSync(base);
    // Every dx_node the root points at, so that any name's path meets the damage.
    const count = baseBytes.readUInt16LE(rootBlock * bs + 0x22);
    const nodeBlocks = Array.from({ length: count }, (_, i) => Number(debugfs(base, `bmap /big ${baseBytes.readUInt32LE(rootBlock * bs + 0x20 + 8 * i + 4)}`).trim()));
    const images = SEEDS.map((seed, i) => {
      const img = join(dir, `bad-${i}.img`);
      const bytes = Buffer.from(baseBytes);
      for (const node of nodeBlocks) seed.damage(bytes, rootBlock * bs, node * bs);
      writeFileSync(img, bytes);
      return img;
    });
    const mounts = images.map((img, i) => ({ target: `/b${i}`, fstype: 'ext2', source: img }));
    const k = await boot({ policy, mounts: [...DEFAULT_MOUNTS, ...mounts] });
    try {
      const p = await k.spawn();
      for (const [i, seed] of SEEDS.entries()) {
        const created = await p.open(`/b${i}/big/new-name`, 'wx').then(() => null, (e: unknown) => e as SysError);
        t.equal(created?.errno, 'EUCLEAN', `${seed.name}: a create is EUCLEAN`);
        t.match(created?.message ?? '', seed.message, `${seed.name}: naming the damage`);
        t.equal(await errnoOf(p.lstat(`/b${i}/big/a-rather-long-file-name-number-2999`)), 'EUCLEAN', `${seed.name}: a lookup too`);
        t.equal(await errnoOf(p.mkdir(`/b${i}/elsewhere`, 0o755)), 'ok', `${seed.name}: the rest of the file system is served`);
      }
    } finally {
      await k.halt();
    }
  });
}
