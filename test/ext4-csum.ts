// The metadata_csum checksums (servers/ext2/csum.ts) against real images: every group
// descriptor, initialised bitmap, in-use inode, extent tree block, directory leaf block and
// htree node of images made by mke2fs -t ext4 (64bit and not, 1 and 4 KiB blocks, and
// uninit_bg's CRC-16 descriptors) verifies; where the blocks are is asked of debugfs, not
// computed with the code under test. A flipped byte makes each check fail.

import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { e2fsprogsTool } from '../bench/e2fsprogs.js';
import { u16, u32 } from '../servers/ext2/bytes.js';
import { crc16Update, crc32c, crc32cUpdate } from '../servers/ext2/crc32c.js';
import {
  BG_CHECKSUM, S_CHECKSUM, bitmapChecksum, checksumSeed, dirBlockChecksum, dxNodeChecksum, extentBlockChecksum, extentTailOffset,
  groupDescChecksum, groupDescChecksum16, hasDirentTail, inodeChecksumOk, inodeSeed, superblockChecksum,
} from '../servers/ext2/csum.js';
import { debugfs, tempDir } from './lib/e2fs.js';
import { BIG_DIR, FRAGMENTED, NO_E2FSPROGS, addExt4Shapes, mkExt4Image } from './lib/ext4.js';

const ascii = (s: string) => new TextEncoder().encode(s);

t.test('CRC32C and CRC-16 check values', async (t) => {
  t.equal(crc32c(ascii('123456789')), 0xe3069283, 'CRC-32C of "123456789"');
  t.equal(crc32cUpdate(0, new Uint8Array(0)), 0, 'the raw update of nothing keeps its input');
  t.equal(crc32cUpdate(crc32cUpdate(0xffffffff, ascii('1234')), ascii('56789')), crc32cUpdate(0xffffffff, ascii('123456789')), 'updates chain');
  t.equal(crc16Update(0, ascii('123456789')), 0xbb3d, 'CRC-16/ARC of "123456789" (lib/crc16.c from 0)');
});

/** An image's bytes with the fields the checks need. */
class Image {
  readonly bytes: Uint8Array;
  readonly sb: Uint8Array;
  readonly bs: number;
  readonly descSize: number;
  readonly groups: number;
  readonly seed: number;

  constructor(readonly path: string) {
    this.bytes = new Uint8Array(readFileSync(path));
    this.sb = this.bytes.subarray(1024, 2048);
    this.bs = 1024 << u32(this.sb, 0x18);
    this.descSize = u32(this.sb, 0x60) & 0x80 ? u16(this.sb, 0xfe) : 32;
    this.groups = Math.ceil((u32(this.sb, 0x04) - u32(this.sb, 0x14)) / u32(this.sb, 0x20));
    this.seed = checksumSeed(this.sb);
  }

  get ipg(): number { return u32(this.sb, 0x28); }
  get bpg(): number { return u32(this.sb, 0x20); }
  get inodeSize(): number { return u16(this.sb, 0x58); }
  block(n: number): Uint8Array { return this.bytes.subarray(n * this.bs, (n + 1) * this.bs); }
  desc(g: number): Uint8Array {
    const at = (u32(this.sb, 0x14) + 1) * this.bs + g * this.descSize;
    return this.bytes.subarray(at, at + this.descSize);
  }
  /** A descriptor's block number field: lo at `lo`, hi 32 bits at lo + 0x20 in 64-byte descriptors. */
  descBlock(g: number, lo: number): number {
    const d = this.desc(g);
    return u32(d, lo) + (this.descSize >= 64 ? u32(d, lo + 0x20) * 2 ** 32 : 0);
  }
  inode(ino: number): Uint8Array {
    const g = Math.floor((ino - 1) / this.ipg);
    const at = this.descBlock(g, 0x08) * this.bs + ((ino - 1) % this.ipg) * this.inodeSize;
    return this.bytes.subarray(at, at + this.inodeSize);
  }
  inodeInUse(ino: number): boolean {
    const g = Math.floor((ino - 1) / this.ipg);
    if (u16(this.desc(g), 0x12) & 0x1) return false;
    const i = (ino - 1) % this.ipg;
    return (this.block(this.descBlock(g, 0x04))[i >> 3] & (1 << (i & 7))) !== 0;
  }
  ino(path: string): number {
    return Number(/Inode: (\d+)/.exec(debugfs(this.path, `stat ${path}`))![1]);
  }
  seedOf(ino: number): number {
    return inodeSeed(this.seed, ino, u32(this.inode(ino), 0x64));
  }
}

