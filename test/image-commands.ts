// The image commands as a user runs them — rumpus mkfs, cp, ls, cat, stat, df, mkdir, rm, mv,
// ln, chmod, touch on IMAGE:PATH — with e2fsprogs as the oracle: images pass both e2fsck
// checks, debugfs sees what the commands did, rdump gives back what cp copied in.

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, lutimesSync, mkdirSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { FAKE_TIME, UUID, debugfs, debugfsWrite, fsckClean, hostTree, rdumpPaths, seededBytes, superblock, tempDir, type Tree } from './lib/e2fs.js';
import { runRumpus, type CliRun } from './lib/cli.js';

// Resolved here, so that the commands can run in the fixture directory and name images as a user would.
const dir = tempDir('rumpus-image-commands-');
const at = (name: string) => join(dir, name);


/** `rumpus ARGS…` in the fixture directory. */
const rumpus = (...args: string[]): Promise<CliRun> => runRumpus(dir, args);

const ok = (r: CliRun) => r.code === 0 && r.stderr === '';
const sha = (name: string) => createHash('sha256').update(readFileSync(at(name))).digest('hex');

/** A fresh image made by rumpus mkfs. */
async function mkfs(name: string, ...args: string[]): Promise<CliRun> {
  return rumpus('mkfs', name, '--size', '8M', ...args);
}

/**
 * The host tree cp copies: nested directories, a relative and a dangling symlink, files with
 * unusual modes, a file of a MiB and some, an empty file; fixed times with microseconds, two
 * of them before 1970.
 */
function buildPhotos(root: string): void {
  const p = (rel: string) => join(root, rel);
  mkdirSync(p('2024/summer/beach'), { recursive: true });
  mkdirSync(p('shared'), { mode: 0o1777 });
  chmodSync(p('shared'), 0o1777);
  writeFileSync(p('notes.txt'), 'holiday notes\n');
  writeFileSync(p('2024/summer/beach/sea.raw'), seededBytes(1024 * 1024 + 17, 7));
  writeFileSync(p('2024/empty'), '');
  writeFileSync(p('2024/summer/script'), '#!/bin/sh\n');
  chmodSync(p('2024/summer/script'), 0o4751);
  writeFileSync(p('private'), 'secret');
  chmodSync(p('private'), 0o600);
  symlinkSync('2024/summer/beach/sea.raw', p('latest'));
  symlinkSync('/nowhere/at/all', p('2024/dangling'));
  // Innermost first: setting a directory's contents changes its mtime.
  const times: [string, boolean][] = [
    ['2024/summer/beach/sea.raw', false], ['2024/summer/beach', false], ['2024/summer/script', false], ['2024/summer', false],
    ['2024/empty', false], ['2024/dangling', true], ['2024', false], ['shared', false], ['notes.txt', false],
    ['private', false], ['latest', true], ['', false],
  ];
  times.forEach(([rel, link], i) => {
    // notes.txt and the symlink latest from before 1970: negative times, which must survive too.
    // As a numeric string: node:fs turns a negative number into the current time.
    const time = String((rel === 'notes.txt' || rel === 'latest' ? -300_000_000 : 1_600_000_000) + i * 86_400 + 0.123456);
    (link ? lutimesSync : utimesSync)(p(rel), time, time);
  });
}

/** What rdump gives back of a tree: types, permission bits (not setuid, setgid, sticky), content, symlink targets. */
function dumped(tree: Tree): Record<string, unknown> {
  return Object.fromEntries(Object.entries(tree).map(([path, n]) => [path, { type: n.type, mode: n.mode & 0o777, content: n.content, target: n.target }]));
}

/** debugfs rdump of the image's /photos, as a Tree. */
const rdumpPhotos = (img: string) => hostTree(join(rdumpPaths(at(img), ['photos']), 'photos'));

buildPhotos(at('photos'));

