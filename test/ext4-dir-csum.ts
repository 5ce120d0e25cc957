// Directory blocks written with metadata_csum (servers/ext2/dir.ts and dx.ts), on the blocks of
// images made by mke2fs -t ext4 -d (1 and 4 KiB blocks): the directory code runs over the
// image's bytes in memory (a block store and a block map standing in for the cache and the
// inode's extents, placed where debugfs says), since the driver does not mount ext4
// read-write yet. Names removed and put back into an htree's leaves leave an image e2fsck
// passes both ways; a one-block directory that fills up becomes an htree, and a big one
// splits leaves and grows a second index level, after which every leaf's dirent tail and
// every dx node's dx tail carry the checksum csum.ts computes, and a fresh reader finds every
// name through the index (verifying each checksum on the way). An index full at its deepest
// level refuses a new name with ENOSPC.

import t from 'tap';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { S_IFREG, type SysError } from '../kernel/index.js';
import { u16, u32 } from '../servers/ext2/bytes.js';
import type { BlockCache } from '../servers/ext2/cache.js';
import type { BlockMap } from '../servers/ext2/blockmap.js';
import { dirBlockChecksum, dxNodeChecksum, hasDirentTail, inodeSeed } from '../servers/ext2/csum.js';
import { Directories, sealLeafBlock, writeEntry } from '../servers/ext2/dir.js';
import { DX_HASH_HALF_MD4, DX_NODE_COUNT, DX_ROOT_COUNT, initDxNode, initDxRoot, sealDxNode, setDxEntries, setDxIndirectLevels } from '../servers/ext2/dx.js';
import { INDEX_FL, type Inode } from '../servers/ext2/inode.js';
import { SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE, Superblock, geometryOf, type Geometry } from '../servers/ext2/superblock.js';
import { debugfs, fsckClean, tempDir } from './lib/e2fs.js';
import { NO_E2FSPROGS, mkExt4Image } from './lib/ext4.js';

const MiB = 1024 * 1024;
const dir = tempDir('rumpus-dircsum-');

/** An image's bytes with the directory code over them; new blocks come from debugfs's free ones. */
class Bench {
  readonly bytes: Uint8Array;
  readonly sb: Superblock;
  readonly geo: Geometry;
  readonly bs: number;
  private readonly free: number[];
  /** Physical blocks of each directory inode, in logical order. */
  private readonly phys = new Map<number, number[]>();

  constructor(readonly img: string) {
    this.bytes = new Uint8Array(readFileSync(img));
    this.sb = new Superblock(this.bytes.slice(SUPERBLOCK_OFFSET, SUPERBLOCK_OFFSET + SUPERBLOCK_SIZE));
    this.geo = geometryOf(this.sb, this.bytes.length);
    this.bs = this.geo.blockSize;
    this.free = debugfs(img, 'ffb 400').replace(/^.*:/s, '').trim().split(/\s+/).map(Number);
  }

  block(b: number): Uint8Array {
    return this.bytes.subarray(b * this.bs, (b + 1) * this.bs);
  }

  /** A directory as the code sees it: inode fields from debugfs stat, blocks from debugfs blocks. */
  dirInode(path: string): Inode {
    const stat = debugfs(this.img, `stat ${path}`);
    const ino = Number(/Inode: (\d+)/.exec(stat)![1]);
    this.phys.set(ino, debugfs(this.img, `blocks ${path}`).trim().split(/\s+/).map(Number));
    return {
      ino, generation: Number(/Generation: (\d+)/.exec(stat)![1]), flags: Number(/Flags: (0x[0-9a-f]+)/.exec(stat)![1]),
      size: Number(/Size: (\d+)/.exec(stat)![1]), blocks: 2 ** 31, mode: 0o40755, mtime: 0, ctime: 0, dirty: false,
    } as unknown as Inode;
  }

  directories(): Directories {
    const get = async (b: number) => this.block(b);
    const cache = { get, modify: get, getRun: async (b: number, n: number) => Array.from({ length: n }, (_, i) => this.block(b + i)), fresh: (b: number) => this.block(b).fill(0) };
    const map = {
      lookup: async (node: Inode, lblk: number) => this.phys.get(node.ino)![lblk] ?? 0,
      lookupRun: async (node: Inode, first: number, count: number) => Uint32Array.from(this.phys.get(node.ino)!.slice(first, first + count)),
      map: async (node: Inode, lblk: number) => {
        const blocks = this.phys.get(node.ino)!;
        if (lblk !== blocks.length) throw new Error(`a directory grows at its end, not at block ${lblk}`);
        const block = this.free.shift();
        if (block === undefined) throw new Error('the test ran out of free blocks');
        blocks.push(block);
        return { block, fresh: true };
      },
    };
    return new Directories(cache as unknown as BlockCache, map as unknown as BlockMap, this.geo, this.sb.defHashVersion);
  }

