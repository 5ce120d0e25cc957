// ext4 images made by mke2fs -t ext4 -d from a host tree read back through rumpus exactly as
// the host tree is — under every policy, for 1 and 4 KiB blocks, 64bit and not, with and
// without has_journal and metadata_csum, and with uninit_bg instead of metadata_csum, mounted
// read-only so that they stay as they were (writing them is test/ext4-meta-write's and
// test/ext4-extent-write's). An image with a feature the driver only reads (quota) mounts
// read-only even when asked for read-write, and a write is EROFS naming the feature.

import t from 'tap';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_MOUNTS, boot, type Handle } from '../kernel/index.js';
import { buildHostTree, debugfs, debugfsWrite, fsckClean, hostTree, rumpusTree, tempDir, type Tree } from './lib/e2fs.js';
import { runRumpus } from './lib/cli.js';
import { errnoOf } from './lib/errno.js';
import { BIG_DIR, BIG_DIR_NAMES, FRAGMENTED, NO_E2FSPROGS, addExt4Shapes, mkExt4Image, type Ext4ImageOptions } from './lib/ext4.js';

const MiB = 1024 * 1024;
const dir = tempDir('rumpus-ext4-read-');
const src = join(dir, 'src');

interface Image {
  name: string;
  blockSize: number;
  features?: string;
  path: string;
}

const images: Image[] = ([
  { name: '1k-ext4', blockSize: 1024 },
  { name: '4k-ext4', blockSize: 4096 },
  { name: '1k-no64bit-nojournal', blockSize: 1024, features: '^64bit,^has_journal' },
  { name: '4k-no-csum', blockSize: 4096, features: '^metadata_csum' },
  { name: '1k-uninit_bg', blockSize: 1024, features: '^metadata_csum,uninit_bg' },
  { name: '4k-uninit_bg-no64bit-nojournal', blockSize: 4096, features: '^metadata_csum,^64bit,^has_journal,uninit_bg' },
] as Omit<Image, 'path'>[]).map((im) => ({ ...im, path: join(dir, `${im.name}.img`) }));

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

if (!NO_E2FSPROGS) {
  mkdirSync(src);
  buildHostTree(src, { fifo: true, manyFiles: 90 });
  addExt4Shapes(src);
  for (const im of images) mkExt4Image(im.path, { size: 64 * MiB, blockSize: im.blockSize, features: im.features, from: src, index: true });
}

t.test('the images are what the test means', { skip: NO_E2FSPROGS }, async (t) => {
  for (const im of images) {
    const r = fsckClean(im.path);
    t.ok(r.clean, `${im.name}: e2fsck is clean`, { report: r.report });
    t.match(debugfs(im.path, `htree /${BIG_DIR}`), /Root node dump/, `${im.name}: /${BIG_DIR} is an htree`);
  }
});

for (const policy of ['monolithic', 'microkernel', 'multiprocess']) {
  t.test(`read back under ${policy}`, { skip: NO_E2FSPROGS }, async (t) => {
    const expected = hostTree(src, { seconds: true });
    const withoutBig = Object.fromEntries(Object.entries(expected).filter(([path]) => path !== BIG_DIR && !path.startsWith(`${BIG_DIR}/`)));
    const before = images.map((im) => sha256(im.path));
    const mounts = images.map((im) => ({ target: `/img/${im.name}`, fstype: 'ext2', source: im.path, readonly: true }));
    const k = await boot({ policy, mounts: [...DEFAULT_MOUNTS, ...mounts] });
    try {
      const p = await k.spawn();
      for (const [i, im] of images.entries()) {
        // The big directory's 3100 files are compared whole on one image; on the others, its names.
        const tree = await rumpusTree(p, `/img/${im.name}`, { seconds: true, skip: i === 0 ? ['lost+found'] : ['lost+found', BIG_DIR] });
        t.same(tree, i === 0 ? expected : withoutBig, `${im.name}: the tree reads back as on the host`);
        if (i > 0) t.same((await p.readdir(`/img/${im.name}/${BIG_DIR}`)).map((e) => e.name).sort(), [...BIG_DIR_NAMES].sort(), `${im.name}: the big directory lists every name`);
        t.equal(await errnoOf(p.writeFile(`/img/${im.name}/new`, 'x')), 'EROFS', `${im.name}: creating a file is EROFS`);
        t.equal(await errnoOf(p.writeFile(`/img/${im.name}/a/size-1`, 'x')), 'EROFS', `${im.name}: writing a file is EROFS`);
      }
      const mnt = await p.mounts();
      t.same(mnt.filter((m) => m.fstype === 'ext2').map((m) => m.readonly), images.map(() => true), 'every image is mounted read-only, as reported');
    } finally {
      await k.halt();
    }
    t.same(images.map((im) => sha256(im.path)), before, 'the images are untouched');
  });
}

