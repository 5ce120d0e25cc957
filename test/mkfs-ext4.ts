// rumpus mkfs -t ext3 and -t ext4, with e2fsprogs as the oracle: for 1 and 4 KiB blocks, small
// and larger images (300 MiB: several flex groups, 64-byte descriptors over several blocks),
// the image is byte for byte what mke2fs writes for the same parameters (but for the write
// count mke2fs keeps of itself), passes both e2fsck checks, lists mke2fs's features, has an
// empty journal of mke2fs's size and extent trees where ext4 has them, and stays clean after
// debugfs writes into it (and rumpus reads what debugfs wrote); the same options twice give the same bytes; -E hash_seed and
// -J size work from the command line, and so does --encrypt (the decrypted payload passes
// e2fsck); bad combinations are refused with EINVAL.

import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { e2fsprogsTool } from '../bench/e2fsprogs.js';
import { DEFAULT_MOUNTS, SysError, boot } from '../kernel/index.js';
import { hasSuperblock } from '../servers/ext2/superblock.js';
import { cryptsetupMissing, decryptPayload, keyFile } from './lib/cgd.js';
import { runRumpus } from './lib/cli.js';
import { FAKE_TIME, UUID, debugfs, debugfsWrite, fsckClean, seededBytes, superblock, tempDir } from './lib/e2fs.js';

const MiB = 1024 * 1024;
const dir = tempDir('rumpus-mkfs4-');
const missing = ['mke2fs', 'e2fsck', 'debugfs', 'dumpe2fs'].find((tool) => e2fsprogsTool(tool) === null);
const skip = missing ? `${missing} (e2fsprogs) is not installed` : false;
/** The features of rumpus's ext2 plus the journal: what -t ext3 makes. */
const EXT3_FEATURES = 'none,has_journal,filetype,sparse_super,large_file';

/** mke2fs's image for the same parameters, reproducible as ours (fixed UUID, hash seed and time). */
function mke2fs(path: string, type: 'ext3' | 'ext4', size: number, blockSize: number): void {
  rmSync(path, { force: true });
  writeFileSync(path, '');
  truncateSync(path, size);
  const args = ['-q', '-F', '-t', type, '-b', String(blockSize), '-U', UUID, '-E', `hash_seed=${UUID}`];
  if (type === 'ext3') args.push('-O', EXT3_FEATURES);
  execFileSync(e2fsprogsTool('mke2fs')!, [...args, path], { env: { ...process.env, E2FSPROGS_FAKE_TIME: String(FAKE_TIME) }, stdio: 'pipe' });
}

/**
 * Whether two images differ only in s_kbytes_written (the kilobytes mke2fs counts itself
 * writing) and so s_checksum, in the superblock copies. Returns the first other difference.
 */
function onlyWriteCountDiffers(a: string, b: string, blockSize: number): string | null {
  const cmp = spawnSync('cmp', ['-l', a, b], { encoding: 'utf8', maxBuffer: 64 * MiB });
  if (cmp.status === 0) return null;
  const firstDataBlock = blockSize === 1024 ? 1 : 0;
  const bpg = blockSize * 8;
  for (const line of cmp.stdout.trim().split('\n')) {
    const offset = Number(line.trim().split(/\s+/)[0]) - 1;
    const block = Math.floor(offset / blockSize);
    const copyAt = offset < 2048 ? 1024 : block * blockSize;
    const g = (block - firstDataBlock) / bpg;
    const inCopy = copyAt === 1024 || (Number.isInteger(g) && hasSuperblock(g, true));
    const field = offset - copyAt;
    if (!(inCopy && ((field >= 0x178 && field < 0x180) || (field >= 0x3fc && field < 0x400)))) return `byte ${offset}: ${line}`;
  }
  return null;
}

/** A file of the image as rumpus's ext2 driver reads it, mounted read-only. */
async function readThroughRumpus(image: string, path: string): Promise<Uint8Array> {
  const k = await boot({ policy: 'monolithic', mounts: [...DEFAULT_MOUNTS, { target: '/img', fstype: 'ext2', source: image, readonly: true }] });
  try {
    const p = await k.spawn();
    return await p.readFile(`/img${path}`);
  } finally {
    await k.halt();
  }
}

function sameBytes(a: string, b: string): boolean {
  return spawnSync('cmp', ['-s', a, b]).status === 0;
}

