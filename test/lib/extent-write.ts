// The extent write test (test/ext4-extent-write-*.ts, one file per policy): extent trees
// written by rumpus on images with the extent feature and nothing else of ext4 (mke2fs -t ext2
// -O extent) and on ext4 images as mke2fs makes them (metadata_csum: every extent block's
// checksum), 1 and 4 KiB blocks: new files, directories and slow symlinks get EXTENTS_FL; contiguous writes and appends make one extent;
// overwrites, holes, a fragmented file whose tree grows to depth 2 and is filled in, a write
// into an uninitialised extent, truncates that bring the depth back to 0, and unlinks that give
// every block back. After each scenario the image passes e2fsck -fn silently and e2fsck -fy on
// a copy changes nothing, every file reads back byte for byte through rumpus and through
// debugfs dump, and debugfs ex shows the tree expected.

import t, { type Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_MOUNTS, boot, type Proc } from '../../kernel/index.js';
import { debugfs, debugfsWrite, fsckClean, mkImage, seededBytes, tempDir } from './e2fs.js';
import { EXTENTS_FL } from '../../servers/ext2/inode.js';
import { NO_E2FSPROGS, mkExt4Image } from './ext4.js';

const MiB = 1024 * 1024;
const dir = tempDir('rumpus-extent-write-');
const BLOCK_SIZES = [1024, 4096];

/** One scenario: what it does through rumpus, then what it expects of the image once unmounted. */
interface Scenario {
  name: string;
  run(p: Proc, files: Map<string, Uint8Array>, bs: number): Promise<void>;
  check?(t: Test, img: string, bs: number): void;
}

/** The tree debugfs ex prints for a file: its depth and its leaf extents as [logical, physical, length, uninit]. */
function extentTree(img: string, path: string): { depth: number; extents: [number, number, number, boolean][] } {
  const out = debugfs(img, `ex ${path}`);
  let depth = 0;
  const extents: [number, number, number, boolean][] = [];
  for (const line of out.split('\n')) {
    const m = /^\s*(\d+)\/\s*(\d+)\s+\d+\/\s*\d+\s+(\d+)\s*-\s*(\d+)\s+(\d+)(?:\s*-\s*\d+)?\s+(\d+)\s*(Uninit)?/.exec(line);
    if (!m) continue;
    depth = Number(m[2]);
    if (m[1] === m[2]) extents.push([Number(m[3]), Number(m[5]), Number(m[6]), m[7] !== undefined]);
  }
  return { depth, extents };
}

/** A file's bytes as debugfs dump writes them out of the image. */
function dumped(img: string, path: string): Uint8Array {
  const out = join(dir, 'dump');
  rmSync(out, { force: true });
  debugfs(img, `dump ${path} ${out}`);
  return new Uint8Array(readFileSync(out));
}

async function put(p: Proc, path: string, files: Map<string, Uint8Array>, data: Uint8Array, offset: number): Promise<void> {
  const fd = await p.open(path, 'r+');
  try {
    await p.pwrite(fd, data, offset);
  } finally {
    await p.close(fd);
  }
  const old = files.get(path) ?? new Uint8Array(0);
  const next = new Uint8Array(Math.max(old.length, offset + data.length));
  next.set(old);
  next.set(data, offset);
  files.set(path, next);
}

async function create(p: Proc, path: string, files: Map<string, Uint8Array>): Promise<void> {
  await p.writeFile(path, new Uint8Array(0));
  files.set(path, new Uint8Array(0));
}

/** Blocks of the fragmented file: enough separate extents for a depth 2 tree (more than 4 × a block's worth) at 1 KiB, depth 1 at 4 KiB. */
const FRAGMENTS = 400;

