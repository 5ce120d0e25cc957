// Damaged images: seeded mutations of the superblock, group descriptors, bitmaps, inodes,
// directory entries and indirect pointers. Whatever is damaged, every op either works or
// fails with an errno and a sentence — never an internal error, never a hang — and under
// the microkernel policy the rest of the system (tmpfs at /tmp) goes on serving. Known kinds
// of damage are reported as EUCLEAN (or EINVAL for something that is not ext2 at all), and
// a failed op leaves the image as it found it. RUMPUS_FUZZ_SEEDS=N runs N seeds per kind.

import t, { type Test } from 'tap';
import { closeSync, copyFileSync, mkdirSync, openSync, readSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { DEFAULT_MOUNTS, SysError, boot, type Proc } from '../kernel/index.js';
import { attempt } from './lib/attempt.js';
import { debugfs, mkImage, random, seededBytes, tempDir } from './lib/e2fs.js';

const SEEDS = Number(process.env.RUMPUS_FUZZ_SEEDS ?? 6);
const BS = 1024;
const dir = tempDir();

// The base image: 1 KiB blocks, one group, every kind of structure the mutations can hit.
const src = join(dir, 'src');
mkdirSync(join(src, 'a/b/c'), { recursive: true });
mkdirSync(join(src, 'd'));
writeFileSync(join(src, 'a/small'), 'small file\n');
writeFileSync(join(src, 'a/ind'), seededBytes(20_000, 1));
writeFileSync(join(src, 'a/dind'), seededBytes(300_000, 2));
writeFileSync(join(src, 'a/b/c/deep'), 'deep\n');
for (let i = 0; i < 80; i++) writeFileSync(join(src, `d/entry-${i}`), `${i}\n`);
symlinkSync('a/small', join(src, 'fast'));
symlinkSync(`a/b/c/${'x'.repeat(100)}`, join(src, 'slow'));
const base = join(dir, 'base.img');
mkImage(base, { size: 4 * 1024 * 1024, blockSize: BS, features: 'none,filetype,sparse_super', from: src });

function parseBlocks(stat: string, tag: string): number[] {
  return [...stat.matchAll(new RegExp(`\\(${tag}\\):(\\d+)`, 'g'))].map((m) => Number(m[1]));
}
const dindStat = debugfs(base, 'stat /a/dind');
const indirect = [...parseBlocks(dindStat, 'IND'), ...parseBlocks(dindStat, 'DIND')];
const dirBlocks = ['/', '/a', '/d'].flatMap((p) => debugfs(base, `blocks ${p}`).trim().split(/\s+/).map(Number));
const inodeTable = Number(/Inode table at (\d+)/.exec(spawnSync('dumpe2fs', [base], { encoding: 'utf8' }).stdout)![1]);
const inodeOffsets = ['/a/small', '/a/ind', '/a/dind', '/a', '/d', '/slow', '/'].map((p) => {
  const m = /located at block (\d+), offset 0x([0-9a-f]+)/.exec(debugfs(base, `imap ${p}`));
  if (!m) throw new Error(`debugfs imap ${p} did not say where the inode is`);
  return Number(m[1]) * BS + parseInt(m[2], 16);
});

function patch(img: string, offset: number, bytes: number[]): void {
  const fd = openSync(img, 'r+');
  writeSync(fd, Uint8Array.from(bytes), 0, bytes.length, offset);
  closeSync(fd);
}

function peek(img: string, offset: number, length: number): Uint8Array {
  const fd = openSync(img, 'r');
  const b = new Uint8Array(length);
  readSync(fd, b, 0, length, offset);
  closeSync(fd);
  return b;
}

const u32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];

