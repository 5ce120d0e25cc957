// mknod and mkfifo on tmpfs and ext2 (1 KiB and 4 KiB blocks) as Linux has them: every type,
// device numbers that round-trip (in both of ext2's encodings), who may make what, the umask,
// and open of a node with nothing behind it (ENXIO). The images pass e2fsck, debugfs reads the
// same types and numbers, and nodes made by mke2fs -d read back right. The same under every
// policy. And `rumpus cp -r` with special files: into an image they are made again (sockets
// skipped), out of one to the host they are skipped, each said so, with exit status 1.

import { execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import {
  DEFAULT_MOUNTS, O_RDONLY, O_RDWR, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK, boot, major, makedev, minor,
  type Proc,
} from '../kernel/index.js';
import { debugfs, fsckClean, mkImage, tempDir } from './lib/e2fs.js';
import { errnoOf } from './lib/errno.js';
import { runRumpus, type CliRun } from './lib/cli.js';

const MiB = 1024 * 1024;
const dir = tempDir('rumpus-mknod-');

/** The nodes every file system gets: name, mode given to mknod, device number. */
const NODES: [string, number, number][] = [
  ['fifo', S_IFIFO | 0o666, 0],
  ['null', S_IFCHR | 0o666, makedev(1, 3)],
  ['wide', S_IFCHR | 0o600, makedev(4, 300)], // minor ≥ 256: ext2's new encoding
  ['disk', S_IFBLK | 0o660, makedev(300, 70000)],
  ['sock', S_IFSOCK | 0o755, 0],
  ['plain', 0o644, 0], // type 0: a regular file
  ['reg', S_IFREG | 0o600, 0],
];

/** What one file system shows after the nodes are made: stat, readdir type, and the errnos of the refusals. */
async function nodesOn(root: Proc, user: Proc, at: string): Promise<Record<string, unknown>> {
  const r: Record<string, unknown> = {};
  for (const [name, mode, rdev] of NODES) await root.mknod(`${at}/${name}`, mode, rdev);
  const types = Object.fromEntries((await root.readdir(at)).map((e) => [e.name, e.type]));
  for (const [name] of NODES) {
    const st = await root.lstat(`${at}/${name}`);
    r[name] = { mode: st.mode.toString(8), rdev: [major(st.rdev), minor(st.rdev)], size: st.size, type: types[name] };
  }
  await root.mkfifo(`${at}/made-by-mkfifo`, 0o640);
  r.mkfifo = (await root.stat(`${at}/made-by-mkfifo`)).mode.toString(8);
  r.rdevIgnoredForFifo = (await (root.mknod(`${at}/f2`, S_IFIFO | 0o600, makedev(8, 1)).then(() => root.stat(`${at}/f2`)))).rdev;
  r.dirType = await errnoOf(root.mknod(`${at}/x`, S_IFDIR | 0o755));
  r.lnkType = await errnoOf(root.mknod(`${at}/x`, S_IFLNK | 0o777));
  r.badType = await errnoOf(root.mknod(`${at}/x`, 0o170000 | 0o644));
  r.exists = await errnoOf(root.mknod(`${at}/fifo`, S_IFIFO | 0o644));
  r.missingParent = await errnoOf(root.mknod(`${at}/no/x`, S_IFIFO | 0o644));
  r.openChr = await errnoOf(root.open(`${at}/null`, O_RDONLY));
  r.openBlk = await errnoOf(root.open(`${at}/disk`, O_RDONLY));
  r.openSock = await errnoOf(root.open(`${at}/sock`, O_RDONLY));
  await root.mkdir(`${at}/u`, 0o777);
  await root.chmod(`${at}/u`, 0o777);
  r.userChr = await errnoOf(user.mknod(`${at}/u/c`, S_IFCHR | 0o600, makedev(1, 3)));
  r.userBlk = await errnoOf(user.mknod(`${at}/u/b`, S_IFBLK | 0o600, makedev(8, 0)));
  r.userFifo = await errnoOf(user.mkfifo(`${at}/u/f`));
  r.userSock = await errnoOf(user.mknod(`${at}/u/s`, S_IFSOCK | 0o777));
  r.userFifoOwner = await user.stat(`${at}/u/f`).then((s) => [s.uid, s.gid, s.mode.toString(8)]); // umask 022
  await root.mkdir(`${at}/r`, 0o755);
  r.userNotWritable = await errnoOf(user.mkfifo(`${at}/r/nope`));
  await root.unlink(`${at}/f2`);
  await root.unlink(`${at}/u/s`);
  r.afterUnlink = await errnoOf(root.lstat(`${at}/u/s`));
  return r;
}

const EXPECTED: Record<string, unknown> = {
  fifo: { mode: '10644', rdev: [0, 0], size: 0, type: 'fifo' },
  null: { mode: '20644', rdev: [1, 3], size: 0, type: 'chr' },
  wide: { mode: '20600', rdev: [4, 300], size: 0, type: 'chr' },
  disk: { mode: '60640', rdev: [300, 70000], size: 0, type: 'blk' },
  sock: { mode: '140755', rdev: [0, 0], size: 0, type: 'sock' },
  plain: { mode: '100644', rdev: [0, 0], size: 0, type: 'reg' },
  reg: { mode: '100600', rdev: [0, 0], size: 0, type: 'reg' },
  mkfifo: '10640', rdevIgnoredForFifo: 0, dirType: 'EPERM', lnkType: 'EINVAL', badType: 'EINVAL', exists: 'EEXIST', missingParent: 'ENOENT',
  openChr: 'ENXIO', openBlk: 'ENXIO', openSock: 'ENXIO', userChr: 'EPERM', userBlk: 'EPERM', userFifo: 'ok', userSock: 'ok',
  userFifoOwner: [1000, 1000, '10644'], userNotWritable: 'EACCES', afterUnlink: 'ENOENT',
};

/** The host tree mke2fs -d copies in: every kind of special file, made on the host. */
function hostNodes(): string {
  const src = join(dir, 'src');
  mkdirSync(src);
  execFileSync('mkfifo', [join(src, 'fifo')]);
  execFileSync('mknod', [join(src, 'null'), 'c', '1', '3']);
  execFileSync('mknod', [join(src, 'disk'), 'b', '300', '70000']);
  execFileSync('python3', ['-c', `import socket; socket.socket(socket.AF_UNIX).bind(${JSON.stringify(join(src, 'sock'))})`]);
  return src;
}
const mke2fsSource = hostNodes();

const seen: Record<string, unknown>[] = [];
for (const policy of ['monolithic', 'microkernel', 'multiprocess']) {
  t.test(`mknod under ${policy}`, async (t) => {
    const e1 = join(dir, `${policy}-1k.img`);
    const e4 = join(dir, `${policy}-4k.img`);
    const fromHost = join(dir, `${policy}-d.img`);
    mkImage(e1, { size: 8 * MiB, blockSize: 1024 });
    mkImage(e4, { size: 16 * MiB, blockSize: 4096 });
    mkImage(fromHost, { size: 8 * MiB, blockSize: 1024, from: mke2fsSource });
    const k = await boot({
      policy,
      mounts: [...DEFAULT_MOUNTS, { target: '/e1', fstype: 'ext2', source: e1 }, { target: '/e4', fstype: 'ext2', source: e4 }, { target: '/d', fstype: 'ext2', source: fromHost }],
    });
    const results: Record<string, unknown> = {};
    try {
      const root = await k.spawn();
      const user = await k.spawn({ uid: 1000, gid: 1000 });
      for (const at of ['/tmp', '/e1', '/e4']) {
        const r = await nodesOn(root, user, at);
        for (const [label, want] of Object.entries(EXPECTED)) t.same(r[label], want, `${at}: ${label}`);
        results[at] = r;
      }
      t.equal(await errnoOf(root.mknod('/dev/x', S_IFIFO | 0o644)), 'EPERM', 'dev: the set of device nodes is fixed');
      t.equal(await errnoOf(root.open('/dev/null', O_RDONLY).then((fd) => root.close(fd))), 'ok', '/dev/null, served by dev, still opens');
      const d = Object.fromEntries(await Promise.all(['fifo', 'null', 'disk', 'sock'].map(async (name) => {
        const st = await root.lstat(`/d/${name}`);
        return [name, [(st.mode & S_IFMT).toString(8), major(st.rdev), minor(st.rdev)]];
      })));
      t.same(d, { fifo: ['10000', 0, 0], null: ['20000', 1, 3], disk: ['60000', 300, 70000], sock: ['140000', 0, 0] }, 'nodes made by mke2fs -d read back with their types and device numbers');
      t.same(Object.fromEntries((await root.readdir('/d')).map((e) => [e.name, e.type])), { 'lost+found': 'dir', fifo: 'fifo', null: 'chr', disk: 'blk', sock: 'sock' }, 'and list with their types');
      results.d = d;
    } finally {
      await k.halt();
    }
    for (const img of [e1, e4, fromHost]) {
      const r = fsckClean(img);
      t.ok(r.clean, `${img}: e2fsck -fn finds nothing`, { report: r.report });
    }
    for (const img of [e1, e4]) {
      t.match(debugfs(img, 'stat /null'), /Type: character special[\s\S]*Device major\/minor number: 01:03/, 'debugfs: /null is char 1,3 (old encoding)');
      t.match(debugfs(img, 'stat /wide'), /Type: character special[\s\S]*\(New-style\) Device major\/minor number: 04:300/, 'debugfs: /wide is char 4,300 (new encoding)');
      t.match(debugfs(img, 'stat /disk'), /Type: block special[\s\S]*\(New-style\) Device major\/minor number: 300:70000/, 'debugfs: /disk is block 300,70000');
      t.match(debugfs(img, 'stat /fifo'), /Type: FIFO/, 'debugfs: /fifo is a FIFO');
      t.match(debugfs(img, 'stat /sock'), /Type: socket/, 'debugfs: /sock is a socket');
      const types = Object.fromEntries(debugfs(img, 'ls -l /').split('\n').map((l) => /^\s*\d+\s+\d+\s+\((\d)\).*\s(\S+)\s*$/.exec(l)).filter((m) => m).map((m) => [m![2], Number(m![1])]));
      t.same([types.fifo, types.null, types.disk, types.sock, types.plain], [5, 3, 4, 6, 1], 'debugfs: the entries carry EXT2_FT_FIFO, _CHRDEV, _BLKDEV, _SOCK, _REG_FILE');
    }
    seen.push(results);
    if (seen.length > 1) t.same(results, seen[0], 'the same results as under the first policy');
  });
}


/** `rumpus ARGS…` in the fixture directory. */
const rumpus = (...args: string[]): Promise<CliRun> => runRumpus(dir, args);

t.test('cp -r with special files, into an image and out of one', async (t) => {
  const tree = join(dir, 'tree');
  mkdirSync(join(tree, 'sub'), { recursive: true });
  writeFileSync(join(tree, 'sub', 'file'), 'data');
  execFileSync('cp', ['-a', join(mke2fsSource, 'fifo'), join(mke2fsSource, 'null'), join(mke2fsSource, 'disk'), join(mke2fsSource, 'sock'), join(tree, 'sub')]);
  const img = join(dir, 'cp.img');
  mkImage(img, { size: 8 * MiB, blockSize: 1024 });

  const into = await rumpus('cp', '-r', tree, `${img}:/t`);
  t.equal(into.stderr, `cp: skipped ${join(tree, 'sub', 'sock')}: a socket; sockets are not copied\n`, 'into the image: only the socket is skipped, and said so');
  t.equal(into.code, 1, 'with exit status 1');
  const ls = await rumpus('ls', '-l', `${img}:/t/sub`);
  t.match(ls.stdout, /^brw-r--r-- +1 0 0 +300, 70000 .+ disk$/m, 'the block device keeps its numbers');
  t.match(ls.stdout, /^crw-r--r-- +1 0 0 +1, +3 .+ null$/m, 'the character device keeps its numbers');
  t.match(ls.stdout, /^prw-r--r-- +1 0 0 +0 .+ fifo$/m, 'the FIFO is a FIFO');
  t.match(ls.stdout, /^-rw-r--r-- +1 0 0 +4 .+ file$/m, 'the regular file is copied');
  t.ok(fsckClean(img).clean, 'e2fsck finds nothing');

  const out = join(dir, 'out');
  const back = await rumpus('cp', '-r', `${img}:/t`, out);
  const lines = (text: string) => text.split('\n').filter(Boolean).sort();
  t.same(lines(back.stderr), [
    `cp: skipped ${img}:/t/sub/disk: a block device; only regular files, directories and symlinks are copied to the host`,
    `cp: skipped ${img}:/t/sub/fifo: a FIFO; only regular files, directories and symlinks are copied to the host`,
    `cp: skipped ${img}:/t/sub/null: a character device; only regular files, directories and symlinks are copied to the host`,
  ], 'out of the image: each special file is skipped and named');
  t.equal(back.code, 1, 'with exit status 1 at the end');
  t.same(readdirSync(join(out, 'sub')), ['file'], 'and the rest is copied');
  t.ok(lstatSync(join(out, 'sub', 'file')).isFile());
});

for (const policy of ['microkernel', 'multiprocess']) {
  t.test(`under ${policy}, special files on tmpfs survive a restart of tmpfs`, async (t) => {
    const k = await boot({ policy });
    try {
      const p = await k.spawn();
      await p.mknod('/tmp/disk', S_IFBLK | 0o600, makedev(300, 70000));
      await p.mkfifo('/tmp/fifo');
      await p.mknod('/tmp/sock', S_IFSOCK | 0o600);
      await p.sync(); // a process domain keeps what was committed
      const restarts = () => k.domains().find((d) => d.components.includes('tmpfs'))!.restarts;
      await k.inject({ component: 'tmpfs', type: 'crash', op: 'walk' });
      await errnoOf(p.stat('/tmp/disk')); // meets the crash; retried on the new incarnation
      await k.settled();
      t.equal(restarts(), 1, 'tmpfs restarted');
      const st = await p.stat('/tmp/disk');
      t.same([(st.mode & S_IFMT).toString(8), major(st.rdev), minor(st.rdev)], ['60000', 300, 70000], 'the device node kept its type and number');
      t.same((await p.readdir('/tmp')).map((e) => [e.name, e.type]).sort(), [['disk', 'blk'], ['fifo', 'fifo'], ['sock', 'sock']], 'and the FIFO and socket are there');
      t.notOk(k.events.some((e) => e.kind === 'kept-lost'), 'nothing kept was dropped');
    } finally {
      await k.halt();
    }
  });
}

t.test('under microkernel, nodes made on ext2 since the last sync come back after ext2 restarts (replayed), and an open FIFO goes on', async (t) => {
  const img = join(dir, 'replay.img');
  mkImage(img, { size: 8 * MiB, blockSize: 1024 });
  const k = await boot({ policy: 'microkernel', mounts: [...DEFAULT_MOUNTS, { target: '/mnt', fstype: 'ext2', source: img }] });
  try {
    const p = await k.spawn();
    await p.mkfifo('/mnt/fifo');
    const ff = await p.open('/mnt/fifo', O_RDWR);
    await p.sync();
    await p.mknod('/mnt/disk', S_IFBLK | 0o600, makedev(300, 70000)); // not synced: only vfs's replay log has it
    await p.write(ff, 'through');
    await k.inject({ component: 'ext2', type: 'crash', op: 'walk' });
    await errnoOf(p.stat('/mnt/disk'));
    await k.settled();
    t.ok(k.domains().find((d) => d.name === 'ext2')!.restarts >= 1, 'ext2 was restarted');
    const st = await p.stat('/mnt/disk');
    t.same([(st.mode & S_IFMT).toString(8), major(st.rdev), minor(st.rdev)], ['60000', 300, 70000], 'the device node made after the last sync is back, with its number');
    t.equal(new TextDecoder().decode(await p.read(ff, 100)), 'through', 'the open FIFO still holds what was written into it');
    await p.close(ff);
  } finally {
    await k.halt();
  }
  t.ok(fsckClean(img).clean, 'e2fsck finds nothing');
  t.match(debugfs(img, 'stat /disk'), /\(New-style\) Device major\/minor number: 300:70000/, 'debugfs: the node is on disk');
});
