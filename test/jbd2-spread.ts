// Freeing spread over several jbd2 transactions (servers/ext2/spread.ts), on files too wide for
// one (mkWideFile: ~1,050 groups, a 1024-block journal), ext4 (extents) and ext3 (block map):
// - a crash between two steps of an unlink or a truncate (blk dying at a flush, monolithic: the
//   kernel stops) leaves the inode on the orphan list with part of its blocks freed — a
//   read-only mount shows it so. e2fsck alone finishes it ("Clearing orphaned inode", or
//   "Truncating orphaned inode" for a truncate) into a clean image with every block free; and
//   so does rumpus's next read-write mount;
// - a file unlinked while open keeps its blocks until its last close, which frees them all;
// - a file between half a transaction and one wide: the op leaves it to one step, which frees
//   it whole;
// - a fragmented file (an extent tree three deep): the steps leave the tree as trimmed, and only
//   the last reshapes it — a rebuild in a middle step would not fit its transaction.

import { rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { DEFAULT_MOUNTS, boot } from '../kernel/index.js';
import { debugfs, debugfsWrite, fsckClean, superblock, tempDir } from './lib/e2fs.js';
import { errnoOf } from './lib/errno.js';
import { NO_E2FSPROGS } from './lib/ext4.js';
import { WIDE_BLOCKS, freeAfterDebugfs, freeBlocks, mkWideFile, sparseCopy } from './lib/jbd2.js';

const dir = tempDir('rumpus-jbd2-spread-');
/** blk's flushes after the injection before it crashes: past the op's commit and a step's (2 a commit), before the last step. */
const CRASH_AFTER_FLUSHES = 5;
/** The size the truncate cases cut /big to: one block stays. */
const CUT_TO = 1000;

/** The inode's i_blocks in file system blocks (1 KiB), as debugfs shows it (512-byte units). */
const blocksOf = (img: string, path: string) => Number(/Blockcount: (\d+)/.exec(debugfs(img, `stat ${path}`))?.[1] ?? NaN) / 2;

/** s_last_orphan, 0 for an empty list. */
const lastOrphan = (img: string) => Number(superblock(img)['First orphan inode'] ?? 0);

/** Boots a monolithic kernel with `img` at /j (read-only if asked), runs fn, halts. */
/** After an op that frees a file: the image clean (both e2fsck checks), `free` blocks free (`why`), the orphan list empty. */
function checkFreed(t: Test, img: string, free: number, why: string): void {
  const r = fsckClean(img);
  t.ok(r.clean, 'the image is clean (both e2fsck checks)', { report: r.report });
  t.equal(freeBlocks(img), free, why);
  t.equal(lastOrphan(img), 0, 'and the orphan list empty');
}

async function withMount<T>(img: string, readonly: boolean, fn: (p: Awaited<ReturnType<Awaited<ReturnType<typeof boot>>['spawn']>>) => Promise<T>): Promise<T> {
  const k = await boot({ policy: 'monolithic', mounts: [...DEFAULT_MOUNTS, { target: '/j', fstype: 'ext2', source: img, readonly }] });
  try {
    return await fn(await k.spawn());
  } finally {
    await k.halt();
  }
}

const cases = [
  { type: 'ext4', op: 'unlink', fsckSays: /Clearing orphaned inode 12 /, debugfs: ['rm big'] },
  { type: 'ext3', op: 'unlink', fsckSays: /Clearing orphaned inode 12 /, debugfs: ['rm big'] },
  { type: 'ext4', op: 'truncate', fsckSays: /Truncating orphaned inode 12 /, debugfs: null },
  { type: 'ext3', op: 'truncate', fsckSays: /Truncating orphaned inode 12 /, debugfs: null },
] as const;

for (const c of cases) {
  t.test(`${c.type}: blk crashing between two steps of a spread ${c.op}: e2fsck alone finishes the orphan, and so does rumpus's next mount`, { skip: NO_E2FSPROGS }, async (t) => {
    const tag = `${c.type}-${c.op}`;
    const img = join(dir, `crash-${tag}.img`);
    mkWideFile(img, c.type);
    const freeBefore = freeBlocks(img);
    const held = blocksOf(img, '/big');
    // What the whole op frees: the file's blocks as debugfs's rm frees them, or all but the one block a CUT_TO-byte file keeps.
    const freeAfter = c.debugfs ? freeAfterDebugfs(img, [...c.debugfs]) : freeBefore + held - 1;

    const k = await boot({ policy: 'monolithic', mounts: [...DEFAULT_MOUNTS, { target: '/j', fstype: 'ext2', source: img }] });
    try {
      const p = await k.spawn();
      await k.inject({ component: 'blk', type: 'crash', op: 'flush', after: CRASH_AFTER_FLUSHES });
      await (c.op === 'unlink' ? p.unlink('/j/big') : p.truncate('/j/big', CUT_TO)).catch(() => {});
      t.ok(k.panicked, 'the kernel panicked in the middle of the op');
    } finally {
      await k.halt();
    }
    const byRumpus = join(dir, `crash-${tag}-rumpus.img`);
    const readonly = join(dir, `crash-${tag}-ro.img`);
    sparseCopy(img, byRumpus);
    sparseCopy(img, readonly);

    await withMount(readonly, true, async (p) => {
      const { bfree } = await p.statfs('/j');
      t.ok(bfree > freeBefore && bfree < freeAfter, `the crash came between two steps: ${bfree - freeBefore} of ${freeAfter - freeBefore} blocks freed`);
      if (c.op === 'unlink') t.equal(await errnoOf(p.stat('/j/big')), 'ENOENT', 'the name went in the first commit');
      else t.equal((await p.stat('/j/big')).size, CUT_TO, 'i_size went to its new value in the first commit');
    });

    const fixed = spawnSync('e2fsck', ['-fy', img], { encoding: 'utf8' });
    t.ok(fixed.status === 0 || fixed.status === 1, 'e2fsck -fy repairs it', { out: fixed.stdout + fixed.stderr });
    t.match(fixed.stdout, c.fsckSays, 'finishing the orphan');
    const r = fsckClean(img);
    t.ok(r.clean, 'then both e2fsck checks pass', { report: r.report });
    t.equal(freeBlocks(img), freeAfter, 'with every block the op frees free');

    await withMount(byRumpus, false, async (p) => {
      if (c.op === 'truncate') t.equal((await p.stat('/j/big')).size, CUT_TO, 'rumpus mounts it: /big has its new size');
    });
    const r2 = fsckClean(byRumpus);
    t.ok(r2.clean, 'rumpus\'s mount finished the orphan: both e2fsck checks pass', { report: r2.report });
    t.equal(freeBlocks(byRumpus), freeAfter, 'with every block the op frees free');
    t.equal(lastOrphan(byRumpus), 0, 'and the orphan list empty');
    if (c.op === 'truncate') t.equal(blocksOf(byRumpus, '/big'), 1, '/big keeps one block');
    for (const copy of [img, byRumpus, readonly]) rmSync(copy);
  });
}

t.test('ext4: a wide file unlinked while open keeps its blocks until its last close, which frees them all', { skip: NO_E2FSPROGS }, async (t) => {
  const img = join(dir, 'open.img');
  mkWideFile(img, 'ext4');
  const freeBefore = freeBlocks(img);
  const freeAfter = freeAfterDebugfs(img, ['rm big']);
  await withMount(img, false, async (p) => {
    const fd = await p.open('/j/big', 'r');
    await p.unlink('/j/big');
    t.equal((await p.statfs('/j')).bfree, freeBefore, 'unlinked while open: no block is freed yet');
    t.equal((await p.fstat(fd)).size, WIDE_BLOCKS * 1024, 'and the file is whole through its descriptor');
    await p.close(fd);
    t.equal((await p.statfs('/j')).bfree, freeAfter, 'the last close frees every block');
  });
  checkFreed(t, img, freeAfter, 'with the free count debugfs\'s rm leaves');
});

t.test('ext4: a file wider than half a transaction but not than one is freed whole by the step after the op', { skip: NO_E2FSPROGS }, async (t) => {
  const img = join(dir, 'half.img');
  mkWideFile(img, 'ext4');
  // 180,000 blocks: ~700 groups, more bitmaps than half a transaction (which an op may use), fewer than one.
  debugfsWrite(img, ['rm big', 'write /dev/null half', 'fallocate half 0 179999', `sif half size ${180_000 * 1024}`]);
  const freeAfter = freeAfterDebugfs(img, ['rm half']);
  await withMount(img, false, async (p) => {
    await p.unlink('/j/half');
    t.equal((await p.statfs('/j')).bfree, freeAfter, 'every block is free when the unlink answers');
  });
  checkFreed(t, img, freeAfter, 'with the free count debugfs\'s rm leaves');
});

t.test('ext4: a fragmented file truncated and removed in steps, its extent tree reshaped only at the end', { skip: NO_E2FSPROGS }, async (t) => {
  const img = join(dir, 'fragmented.img');
  mkWideFile(img, 'ext4');
  // /frag: every other block of 280,000, preallocated one by one: 140,000 extents of one block
  // over ~560 groups, a tree of 1,687 leaves three levels deep.
  const cmds = join(dir, 'fragmented.cmds');
  const extents = Array.from({ length: 140_000 }, (_, i) => `fallocate frag ${2 * i} ${2 * i}`);
  writeFileSync(cmds, ['rm big', 'write /dev/null frag', ...extents, `sif frag size ${280_000 * 1024}`, ''].join('\n'));
  spawnSync('debugfs', ['-w', '-f', cmds, img], { stdio: 'ignore' }); // it echoes each command: megabytes
  t.match(debugfs(img, 'ex -n frag').split('\n')[1] ?? '', /^\s*0\/\s*3\s/, 'debugfs made a tree three levels deep');
  const freeBefore = freeBlocks(img);
  const held = freeAfterDebugfs(img, ['rm frag']) - freeBefore; // its blocks and its tree's
  await withMount(img, false, async (p) => {
    await p.truncate('/j/frag', 1_000_000);
    const left = (await p.stat('/j/frag')).blocks / 2; // 512-byte units
    t.ok(left < 1000, `the file keeps the blocks of its first 1,000,000 bytes and their tree (${left})`);
    t.equal((await p.statfs('/j')).bfree, freeBefore + held - left, 'the truncate freed every other block before it answered');
    await p.unlink('/j/frag');
    t.equal((await p.statfs('/j')).bfree, freeBefore + held, 'the unlink freed the rest before it answered, with no step left for the unmount');
  });
  checkFreed(t, img, freeBefore + held, 'with every block of the file free');
});