t.test('mkfs makes an image both e2fsck checks accept, the same byte for byte when made twice', async (t) => {
  const fixed = ['--uuid', UUID, '--time', String(FAKE_TIME)];
  const made = await mkfs('one.img', ...fixed);
  t.ok(ok(made), 'mkfs succeeds', made);
  t.match(made.stdout, /^one\.img: 8192 blocks of 1024 bytes, 2048 inodes of 256 bytes, 1 block group, UUID 01234567-/);
  t.ok(ok(await mkfs('two.img', ...fixed)));
  t.equal(spawnSync('cmp', ['-s', at('one.img'), at('two.img')]).status, 0, 'made twice, the same bytes');
  const r = fsckClean(at('one.img'));
  t.ok(r.clean, 'e2fsck finds nothing to fix', { report: r.report });

  t.ok(ok(await rumpus('mkfs', 'big.img', '--size', '16M', '-b', '4096', '-N', '1000', '-L', 'photos')));
  const sb = superblock(at('big.img'));
  t.same([sb['Block size'], sb['Filesystem volume name'], sb['Block count']], ['4096', 'photos', '4096'], 'block size, label, size');
  t.ok(Number(sb['Inode count']) >= 1000 && Number(sb['Inode count']) < 1100, `about 1000 inodes (${sb['Inode count']})`);

  const noSize = await rumpus('mkfs', 'x.img');
  t.equal(noSize.code, 2);
  t.match(noSize.stderr, /--size is required\nusage: rumpus mkfs/);
  const badBlock = await mkfs('x.img', '-b', '8192');
  t.equal(badBlock.code, 1);
  t.match(badBlock.stderr, /block size 8192 is not 1024, 2048 or 4096/);
});

t.test('cp -r into an image and back out keeps bytes, modes, symlinks and times', async (t) => {
  await mkfs('disk.img');
  const into = await rumpus('cp', '-r', 'photos', 'disk.img:/photos');
  t.ok(ok(into), 'cp host → image succeeds', into);
  const r = fsckClean(at('disk.img'));
  t.ok(r.clean, 'the image passes both e2fsck checks', { report: r.report });
  t.same(dumped(rdumpPhotos('disk.img')), dumped(hostTree(at('photos'))), 'debugfs rdump gives back the same files');
  t.match(debugfs(at('disk.img'), 'ls -l /photos'), /41777 .* shared\n/, 'the sticky bit is kept');
  t.match(debugfs(at('disk.img'), 'ls -l /photos/2024/summer'), /104751 .* script\n/, 'the setuid bit is kept');

  const before = sha('disk.img');
  const out = await rumpus('cp', '-r', 'disk.img:/photos', 'restored');
  t.ok(ok(out), 'cp image → host succeeds', out);
  t.same(hostTree(at('restored')), hostTree(at('photos')), 'contents, modes, symlinks and mtimes (symlinks\' too) come back');
  t.equal(sha('disk.img'), before, 'copying out leaves the image as it was');

  t.same(await rumpus('cp', 'photos/private', 'disk.img:/photos/latest', 'disk.img:/photos/notes.txt'),
    { code: 1, stdout: '', stderr: 'cp: target \'disk.img:/photos/notes.txt\' is not a directory\n' }, 'several sources into a file');
  await mkfs('other.img');
  t.ok(ok(await rumpus('cp', '-r', 'disk.img:/photos/2024', 'photos/notes.txt', 'other.img:/')), 'image → another image, and host → image, in one go');
  t.match(debugfs(at('other.img'), 'ls -l /2024/summer'), /104751 .* script/, 'the copy between images keeps the setuid mode');
  t.match(debugfs(at('other.img'), 'cat /notes.txt'), /^holiday notes\n$/);
  const other = fsckClean(at('other.img'));
  t.ok(other.clean, 'the other image passes both e2fsck checks', { report: other.report });

  const partial = await rumpus('cp', '-r', 'photos/private', 'missing', 'disk.img:/photos/2024');
  t.equal(partial.code, 1, 'exit status 1 when one source is missing');
  t.equal(partial.stderr, 'cp: missing: No such file or directory\n');
  t.match(debugfs(at('disk.img'), 'cat /photos/2024/private'), /^secret$/, 'the other source is copied all the same');
});

