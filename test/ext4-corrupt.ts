// Damaged ext4 images: the structures ext4 reading added — the superblock checksum, 64-bit
// group descriptors and their checksums, inode checksums, extent tree nodes (headers, order,
// tail checksums), htree nodes (dx_root_info, limit, count, dx tail checksums) and directory
// leaf checksums. Known damage is EUCLEAN with a sentence naming the structure; seeded
// mutations give every op an errno or success within a bound, never a hang or an internal
// error, and under the microkernel the rest of the system (tmpfs at /tmp) goes on serving.
// RUMPUS_FUZZ_SEEDS=N runs N seeds per kind.

import t, { type Test } from 'tap';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_MOUNTS, SysError, boot, type Proc } from '../kernel/index.js';
import { u16, u32 } from '../servers/ext2/bytes.js';
import { attempt } from './lib/attempt.js';
import { readAt, writeAt } from './lib/disks.js';
import { debugfs, random, tempDir } from './lib/e2fs.js';
import { BIG_DIR, BIG_DIR_NAMES, FRAGMENTED, NO_E2FSPROGS, addExt4Shapes, mkExt4Image } from './lib/ext4.js';

const SEEDS = Number(process.env.RUMPUS_FUZZ_SEEDS ?? 4);
const BS = 1024;
const MiB = 1024 * 1024;
const dir = tempDir('rumpus-ext4-corrupt-');

/** Where the structures of a base image lie, found with debugfs and by reading the image. */
interface Layout {
  path: string;
  descSize: number;
  /** Byte offsets of inodes by path. */
  inode: Record<string, number>;
  /** Extent tree blocks of FRAGMENTED. */
  etb: number[];
  /** dx_node blocks of BIG_DIR (block 0, the dx_root, apart). */
  dxRoot: number;
  dxNodes: number[];
  leaves: number[];
}

const peek = readAt;
const patch = (img: string, offset: number, bytes: number[]) => writeAt(img, offset, Uint8Array.from(bytes));
const flip = (img: string, offset: number) => patch(img, offset, [peek(img, offset, 1)[0] ^ 0x20]);
const le16 = (v: number) => [v & 0xff, v >>> 8];

function layout(path: string): Layout {
  const image = new Uint8Array(readFileSync(path));
  const inode: Record<string, number> = {};
  for (const p of ['/a/size-1', '/a/size-0', `/${FRAGMENTED}`, `/${BIG_DIR}`]) {
    const m = /located at block (\d+), offset 0x([0-9a-f]+)/.exec(debugfs(path, `imap ${p}`))!;
    inode[p] = Number(m[1]) * BS + parseInt(m[2], 16);
  }
  const etbOf = (p: string) => [...debugfs(path, `stat ${p}`).matchAll(/\(ETB\d+\):(\d+)/g)].map((m) => Number(m[1]));
  const bigTree = new Set(etbOf(`/${BIG_DIR}`));
  const blocks = debugfs(path, `blocks /${BIG_DIR}`).trim().split(/\s+/).map(Number).filter((b) => !bigTree.has(b));
  const isNode = (b: number) => u32(image, b * BS) === 0 && u16(image, b * BS + 4) === BS;
  return {
    path, descSize: u32(image, 1024 + 0x60) & 0x80 ? u16(image, 1024 + 0xfe) : 32, inode, etb: etbOf(`/${FRAGMENTED}`),
    dxRoot: blocks[0], dxNodes: blocks.slice(1).filter(isNode), leaves: blocks.slice(1).filter((b) => !isNode(b)),
  };
}

/** Names in a leaf block of BIG_DIR. */
function namesIn(img: string, block: number): string[] {
  const buf = peek(img, block * BS, BS);
  const names: string[] = [];
  for (let off = 0; off < BS - 12; off += u16(buf, off + 4)) {
    if (u32(buf, off) !== 0) names.push(Buffer.from(buf.subarray(off + 8, off + 8 + buf[off + 6])).toString('utf8'));
    if (u16(buf, off + 4) < 8) break;
  }
  return names;
}

let csum: Layout;
let plain: Layout;
if (!NO_E2FSPROGS) {
  const src = join(dir, 'src');
  mkdirSync(join(src, 'a'), { recursive: true });
  writeFileSync(join(src, 'a/size-0'), '');
  writeFileSync(join(src, 'a/size-1'), 'x');
  addExt4Shapes(src);
  const make = (name: string, features?: string) => {
    const path = join(dir, `${name}.img`);
    mkExt4Image(path, { size: 16 * MiB, blockSize: BS, features, from: src, index: true });
    return layout(path);
  };
  csum = make('csum');
  plain = make('plain', '^metadata_csum');
}

t.test('the base images have what the damage needs', { skip: NO_E2FSPROGS }, async (t) => {
  for (const l of [csum, plain]) {
    t.ok(l.etb.length >= 1, 'an extent tree block');
    t.ok(l.dxNodes.length >= 2, 'dx_nodes below the dx_root');
    t.ok(l.leaves.length > 10, 'leaves');
    t.equal(l.descSize, 64, '64-bit group descriptors');
  }
});

