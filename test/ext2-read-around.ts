// ext2's block cache reads around a miss (servers/ext2/cache.ts, CLUSTER_BYTES): reading every
// small file of a directory costs a few device reads, not one a file. And a block read around
// never takes the place of one the cache changed and has not written: files overwritten whole
// and grown (blocks changed without being read first) while their neighbours are read still read
// as written, and after sync the image holds them, e2fsck finds it clean and debugfs agrees.

import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { DEFAULT_MOUNTS, O_WRONLY, boot } from '../kernel/index.js';
import { debugfs, fsckClean, mkImage, seededBytes, tempDir } from './lib/e2fs.js';
import { ALL_POLICIES, policyName } from './lib/policies.js';

const FILES = 300;
const SIZE = 700;
const name = (i: number) => `f${String(i).padStart(3, '0')}`;
const original = (i: number) => seededBytes(SIZE, i + 1);
/** What the test writes over file i (a whole 1 KiB block) and appends to it (two blocks more). */
const overwritten = (i: number) => seededBytes(1024, 1000 + i);
const appended = (i: number) => seededBytes(2048, 2000 + i);

for (const policy of ALL_POLICIES) {
  t.test(policyName(policy), async (t) => {
    const dir = tempDir('rumpus-read-around-');
    const src = join(dir, 'src');
    mkdirSync(join(src, 'd'), { recursive: true });
    for (let i = 0; i < FILES; i++) writeFileSync(join(src, 'd', name(i)), original(i));
    const img = join(dir, 'disk.img');
    // Indexed: readdir is then in hash order, not in the order of the files' blocks.
    mkImage(img, { size: 8 << 20, blockSize: 1024, from: src, index: true });
    t.match(debugfs(img, 'stat /d'), /Flags: 0x1000/, 'e2fsck -D gave the directory an htree index');
    const mount = { target: '/mnt', fstype: 'ext2', source: img };

    let k = await boot({ policy, mounts: [...DEFAULT_MOUNTS, mount] });
    t.teardown(() => k.halt());
    const names = (await k.init.readdir('/mnt/d')).map((e) => e.name);
    t.equal(names.length, FILES, 'every file listed');
    const before = (await k.callCounts()).blk;
    const wrong = [];
    for (const n of names) if (!Buffer.from(await k.init.readFile(`/mnt/d/${n}`)).equals(Buffer.from(original(Number(n.slice(1)))))) wrong.push(n);
    const reads = (await k.callCounts()).blk - before;
    t.same(wrong, [], 'every file reads as mke2fs wrote it');
    t.ok(reads <= 25, `${FILES} files of ${SIZE} bytes read with ${reads} device reads (one a file without read-around)`);
    await k.halt();

    // A cold cache: every tenth file is overwritten whole and grown, then every file is read.
    k = await boot({ policy, mounts: [...DEFAULT_MOUNTS, mount] });
    const changed = Array.from({ length: FILES / 10 }, (_, j) => j * 10 + 5);
    for (const i of changed) {
      const fd = await k.init.open(`/mnt/d/${name(i)}`, O_WRONLY);
      await k.init.pwrite(fd, overwritten(i), 0);
      await k.init.pwrite(fd, appended(i), 1024);
      await k.init.close(fd);
    }
    const expected = (i: number) => (changed.includes(i) ? Buffer.concat([overwritten(i), appended(i)]) : Buffer.from(original(i)));
    const misread = [];
    for (let i = FILES - 1; i >= 0; i--) if (!Buffer.from(await k.init.readFile(`/mnt/d/${name(i)}`)).equals(expected(i))) misread.push(name(i));
    t.same(misread, [], 'unsynced changes read back as written, their neighbours as they were');
    await k.init.sync();
    await k.halt();

    const fsck = fsckClean(img);
    t.ok(fsck.clean, 'e2fsck: clean', { report: fsck.report });
    const cat = (i: number) => execFileSync('debugfs', ['-R', `cat /d/${name(i)}`, img], { stdio: ['ignore', 'pipe', 'pipe'] });
    const dumped = [5, 6, 145, 295].map((i) => cat(i).equals(expected(i)));
    t.same(dumped, [true, true, true, true], 'debugfs reads the changed files and their neighbours as written');
  });
}