/** Physical blocks of a file's extent tree blocks, as debugfs stat lists them ((ETBn):block). */
function extentTreeBlocks(img: string, path: string): number[] {
  return [...debugfs(img, `stat ${path}`).matchAll(/\(ETB\d+\):(\d+)/g)].map((m) => Number(m[1]));
}

/** Physical blocks of a file's data in logical order: what debugfs blocks lists, less the extent tree blocks. */
function dataBlocks(img: string, path: string): number[] {
  const tree = new Set(extentTreeBlocks(img, path));
  return debugfs(img, `blocks ${path}`).trim().split(/\s+/).filter(Boolean).map(Number).filter((b) => !tree.has(b));
}

const flip = (b: Uint8Array, at: number) => { b[at] ^= 0x10; };

const dir = tempDir('rumpus-ext4-csum-');
const src = join(dir, 'src');
mkdirSync(join(src, 'd/e'), { recursive: true });
addExt4Shapes(src);

const variants: { name: string; blockSize: number; size: number; features?: string; newUuid?: string }[] = [
  { name: '1k-64bit', blockSize: 1024, size: 32 << 20, },
  { name: '4k-no64bit', blockSize: 4096, size: 64 << 20, features: '^64bit' },
  // tune2fs -U on metadata_csum_seed changes the uuid alone: the seed stays the old uuid's.
  { name: '1k-seed', blockSize: 1024, size: 32 << 20, features: 'metadata_csum_seed', newUuid: 'fedcba98-7654-3210-fedc-ba9876543210' },
];

