// The ext4 metadata write test (test/ext4-meta-write-*.ts, one file per policy): rumpus changes
// ext4 images with lazily initialised groups — creates, writes, unlinks, mkdir, rmdir, renames
// spread over every group by the Orlov allocator — and the images then pass both e2fsck checks,
// dumpe2fs shows the groups rumpus initialised and bg_flags and bg_itable_unused as e2fsprogs
// computes them (ext2fs_set_gdt_csum: INODE_UNINIT exactly where no inode is in use, the used
// part of each inode table ending after its last inode in use), and debugfs reads every file
// back byte for byte. Images as `mke2fs -t ext4` makes them (extent, 64bit, flex_bg,
// metadata_csum, huge_file, dir_nlink, extra_isize, a journal), without 64bit, and with
// uninit_bg instead of metadata_csum and no extents; 1 and 4 KiB blocks.

import t from 'tap';
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_MOUNTS, boot, type Proc } from '../../kernel/index.js';
import { debugfsWrite, fsckClean, rdumpPaths, seededBytes, tempDir } from './e2fs.js';
import { NO_E2FSPROGS, mkExt4Image } from './ext4.js';

const MiB = 1024 * 1024;
const dir = tempDir('rumpus-ext4-meta-write-');

export interface MetaImage {
  name: string;
  blockSize: number;
  features: string;
  size: number;
  groupBlocks?: number;
  /**
   * Groups whose inode table, block and inode bitmaps are filled with 0xAA and whose
   * ITABLE_ZEROED flag is cleared: what mke2fs's lazy_itable_init leaves on a used disk. The
   * driver must not read those bitmaps, and must zero the inodes it takes.
   */
  garbageGroups?: number[];
}

export const META_IMAGES: MetaImage[] = [
  { name: '1k-ext4', blockSize: 1024, size: 32 * MiB, features: '', garbageGroups: [1] },
  { name: '4k-ext4-no64bit-nojournal', blockSize: 4096, size: 64 * MiB, groupBlocks: 4096, features: '^64bit,^has_journal', garbageGroups: [1] },
  { name: '1k-uninit_bg-journal', blockSize: 1024, size: 32 * MiB, features: '^extent,^64bit,^metadata_csum,uninit_bg', garbageGroups: [2] },
  { name: '4k-uninit_bg-nojournal', blockSize: 4096, size: 64 * MiB, groupBlocks: 4096, features: '^extent,^64bit,^metadata_csum,^has_journal,uninit_bg', garbageGroups: [1, 2] },
];

/** One group as dumpe2fs prints it. */
export interface GroupInfo {
  flags: string[];
  freeBlocks: number;
  freeInodes: number;
  unusedInodes: number;
  /** The last range of free inodes dumpe2fs lists ("Free inodes: 12, 15-2048"), or null. */
  lastFreeInodes: [number, number] | null;
  inodeTable: [number, number];
  blockBitmap: number;
  inodeBitmap: number;
}

/** The groups of an image, from dumpe2fs. */
export function groupsOf(img: string): GroupInfo[] {
  const text = execFileSync('dumpe2fs', [img], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return text.split(/\nGroup \d+: /).slice(1).map((part) => {
    const num = (re: RegExp) => Number(re.exec(part)?.[1] ?? NaN);
    const table = /Inode table at (\d+)-(\d+)/.exec(part)!;
    const free = /Free inodes: ([\d, -]*)/.exec(part)![1].trim().split(', ').filter((r) => r !== '').map((r) => r.split('-').map(Number));
    const last = free.at(-1);
    return {
      flags: (/\[([^\]]*)\]/.exec(part.split('\n')[0])?.[1] ?? '').split(', ').filter((f) => f !== ''),
      freeBlocks: num(/(\d+) free blocks,/), freeInodes: num(/(\d+) free inodes,/), unusedInodes: num(/(\d+) unused inodes/),
      lastFreeInodes: last ? [last[0], last[1] ?? last[0]] : null, inodeTable: [Number(table[1]), Number(table[2])], blockBitmap: num(/Block bitmap at (\d+)/), inodeBitmap: num(/Inode bitmap at (\d+)/),
    };
  });
}

function fill(img: string, block: number, count: number, blockSize: number): void {
  const fd = openSync(img, 'r+');
  try {
    writeSync(fd, new Uint8Array(count * blockSize).fill(0xaa), 0, count * blockSize, block * blockSize);
  } finally {
    closeSync(fd);
  }
}

/** Makes the image, with its garbage groups. */
export function makeMetaImage(im: MetaImage, path: string): void {
  mkExt4Image(path, { size: im.size, blockSize: im.blockSize, features: im.features || undefined, groupBlocks: im.groupBlocks });
  const groups = groupsOf(path);
  for (const g of im.garbageGroups ?? []) {
    const info = groups[g];
    if (!info.flags.includes('INODE_UNINIT') || !info.flags.includes('BLOCK_UNINIT')) throw new Error(`${im.name}: group ${g} is not uninitialised: ${info.flags}`);
    fill(path, info.inodeTable[0], info.inodeTable[1] - info.inodeTable[0] + 1, im.blockSize);
    fill(path, info.blockBitmap, 1, im.blockSize);
    fill(path, info.inodeBitmap, 1, im.blockSize);
    debugfsWrite(path, [`set_bg ${g} flags 3`, `set_bg ${g} checksum calc`]);
  }
}

