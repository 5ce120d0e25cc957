// rumpus mkfs: images pass both e2fsck checks, are the same byte for byte when made twice
// with the same UUID and time — and are the very bytes mke2fs writes for the same
// parameters — and bad parameters are refused with EINVAL.

import t from 'tap';
import { spawnSync } from 'node:child_process';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SysError, boot } from '../kernel/index.js';
import { FAKE_TIME, UUID, fsckClean, mkImage, superblock, tempDir } from './lib/e2fs.js';

const MiB = 1024 * 1024;
const dir = tempDir();

function sameBytes(a: string, b: string): boolean {
  return spawnSync('cmp', ['-s', a, b]).status === 0;
}

t.test('mkfs', async (t) => {
  const k = await boot({ policy: 'microkernel', mounts: [] });
  const mkfs = (source: string, args: Record<string, unknown>) => k.call<{ blocks: number; inodes: number; uuid: string }>('ext2', 'mkfs', { source, ...args });
  try {
    const geometries: { name: string; size: number; blockSize?: number; revision?: number; mke2fs: string[] }[] = [
      { name: '8 MiB, default block size', size: 8 * MiB, mke2fs: [] },
      { name: '2 MiB (mke2fs "floppy")', size: 2 * MiB, mke2fs: [] },
      { name: '70 MiB of 1 KiB blocks, a short last group', size: 70 * MiB + 5 * 1024, blockSize: 1024, mke2fs: ['-b', '1024'] },
      { name: '64 MiB of 2 KiB blocks', size: 64 * MiB, blockSize: 2048, mke2fs: ['-b', '2048'] },
      { name: '200 MiB of 4 KiB blocks', size: 200 * MiB, blockSize: 4096, mke2fs: ['-b', '4096'] },
      { name: '600 MiB, default block size (4 KiB)', size: 600 * MiB, mke2fs: [] },
      { name: 'revision 0', size: 8 * MiB, revision: 0, mke2fs: ['-r', '0'] },
    ];
    for (const g of geometries) {
      const ours = join(dir, 'ours.img');
      const twice = join(dir, 'twice.img');
      const theirs = join(dir, 'theirs.img');
      const args = { size: g.size, blockSize: g.blockSize, revision: g.revision, uuid: UUID, time: FAKE_TIME };
      await mkfs(ours, args);
      await mkfs(twice, args);
      const features = g.revision === 0 ? undefined : 'none,filetype,sparse_super,large_file';
      mkImage(theirs, { size: g.size, features, blockSize: g.blockSize, revision: g.revision });
      const r = fsckClean(ours);
      t.ok(r.clean, `${g.name}: e2fsck finds nothing to fix`, { report: r.report });
      t.ok(sameBytes(ours, twice), `${g.name}: made twice, byte for byte the same`);
      t.ok(sameBytes(ours, theirs), `${g.name}: byte for byte what mke2fs writes`);
    }

    const labelled = join(dir, 'labelled.img');
    writeFileSync(labelled, Buffer.alloc(40 * MiB, 0xa5)); // an old, bigger image full of garbage
    const made = await mkfs(labelled, { size: 16 * MiB, label: 'photos', inodes: 1000, blockSize: 4096, inodeSize: 128 });
    t.equal(statSync(labelled).size, 16 * MiB, 'the image file gets exactly the size asked for');
    const sb = superblock(labelled);
    t.equal(sb['Filesystem volume name'], 'photos');
    t.equal(sb['Filesystem UUID'], made.uuid, 'a random UUID when none is given');
    t.match(made.uuid, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'a version 4 UUID');
    t.equal(sb['Inode size'], '128');
    t.ok(made.inodes >= 1000 && made.inodes < 1100, `about 1000 inodes (${made.inodes})`);
    const r = fsckClean(labelled);
    t.ok(r.clean, 'nothing of the old content confuses e2fsck', { report: r.report });
    const other = await mkfs(join(dir, 'other.img'), { size: 16 * MiB });
    t.not(other.uuid, made.uuid, 'each random UUID is new');
    t.equal(superblock(join(dir, 'other.img'))['Inode count'], String(16 * MiB / 4096), 'one inode per 4 KiB by default below 512 MiB');

    const fails = async (args: Record<string, unknown>, what: string) => {
      const err = await mkfs(join(dir, 'bad.img'), { size: 8 * MiB, ...args }).catch((e: unknown) => e);
      t.ok(err instanceof SysError && err.errno === 'EINVAL', `${what} is refused with EINVAL`, { err });
    };
    await fails({ blockSize: 8192 }, 'a block size of 8 KiB');
    await fails({ size: 20 * 1024 }, 'an image of 20 KiB');
    await fails({ uuid: 'not-a-uuid' }, 'a malformed UUID');
    await fails({ label: 'x'.repeat(17) }, 'a label of 17 bytes');
    await fails({ inodeSize: 100 }, 'an inode size of 100');
    await fails({ revision: 2 }, 'revision 2');
    await fails({ inodes: 10_000_000 }, 'more inodes than fit');

    const m = await k.call<{ fsid: number }>('ext2', 'mount', { source: labelled });
    const busy = await mkfs(labelled, { size: 8 * MiB }).catch((e: unknown) => e);
    t.ok(busy instanceof SysError && busy.errno === 'EBUSY', 'a mounted image is not reformatted');
    await k.call('ext2', 'unmount', { fsid: m.fsid });
  } finally {
    await k.halt();
  }
});
