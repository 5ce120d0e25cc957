// Partitioned disk images from the command line, with sfdisk, sgdisk, e2fsck and debugfs as the
// oracles: `rumpus parts` agrees with sfdisk --json and sgdisk -p; cp, ls and cat on
// IMAGE@N:/PATH read and write an ext2 partition (then extracted, it passes e2fsck and debugfs
// reads what was written, and nothing outside it changed); mkfs IMAGE@N makes an e2fsck-clean
// file system in a partition; a disk with a table named whole is status 1 with its partitions
// listed; a damaged primary GPT is read from the backup, said on stderr; `sh --image IMAGE@N`;
// `serve --image IMAGE@N`, each partition found by the commands through the server; a host
// file whose name ends in @2 is that file; @0, @02 and a second @N are refused saying why.

import { execFileSync } from 'node:child_process';
import { copyFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import t from 'tap';
import type { PartitionTable } from '../servers/dk/table.js';
import { runRumpus } from './lib/cli.js';
import { exitOf, rumpus as serveRumpus, skip as serveSkip, startServer } from './lib/serve-cli.js';
import { GPT_4KN_PARTS, MBR_PARTS, SECTOR, diskToolsMissing, extract, makeGpt4knDisk, makeGptDisk, makeMbrDisk, outsideDigest, readAt, sfdiskJson, writeAt } from './lib/disks.js';
import { debugfs, fsckClean, mkImage, tempDir } from './lib/e2fs.js';

const missing = diskToolsMissing();
const dir = tempDir('rumpus-cli-parts-');
const at = (name: string) => join(dir, name);
const rumpus = (...args: string[]) => runRumpus(dir, args);

if (missing) {
  t.plan(0, missing);
} else {
  makeMbrDisk(at('mbr.img'));
  makeGptDisk(at('gpt.img'));

  t.test('rumpus parts agrees with sfdisk --json and sgdisk -p', async (t) => {
    const mbr = await rumpus('parts', 'mbr.img');
    t.equal(mbr.code, 0, mbr.stderr);
    const rows = mbr.stdout.split('\n').filter((l) => l.startsWith('mbr.img@'));
    const sf = sfdiskJson(at('mbr.img'));
    t.same(rows.map((l) => {
      const [, device, start, sectors, id] = /^(\S+)\s+\*?\s+(\d+)\s+\d+\s+(\d+)\s+\S+ \S+\s+([0-9a-f]+) /.exec(l) ?? [];
      return [device, Number(start), Number(sectors), parseInt(id, 16)];
    }), sf.partitions.map((p) => [basename(p.node).replace(/(\d+)$/, '@$1'), p.start, p.size, parseInt(p.type, 16)]), 'MBR: device, start, sectors and type as sfdisk');
    t.match(mbr.stdout, /^Disk mbr\.img: 64 MiB, 67108864 bytes, 131072 sectors\n/);
    t.match(mbr.stdout, /Disklabel type: dos\nDisk identifier: 0x1234abcd\n/);
    t.match(mbr.stdout, /mbr\.img@1 \*\s+2048\s+34815\s+32768\s+16 MiB\s+c FAT32 \(LBA\)\n/);

    const json = await rumpus('parts', '--json', 'mbr.img');
    t.equal(json.code, 0, json.stderr);
    const table = JSON.parse(json.stdout) as PartitionTable;
    t.same(table.partitions.map((p) => [p.number, p.start / SECTOR, p.size / SECTOR]), sf.partitions.map((p) => [Number(/(\d+)$/.exec(p.node)![1]), p.start, p.size]), '--json: the same');

    const gpt = await rumpus('parts', 'gpt.img');
    t.equal(gpt.code, 0, gpt.stderr);
    const ours = gpt.stdout.split('\n').filter((l) => l.startsWith('gpt.img@')).map((l) => {
      const cells = l.split(/\s+/);
      return [Number(cells[0].split('@')[1]), Number(cells[1]), Number(cells[2]), cells.at(-1)];
    });
    const sgdisk = execFileSync('sgdisk', ['-p', at('gpt.img')], { encoding: 'utf8' }).split('\n').filter((l) => /^\s+\d+\s+\d+\s+\d+/.test(l)).map((l) => {
      const cells = l.trim().split(/\s+/);
      return [Number(cells[0]), Number(cells[1]), Number(cells[2]), cells.at(-1)];
    });
    t.same(ours, sgdisk, 'GPT: number, first and last sector, name as sgdisk -p');
    t.match(gpt.stdout, /gpt\.img@1\s+2048\s+18431\s+16384\s+8 MiB EFI System\s+esp\n/);
  });

  t.test('a damaged primary GPT: read from the backup, said on stderr', async (t) => {
    copyFileSync(at('gpt.img'), at('gpt-bad.img'));
    writeAt(at('gpt-bad.img'), SECTOR + 60, readAt(at('gpt-bad.img'), SECTOR + 60, 1).map((b) => b ^ 0xff));
    const r = await rumpus('parts', 'gpt-bad.img');
    t.equal(r.code, 0, r.stderr);
    t.match(r.stderr, /^rumpus parts: gpt-bad\.img: the GPT primary header at LBA 1 is damaged \(header CRC32 mismatch\): the table was read from the backup header at LBA 131071\n$/);
    t.match(r.stdout, /gpt\.img@4|gpt-bad\.img@4/);
    const none = await rumpus('parts', 'part-less.img');
    t.equal(none.code, 1, 'no such file: status 1');
  });

  t.test('a disk with a table named whole: status 1, its partitions listed', async (t) => {
    const r = await rumpus('ls', 'mbr.img:/');
    t.equal(r.code, 1);
    t.equal(r.stderr, 'rumpus ls: mbr.img: dk: mbr.img has an MBR partition table: name a partition, mbr.img@1 (FAT32 (LBA), 16 MiB), ' +
      'mbr.img@2 (Linux, 24 MiB), mbr.img@5 (Linux, 8 MiB) or mbr.img@6 (Linux swap, 4 MiB)\n');
  });

  t.test('cp, ls and cat on IMAGE@N:/PATH; e2fsck and debugfs on the partition extracted', async (t) => {
    const disk = 'rw.img';
    copyFileSync(at('mbr.img'), at(disk));
    const outside = outsideDigest(at(disk), MBR_PARTS[2], MBR_PARTS[5]);
    writeFileSync(at('note.txt'), 'a note for partition 2\n');
    const cp = await rumpus('cp', 'note.txt', `${disk}@2:/note.txt`);
    t.equal(cp.code, 0, cp.stderr);
    const mkdir = await rumpus('mkdir', `${disk}@5:/logical`);
    t.equal(mkdir.code, 0, mkdir.stderr);
    const between = await rumpus('cp', `${disk}@2:/note.txt`, `${disk}@5:/logical/copy.txt`);
    t.equal(between.code, 0, `between two partitions of one disk: ${between.stderr}`);
    const cat = await rumpus('cat', `${disk}@5:/logical/copy.txt`);
    t.same([cat.code, cat.stdout], [0, 'a note for partition 2\n']);
    const ls = await rumpus('ls', `${disk}@2:/`);
    t.same([ls.code, ls.stdout.split('\n').filter(Boolean).sort()], [0, ['lost+found', 'note.txt']]);
    const sh = await rumpus('sh', '--policy', 'microkernel', '--image', `${disk}@2`, '-c', 'cat /mnt/note.txt; mount');
    t.equal(sh.code, 0, sh.stderr);
    t.match(sh.stdout, /^a note for partition 2\n/);
    t.match(sh.stdout, /rw\.img@2 on \/mnt type ext2 \(rw\)/, 'mount lists the partition');

    t.equal(outsideDigest(at(disk), MBR_PARTS[2], MBR_PARTS[5]), outside, 'nothing outside partitions 2 and 5 changed');
    for (const [part, path, text] of [[MBR_PARTS[2], '/note.txt', 'a note for partition 2\n'], [MBR_PARTS[5], '/logical/copy.txt', 'a note for partition 2\n']] as const) {
      const img = extract(at(disk), part, at(`rw-part${part.number}.img`));
      const fsck = fsckClean(img);
      t.ok(fsck.clean, `partition ${part.number} passes e2fsck`, { report: fsck.report });
      t.equal(debugfs(img, `cat ${path}`), text, `debugfs reads ${path} in partition ${part.number}`);
    }
  });

  t.test('mkfs IMAGE@N: an e2fsck-clean ext2 in the partition, the rest unchanged', async (t) => {
    const disk = 'mkfs.img';
    copyFileSync(at('mbr.img'), at(disk));
    const outside = outsideDigest(at(disk), MBR_PARTS[2]);
    const r = await rumpus('mkfs', `${disk}@2`, '-U', '01234567-89ab-cdef-0123-456789abcdef', '--time', '1700000000', '-L', 'part2');
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, /^mkfs\.img@2: 24576 blocks of 1024 bytes, \d+ inodes of 256 bytes, 3 block groups, UUID 01234567-89ab-cdef-0123-456789abcdef\n$/);
    t.equal(outsideDigest(at(disk), MBR_PARTS[2]), outside, 'nothing outside partition 2 changed');
    const img = extract(at(disk), MBR_PARTS[2], at('mkfs-part2.img'));
    const fsck = fsckClean(img);
    t.ok(fsck.clean, 'e2fsck finds it clean', { report: fsck.report });
    t.match(execFileSync('dumpe2fs', ['-h', img], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }), /Filesystem volume name:\s+part2\n/);
    const sized = await rumpus('mkfs', `${disk}@2`, '--size', '8M');
    t.equal(sized.code, 2, '--size is refused for a partition');
    t.match(sized.stderr, /--size is not for a partition/);
  });

  t.test('serve --image IMAGE@N: the image commands find each partition by real path and number', { skip: serveSkip }, async (t) => {
    const disk = 'served.img';
    copyFileSync(at('mbr.img'), at(disk));
    const sock = at('run/rumpus.sock');
    const server = await startServer(t, dir, ['--policy', 'microkernel', '--image', `${disk}@2`, '--image', `${disk}@5`, '--listen', `unix://${sock}`]);
    const env = { RUMPUS_SERVER: `unix://${sock}` };
    writeFileSync(at('served.txt'), 'through the server\n');
    const cp = await serveRumpus(dir, ['cp', 'served.txt', `${disk}@5:/served.txt`], env);
    t.equal(cp.code, 0, cp.stderr);
    const cat = await serveRumpus(dir, ['cat', `./${disk}@5:/served.txt`], env);
    t.same([cat.code, cat.stdout], [0, 'through the server\n'], 'another spelling of the same image and partition');
    const ls = await serveRumpus(dir, ['ls', `${disk}@2:/`], env);
    t.same([ls.code, ls.stdout], [0, 'lost+found\n'], 'partition 2 is not partition 5');
    const other = await serveRumpus(dir, ['ls', `${disk}@1:/`], env);
    t.equal(other.code, 1);
    t.match(other.stderr, /served\.img@1: not mounted by the server at unix:\/\/.* \(it has mounted .*served\.img@2 on \/mnt, .*served\.img@5 on \/mnt1\)/);
    server.child.kill('SIGTERM');
    t.equal(await exitOf(server), 0, 'SIGTERM: the server exits 0');
    const img = extract(at(disk), MBR_PARTS[5], at('served-part5.img'));
    t.ok(fsckClean(img).clean, 'partition 5 passes e2fsck');
    t.equal(debugfs(img, 'cat /served.txt'), 'through the server\n');
  });

  t.test('a GPT disk with 4 KiB sectors (fdisk -b 4096): parts as fdisk lists it, and its ext4 partition read and written', async (t) => {
    makeGpt4knDisk(at('gpt4k.img'));
    const r = await rumpus('parts', 'gpt4k.img');
    t.equal(r.code, 0, r.stderr);
    // fdisk -l's partition lines (device, start, end, sectors), the same disk read at 4096-byte sectors.
    const lines = (text: string) => text.split('\n').filter((l) => /^\S*gpt4k\.img@?\d/.test(l)).map((l) => l.split(/\s+/).slice(1, 4).join(' '));
    const fdisk = execFileSync('fdisk', ['-b', '4096', '-l', at('gpt4k.img')], { encoding: 'utf8' });
    t.same(lines(r.stdout), lines(fdisk), 'the same starts, ends and sectors as fdisk -b 4096 -l');
    t.same(lines(r.stdout), ['256 4351 4096', '4352 8447 4096']);
    t.match(r.stdout, /^Sector size: 4096 bytes$/m);
    const json = JSON.parse((await rumpus('parts', 'gpt4k.img', '--json')).stdout) as PartitionTable;
    t.same([json.sectorSize, json.partitions.map((p) => [p.start, p.size])], [4096, Object.values(GPT_4KN_PARTS).map((p) => [p.start, p.size])]);
    const outside = outsideDigest(at('gpt4k.img'), GPT_4KN_PARTS[2]);
    writeFileSync(at('note.txt'), 'on a 4Kn disk\n');
    const cp = await rumpus('cp', at('note.txt'), 'gpt4k.img@2:/note.txt');
    t.equal(cp.code, 0, cp.stderr);
    t.equal((await rumpus('cat', 'gpt4k.img@2:/note.txt')).stdout, 'on a 4Kn disk\n');
    t.equal(outsideDigest(at('gpt4k.img'), GPT_4KN_PARTS[2]), outside, 'nothing outside partition 2 changed');
    const img = extract(at('gpt4k.img'), GPT_4KN_PARTS[2], at('gpt4k-part2.img'));
    const fsck = fsckClean(img);
    t.ok(fsck.clean, 'the partition passes e2fsck', { report: fsck.report });
    t.equal(debugfs(img, 'cat /note.txt'), 'on a 4Kn disk\n');
  });

  t.test('a host file whose name ends in @2 is that file', async (t) => {
    mkImage(at('backup@2'), { size: 4 * 1024 * 1024 });
    const r = await rumpus('ls', 'backup@2:/');
    t.same([r.code, r.stdout], [0, 'lost+found\n'], r.stderr);
    const gone = await rumpus('ls', 'nothing@2:/');
    t.equal(gone.code, 1);
    t.match(gone.stderr, /nothing: No such file or directory/, 'otherwise @2 names a partition of the file before it');
  });

  t.test('suffixes that name no partition: @0, a leading zero, a second @N', async (t) => {
    for (const [operand, said] of [
      ['mbr.img@0:/', /mbr\.img@0: no such file, and '@0' names no partition: they are numbered from 1/],
      ['mbr.img@02:/', /mbr\.img@02: no such file, and '@02' names no partition: write it as mbr\.img@2/],
      ['mbr.img@2@2:/', /mbr\.img@2@2: no such file, and a partition is named once, as mbr\.img@N/],
      ['mbr.img@99999999999999999999:/', /mbr\.img@99999999999999999999: no such file, and '@99999999999999999999' names no partition: the number is too large for a partition/],
    ] as const) {
      const r = await rumpus('ls', operand);
      t.equal(r.code, 1, `ls ${operand} fails`);
      t.match(r.stderr, said, `ls ${operand} says why`);
      t.notMatch(r.stderr, /\n\s+at /, 'no stack trace');
    }
    const zero = await rumpus('ls', 'none.img@0:/');
    t.match(zero.stderr, /none\.img@0: No such file or directory/, 'with no file before the suffix, the whole text is the missing file');
  });
}