/** Each kind of damage: how to apply seed n of it to an image. */
const MUTATIONS: Record<string, (img: string, rnd: () => number) => void> = {
  superblock(img, rnd) {
    for (let i = 0; i < 1 + Math.floor(rnd() * 3); i++) patch(img, 1024 + Math.floor(rnd() * 0x68), [Math.floor(rnd() * 256)]);
  },
  'group descriptors'(img, rnd) {
    for (let i = 0; i < 1 + Math.floor(rnd() * 3); i++) patch(img, 2 * BS + Math.floor(rnd() * 20), [Math.floor(rnd() * 256)]);
  },
  bitmaps(img, rnd) {
    for (let i = 0; i < 1 + Math.floor(rnd() * 16); i++) {
      const at = (rnd() < 0.5 ? 3 : 4) * BS + Math.floor(rnd() * 80);
      patch(img, at, [peek(img, at, 1)[0] ^ (1 << Math.floor(rnd() * 8))]);
    }
  },
  inodes(img, rnd) {
    const inode = inodeOffsets[Math.floor(rnd() * inodeOffsets.length)];
    for (let i = 0; i < 1 + Math.floor(rnd() * 4); i++) patch(img, inode + Math.floor(rnd() * 0x6c), [Math.floor(rnd() * 256)]);
  },
  'directory entries'(img, rnd) {
    const block = dirBlocks[Math.floor(rnd() * dirBlocks.length)];
    for (let i = 0; i < 1 + Math.floor(rnd() * 3); i++) patch(img, block * BS + Math.floor(rnd() * 64), [Math.floor(rnd() * 256)]);
  },
  'indirect pointers'(img, rnd) {
    const block = indirect[Math.floor(rnd() * indirect.length)];
    const choices = [0xfffffff0, 1_000_000, block, indirect[0], inodeTable + 1, 2, dirBlocks[0]];
    for (let i = 0; i < 1 + Math.floor(rnd() * 3); i++) {
      patch(img, block * BS + 4 * Math.floor(rnd() * 8), u32(choices[Math.floor(rnd() * choices.length)]));
    }
  },
};

/** Reads everything reachable, then changes things; returns every op's outcome. */
async function workload(t: Test, p: Proc, root: string): Promise<string[]> {
  const outcomes: string[] = [];
  const op = async (what: string, fn: () => Promise<unknown>) => outcomes.push(await attempt(t, what, fn));
  const visit = async (path: string, depth: number) => {
    let entries: { name: string; type: string }[] = [];
    await op(`readdir ${path}`, async () => (entries = (await p.readdir(path)).slice(0, 200)));
    for (const e of entries) {
      const full = `${path}/${e.name}`;
      await op(`lstat ${full}`, () => p.lstat(full));
      if (e.type === 'dir' && depth < 6) await visit(full, depth + 1);
      if (e.type === 'reg') {
        await op(`read ${full}`, async () => {
          const fd = await p.open(full, 'r');
          try {
            await p.pread(fd, 1 << 20, 0);
          } finally {
            await p.close(fd);
          }
        });
      }
      if (e.type === 'lnk') await op(`readlink ${full}`, () => p.readlink(full));
    }
  };
  await visit(root, 0);
  await op('create', () => p.writeFile(`${root}/new`, seededBytes(50_000, 3)));
  await op('mkdir', () => p.mkdir(`${root}/newdir`));
  await op('rename', () => p.rename(`${root}/a/ind`, `${root}/newdir/ind`));
  await op('overwrite', () => p.writeFile(`${root}/a/small`, 'changed'));
  await op('truncate', () => p.truncate(`${root}/a/dind`, 100_000));
  await op('unlink', () => p.unlink(`${root}/a/dind`));
  await op('link', () => p.link(`${root}/a/small`, `${root}/d/small-link`));
  await op('symlink', () => p.symlink('x'.repeat(80), `${root}/d/new-link`));
  for (let i = 0; i < 10; i++) await op(`unlink entry-${i}`, () => p.unlink(`${root}/d/entry-${i}`));
  await op('rmdir', () => p.rmdir(`${root}/a/b/c`));
  await op('statfs', () => p.statfs(root));
  await op('sync', () => p.sync());
  return outcomes;
}

