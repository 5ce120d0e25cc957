// What a review of the ext4 write path found, kept fixed:
// - '..' of an indexed directory (block 0, the dx_root, holds it; no hash leads there): a
//   directory moved into an indexed one, and stat of DIR/.., work and record no error;
// - a group counting more unused inode-table entries than it has: the mount is refused with
//   EUCLEAN naming the group, and nothing is written (a create used to zero blocks before the
//   inode table);
// - a dx_root counting too few index levels, and a leaf of deleted entries too small to reuse:
//   a create is EUCLEAN naming the block, and writes nothing into the index node;
// - the shell names the file a redirected write failed on, never the command's operand.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { DEFAULT_MOUNTS, SysError, boot } from '../kernel/index.js';
import { runRumpus } from './lib/cli.js';
import { debugfs, debugfsWrite, fsckClean, superblock, tempDir } from './lib/e2fs.js';
import { NO_E2FSPROGS, mkExt4Image } from './lib/ext4.js';
import { writeBytes } from './lib/jbd2.js';

const dir = tempDir('rumpus-ext4-write-damage-');
const at = (name: string) => join(dir, name);
const MiB = 1024 * 1024;
const many = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}_${String(i).padStart(5, '0')}`);

/** Runs fn on a process of a monolithic kernel with `img` mounted read-write at /m. */
async function withImage(img: string, fn: (p: Awaited<ReturnType<Awaited<ReturnType<typeof boot>>['spawn']>>) => Promise<void>): Promise<void> {
  const k = await boot({ policy: 'monolithic', mounts: [...DEFAULT_MOUNTS, { target: '/m', fstype: 'ext2', source: img }] });
  try {
    await fn(await k.spawn());
  } finally {
    await k.halt();
  }
}

/** The errno and message of a rejected promise, or null when it resolved. */
const failure = (pr: Promise<unknown>) => pr.then(() => null, (e: unknown) => (e instanceof SysError ? { code: e.code, message: e.message } : { code: 'not a SysError', message: String(e) }));

/** An ext4 image (1 KiB blocks, no metadata_csum unless asked) with /many indexed by rumpus: enough names for a dx_node below the root. */
async function indexedImage(name: string, names: number, features = '^metadata_csum'): Promise<string> {
  const img = at(name);
  mkExt4Image(img, { size: 32 * MiB, blockSize: 1024, features });
  await withImage(img, async (p) => {
    await p.mkdir('/m/many');
    for (const n of many('name_with_some_length', names)) await p.writeFile(`/m/many/${n}`, '');
  });
  return img;
}

/** Logical block `lblk` of `path` in `img`: its physical block. */
const bmap = (img: string, path: string, lblk: number) => Number(debugfs(img, `bmap ${path} ${lblk}`).trim());

t.test("'..' of an indexed directory: a directory moved into it, stat of DIR/..", { skip: NO_E2FSPROGS }, async (t) => {
  const img = await indexedImage('dotdot.img', 300, '');
  t.match(debugfs(img, 'stat /many'), /Flags: 0x[0-9a-f]*1[0-9a-f]{3}\b/, 'rumpus indexed /many (INDEX_FL)');
  await withImage(img, async (p) => {
    await p.mkdir('/m/d');
    await p.rename('/m/d', '/m/many/d');
    t.equal((await p.stat('/m/many/..')).ino, 2, "'..' of the indexed directory is the root");
    t.equal((await p.stat('/m/many/d/..')).ino, (await p.stat('/m/many')).ino, "and the moved directory's '..' is it");
  });
  t.match(superblock(img)['Filesystem state'], /^clean$/, 'no error recorded');
  const r = fsckClean(img);
  t.ok(r.clean, 'both e2fsck checks pass', { report: r.report });
});

t.test('more unused inode-table entries than the group has: the mount is refused, nothing written', { skip: NO_E2FSPROGS }, async (t) => {
  for (const [features, unused] of [['^64bit', '3000'], ['', '0x107de']]) {
    const img = at(`unused-${features || '64bit'}.img`);
    mkExt4Image(img, { size: 64 * MiB, blockSize: 1024, features });
    debugfsWrite(img, [`set_bg 0 itable_unused ${unused}`, 'set_bg 0 checksum calc']);
    const before = readFileSync(img);
    const k = await boot({ policy: 'monolithic', mounts: DEFAULT_MOUNTS });
    try {
      const p = await k.spawn();
      await p.mkdir('/m');
      const err = await failure(p.mount('/m', 'ext2', { source: img }));
      t.equal(err?.code, 'EUCLEAN', `${features || 'default'}: EUCLEAN`);
      t.match(err?.message, /group 0 counts \d+ unused inode table entries, but has \d+/, 'naming the group and the count');
    } finally {
      await k.halt();
    }
    t.ok(readFileSync(img).equals(before), 'the image is unchanged');
  }
});

t.test('a dx_root counting too few index levels: a create and a lookup are EUCLEAN; the index node is not written', { skip: NO_E2FSPROGS }, async (t) => {
  const img = await indexedImage('levels.img', 4000);
  const root = bmap(img, '/many', 0);
  t.equal(readFileSync(img)[root * 1024 + 30], 1, 'the fixture has one level of index nodes');
  writeBytes(img, root * 1024 + 30, Uint8Array.of(0));
  const before = readFileSync(img);
  await withImage(img, async (p) => {
    for (const [what, pr] of [['create', p.writeFile('/m/many/newname', 'x')], ['lookup', p.stat('/m/many/name_with_some_length_00011')]] as const) {
      const err = await failure(pr);
      t.equal(err?.code, 'EUCLEAN', `${what}: EUCLEAN`);
      t.match(err?.message, /htree: block \d+ is an index node where a leaf should be/, `${what}: naming the block`);
    }
  });
  const after = readFileSync(img);
  // The error is recorded (superblock, through the journal); the directory's blocks stay as they were.
  const blocks = debugfs(img, 'blocks /many').trim().split(/\s+/).map(Number);
  t.ok(blocks.length > 100, `the directory's blocks (${blocks.length})`);
  t.ok(blocks.every((b) => after.subarray(b * 1024, (b + 1) * 1024).equals(before.subarray(b * 1024, (b + 1) * 1024))), 'none of them is written');
  t.match(superblock(img)['Filesystem state'], /with errors/, 'the error is recorded for e2fsck');
});