t.test('a read-write mount request mounts read-only, and a write names the features', { skip: NO_E2FSPROGS }, async (t) => {
  const im = { path: join(dir, 'quota.img') };
  mkExt4Image(im.path, { size: 16 * MiB, blockSize: 1024, features: 'quota' });
  const before = sha256(im.path);
  const k = await boot({ policy: 'monolithic', mounts: [] });
  try {
    const m = await k.call<{ fsid: number; root: Handle; readonly: boolean }>('ext2', 'mount', { source: im.path });
    t.equal(m.readonly, true, 'the mount says it is read-only');
    const err = await k.call('ext2', 'create', { fsid: m.fsid, dir: m.root, name: 'x', mode: 0o644, excl: true, uid: 0, gid: 0 }).catch((e: Error & { errno: string }) => e);
    t.equal((err as { errno?: string }).errno, 'EROFS', 'a create is EROFS');
    t.match((err as Error).message, /read-only \(feature\(s\) quota not supported for writing\)/, 'naming the feature');
    await k.call('ext2', 'unmount', { fsid: m.fsid });
  } finally {
    await k.halt();
  }
  t.equal(sha256(im.path), before, 'the image is untouched');
});

t.test('an uninitialised extent reads as zeros', { skip: NO_E2FSPROGS }, async (t) => {
  const img = join(dir, 'fallocate.img');
  mkExt4Image(img, { size: 16 * MiB, blockSize: 1024 });
  // Blocks full of 0xAA first, so that zeros can only come from the extent being uninitialised.
  const junk = join(dir, 'junk');
  writeFileSync(junk, Buffer.alloc(200 * 1024, 0xaa));
  debugfsWrite(img, [`write ${junk} junk`, 'rm junk', 'write /dev/null f', 'fallocate /f 0 99', 'sif /f size 102400']);
  t.match(debugfs(img, 'stat /f'), /\[u\]|Uninit/i, 'debugfs made an uninitialised extent');
  for (const policy of ['monolithic', 'microkernel', 'multiprocess']) {
    const k = await boot({ policy, mounts: [...DEFAULT_MOUNTS, { target: '/img', fstype: 'ext2', source: img, readonly: true }] });
    try {
      const p = await k.spawn();
      const data = await p.readFile('/img/f');
      t.equal(data.length, 102400, `${policy}: the size`);
      t.ok(data.every((b) => b === 0), `${policy}: all zeros`);
    } finally {
      await k.halt();
    }
  }
});

t.test('needs_recovery with an empty journal: the mount recovers nothing and reads; the image is unchanged', { skip: NO_E2FSPROGS }, async (t) => {
  // (Journals with transactions to replay: test/jbd2-mount.ts.)
  const img = join(dir, 'recover.img');
  mkExt4Image(img, { size: 16 * MiB, blockSize: 1024 });
  debugfsWrite(img, ['feature needs_recovery']);
  const before = createHash('sha256').update(readFileSync(img)).digest('hex');
  const k = await boot({ policy: 'monolithic', mounts: [...DEFAULT_MOUNTS, { target: '/img', fstype: 'ext2', source: img, readonly: true }] });
  try {
    const p = await k.spawn();
    t.ok((await p.readdir('/img')).some((e) => e.name === 'lost+found'), 'the root reads');
  } finally {
    await k.halt();
  }
  t.equal(createHash('sha256').update(readFileSync(img)).digest('hex'), before);
});