t.test('ls, cat, stat, df, mkdir, ln, mv, chmod, touch, rm on IMAGE:PATH', async (t) => {
  await mkfs('cmds.img');
  t.ok(ok(await rumpus('cp', '-r', 'photos', 'cmds.img:/photos')));
  const before = sha('cmds.img');

  const ls = await rumpus('ls', '-l', 'cmds.img:/photos');
  t.ok(ok(ls));
  t.match(ls.stdout, /^drwxr-xr-x +\d+ 0 0 +1024 .* 2024\nlrwxrwxrwx +1 0 0 +25 .* latest -> 2024\/summer\/beach\/sea\.raw\n-rw-r--r-- +1 0 0 +14 .* notes\.txt\n-rw------- .* private\ndrwxrwxrwt .* shared\n$/);
  t.equal((await rumpus('ls', 'cmds.img:/photos/2024')).stdout, 'dangling\nempty\nsummer\n');
  t.match((await rumpus('ls', '-ld', 'cmds.img:/photos/private')).stdout, /^-rw------- +1 0 0 +6 .* cmds\.img:\/photos\/private\n$/, 'an operand is shown as written');
  t.same(await rumpus('cat', 'cmds.img:/photos/notes.txt'), { code: 0, stdout: 'holiday notes\n', stderr: '' });
  const stat = await rumpus('stat', 'cmds.img:/photos/2024/summer/script');
  t.match(stat.stdout, /File: cmds\.img:\/photos\/2024\/summer\/script\n {2}Size: 10 .*regular file\n.*\nAccess: \(4751\/-rwsr-x--x\)/);
  const df = await rumpus('df', 'cmds.img:/photos');
  t.match(df.stdout, /^Filesystem +1K-blocks +Used +Available +Use% +Mounted on\ncmds\.img +8192 +\d+ +\d+ +\d+% +cmds\.img:\/\n$/);
  t.equal(sha('cmds.img'), before, 'ls, cat, stat and df leave the image as it was');

  t.ok(ok(await rumpus('mkdir', '-p', 'cmds.img:/a/b/c')), 'mkdir -p');
  t.match(debugfs(at('cmds.img'), 'ls -l /a/b'), /40755 .* c\n/);
  t.ok(ok(await rumpus('ln', '-s', '../photos/notes.txt', 'cmds.img:/a/link')), 'ln -s');
  t.match(debugfs(at('cmds.img'), 'stat /a/link'), /Fast link dest: "\.\.\/photos\/notes\.txt"/);
  t.ok(ok(await rumpus('ln', 'cmds.img:/photos/notes.txt', 'cmds.img:/a/hard')), 'ln');
  t.match(debugfs(at('cmds.img'), 'stat /a/hard'), /Links: 2 /);
  t.equal((await rumpus('cat', 'cmds.img:/a/link')).stdout, 'holiday notes\n', 'the symlink resolves inside the image');
  t.ok(ok(await rumpus('mv', 'cmds.img:/a/b', 'cmds.img:/a/moved')), 'mv');
  t.match(debugfs(at('cmds.img'), 'ls /a'), /moved/);
  t.notMatch(debugfs(at('cmds.img'), 'ls /a'), /\bb\b/);
  t.ok(ok(await rumpus('chmod', '640', 'cmds.img:/a/hard')), 'chmod');
  t.match(debugfs(at('cmds.img'), 'stat /photos/notes.txt'), /Mode: {2}0640/);
  const now = Math.floor(Date.now() / 1000);
  t.ok(ok(await rumpus('touch', 'cmds.img:/a/new', 'cmds.img:/photos/private')), 'touch');
  t.match(debugfs(at('cmds.img'), 'stat /a/new'), /Type: regular[^]*Size: 0\n/, 'touch creates an empty file');
  const mtime = parseInt(/mtime: 0x([0-9a-f]+)/.exec(debugfs(at('cmds.img'), 'stat /photos/private'))![1], 16);
  t.ok(mtime >= now - 1, 'touch sets the time to now');
  const rmDir = await rumpus('rm', 'cmds.img:/a');
  t.same([rmDir.code, rmDir.stderr], [1, 'rm: cmds.img:/a: Is a directory\n'], 'rm refuses a directory without -r');
  t.ok(ok(await rumpus('rm', '-r', 'cmds.img:/a', 'cmds.img:/photos/2024')), 'rm -r');
  t.equal(debugfs(at('cmds.img'), 'ls /').match(/\ba\b/), null);
  t.match(debugfs(at('cmds.img'), 'stat /photos/notes.txt'), /Links: 1 /, 'removing a hard link drops the count');
  const r = fsckClean(at('cmds.img'));
  t.ok(r.clean, 'after all that, the image passes both e2fsck checks', { report: r.report });
});