t.test('mkfs -t ext3 and -t ext4', { skip }, async (t) => {
  const k = await boot({ policy: 'microkernel', mounts: [] });
  const mkfs = (source: string, args: Record<string, unknown>) => k.call<{ blocks: number; uuid: string }>('ext2', 'mkfs', { source, ...args });
  try {
    for (const type of ['ext3', 'ext4'] as const) {
      for (const size of [8 * MiB, 300 * MiB]) {
        for (const blockSize of [1024, 4096]) {
          const name = `${type}, ${size / MiB} MiB of ${blockSize / 1024} KiB blocks`;
          const ours = join(dir, 'ours.img');
          const theirs = join(dir, 'theirs.img');
          const args = { type, size, blockSize, uuid: UUID, time: FAKE_TIME };
          await mkfs(ours, args);
          mke2fs(theirs, type, size, blockSize);
          t.equal(onlyWriteCountDiffers(theirs, ours, blockSize), null, `${name}: byte for byte what mke2fs writes (but its write count)`);
          const r = fsckClean(ours);
          t.ok(r.clean, `${name}: e2fsck finds nothing to fix`, { report: r.report });

          const sb = superblock(ours);
          const ref = superblock(theirs);
          t.equal(sb['Filesystem features'], ref['Filesystem features'], `${name}: mke2fs's features`);
          if (type === 'ext4') t.match(sb['Filesystem features'], /has_journal.*extent.*64bit.*flex_bg.*huge_file.*dir_nlink.*extra_isize.*metadata_csum/);
          t.equal(sb['Total journal blocks'], ref['Total journal blocks'], `${name}: a journal of mke2fs's size (${ref['Total journal blocks']} blocks)`);
          t.equal(sb['Journal features'], ref['Journal features'], `${name}: mke2fs's journal features (${ref['Journal features']})`);
          t.equal(sb['Journal start'], '0', `${name}: the journal is empty: nothing to recover`);
          t.equal(sb['Journal sequence'], '0x00000001');
          t.equal(sb['Journal inode'], '8');
          t.equal(sb['Filesystem state'], 'clean');
          const root = debugfs(ours, 'stat /');
          const journal = debugfs(ours, 'stat <8>');
          if (type === 'ext4') {
            t.match(root, /Flags: 0x80000[\s\S]*EXTENTS:\n\(0\):\d+/, `${name}: the root directory has an extent tree`);
            t.match(journal, /EXTENTS:\n\(0-\d+\):\d+-\d+/, `${name}: so does the journal`);
          } else {
            t.match(journal, /BLOCKS:\n\(0-11\):\d+-\d+, \(IND\):\d+/, `${name}: the journal has a block map`);
          }

          // A usable file system for the standard tools: debugfs writes into it, e2fsck stays silent.
          const hostFile = join(dir, 'payload');
          const payload = seededBytes(300 * 1024 + 7, size + blockSize);
          writeFileSync(hostFile, payload);
          debugfsWrite(ours, ['mkdir /docs', `write ${hostFile} /docs/payload`, 'mkdir /docs/sub']);
          const after = fsckClean(ours);
          t.ok(after.clean, `${name}: clean after debugfs wrote into it`, { report: after.report });
          const back = join(dir, 'back');
          debugfs(ours, `dump /docs/payload ${back}`);
          t.ok(sameBytes(hostFile, back), `${name}: debugfs reads back what it wrote`);
          t.same(await readThroughRumpus(ours, '/docs/payload'), payload, `${name}: rumpus's driver reads it back too`);

          if (size === 8 * MiB) {
            const twice = join(dir, 'twice.img');
            await mkfs(ours, args);
            await mkfs(twice, args);
            t.ok(sameBytes(ours, twice), `${name}: made twice, byte for byte the same`);
          }
        }
      }
    }

    // The same bytes whichever domain the ext2 component runs in.
    const args = { type: 'ext4', size: 8 * MiB, uuid: UUID, time: FAKE_TIME };
    const reference = join(dir, 'microkernel.img');
    await mkfs(reference, args);
    for (const policy of ['monolithic', 'multiprocess'] as const) {
      const other = await boot({ policy, mounts: [] });
      try {
        const image = join(dir, `${policy}.img`);
        await other.call('ext2', 'mkfs', { source: image, ...args });
        t.ok(sameBytes(reference, image), `ext4 made under ${policy}: the bytes made under microkernel`);
      } finally {
        await other.halt();
      }
    }

    const fails = async (args: Record<string, unknown>, what: string) => {
      const err = await mkfs(join(dir, 'bad.img'), { size: 8 * MiB, ...args }).catch((e: unknown) => e);
      t.ok(err instanceof SysError && err.errno === 'EINVAL', `${what} is refused with EINVAL`, { err });
    };
    await fails({ type: 'ext5' }, 'a type other than ext2, ext3 and ext4');
    await fails({ type: 'ext3', size: MiB }, 'a journal in a file system under 2048 blocks');
    await fails({ type: 'ext4', inodeSize: 128 }, 'ext4 with 128-byte inodes');
    await fails({ type: 'ext3', revision: 0 }, 'ext3 of revision 0');
    await fails({ journalSize: 4 }, 'a journal size for ext2');
    await fails({ type: 'ext4', journalSize: 5 }, 'a journal of more than half the file system');
    await fails({ type: 'ext4', hashSeed: 'seed' }, 'a malformed hash seed');
    await fails({ type: 'ext4', size: 200 * 1024 * MiB, blockSize: 4096 }, 'a 1 GiB journal in more extents than its inode holds (200 GiB)');
    t.notOk(existsSync(join(dir, 'bad.img')), 'no image is made when the arguments are refused');
  } finally {
    await k.halt();
  }
});