t.test('names are looked up through the htree, with every hash', { skip: NO_E2FSPROGS }, async (t) => {
  // Only the big directory: lookups on a fresh mount, before any readdir reads the whole of it.
  const only = join(dir, 'htree-src');
  mkdirSync(only);
  addExt4Shapes(only);
  const variants: [string, Partial<Ext4ImageOptions>][] = [
    ['half_md4, signed', {}], ['half_md4, unsigned', { unsignedHash: true }], ['tea', { hashAlg: 'tea' }],
    ['legacy, unsigned', { hashAlg: 'legacy', unsignedHash: true }], ['legacy, 4 KiB, no metadata_csum', { hashAlg: 'legacy', blockSize: 4096, features: '^metadata_csum' }],
  ];
  const mounts = variants.map(([name, o], i) => {
    const path = join(dir, `htree-${i}.img`);
    mkExt4Image(path, { size: 32 * MiB, blockSize: 1024, from: only, index: true, ...o });
    t.match(debugfs(path, `htree /${BIG_DIR}`), new RegExp(`Hash Version: ${{ half_md4: 1, tea: 2, legacy: 0 }[o.hashAlg ?? 'half_md4']}`), `${name}: the index uses that hash`);
    return { target: `/h${i}`, fstype: 'ext2', source: path, readonly: true };
  });
  for (const policy of ['monolithic', 'microkernel', 'multiprocess']) {
    const k = await boot({ policy, mounts: [...DEFAULT_MOUNTS, ...mounts] });
    try {
      const p = await k.spawn();
      // Every 4th ASCII name and every name with bytes past 0x7F (where signed and unsigned differ).
      const sample = BIG_DIR_NAMES.filter((entry, k) => k % 4 === 0 || !/^[\x20-\x7e]*$/.test(entry));
      for (const [i, [name]] of variants.entries()) {
        let found = 0;
        for (const entry of sample) if ((await errnoOf(p.lstat(`/h${i}/${BIG_DIR}/${entry}`))) === 'ok') found++;
        t.equal(found, sample.length, `${policy}, ${name}: every name looked up is found`);
        t.equal(await errnoOf(p.lstat(`/h${i}/${BIG_DIR}/a-rather-long-file-name-number-03000`)), 'ENOENT', `${policy}, ${name}: a name not there is ENOENT`);
      }
    } finally {
      await k.halt();
    }
  }
});

t.test('the command line reads an ext4 image: ls -l, cat, cp -r, sh --image', { skip: NO_E2FSPROGS }, async (t) => {
  const im = images[0];
  const before = sha256(im.path);
  const ls = await runRumpus(dir, ['ls', '-l', `${im.path}:/${BIG_DIR}`]);
  t.equal(ls.code, 0, 'ls -l succeeds', { stderr: ls.stderr });
  t.equal(ls.stdout.trim().split('\n').filter((l) => /a-rather-long|héllo/.test(l)).length, BIG_DIR_NAMES.length, 'ls -l lists every entry of the big directory');
  const cat = await runRumpus(dir, ['cat', `${im.path}:/a/b/c/d/deep.txt`]);
  t.equal(cat.code, 0, 'cat succeeds', { stderr: cat.stderr });
  t.equal(cat.stdout, 'deep\n', 'cat gives the content');
  const out = join(dir, 'cp-out');
  const frag = await runRumpus(dir, ['cp', `${im.path}:/${FRAGMENTED}`, join(dir, 'fragmented-out')]);
  t.equal(frag.code, 0, 'cp of the fragmented file succeeds', { stderr: frag.stderr });
  t.same(readFileSync(join(dir, 'fragmented-out')), readFileSync(join(src, FRAGMENTED)), 'byte for byte, holes included');
  const cp = await runRumpus(dir, ['cp', '-r', `${im.path}:/a/b`, out]);
  t.equal(cp.code, 0, 'cp -r succeeds', { stderr: cp.stderr });
  // A copy's hard links to files outside it are separate files: link counts aside.
  const noLinks = (tree: Tree) => Object.fromEntries(Object.entries(tree).map(([path, node]) => [path, { ...node, nlink: 0 }]));
  t.same(noLinks(hostTree(out, { seconds: true })), noLinks(hostTree(join(src, 'a/b'), { seconds: true })), 'cp -r gives back the tree');
  const sh = await runRumpus(dir, ['sh', '--image', im.path, '-c', 'ls /mnt/a/b/c; echo x > /mnt/new']);
  t.match(sh.stdout, /^d$/m, 'sh --image reads the image');
  t.not(sh.code, 0, 'a write in sh --image fails');
  t.match(sh.stderr, /read-only/i, 'as read-only');
  t.equal(sha256(im.path), before, 'the image is untouched');
});