/** Top-level directories: the Orlov allocator spreads them over the groups (1, 2, 3, 1, 2, 3… on these images). */
const DIRS = 8;
const FILES = 30;
/** The directories removed whole at the end: all those of one group, which e2fsck then wants INODE_UNINIT again. */
const EMPTIED = [1, 4, 7];

const content = (d: number, i: number) => seededBytes((d * 7919 + i * 1237) % 9000 + (i % 3 === 0 ? 20000 : 0), d * 1000 + i + 1);

/**
 * The changes: directories spread over the groups, files of up to 29 KiB in each (and a 3 MiB
 * one), then unlinks, renames across directories, a subdirectory moved, one removed, and the
 * EMPTIED directories removed with all they hold. Returns what each remaining file holds.
 */
async function workload(p: Proc, root: string): Promise<Map<string, Uint8Array>> {
  const files = new Map<string, Uint8Array>();
  for (let d = 0; d < DIRS; d++) {
    await p.mkdir(`${root}/d${d}`);
    await p.mkdir(`${root}/d${d}/sub`);
    for (let i = 0; i < FILES; i++) {
      const path = `d${d}/f${i}`;
      files.set(path, content(d, i));
      await p.writeFile(`${root}/${path}`, files.get(path)!);
    }
  }
  const big = seededBytes(3 * MiB, 4242);
  files.set('d2/big', big);
  await p.writeFile(`${root}/d2/big`, big);
  for (let i = 0; i < FILES; i += 2) {
    await p.unlink(`${root}/d0/f${i}`);
    files.delete(`d0/f${i}`);
  }
  for (let i = 1; i < 10; i += 2) {
    await p.rename(`${root}/d3/f${i}`, `${root}/d5/moved-${i}`);
    files.set(`d5/moved-${i}`, files.get(`d3/f${i}`)!);
    files.delete(`d3/f${i}`);
  }
  await p.rename(`${root}/d5/sub`, `${root}/d6/sub5`);
  await p.rmdir(`${root}/d0/sub`);
  for (const d of EMPTIED) {
    for (let i = 0; i < FILES; i++) {
      await p.unlink(`${root}/d${d}/f${i}`);
      files.delete(`d${d}/f${i}`);
    }
    await p.rmdir(`${root}/d${d}/sub`);
    await p.rmdir(`${root}/d${d}`);
  }
  return files;
}

/** The test under one policy. */
export function metaWriteTest(policy: string): void {
  t.test(`ext4 metadata written under ${policy}`, { skip: NO_E2FSPROGS }, async (t) => {
    const images = META_IMAGES.map((im) => ({ ...im, path: join(dir, `${policy}-${im.name}.img`) }));
    for (const im of images) makeMetaImage(im, im.path);
    const before = images.map((im) => groupsOf(im.path));
    const mounts = images.map((im, i) => ({ target: `/m${i}`, fstype: 'ext2', source: im.path }));
    const k = await boot({ policy, mounts: [...DEFAULT_MOUNTS, ...mounts] });
    const written: Map<string, Uint8Array>[] = [];
    try {
      const p = await k.spawn();
      for (let i = 0; i < images.length; i++) written.push(await workload(p, `/m${i}`));
    } finally {
      await k.halt();
    }
    for (const [i, im] of images.entries()) {
      const r = fsckClean(im.path);
      t.ok(r.clean, `${im.name}: e2fsck -fn silent, e2fsck -fy changes nothing`, { report: r.report });
      const after = groupsOf(im.path);
      const initialised = after.filter((g, n) => before[i][n].flags.includes('INODE_UNINIT') && !g.flags.includes('INODE_UNINIT'));
      t.ok(initialised.length >= 2, `${im.name}: inodes were allocated in ${initialised.length} groups that were INODE_UNINIT`);
      t.ok(after.some((g, n) => before[i][n].flags.includes('BLOCK_UNINIT') && !g.flags.includes('BLOCK_UNINIT')), `${im.name}: blocks were allocated in a group that was BLOCK_UNINIT`);
      const ipg = before[i][1].freeInodes;
      t.same(after.map((g) => g.flags.includes('INODE_UNINIT')), after.map((g) => g.freeInodes === ipg), `${im.name}: exactly the groups with no inode in use are INODE_UNINIT`);
      const unusedWanted = after.map((g, n) => g.flags.includes('INODE_UNINIT') ? ipg
        : g.lastFreeInodes && g.lastFreeInodes[1] === (n + 1) * ipg ? g.lastFreeInodes[1] - g.lastFreeInodes[0] + 1 : 0);
      t.same(after.map((g) => g.unusedInodes), unusedWanted, `${im.name}: each group's unused inodes are those after its last inode in use`);
      t.ok(after.filter((g) => g.flags.includes('INODE_UNINIT')).length < before[i].filter((g) => g.flags.includes('INODE_UNINIT')).length,
        `${im.name}: fewer groups are INODE_UNINIT than before`);
      for (const g of im.garbageGroups ?? []) t.notOk(after[g].flags.includes('ITABLE_ZEROED'), `${im.name}: group ${g} still says its table was never zeroed`);
      const tops = [...new Set([...written[i].keys()].map((path) => path.split('/')[0]))];
      const out = rdumpPaths(im.path, tops);
      let same = 0;
      for (const [path, data] of written[i]) if (Buffer.compare(readFileSync(join(out, path)), data) === 0) same++;
      t.equal(same, written[i].size, `${im.name}: debugfs dumps all ${written[i].size} files byte for byte`);
    }
  });
}