t.test('a leaf of deleted entries too small to reuse: a create into it is EUCLEAN with a sentence, recorded', { skip: NO_E2FSPROGS }, async (t) => {
  const img = await indexedImage('leaf.img', 2500);
  const leaf = bmap(img, '/many', 1);
  const block = Buffer.alloc(1024);
  for (let o = 0; o < 1024;) {
    const len = o + 24 <= 1024 ? 12 : 1024 - o;
    block.writeUInt16LE(len, o + 4); // inode 0, name_len 0: deleted
    o += len;
  }
  writeBytes(img, leaf * 1024, block);
  let refused = 0;
  await withImage(img, async (p) => {
    for (const n of many('a_fairly_long_new_name', 400)) {
      const err = await failure(p.writeFile(`/m/many/${n}`, ''));
      if (err === null) continue;
      refused++;
      t.equal(err.code, 'EUCLEAN', `${n}: EUCLEAN`);
      t.match(err.message, /directory inode \d+, block 1 is full with 0 entries in use/, `${n}: naming the block`);
    }
  });
  t.ok(refused > 0, `the names hashed into the damaged leaf are refused (${refused})`);
  t.match(superblock(img)['Filesystem state'], /with errors/, 'the error is recorded for e2fsck');
});

t.test('the shell names the file a redirected write failed on', { skip: NO_E2FSPROGS }, async (t) => {
  const img = at('full.img');
  mkExt4Image(img, { size: 2 * MiB, blockSize: 1024, features: '^has_journal' });
  writeFileSync(at('big'), Buffer.alloc(1200 * 1024, 7));
  const cp = await runRumpus(dir, ['cp', 'big', 'full.img:/big']);
  t.equal(cp.code, 0, `a file of more than half the image: ${cp.stderr}`);
  const r = await runRumpus(dir, ['sh', '--image', 'full.img', '-c', 'cat /mnt/big >> /mnt/more']);
  t.match(r.stderr, /^cat: \/mnt\/more: No space left on device \(ext2: no free blocks left\)$/m, 'cat names its output, and ext2 says what is full');
  t.notMatch(r.stderr, /^cat: \/mnt\/big:/m, 'not its operand');
});