const scenarios: Scenario[] = [
  {
    name: 'new file, directory and slow symlink get extent trees; a contiguous file is one extent',
    async run(p, files) {
      await create(p, '/mnt/contig', files);
      await put(p, '/mnt/contig', files, seededBytes(300 * 1024 + 5, 1), 0);
      await p.mkdir('/mnt/d');
      for (let i = 0; i < 60; i++) await p.writeFile(`/mnt/d/a-long-enough-name-${i}`, `${i}`);
      await p.symlink('t/'.repeat(50), '/mnt/slow');
      await p.symlink('fast', '/mnt/fast');
      await create(p, '/mnt/empty', files);
    },
    check(t, img) {
      const flags = (f: string) => parseInt(/Flags: 0x([0-9a-f]+)/.exec(debugfs(img, `stat ${f}`))![1], 16);
      for (const f of ['/contig', '/d', '/slow', '/empty']) t.ok(flags(f) & EXTENTS_FL, `${f} has EXTENTS_FL`);
      t.equal(flags('/fast') & EXTENTS_FL, 0, 'a fast symlink stays inline, without EXTENTS_FL');
      t.same(extentTree(img, '/contig').extents.length, 1, 'the contiguous file is one extent');
      t.ok(extentTree(img, '/d').depth === 0 && extentTree(img, '/d').extents.length >= 1, 'the grown directory is mapped by extents');
      t.equal(debugfs(img, 'stat /slow').includes('Fast link dest'), false, 'the slow symlink has a block');
    },
  },
  {
    name: 'appends extend the last extent; overwrites stay in place',
    async run(p, files) {
      await create(p, '/mnt/log', files);
      for (let i = 0; i < 40; i++) await put(p, '/mnt/log', files, seededBytes(3001, 100 + i), files.get('/mnt/log')!.length);
      await put(p, '/mnt/log', files, seededBytes(5000, 7), 1000);
    },
    check(t, img) {
      t.equal(extentTree(img, '/log').extents.length, 1, 'the appended file is one extent');
    },
  },
  {
    name: 'holes: pieces far apart, then the first hole filled',
    async run(p, files, bs) {
      await create(p, '/mnt/sparse', files);
      for (let i = 9; i >= 0; i--) await put(p, '/mnt/sparse', files, seededBytes(bs + 100, 200 + i), i * 16 * bs);
      await put(p, '/mnt/sparse', files, seededBytes(3 * bs, 300), 2 * bs + 100);
      const fd = await p.open('/mnt/sparse', 'r+');
      await p.ftruncate(fd, 200 * bs);
      await p.close(fd);
      const grown = new Uint8Array(200 * bs);
      grown.set(files.get('/mnt/sparse')!);
      files.set('/mnt/sparse', grown);
    },
    check(t, img) {
      const { depth, extents } = extentTree(img, '/sparse');
      t.equal(depth, 1, 'ten pieces need a tree block');
      t.ok(extents.length >= 10, 'one extent a piece at least');
    },
  },
  {
    name: 'a fragmented file grows its tree, is filled in, and truncates back to depth 0',
    async run(p, files, bs) {
      await create(p, '/mnt/frag', files);
      const one = (lblk: number) => put(p, '/mnt/frag', files, seededBytes(bs, 1000 + lblk), lblk * bs);
      for (let l = 0; l < 2 * FRAGMENTS; l += 2) await one(l);
      for (let l = 1; l < 2 * FRAGMENTS; l += 2) await one(l);
    },
    check(t, img, bs) {
      const { depth, extents } = extentTree(img, '/frag');
      t.equal(depth, bs === 1024 ? 2 : 1, `${FRAGMENTS} separate extents: depth ${bs === 1024 ? 2 : 1}`);
      t.ok(extents.length > 4 * (bs / 12 - 1) || bs === 4096, 'more extents than a depth 1 tree holds');
    },
  },
  {
    name: 'truncate in steps: fewer extents, lower trees',
    async run(p, files, bs) {
      for (const blocks of [2 * FRAGMENTS - 1, 300, 5, 3, 0]) {
        await p.truncate('/mnt/frag', blocks * bs - (blocks > 0 ? 10 : 0));
        const keep = Math.max(0, blocks * bs - (blocks > 0 ? 10 : 0));
        files.set('/mnt/frag', files.get('/mnt/frag')!.slice(0, keep));
      }
      await put(p, '/mnt/frag', files, seededBytes(5 * bs, 5), 0);
    },
    check(t, img) {
      const { depth, extents } = extentTree(img, '/frag');
      t.equal(depth, 0, 'the tree is back in i_block');
      t.equal(extents.length, 1, 'rewritten contiguously: one extent');
    },
  },
  {
    name: 'a write into an uninitialised extent splits it',
    async run(p, files, bs) {
      files.set('/mnt/prealloc', new Uint8Array(100 * bs));
      await put(p, '/mnt/prealloc', files, seededBytes(bs + 7, 77), 40 * bs + 3);
      await put(p, '/mnt/prealloc', files, seededBytes(2 * bs, 78), 0);
      await put(p, '/mnt/prealloc', files, seededBytes(bs, 79), 99 * bs);
    },
    check(t, img) {
      const { extents } = extentTree(img, '/prealloc');
      t.ok(extents.some((e) => e[3]) && extents.some((e) => !e[3]), 'initialised and uninitialised extents side by side');
      t.equal(extents.reduce((n, e) => n + e[2], 0), 100, 'covering the 100 blocks');
    },
  },
  {
    name: 'unlink gives every block back',
    async run(p, files) {
      for (const f of [...files.keys()]) {
        await p.unlink(f);
        files.delete(f);
      }
      for (let i = 0; i < 60; i++) await p.unlink(`/mnt/d/a-long-enough-name-${i}`);
      await p.rmdir('/mnt/d');
      await p.unlink('/mnt/slow');
    },
  },
];