t.test('rumpus mkfs -t ext4 -E hash_seed= -J size= from the command line', { skip }, async (t) => {
  const seed = '89abcdef-0123-4567-89ab-cdef01234567';
  const make = (image: string) => runRumpus(dir, ['mkfs', '-t', 'ext4', image, '--size', '64M', '-U', UUID, '-E', `hash_seed=${seed}`, '-J', 'size=8', '--time', String(FAKE_TIME)]);
  const one = await make('cli-1.img');
  t.equal(one.code, 0, 'mkfs succeeds', { stderr: one.stderr });
  t.match(one.stdout, /^cli-1\.img: 65536 blocks of 1024 bytes, 16384 inodes of 256 bytes, 8 block groups, UUID 01234567-/);
  const two = await make('cli-2.img');
  t.equal(two.code, 0);
  t.ok(sameBytes(join(dir, 'cli-1.img'), join(dir, 'cli-2.img')), 'the same options twice: the same bytes');
  const sb = superblock(join(dir, 'cli-1.img'));
  t.equal(sb['Directory Hash Seed'], seed, 'the hash seed given');
  t.equal(sb['Filesystem UUID'], UUID);
  t.equal(sb['Total journal size'], '8M', 'the journal size given');
  const r = fsckClean(join(dir, 'cli-1.img'));
  t.ok(r.clean, 'e2fsck finds nothing to fix', { report: r.report });
  const bad = await runRumpus(dir, ['mkfs', 'cli-3.img', '--size', '8M', '-E', 'stride=4']);
  t.equal(bad.code, 2, 'an -E option other than hash_seed is a usage error');
  t.match(bad.stderr, /--extended: 'stride=4' is not hash_seed=/);
});

t.test('rumpus mkfs -t ext4 --encrypt: an ext4 inside a LUKS2 container', { skip: skip || (cryptsetupMissing() ?? false) }, async (t) => {
  const image = join(dir, 'enc.img');
  const made = await runRumpus(dir, ['mkfs', '-t', 'ext4', 'enc.img', '--size', '40M', '--encrypt', '--key-file', keyFile(image), '--pbkdf', 'pbkdf2', '--pbkdf-force-iterations', '1000']);
  t.equal(made.code, 0, 'mkfs succeeds', { stderr: made.stderr });
  const plain = decryptPayload(image, join(dir, 'enc-plain.img'));
  const r = fsckClean(plain);
  t.ok(r.clean, 'the decrypted payload passes e2fsck', { report: r.report });
  t.match(superblock(plain)['Filesystem features'], /has_journal.*extent.*64bit.*flex_bg.*metadata_csum/, 'an ext4 file system');
  const ls = await runRumpus(dir, ['ls', '--key-file', keyFile(image), 'enc.img:/']);
  t.same({ code: ls.code, stdout: ls.stdout }, { code: 0, stdout: 'lost+found\n' }, 'rumpus reads it through the container');
});
