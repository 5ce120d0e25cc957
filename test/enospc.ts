// A write that runs out of room part of the way writes a prefix and returns its length (a
// POSIX short write, as Linux's tmpfs and ext2 do), or, when not one byte fits, fails and
// changes nothing: the size says what was written, the free counts match it, and bytes past
// the written end read as zero when the file is extended. On ext2 the image stays clean for
// e2fsck afterwards. Out of space (ENOSPC) and out of file size (EFBIG) alike.

import t from 'tap';
import { join } from 'node:path';
import { DEFAULT_MOUNTS, O_CREAT, O_RDWR, boot } from '../kernel/index.js';
import { fsckClean, mkImage, seededBytes, tempDir } from './lib/e2fs.js';
import { maxFileSize } from '../servers/ext2/blockmap.js';
import type { Geometry } from '../servers/ext2/superblock.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const POLICIES = ['monolithic', 'microkernel'];

/** Byte-for-byte equality (tap's deep comparison is slow on megabytes). */
const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(a, b) === 0;

/** The result of a write: bytes written, or the errno it failed with. */
const attempt = (w: Promise<number>): Promise<number | string> => w.then((n) => n, (e: { errno: string }) => e.errno);

for (const policy of POLICIES) {
  t.test(`tmpfs under ${policy}`, async (t) => {
    const k = await boot({ policy });
    try {
      const p = await k.spawn({ uid: 0, gid: 0 });
      await k.call('tmpfs', 'mount', { options: { instance: '/small', size: 4 * MiB } });
      await p.mkdir('/small');
      await p.mount('/small', 'tmpfs');
      t.equal((await p.statfs('/small')).blocks * 4096, 4 * MiB, 'a 4 MiB instance at /small');

      const fd = await p.open('/small/big', O_RDWR | O_CREAT, 0o644);
      for (let i = 0; i < 3; i++) await p.write(fd, new Uint8Array(MiB));
      const size0 = (await p.fstat(fd)).size;
      const { bsize, bfree: free0 } = await p.statfs('/small');
      t.ok(free0 * bsize < MiB && free0 * bsize > MiB - 16 * KiB, `about 1 MiB is left (${free0} blocks)`);

      const written = await p.write(fd, new Uint8Array(2 * MiB).fill(0x41));
      t.equal(written, free0 * bsize, 'a 2 MiB write writes what fits and says so');
      t.equal((await p.fstat(fd)).size, size0 + written, 'the size says what was written');
      t.equal((await p.statfs('/small')).bfree, 0, 'the free blocks are gone, no more');
      t.equal(await attempt(p.write(fd, new Uint8Array(1))), 'ENOSPC', 'a write of which not a byte fits fails with ENOSPC');
      t.equal((await p.fstat(fd)).size, size0 + written, 'and changes nothing');

      await p.ftruncate(fd, size0 + 2 * MiB);
      const tail = await p.pread(fd, 2 * MiB - written, size0 + written);
      t.equal(tail.filter((b) => b !== 0).length, 0, 'bytes past the written end read as zero after ftruncate extends the file');
      const head = await p.pread(fd, written, size0);
      t.ok(head.every((b) => b === 0x41), 'the written prefix reads back');

      await p.ftruncate(fd, 0);
      t.equal((await p.statfs('/small')).bfree, free0 + 3 * MiB / bsize, 'truncating gives every block back');

      // At the largest file size (16 TiB): a write across it writes what fits below it.
      const at = 2 ** 44 - 4;
      t.equal(await attempt(p.pwrite(fd, 'ABCDEFGH', at)), 4, 'a write across the largest file size is a short write');
      t.equal((await p.fstat(fd)).size, 2 ** 44, 'up to the largest size');
      t.equal(await attempt(p.pwrite(fd, 'A', 2 ** 44)), 'EFBIG', 'a write at it fails with EFBIG');
      await p.close(fd);
    } finally {
      await k.halt();
    }
  });

  t.test(`ext2 under ${policy}`, async (t) => {
    const dir = tempDir('rumpus-enospc-');
    const img = join(dir, 'small.img');
    mkImage(img, { size: 2 * MiB, blockSize: 1024 });
    const k = await boot({ policy, mounts: [...DEFAULT_MOUNTS, { target: '/mnt', fstype: 'ext2', source: img }] });
    let data: Uint8Array = new Uint8Array(0);
    let written = 0;
    try {
      const p = await k.spawn({ uid: 0, gid: 0 });
      const { bsize, bfree } = await p.statfs('/mnt');
      data = seededBytes(bfree * bsize + 64 * KiB, 7);
      const fd = await p.open('/mnt/big', O_RDWR | O_CREAT, 0o644);
      written = await p.write(fd, data);
      t.ok(written > 0 && written < data.length, `a write larger than the free space writes a prefix (${written} of ${data.length})`);
      t.equal(written % bsize, 0, 'up to the last block it could allocate');
      t.equal((await p.fstat(fd)).size, written, 'the size says what was written');
      t.equal((await p.statfs('/mnt')).bfree, 0, 'no free block left');
      t.equal(await attempt(p.write(fd, new Uint8Array(1))), 'ENOSPC', 'a write of which not a byte fits fails with ENOSPC');
      t.equal(await attempt(p.pwrite(fd, 'far', 64 * MiB)), 'ENOSPC', 'so does one into a hole far past the end (it needs indirect blocks)');
      t.equal((await p.fstat(fd)).size, written, 'neither changed the size');
      const other = await p.open('/mnt/other', O_RDWR | O_CREAT, 0o644);
      t.equal(await attempt(p.write(other, data.subarray(0, 10))), 'ENOSPC', 'nor does a new file get a block');
      await p.close(other);
      t.ok(sameBytes(await p.pread(fd, data.length, 0), data.subarray(0, written)), 'the prefix reads back');
      await p.close(fd);
    } finally {
      await k.halt();
    }
    const fsck = fsckClean(img);
    t.ok(fsck.clean, 'e2fsck -fn and -fy find the image clean', { report: fsck.report });

    // The image again: what was written is there, and a write across the largest file size is short.
    const big = join(dir, 'big.img');
    mkImage(big, { size: 4 * MiB, blockSize: 1024 });
    const k2 = await boot({ policy, mounts: [...DEFAULT_MOUNTS, { target: '/mnt', fstype: 'ext2', source: img }, { target: '/big', fstype: 'ext2', source: big }] });
    try {
      const p = await k2.spawn({ uid: 0, gid: 0 });
      t.ok(sameBytes(await p.readFile('/mnt/big'), data.subarray(0, written)), 'the prefix is on the image after a remount');
      const fd = await p.open('/big/f', O_RDWR | O_CREAT, 0o644);
      const max = 17_247_252_480; // ext2's largest file with 1 KiB blocks (Linux's ext2_max_size)
      t.equal(await attempt(p.pwrite(fd, 'ABCDEFGH', max - 4)), 4, 'a write across the largest file size writes what fits');
      t.equal((await p.fstat(fd)).size, max, 'the size is the largest');
      t.equal(await attempt(p.pwrite(fd, 'A', max)), 'EFBIG', 'a write at it fails with EFBIG');
      await p.close(fd);
    } finally {
      await k2.halt();
    }
    for (const image of [img, big]) {
      const r = fsckClean(image);
      t.ok(r.clean, `e2fsck -fn and -fy find ${image === img ? 'the first' : 'the second'} image clean afterwards`, { report: r.report });
    }
  });
}

t.test("ext2's largest file size is Linux's ext2_max_size", async (t) => {
  const max = (blockSize: number) => maxFileSize({ blockSize, pointersPerBlock: blockSize / 4 } as Geometry);
  t.equal(max(1024), 17_247_252_480, '1 KiB blocks: the whole block tree');
  t.equal(max(2048), 275_415_851_008, '2 KiB blocks: the whole block tree');
  t.equal(max(4096), 2_196_873_666_560, '4 KiB blocks: what fits in i_blocks beside its indirect blocks');
});