t.test('known damage is EUCLEAN naming the structure', { skip: NO_E2FSPROGS }, async (t) => {
  const k = await boot({ policy: 'monolithic', mounts: DEFAULT_MOUNTS });
  let n = 0;
  try {
    const p = await k.spawn();
    /** Mounts a damaged copy of `base`; returns the mount point, or the mount's error. */
    const damaged = async (base: Layout, damage: (img: string) => void) => {
      const img = join(dir, `known-${++n}.img`);
      copyFileSync(base.path, img);
      damage(img);
      const target = `/k${n}`;
      await p.mkdir(target);
      return { target, mount: () => p.mount(target, 'ext2', { source: img, readonly: true }) };
    };
    const expect = async (what: string, op: Promise<unknown>, message: RegExp) => {
      const err = await op.then(() => null, (e: unknown) => e);
      t.ok(err instanceof SysError && err.errno === 'EUCLEAN', `${what}: EUCLEAN`, { err });
      t.match((err as Error)?.message, message, `${what}: says what is damaged`);
    };
    const mounted = async (base: Layout, damage: (img: string) => void) => {
      const d = await damaged(base, damage);
      await d.mount();
      return d.target;
    };

    let d = await damaged(csum, (img) => flip(img, 1024 + 0x78));
    await expect('the superblock', d.mount(), /the superblock's checksum is 0x[0-9a-f]+, but its bytes give/);
    d = await damaged(csum, (img) => flip(img, 2 * BS + csum.descSize + 0x0e));
    await expect('a group descriptor', d.mount(), /group 1's descriptor checksum is/);
    d = await damaged(plain, (img) => patch(img, 2 * BS + plain.descSize + 0x28, [1])); // bg_inode_table_hi
    await expect("a 64-bit descriptor's high half", d.mount(), /group 1's inode table at block 4294\d+ does not fit/);

    let at = await mounted(csum, (img) => flip(img, csum.inode['/a/size-1'] + 0x10));
    await expect('an inode', p.lstat(`${at}/a/size-1`), /inode \d+'s checksum is 0x[0-9a-f]+, but its bytes give/);
    t.equal((await p.lstat(`${at}/a/size-0`)).size, 0, 'the inode beside it still reads');

    at = await mounted(csum, (img) => flip(img, csum.etb[0] * BS + 12 + 4));
    await expect('an extent block', p.readFile(`${at}/${FRAGMENTED}`), /extent tree node at block \d+ has checksum 0x[0-9a-f]+, but its bytes give/);
    at = await mounted(plain, (img) => patch(img, plain.etb[0] * BS, [0, 0]));
    await expect("an extent block's magic", p.readFile(`${at}/${FRAGMENTED}`), /extent tree node at block \d+ has eh_magic 0x0, not 0xf30a/);
    at = await mounted(plain, (img) => patch(img, plain.etb[0] * BS + 2, le16(1000)));
    await expect("an extent block's entries", p.readFile(`${at}/${FRAGMENTED}`), /has eh_entries 1000 past eh_max/);
    at = await mounted(plain, (img) => patch(img, plain.inode[`/${FRAGMENTED}`] + 0x28 + 6, le16(7)));
    await expect("the extent root's depth", p.readFile(`${at}/${FRAGMENTED}`), /node in i_block has eh_depth 7/);
    at = await mounted(plain, (img) => patch(img, plain.etb[0] * BS + 12 + 12, [0, 0, 0, 0])); // the second extent at logical block 0
    await expect('extents out of order', p.readFile(`${at}/${FRAGMENTED}`), /has entry 1 at logical block 0, out of order/);

    const someName = `${BIG_DIR}/${BIG_DIR_NAMES[7]}`;
    at = await mounted(csum, (img) => { for (const b of csum.dxNodes) flip(img, b * BS + 8 + 8 + 1); });
    await expect('a dx_node', p.lstat(`${at}/${someName}`), /htree: block \d+ has checksum 0x[0-9a-f]+, but its bytes give/);
    at = await mounted(csum, (img) => flip(img, csum.dxRoot * BS + 0x20 + 8 + 1));
    await expect('the dx_root', p.lstat(`${at}/${someName}`), /htree: block 0 has checksum/);
    at = await mounted(plain, (img) => patch(img, plain.dxRoot * BS + 0x20, le16(200)));
    await expect("the dx_root's limit", p.lstat(`${at}/${someName}`), /htree: block 0 has limit 200, where the block holds 124 entries/);
    at = await mounted(plain, (img) => patch(img, plain.dxRoot * BS + 0x1c, [7]));
    await expect("the dx_root's hash version", p.lstat(`${at}/${someName}`), /htree: block 0 has hash version 7/);
    at = await mounted(plain, (img) => { for (const b of plain.dxNodes) patch(img, b * BS + 8 + 2, le16(0)); });
    await expect("a dx_node's count", p.lstat(`${at}/${someName}`), /htree: block \d+ has count 0/);

    // A damaged leaf: a lookup there fails, one in another leaf works — a lookup reads one leaf.
    const leaf = csum.leaves[3];
    const inLeaf = namesIn(csum.path, leaf);
    const elsewhere = namesIn(csum.path, csum.leaves[10]);
    at = await mounted(csum, (img) => flip(img, leaf * BS + 8));
    await expect('a directory leaf', p.lstat(`${at}/${BIG_DIR}/${inLeaf[0]}`), /directory inode \d+, block \d+ has checksum 0x[0-9a-f]+, but its bytes give/);
    t.equal(await attempt(t, 'lookup elsewhere', () => p.lstat(`${at}/${BIG_DIR}/${elsewhere[0]}`)), 'ok', 'a name in another leaf is found');
    await expect('readdir of the whole directory', p.readdir(`${at}/${BIG_DIR}`), /has checksum/);
  } finally {
    await k.halt();
  }
});

/** Each kind of damage: what seed n does to a copy of a base image. */
const MUTATIONS: Record<string, (img: string, l: Layout, rnd: () => number) => void> = {
  'group descriptors'(img, l, rnd) {
    for (let i = 0; i < 1 + Math.floor(rnd() * 3); i++) patch(img, 2 * BS + Math.floor(rnd() * 2 * l.descSize), [Math.floor(rnd() * 256)]);
  },
  inodes(img, l, rnd) {
    const inode = Object.values(l.inode)[Math.floor(rnd() * Object.keys(l.inode).length)];
    for (let i = 0; i < 1 + Math.floor(rnd() * 3); i++) patch(img, inode + Math.floor(rnd() * 0x80), [Math.floor(rnd() * 256)]);
  },
  'extent headers and entries'(img, l, rnd) {
    const at = rnd() < 0.5 ? l.etb[0] * BS : l.inode[`/${FRAGMENTED}`] + 0x28;
    for (let i = 0; i < 1 + Math.floor(rnd() * 3); i++) patch(img, at + Math.floor(rnd() * 60), [Math.floor(rnd() * 256)]);
  },
  'dx nodes'(img, l, rnd) {
    const blocks = [l.dxRoot, ...l.dxNodes];
    const b = blocks[Math.floor(rnd() * blocks.length)];
    for (let i = 0; i < 1 + Math.floor(rnd() * 3); i++) patch(img, b * BS + Math.floor(rnd() * 64), [Math.floor(rnd() * 256)]);
  },
};

/** Reads what the damage can reach: the tree (bounded), the fragmented file, names through the htree. */
async function workload(t: Test, p: Proc, root: string): Promise<string[]> {
  const outcomes: string[] = [];
  const op = async (what: string, fn: () => Promise<unknown>) => outcomes.push(await attempt(t, what, fn));
  for (let i = 0; i < BIG_DIR_NAMES.length; i += 97) await op(`lstat ${BIG_DIR_NAMES[i]}`, () => p.lstat(`${root}/${BIG_DIR}/${BIG_DIR_NAMES[i]}`));
  await op('read fragmented', () => p.readFile(`${root}/${FRAGMENTED}`));
  for (const path of ['', '/a', `/${BIG_DIR}`]) await op(`readdir ${path}`, () => p.readdir(`${root}${path}`));
  await op('lstat size-1', () => p.lstat(`${root}/a/size-1`));
  await op('statfs', () => p.statfs(root));
  return outcomes;
}

for (const policy of ['monolithic', 'microkernel']) {
  t.test(`seeded damage under ${policy}`, { skip: NO_E2FSPROGS }, async (t) => {
    const k = await boot({ policy, mounts: DEFAULT_MOUNTS });
    let images = 0;
    const errnos = new Map<string, number>();
    try {
      const p = await k.spawn();
      for (const [kind, mutate] of Object.entries(MUTATIONS)) {
        for (const base of [csum, plain]) {
          for (let seed = 1; seed <= SEEDS; seed++) {
            const img = join(dir, `${policy}-${images}.img`);
            copyFileSync(base.path, img);
            mutate(img, base, random(seed * 7919 + kind.length + (base === csum ? 0 : 1000)));
            const target = `/c${++images}`;
            await p.mkdir(target);
            const mounted = await attempt(t, `${kind} #${seed}: mount`, () => p.mount(target, 'ext2', { source: img, readonly: true }));
            const outcomes = mounted === 'ok' ? await workload(t, p, target) : [mounted];
            if (mounted === 'ok') outcomes.push(await attempt(t, `${kind} #${seed}: unmount`, () => p.unmount(target)));
            for (const o of outcomes) errnos.set(o, (errnos.get(o) ?? 0) + 1);
            await p.writeFile(`/tmp/probe-${images}`, kind);
            t.equal(new TextDecoder().decode(await p.readFile(`/tmp/probe-${images}`)), kind, `${kind} #${seed}: /tmp still serves`);
          }
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