t.test('errors: missing paths, missing and corrupt images, operands that are not IMAGE:PATH', async (t) => {
  await mkfs('err.img');
  t.same(await rumpus('ls', 'err.img:/x'), { code: 1, stdout: '', stderr: 'ls: err.img:/x: No such file or directory\n' });
  const noImage = await rumpus('ls', 'nope.img:/x');
  t.same([noImage.code, noImage.stderr], [1, 'rumpus ls: nope.img: No such file or directory\n'], 'a missing image');
  const host = await rumpus('cat', 'photos/notes.txt');
  t.equal(host.code, 2);
  t.match(host.stderr, /photos\/notes\.txt: not an IMAGE:PATH operand\nusage: rumpus cat/);

  writeFileSync(at('garbage.img'), seededBytes(4 * 1024 * 1024, 3));
  const garbage = await rumpus('ls', 'garbage.img:/');
  t.equal(garbage.code, 1, 'an image with no ext2 file system: exit 1');
  t.match(garbage.stderr, /^rumpus ls: garbage\.img: ext2: no ext2 file system here/);

  await mkfs('corrupt.img');
  t.ok(ok(await rumpus('mkdir', 'corrupt.img:/dir')));
  debugfsWrite(at('corrupt.img'), ['sif /dir block[0] 99999999']);
  const corrupt = await rumpus('ls', 'corrupt.img:/dir');
  // strerror's words, then the driver's sentence naming what is damaged.
  const outOfRange = 'Structure needs cleaning (ext2: corrupt file system: inode 12 maps block 99999999, which is metadata or outside the file system)';
  t.same([corrupt.code, corrupt.stderr], [1, `ls: corrupt.img:/dir: ${outOfRange}\n`], 'a directory block out of range');
  t.same(await rumpus('cat', 'corrupt.img:/lost+found/../dir/f'), { code: 1, stdout: '', stderr: `cat: corrupt.img:/dir/f: ${outOfRange}\n` },
    '\'..\' stays inside the image');
});

for (const policy of ['microkernel', 'multiprocess']) {
  t.test(`under ${policy}: cp in, ls, an error`, async (t) => {
    const img = `${policy}.img`;
    t.ok(ok(await rumpus('mkfs', img, '--size', '8M', '--policy', policy)));
    t.ok(ok(await rumpus('cp', '-r', '--policy', policy, 'photos', `${img}:/photos`)));
    t.equal((await rumpus('ls', '--policy', policy, `${img}:/photos`)).stdout, '2024\nlatest\nnotes.txt\nprivate\nshared\n');
    t.same(await rumpus('cat', '--policy', policy, `${img}:/nope`), { code: 1, stdout: '', stderr: `cat: ${img}:/nope: No such file or directory\n` });
    const r = fsckClean(at(img));
    t.ok(r.clean, 'the image passes both e2fsck checks', { report: r.report });
    t.same(dumped(rdumpPhotos(img)), dumped(hostTree(at('photos'))), 'debugfs rdump gives back the same files');
  });
}