for (const policy of ['monolithic', 'microkernel']) {
  t.test(`damaged images under ${policy}`, async (t) => {
    const k = await boot({ policy, mounts: DEFAULT_MOUNTS });
    let images = 0;
    const errnos = new Map<string, number>();
    try {
      const p = await k.spawn();
      for (const [kind, mutate] of Object.entries(MUTATIONS)) {
        for (let seed = 1; seed <= SEEDS; seed++) {
          const img = join(dir, `${policy}-${kind.replace(' ', '-')}-${seed}.img`);
          copyFileSync(base, img);
          mutate(img, random(seed * 7919 + kind.length));
          const target = `/c${++images}`;
          await p.mkdir(target);
          const mounted = await attempt(t, `${kind} #${seed}: mount`, () => p.mount(target, 'ext2', { source: img }));
          const outcomes = mounted === 'ok' ? await workload(t, p, target) : [mounted];
          if (mounted === 'ok') outcomes.push(await attempt(t, `${kind} #${seed}: unmount`, () => p.unmount(target)));
          for (const o of outcomes) errnos.set(o, (errnos.get(o) ?? 0) + 1);
          const probe = `/tmp/probe-${images}`;
          await p.writeFile(probe, kind);
          t.equal(new TextDecoder().decode(await p.readFile(probe)), kind, `${kind} #${seed}: /tmp still serves`);
        }
      }
    } finally {
      await k.halt();
    }
    t.comment(`outcomes of ${images} damaged images: ${JSON.stringify(Object.fromEntries(errnos))}`);
    t.ok((errnos.get('EUCLEAN') ?? 0) > 0, 'damage was found and reported as EUCLEAN');
    t.notOk(errnos.has('broken'), 'no op failed without an errno');
  });
}

t.test('known damage', async (t) => {
  const k = await boot({ policy: 'monolithic', mounts: DEFAULT_MOUNTS });
  try {
    const p = await k.spawn();
    let n = 0;
    /** A copy of the base image with `damage` done to it, mounted; returns the mount point and image. */
    const damaged = async (damage: (img: string) => void) => {
      const img = join(dir, `known-${++n}.img`);
      copyFileSync(base, img);
      damage(img);
      const target = `/k${n}`;
      await p.mkdir(target);
      return { img, target, mount: () => p.mount(target, 'ext2', { source: img }) };
    };
    const fails = async (what: string, op: Promise<unknown>, errno: string) => {
      const err = await op.then(() => null, (e: unknown) => e);
      t.ok(err instanceof SysError && err.errno === errno && err.message.length > 20, `${what}: ${errno}`, { err });
    };
    const fsckOutput = (img: string) => spawnSync('e2fsck', ['-fn', img], { encoding: 'utf8' }).stdout;

    const magic = await damaged((img) => patch(img, 1024 + 0x38, [0, 0]));
    await fails('no magic number', magic.mount(), 'EINVAL');
    const huge = await damaged((img) => patch(img, 1024 + 4, u32(100_000)));
    await fails('more blocks than the image holds', huge.mount(), 'EUCLEAN');
    const table = await damaged((img) => patch(img, 2 * BS + 8, u32(3000)));
    await fails('an inode table outside its group', table.mount(), 'EUCLEAN');

    const loop = await damaged((img) => patch(img, indirect[0] * BS, u32(indirect[0])));
    await loop.mount();
    await fails('an indirect block that maps itself: read', p.readFile(`${loop.target}/a/dind`), 'EUCLEAN');
    await p.unmount(loop.target);
    const before = fsckOutput(loop.img);
    await loop.mount();
    await fails('and unlink', p.unlink(`${loop.target}/a/dind`), 'EUCLEAN');
    await p.unmount(loop.target);
    t.equal(fsckOutput(loop.img), before, 'the failed unlink changed nothing on disk');

    const range = await damaged((img) => patch(img, indirect[0] * BS + 8, u32(0xffff0000)));
    await range.mount();
    await fails('a pointer past the end of the file system', p.readFile(`${range.target}/a/dind`), 'EUCLEAN');
    await p.unmount(range.target);

    const entry = await damaged((img) => patch(img, dirBlocks[2] * BS + 12 + 4, [0, 0]));
    await entry.mount();
    await fails('a directory entry of length 0', p.readdir(`${entry.target}/d`), 'EUCLEAN');
    t.ok((await p.readdir(entry.target)).length > 0, 'other directories still read');
    await p.unmount(entry.target);
  } finally {
    await k.halt();
  }
});
