// cp -r out of the kernel uses batches (issue 13, point 3; bin/copy.ts, bin/files.ts): a
// directory's entries are lstat'ed a batch at a time and each small file is read whole with one
// batch (open, read, close), so a tree of N small files costs about N crossings into vfs, where
// it cost five each (lstat, open, two reads, close). What cp keeps does not change: contents,
// modes and times, a large file read in chunks, a symlink, and a problem reported per file
// while the rest is copied. Over a connection to rumpus serve, which carries no batches, cp
// makes its calls one by one.

import { lstatSync, readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { MAX_IO, O_CREAT, O_WRONLY, boot, connect, type SysError } from '../kernel/index.js';
import { copyTree } from '../bin/copy.js';
import { hostTree, kernelTree } from '../bin/files.js';
import { seededBytes, tempDir } from './lib/e2fs.js';
import { served } from './lib/serve.js';

const FILES = 300;
/** Read whole with one batch, as the small ones. */
const BIG = (1 << 20) + 5;
/** More than one read takes: read in chunks. */
const HUGE = MAX_IO + 3;

for (const policy of ['monolithic', 'microkernel', 'multiprocess']) {
  t.test(policy, async (t) => {
    const k = await boot({ policy });
    t.teardown(() => k.halt());
    const root = k.init;
    await root.mkdir('/tmp/tree/sub', { recursive: true, mode: 0o755 });
    for (let i = 0; i < FILES; i++) await root.writeFile(`/tmp/tree/sub/f${i}`, `file ${i}\n`.repeat(i % 7), 0o644);
    await root.writeFile('/tmp/tree/big', seededBytes(BIG, 3), 0o644);
    await root.writeFile('/tmp/tree/huge', seededBytes(HUGE, 4), 0o644);
    await root.writeFile('/tmp/tree/secret', 'not for uid 1000', 0o600);
    await root.symlink('sub/f1', '/tmp/tree/link');
    await root.utimes('/tmp/tree/sub/f5', 1_000_000_123.456, 1_200_000_456.789);
    const fd = await root.open('/tmp/tree/sub/f6', O_WRONLY | O_CREAT);
    await root.close(fd);
    await root.chmod('/tmp/tree/sub/f6', 0o4755);

    const user = await k.spawn({ uid: 1000, gid: 1000 });
    const out = join(tempDir('rumpus-cp-batches-'), 'tree');
    const reports: string[] = [];
    const before = (await k.callCounts()).vfs;
    const ok = await copyTree(kernelTree(user), '/tmp/tree', hostTree(), out, {
      recursive: true, preserveTimes: true, report: (path, err: SysError) => reports.push(`${path}: ${err.errno}`),
    });
    const crossings = (await k.callCounts()).vfs - before;

    t.notOk(ok, 'one problem');
    t.same(reports, ['/tmp/tree/secret: EACCES'], 'the unreadable file is reported, by its own path');
    t.same(readdirSync(join(out, 'sub')).length, FILES, 'every small file copied');
    const same = Array.from({ length: FILES }, (_, i) => readFileSync(join(out, 'sub', `f${i}`), 'utf8') === `file ${i}\n`.repeat(i % 7));
    t.ok(same.every(Boolean), 'with its bytes');
    t.ok(Buffer.from(readFileSync(join(out, 'big'))).equals(Buffer.from(seededBytes(BIG, 3))), 'a file of a MiB and some');
    t.ok(Buffer.from(readFileSync(join(out, 'huge'))).equals(Buffer.from(seededBytes(HUGE, 4))), 'a file larger than one read');
    t.equal(statSync(join(out, 'sub/f6')).mode & 0o7777, 0o4755, 'modes kept');
    t.equal(statSync(join(out, 'sub/f5')).mtimeMs, 1_200_000_456.789, 'times kept');
    t.equal(readlinkSync(join(out, 'link')), 'sub/f1', 'the symlink');
    t.ok(lstatSync(join(out, 'link')).isSymbolicLink());
    // One batch per file smaller than one read (the small ones, secret and big); the huge file
    // an open, a read per MiB and one at its end, a close; per directory a readdir and a batch
    // of lstats per 256 entries; ten more for the rest. Before batches it was five per small file.
    const most = FILES + 2 + (Math.ceil(HUGE / (1 << 20)) + 3) + 10;
    t.ok(crossings <= most, `${crossings} calls into vfs for ${FILES + 5} files (at most ${most})`);

    const tree = kernelTree(user);
    const grown = await tree.openRead('/tmp/tree/big', 10); // as if it had grown since an lstat of 10 bytes
    const parts: Uint8Array[] = [];
    for (let chunk = await grown.read(1 << 20); chunk.length > 0; chunk = await grown.read(1 << 20)) parts.push(chunk);
    await grown.close();
    t.ok(Buffer.concat(parts).equals(Buffer.from(seededBytes(BIG, 3))), 'a file larger than lstat said is read whole all the same');
    t.same(await Promise.all([user.fstat(0).catch((e: SysError) => e.errno)]), ['EBADF'], 'and nothing stays open');
  });
}

t.test('over a connection, where batches are not served, cp makes its calls one by one', async (t) => {
  const s = await served({ policy: 'monolithic' });
  t.teardown(() => s.stop());
  await s.k.init.mkdir('/tmp/tree', { mode: 0o755 });
  for (let i = 0; i < 5; i++) await s.k.init.writeFile(`/tmp/tree/f${i}`, `remote ${i}`, 0o644);
  const p = await connect(s.unix, { token: s.token });
  t.teardown(() => p.exit().catch(() => {}));
  t.match(await p.batch([{ op: 'getpid' }]).catch((err: SysError) => `${err.errno}: ${err.message}`),
    'ENOSYS: batch: not served over a connection in protocol version 1; make its calls one by one', 'batch is ENOSYS, with a sentence');
  const out = join(tempDir('rumpus-cp-remote-'), 'tree');
  const reports: string[] = [];
  const ok = await copyTree(kernelTree(p), '/tmp/tree', hostTree(), out, {
    recursive: true, preserveTimes: false, report: (path, err) => reports.push(`${path}: ${err.errno}`),
  });
  t.ok(ok, 'copied');
  t.same(reports, []);
  t.same(readdirSync(out).sort().map((f) => readFileSync(join(out, f), 'utf8')), [0, 1, 2, 3, 4].map((i) => `remote ${i}`));
});