for (const v of variants) {
  t.test(`${v.name}: every metadata checksum of a mke2fs -t ext4 image verifies`, { skip: NO_E2FSPROGS }, async (t) => {
    const path = join(dir, `${v.name}.img`);
    mkExt4Image(path, { size: v.size, blockSize: v.blockSize, features: v.features, from: src, index: true });
    if (v.newUuid) execFileSync(e2fsprogsTool('tune2fs') ?? 'tune2fs', ['-U', v.newUuid, path], { stdio: 'pipe' });
    const im = new Image(path);
    t.equal(u32(im.sb, S_CHECKSUM), superblockChecksum(im.sb), 's_checksum');
    if (v.newUuid) t.not(im.seed, crc32cUpdate(0xffffffff, im.sb.subarray(0x68, 0x78)), 'the seed is s_checksum_seed, not the uuid\'s');

    let bitmaps = 0;
    for (let g = 0; g < im.groups; g++) {
      const d = im.desc(g);
      t.equal(u16(d, BG_CHECKSUM), groupDescChecksum(im.seed, g, d), `group ${g}'s bg_checksum`);
      const hi = im.descSize >= 64;
      const check = (field: number, block: number, bits: number, what: string) => {
        const want = bitmapChecksum(im.seed, im.block(block), bits);
        const got = u16(d, field) | (hi ? u16(d, field + 0x20) << 16 : 0);
        t.equal(got >>> 0, hi ? want : want & 0xffff, `group ${g}'s ${what} bitmap checksum`);
        bitmaps++;
      };
      if (!(u16(d, 0x12) & 0x2)) check(0x18, im.descBlock(g, 0x00), im.bpg, 'block');
      if (!(u16(d, 0x12) & 0x1)) check(0x1a, im.descBlock(g, 0x04), im.ipg, 'inode');
    }
    t.ok(bitmaps >= 2, `${bitmaps} bitmaps checked`);

    let inodes = 0;
    let bad = 0;
    for (let ino = 1; ino <= im.groups * im.ipg; ino++) {
      if (!im.inodeInUse(ino)) continue;
      inodes++;
      if (!inodeChecksumOk(im.seed, ino, im.inode(ino))) bad++;
    }
    t.equal(bad, 0, `all ${inodes} in-use inodes verify`);
    t.ok(inodes > 3000, 'the big directory\'s inodes are among them');

    const fragIno = im.ino(`/${FRAGMENTED}`);
    const etbs = extentTreeBlocks(path, `/${FRAGMENTED}`);
    t.ok(etbs.length >= 1, 'the fragmented file has an extent tree block');
    for (const p of [`/${FRAGMENTED}`, `/${BIG_DIR}`]) {
      for (const b of extentTreeBlocks(path, p)) {
        const block = im.block(b);
        t.equal(u16(block, 0), 0xf30a, `${p}: block ${b} has eh_magic`);
        t.equal(u32(block, extentTailOffset(block)), extentBlockChecksum(im.seedOf(im.ino(p)), block), `${p}: extent block ${b}'s et_checksum`);
      }
    }

    let leaves = 0;
    let dxNodes = 0;
    for (const p of ['/', '/d', '/d/e', `/${BIG_DIR}`]) {
      const ino = im.ino(p);
      const seed = im.seedOf(ino);
      const indexed = (u32(im.inode(ino), 0x20) & 0x1000) !== 0;
      dataBlocks(path, p).forEach((b, i) => {
        const block = im.block(b);
        if (indexed && i === 0) {
          const countOffset = 0x18 + block[0x1d]; // after "." , ".." and dx_root_info (info_length)
          t.equal(u32(block, countOffset + 8 * u16(block, countOffset) + 4), dxNodeChecksum(seed, block, countOffset), `${p}: the dx_root's dt_checksum`);
          dxNodes++;
        } else if (indexed && u32(block, 0) === 0 && u16(block, 4) === im.bs) {
          t.equal(u32(block, 8 + 8 * u16(block, 8) + 4), dxNodeChecksum(seed, block, 8), `${p}: dx_node ${b}'s dt_checksum`);
          dxNodes++;
        } else {
          t.ok(hasDirentTail(block), `${p}: block ${b} ends in a dirent tail`);
          t.equal(u32(block, im.bs - 4), dirBlockChecksum(seed, block), `${p}: leaf ${b}'s det_checksum`);
          leaves++;
        }
      });
    }
    // At 1 KiB blocks the big directory's htree has a second level of dx_nodes.
    t.ok(dxNodes >= (v.blockSize === 1024 ? 2 : 1), `${dxNodes} htree nodes checked`);
    t.ok(leaves > 10, `${leaves} directory leaf blocks checked`);

    // Each check can fail: a flipped byte in what it covers.
    const sb = im.sb.slice();
    flip(sb, 0x10);
    t.not(superblockChecksum(sb), u32(sb, S_CHECKSUM), 'a changed superblock fails');
    const d0 = im.desc(0).slice();
    flip(d0, 0x0c);
    t.not(groupDescChecksum(im.seed, 0, d0), u16(d0, BG_CHECKSUM), 'a changed descriptor fails');
    t.not(groupDescChecksum(im.seed, 1, im.desc(0)), u16(im.desc(0), BG_CHECKSUM), 'a descriptor checked as another group\'s fails');
    const inode = im.inode(fragIno).slice();
    flip(inode, inode.length - 1);
    t.notOk(inodeChecksumOk(im.seed, fragIno, inode), 'a changed inode fails (its last byte)');
    t.notOk(inodeChecksumOk(im.seed, fragIno + 1, im.inode(fragIno)), 'an inode checked under another number fails');
    const etb = im.block(etbs[0]).slice();
    flip(etb, 14);
    t.not(extentBlockChecksum(im.seedOf(fragIno), etb), u32(etb, extentTailOffset(etb)), 'a changed extent block fails');
  });
}

t.test('uninit_bg: bg_checksum is the CRC-16 of uuid, group and descriptor', { skip: NO_E2FSPROGS }, async (t) => {
  for (const [name, features] of [['64bit', '^metadata_csum,uninit_bg'], ['no64bit', '^metadata_csum,^64bit,uninit_bg']]) {
    const path = join(dir, `uninit-${name}.img`);
    mkExt4Image(path, { size: 32 << 20, blockSize: 1024, features });
    const im = new Image(path);
    t.equal(im.descSize, name === '64bit' ? 64 : 32, `${name}: descriptors of ${im.descSize} bytes`);
    const uuid = im.sb.subarray(0x68, 0x78);
    for (let g = 0; g < im.groups; g++) t.equal(u16(im.desc(g), BG_CHECKSUM), groupDescChecksum16(uuid, g, im.desc(g)), `${name}: group ${g}'s bg_checksum`);
    const d = im.desc(1).slice();
    flip(d, 0x0e);
    t.not(groupDescChecksum16(uuid, 1, d), u16(d, BG_CHECKSUM), `${name}: a changed descriptor fails`);
  }
});