  /** Appends a block (from the free ones) to a directory; returns its bytes. */
  append(node: Inode): Uint8Array {
    const block = this.free.shift()!;
    this.phys.get(node.ino)!.push(block);
    node.size += this.bs;
    return this.block(block).fill(0);
  }

  /** The directory's inodeSeed. */
  seed(node: Inode): number {
    return inodeSeed(this.geo.csumSeed!, node.ino, node.generation);
  }

  /** The dx_root's indirect_levels. */
  indirectLevels(node: Inode): number {
    return this.block(this.phys.get(node.ino)![0])[0x1e];
  }

  /** Every block of the directory checked with csum.ts: leaves' det_checksum, dx nodes' dt_checksum. Returns [leaves, nodes]. */
  verify(node: Inode): [number, number] {
    const seed = inodeSeed(this.geo.csumSeed!, node.ino, node.generation);
    let leaves = 0;
    let nodes = 0;
    for (const [lblk, b] of this.phys.get(node.ino)!.entries()) {
      const buf = this.block(b);
      const dxNode = lblk > 0 && u32(buf, 0) === 0 && u16(buf, 4) === this.bs;
      if (node.flags & INDEX_FL && (lblk === 0 || dxNode)) {
        const countOffset = lblk === 0 ? 0x20 : 8;
        const tail = countOffset + 8 * u16(buf, countOffset);
        if (u32(buf, tail + 4) !== dxNodeChecksum(seed, buf, countOffset)) throw new Error(`block ${lblk}: dx tail checksum wrong`);
        nodes++;
      } else {
        if (!hasDirentTail(buf)) throw new Error(`block ${lblk}: no dirent tail`);
        if (u32(buf, this.bs - 4) !== dirBlockChecksum(seed, buf)) throw new Error(`block ${lblk}: det_checksum wrong`);
        leaves++;
      }
    }
    return [leaves, nodes];
  }
}

/** A regular file inode for the entries the test adds (the dirent records its number and type). */
const FILE = { ino: 12, mode: S_IFREG | 0o644 } as unknown as Inode;