async function readBack(t: Test, p: Proc, files: Map<string, Uint8Array>, what: string): Promise<void> {
  for (const [path, data] of files) {
    const got = await p.readFile(path);
    t.ok(Buffer.from(got).equals(Buffer.from(data)), `${what}: ${path} reads back through rumpus (${data.length} bytes)`);
  }
}

/** The kinds of image: extent alone, and ext4 as mke2fs makes it (metadata_csum, 64bit, flex_bg, the journal…). */
const KINDS: { name: string; make(img: string, bs: number): void }[] = [
  { name: 'mke2fs -t ext2 -O extent', make: (img, bs) => mkImage(img, { size: 16 * MiB, blockSize: bs, features: 'extent' }) },
  { name: 'mke2fs -t ext4', make: (img, bs) => mkExt4Image(img, { size: 32 * MiB, blockSize: bs }) },
];

/** An image of a kind, with a preallocated file (an uninitialised extent over blocks full of junk) for the split scenario. */
function makeImage(img: string, kind: (typeof KINDS)[number], bs: number): void {
  kind.make(img, bs);
  const junk = join(dir, 'junk');
  writeFileSync(junk, Buffer.alloc(100 * bs, 0xaa));
  debugfsWrite(img, [`write ${junk} junk`, 'rm junk', 'write /dev/null prealloc', 'fallocate /prealloc 0 99', `sif /prealloc size ${100 * bs}`]);
}

const freeBlocks = (img: string) => Number(/Free blocks:\s+(\d+)/.exec(execFileSync('dumpe2fs', ['-h', img], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }))![1]);

/** The scenarios under one policy, in one kernel: the image is mounted for each scenario and unmounted before e2fsck looks. */
export function extentWriteTest(policy: string): void {
  t.test(`scenarios under ${policy}`, { skip: NO_E2FSPROGS }, async (t) => {
    const k = await boot({ policy, mounts: DEFAULT_MOUNTS });
    try {
      const p = await k.spawn();
      await p.mkdir('/mnt');
      for (const [k, kind] of KINDS.entries()) for (const bs of BLOCK_SIZES) {
        const img = join(dir, `${policy}-${k}-${bs}.img`);
        makeImage(img, kind, bs);
        const freeAtStart = freeBlocks(img);
        const files = new Map<string, Uint8Array>();
        for (const sc of scenarios) {
          const what = `${kind.name}, ${bs}-byte blocks, ${sc.name}`;
          await p.mount('/mnt', 'ext2', { source: img });
          t.equal((await p.mounts()).find((m) => m.target === '/mnt')?.readonly, false, `${what}: mounted read-write`);
          await sc.run(p, files, bs);
          await readBack(t, p, files, what);
          await p.unmount('/mnt');
          const r = fsckClean(img);
          t.ok(r.clean, `${what}: e2fsck -fn silent, e2fsck -fy changes nothing`, { report: r.report });
          for (const [path, data] of files) {
            t.ok(Buffer.from(dumped(img, path.slice('/mnt'.length))).equals(Buffer.from(data)), `${what}: ${path} comes out of debugfs dump as written`);
          }
          sc.check?.(t, img, bs);
        }
        t.equal(freeBlocks(img), freeAtStart + 100, `${kind.name}, ${bs}-byte blocks: every block is free again, the preallocated file's too`);
      }
    } finally {
      await k.halt();
    }
  });
}
