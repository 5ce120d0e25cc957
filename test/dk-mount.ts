// ext2 in partitions of a disk image, through dk, under every policy with identical results:
// two partitions of an sfdisk-made MBR disk (a primary and a logical one) mounted at once,
// written, unmounted; then each partition, extracted as dd would, passes the e2fsck oracle
// (both rules) and debugfs reads back what was written, while no byte outside the partitions
// changed. A whole disk with a table is refused naming its partitions; a request past a
// partition's end is refused as blk refuses one past an image's. A LUKS container in a
// partition opens with its key (cgd over dk). dk, ext2 and blk each restart under a mounted
// partition, and what was fsync'd is there.

import { createHash } from 'node:crypto';
import { copyFileSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { DEFAULT_MOUNTS, boot, type Kernel, type UnitInfo } from '../kernel/index.js';
import { FAST_KDF, cryptsetupMissing, cryptsetupOpens } from './lib/cgd.js';
import { MBR_PARTS, GPT_PARTS, diskToolsMissing, extract, makeGptDisk, makeMbrDisk, outcomeIn, outsideDigest, writeAt } from './lib/disks.js';
import { debugfs, fsckClean, seededBytes, tempDir } from './lib/e2fs.js';
import { ALL_POLICIES, policyName } from './lib/policies.js';

const missing = diskToolsMissing();
const dir = tempDir('rumpus-dk-mount-');
const BIG = seededBytes(300 * 1024 + 123, 11);
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** A call's answer, or its errno and message with the test directory made neutral. */
const outcome = <T>(p: Promise<T>) => outcomeIn(dir, p);

/** What one kernel does and sees with the disk; the same under every placement. */
async function scenario(k: Kernel, disk: string): Promise<Record<string, unknown>> {
  const seen: Record<string, unknown> = {};
  const p = await k.spawn();
  try {
    for (const d of ['/whole', '/a', '/b', '/c']) await p.mkdir(d);
    seen.whole = await outcome(p.mount('/whole', 'ext2', { source: disk }));
    await p.mount('/a', 'ext2', { source: disk, partition: 2 });
    await p.mount('/b', 'ext2', { source: disk, partition: 5 });
    seen.again = await outcome(p.mount('/c', 'ext2', { source: disk, partition: 2 }));
    seen.noSuch = await outcome(p.mount('/c', 'ext2', { source: disk, partition: 9 }));
    seen.mounts = (await p.mounts()).filter((m) => m.fstype === 'ext2').map((m) => [m.target, m.source.replaceAll(dir, 'DIR'), m.partition]);
    await p.writeFile('/a/big', BIG);
    await p.mkdir('/a/dir');
    await p.writeFile('/a/dir/note', 'in partition 2\n');
    await p.writeFile('/b/note', 'in logical partition 5\n');
    seen.readBack = [sha(await p.readFile('/a/big')), new TextDecoder().decode(await p.readFile('/b/note'))];
    await p.unmount('/a');
    await p.unmount('/b');
  } finally {
    await p.exit();
  }
  // dk's bounds: the partition's last sector is readable, the next one is past its end.
  const u = await k.call<UnitInfo>('dk', 'attach', { path: disk, partition: 5 });
  try {
    seen.unit = [u.size, u.sectorSize, u.source.replaceAll(dir, 'DIR')];
    seen.lastSector = (await k.call<Uint8Array>('dk', 'read', { unit: u.unit, offset: u.size - 512, length: 512 })).length;
    seen.readPast = await outcome(k.call('dk', 'read', { unit: u.unit, offset: u.size, length: 512 }));
    seen.readAcross = await outcome(k.call('dk', 'read', { unit: u.unit, offset: u.size - 512, length: 1024 }));
    seen.writePast = await outcome(k.call('dk', 'write', { unit: u.unit, offset: u.size, data: new Uint8Array(512) }));
    seen.commitPast = await outcome(k.call('dk', 'commit', { unit: u.unit, writes: [{ offset: 0, data: new Uint8Array(512) }, { offset: u.size, data: new Uint8Array(512) }] }));
    // Another partition of the same disk, read-only, beside the read-write one: one blk unit for both.
    const ro = await k.call<UnitInfo>('dk', 'attach', { path: disk, partition: 2, readonly: true });
    seen.writeReadonly = await outcome(k.call('dk', 'write', { unit: ro.unit, offset: 0, data: new Uint8Array(512) }));
    seen.busy = await outcome(k.call('dk', 'attach', { path: disk, partition: 5 }));
    await k.call('dk', 'detach', { unit: ro.unit });
  } finally {
    await k.call('dk', 'detach', { unit: u.unit });
  }
  // blk's answer past the end of an image, for comparison.
  const whole = await k.call<UnitInfo>('blk', 'attach', { path: disk, readonly: true });
  seen.blkPast = await outcome(k.call('blk', 'read', { unit: whole.unit, offset: whole.size, length: 512 }));
  await k.call('blk', 'detach', { unit: whole.unit });
  return seen;
}

t.test('two partitions of an MBR disk, mounted at once, under every policy', { skip: missing ?? false }, async (t) => {
  const base = join(dir, 'base.img');
  makeMbrDisk(base);
  const outside = outsideDigest(base, MBR_PARTS[2], MBR_PARTS[5]);
  const runs: Record<string, unknown>[] = [];
  for (const policy of ALL_POLICIES) {
    const name = policyName(policy);
    const disk = join(dir, 'disk.img');
    copyFileSync(base, disk);
    const k = await boot({ policy });
    try {
      runs.push(await scenario(k, disk));
    } finally {
      await k.halt();
    }
    t.same(runs.at(-1), runs[0], `${name}: the same as monolithic`);
    t.equal(outsideDigest(disk, MBR_PARTS[2], MBR_PARTS[5]), outside, `${name}: no byte outside partitions 2 and 5 changed`);
    for (const part of [MBR_PARTS[2], MBR_PARTS[5]]) {
      const img = extract(disk, part, join(dir, `part${part.number}.img`));
      const fsck = fsckClean(img);
      t.ok(fsck.clean, `${name}: partition ${part.number} passes e2fsck`, { report: fsck.report });
    }
    t.equal(debugfs(join(dir, 'part2.img'), 'cat /dir/note'), 'in partition 2\n', `${name}: debugfs reads partition 2's file`);
    t.equal(debugfs(join(dir, 'part5.img'), 'cat /note'), 'in logical partition 5\n', `${name}: debugfs reads partition 5's file`);
    const dumped = join(dir, 'big.out');
    debugfs(join(dir, 'part2.img'), `dump /big ${dumped}`);
    t.equal(sha(readFileSync(dumped)), sha(BIG), `${name}: debugfs dumps the large file byte for byte`);
    rmSync(dumped, { force: true });
  }
  const seen = runs[0];
  t.equal(seen.whole, 'EINVAL: dk: DIR/disk.img has an MBR partition table: name a partition, DIR/disk.img@1 (FAT32 (LBA), 16 MiB), ' +
    'DIR/disk.img@2 (Linux, 24 MiB), DIR/disk.img@5 (Linux, 8 MiB) or DIR/disk.img@6 (Linux swap, 4 MiB)', 'a whole disk with a table: its partitions named');
  t.equal(seen.again, 'EBUSY: ext2: DIR/disk.img@2 is already mounted');
  t.equal(seen.noSuch, 'EINVAL: dk: DIR/disk.img has no partition 9 (its partitions: 1, 2, 3, 5, 6)');
  t.same(seen.mounts, [['/a', 'DIR/disk.img', 2], ['/b', 'DIR/disk.img', 5]], 'mounts list each partition');
  t.same(seen.readBack, [sha(BIG), 'in logical partition 5\n']);
  t.same(seen.unit, [8 * 1024 * 1024, 512, 'DIR/disk.img@5']);
  t.equal(seen.lastSector, 512);
  for (const k of ['readPast', 'readAcross', 'writePast', 'commitPast']) t.match(seen[k], /^EINVAL: dk: .* runs past the end of unit \d+ \(8388608 bytes\)$/, `${k}: refused`);
  t.match(seen.blkPast, /^EINVAL: blk: .* runs past the end of unit/, 'blk gives the same errno past an image\'s end');
  t.match(seen.writeReadonly, /^EROFS: dk: unit \d+ is read-only$/);
  t.match(seen.busy, /^EBUSY: dk: DIR\/disk\.img@5 is already attached read-write/);
});

t.test('a GPT partition: mkfs in it, then read and written', { skip: missing ?? false }, async (t) => {
  const disk = join(dir, 'gpt.img');
  makeGptDisk(disk);
  const part = GPT_PARTS[2];
  const outside = outsideDigest(disk, part);
  const k = await boot({ policy: 'microkernel' });
  try {
    await k.call('ext2', 'mkfs', { source: disk, partition: 2, uuid: '01234567-89ab-cdef-0123-456789abcdef', time: 1700000000 });
    const p = await k.spawn();
    await p.mkdir('/g');
    await p.mount('/g', 'ext2', { source: disk, partition: 2 });
    await p.writeFile('/g/hello', 'hello, GPT\n');
    await p.unmount('/g');
    await p.exit();
  } finally {
    await k.halt();
  }
  t.equal(outsideDigest(disk, part), outside, 'nothing outside partition 2 changed');
  const img = extract(disk, part, join(dir, 'gpt-part2.img'));
  const fsck = fsckClean(img);
  t.ok(fsck.clean, 'the partition passes e2fsck', { report: fsck.report });
  t.equal(debugfs(img, 'cat /hello'), 'hello, GPT\n');
});

t.test('a LUKS container in a partition opens with its key (cgd over dk)', { skip: missing ?? false }, async (t) => {
  const disk = join(dir, 'luks-disk.img');
  makeMbrDisk(disk);
  const part = MBR_PARTS[5];
  const container = join(dir, 'container.img');
  writeFileSync(container, '');
  truncateSync(container, part.size);
  const key = new TextEncoder().encode('partition passphrase');
  for (const policy of ['monolithic', 'microkernel']) {
    const k = await boot({ policy });
    try {
      await k.call('cgd', 'format', { path: container, key, version: 1, kdf: FAST_KDF });
      writeAt(disk, part.start, readFileSync(container));
      const outside = outsideDigest(disk, part);
      await k.call('ext2', 'mkfs', { source: disk, partition: 5, key });
      const p = await k.spawn();
      await p.mkdir('/s');
      t.equal(await outcome(p.mount('/s', 'ext2', { source: disk, partition: 5 })), 'ENOKEY: ext2: ' + disk.replaceAll(dir, 'DIR') + ' is a LUKS1 container: give its passphrase (a key)', `${policy}: without its key: ENOKEY`);
      await p.mount('/s', 'ext2', { source: disk, partition: 5, key });
      await p.writeFile('/s/secret', 'kept in a partition\n');
      await p.unmount('/s');
      await p.mount('/s', 'ext2', { source: disk, partition: 5, key, readonly: true });
      t.equal(new TextDecoder().decode(await p.readFile('/s/secret')), 'kept in a partition\n', `${policy}: read back through cgd over dk`);
      await p.unmount('/s');
      await p.exit();
      t.equal(outsideDigest(disk, part), outside, `${policy}: nothing outside the partition changed`);
    } finally {
      await k.halt();
    }
  }
  if (!cryptsetupMissing()) {
    const out = extract(disk, part, join(dir, 'luks-part.img'));
    t.ok(cryptsetupOpens(out, 'partition passphrase'), 'cryptsetup opens the partition extracted');
  }
});

t.test('dk, ext2 and blk restart under a mounted partition (microkernel, a boot mount)', { skip: missing ?? false }, async (t) => {
  const disk = join(dir, 'restart.img');
  makeMbrDisk(disk);
  const part = MBR_PARTS[2];
  const outside = outsideDigest(disk, part);
  const k = await boot({ policy: 'microkernel', mounts: [...DEFAULT_MOUNTS, { target: '/mnt', fstype: 'ext2', source: disk, partition: 2 }] });
  try {
    const p = await k.spawn();
    const fd = await p.open('/mnt/log', 'w');
    for (const [round, component] of ['dk', 'ext2', 'blk'].entries()) {
      await k.inject({ component, type: 'crash', op: component === 'ext2' ? 'fsync' : 'commit' });
      await p.write(fd, `line ${round}, before ${component} died\n`);
      await p.fsync(fd);
      await k.settled();
      t.ok(k.domains().find((d) => d.components.includes(component))!.restarts >= 1, `${component} was restarted, and the fsync answered`);
    }
    await p.close(fd);
    t.equal(new TextDecoder().decode(await p.readFile('/mnt/log')), 'line 0, before dk died\nline 1, before ext2 died\nline 2, before blk died\n');
    t.same((await p.mounts()).filter((m) => m.target === '/mnt').map((m) => m.partition), [2], 'still partition 2');
    await p.exit();
  } finally {
    await k.halt();
  }
  t.equal(outsideDigest(disk, part), outside, 'nothing outside the partition changed');
  const img = extract(disk, part, join(dir, 'restart-part2.img'));
  const fsck = fsckClean(img);
  t.ok(fsck.clean, 'the partition passes e2fsck', { report: fsck.report });
  t.equal(debugfs(img, 'cat /log'), 'line 0, before dk died\nline 1, before ext2 died\nline 2, before blk died\n');
});