for (const blockSize of [1024, 4096]) {
  t.test(`metadata_csum directory blocks, ${blockSize}-byte blocks`, { skip: NO_E2FSPROGS }, async (t) => {
    const src = join(dir, `src-${blockSize}`);
    mkdirSync(join(src, 'indexed'), { recursive: true });
    mkdirSync(join(src, 'small'));
    const indexedNames = Array.from({ length: blockSize === 1024 ? 400 : 1500 }, (_, i) => `entry-${i}-${'n'.repeat(i % 30)}`);
    for (const name of indexedNames) writeFileSync(join(src, 'indexed', name), '');
    writeFileSync(join(src, 'small', 'a'), '');
    const img = join(dir, `csum-${blockSize}.img`);
    mkExt4Image(img, { size: 32 * MiB, blockSize, from: src, index: true });
    t.match(debugfs(img, 'htree /indexed'), /Root node dump/, 'e2fsck -D indexed the fixture directory');

    // Names taken out of the htree's leaves and put back: the same leaves, no new block.
    const b = new Bench(img);
    const dirs = b.directories();
    const indexed = b.dirInode('/indexed');
    const again = indexedNames.filter((_, i) => i % 5 === 0);
    const inodes = new Map<string, number>();
    for (const name of again) inodes.set(name, (await dirs.lookup(indexed, name))!.ino);
    for (const name of again) await dirs.remove(indexed, name, 0);
    for (const name of again) await dirs.add(indexed, name, { ...FILE, ino: inodes.get(name)! } as unknown as Inode, 0);
    t.ok(indexed.flags & INDEX_FL, 'the directory keeps its index');
    const [leaves] = b.verify(indexed);
    t.ok(leaves > 1, `${leaves} leaf blocks carry the checksum csum.ts computes`);
    const copy = `${img}.changed`;
    writeFileSync(copy, b.bytes);
    const r = fsckClean(copy);
    t.ok(r.clean, 'e2fsck -fn silent and e2fsck -fy changes nothing', { report: r.report });

    // A one-block directory filled past its block, and a big one grown past one index level.
    const small = b.dirInode('/small');
    const grownNames = Array.from({ length: blockSize === 1024 ? 3000 : 200 }, (_, i) => `grown-name-with-some-length-${i}`);
    for (const name of grownNames) await dirs.add(small, name, FILE, 0);
    t.ok(small.flags & INDEX_FL, 'the one-block directory became an htree when it filled up');
    t.equal(small.size % blockSize, 0, 'of whole blocks');
    const [grownLeaves, grownNodes] = b.verify(small);
    t.ok(grownLeaves > 2 && grownNodes >= (blockSize === 1024 ? 2 : 1), `${grownLeaves} leaves and ${grownNodes} index nodes carry their checksums`);
    t.equal(b.indirectLevels(small), blockSize === 1024 ? 1 : 0, blockSize === 1024 ? 'with a second level of index' : 'with its root alone');
    const made = b.block(b.bytes.length / b.bs - 1);
    const child = { ino: 13, generation: 7 } as unknown as Inode;
    dirs.initialize(made, child, small.ino);
    const childSeed = inodeSeed(b.geo.csumSeed!, 13, 7);
    t.ok(hasDirentTail(made) && u32(made, blockSize - 4) === dirBlockChecksum(childSeed, made), "a new directory's block ends in its dirent tail and checksum");
    t.equal(u16(made, 12 + 4), blockSize - 12 - 12, "'..' stops short of the tail");
    const fresh = b.directories();
    let found = 0;
    for (const name of [...grownNames, 'a']) if (await fresh.lookup(small, name)) found++;
    t.equal(found, grownNames.length + 1, 'a fresh reader finds every name through the index, every checksum verified');
    t.equal(await fresh.lookup(small, 'absent'), undefined, 'and not a name that is not there');
  });
}

t.test('an htree full at the deepest level it may have refuses a new name', { skip: NO_E2FSPROGS }, async (t) => {
  const src = join(dir, 'src-full');
  mkdirSync(join(src, 'full'), { recursive: true });
  const img = join(dir, 'full.img');
  mkExt4Image(img, { size: 8 * MiB, blockSize: 1024, from: src });
  const b = new Bench(img);
  const full = b.dirInode('/full');
  // The smallest such tree: every dx_root entry leads to one full dx_node, whose every entry leads to one full leaf.
  const root = b.block(debugfs(img, 'blocks /full').trim().split(/\s+/).map(Number)[0]);
  const node = b.append(full);
  const leaf = b.append(full);
  initDxRoot(root, DX_HASH_HALF_MD4, true);
  setDxIndirectLevels(root, 1);
  setDxEntries(root, DX_ROOT_COUNT, Array.from({ length: u16(root, DX_ROOT_COUNT) }, (_, i) => ({ hash: i * 0x1000000, block: 1 })));
  sealDxNode(b.seed(full), root, DX_ROOT_COUNT);
  initDxNode(node, true);
  setDxEntries(node, DX_NODE_COUNT, Array.from({ length: u16(node, DX_NODE_COUNT) }, (_, i) => ({ hash: i * 0x10000, block: 2 })));
  sealDxNode(b.seed(full), node, DX_NODE_COUNT);
  const long = (c: string) => new TextEncoder().encode(c.repeat(250));
  writeEntry(leaf, 0, 12, 260, long('a'), 1);
  writeEntry(leaf, 260, 12, 260, long('b'), 1);
  writeEntry(leaf, 520, 12, b.bs - 12 - 520, long('c'), 1);
  sealLeafBlock(leaf, b.seed(full));
  full.flags |= INDEX_FL;
  const dirs = b.directories();
  t.ok(await dirs.lookup(full, 'b'.repeat(250)), 'the tree is one the code reads');
  const err = await dirs.add(full, 'd'.repeat(250), FILE, 0).then(() => null, (e: SysError) => e);
  t.equal(err?.errno, 'ENOSPC', 'a name that needs a third level is ENOSPC');
  t.match(err?.message ?? '', /directory inode \d+ is full: its htree index has 2 full levels, the most without large_dir/, 'with a sentence');
  t.equal(full.size, 3 * b.bs, 'and the directory did not grow');
});
