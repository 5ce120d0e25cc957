// cp -r reads a directory's small files ahead of their copies (bin/copy.ts readingAhead,
// FileTree.readAhead): while one file is written to the host, the kernel is already reading the
// next ones, at most 8 files and 8 MiB (unless one file) past it. What is copied does not
// change; a file that fails when read ahead is reported by its own path, a file that grew
// since its lstat is read as any other, and a reader read ahead holds nothing open, taken or not.

import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import t from 'tap';
import { boot, type SysError } from '../kernel/index.js';
import { copyTree } from '../bin/copy.js';
import { hostTree, kernelTree, type FileTree } from '../bin/files.js';
import { seededBytes, tempDir } from './lib/e2fs.js';
import { ALL_POLICIES, policyName } from './lib/policies.js';

const MIB = 1 << 20;
/** Readdir order of the source directory: name → size; `sub` is a directory, `secret` unreadable to the copier. */
const FILES: [string, number][] = [
  ['a0', 100], ['a1', 0], ['a2', 4096], ['sub', -1], ['a3', 3 * MIB], ['a4', 3 * MIB], ['a5', 3 * MIB], ['a6', 7],
  ['secret', 16], ['a7', 1], ...Array.from({ length: 12 }, (_, i): [string, number] => [`b${i}`, 10 + i]),
];
const FILE_AHEAD = 8;
const BYTES_AHEAD = 8 * MIB;

/** The bytes of the test's file `name` of `size` bytes. */
const bytesOf = (name: string, size: number) => seededBytes(size, name.charCodeAt(0) * 31 + name.length + size);

for (const policy of ALL_POLICIES) {
  t.test(policyName(policy), async (t) => {
    const k = await boot({ policy });
    t.teardown(() => k.halt());
    const root = k.init;
    await root.mkdir('/tmp/dir', { mode: 0o755 });
    for (const [name, size] of FILES) {
      if (name === 'sub') {
        await root.mkdir('/tmp/dir/sub', { mode: 0o755 });
        for (const f of ['s0', 's1', 's2']) await root.writeFile(`/tmp/dir/sub/${f}`, f, 0o644);
      } else await root.writeFile(`/tmp/dir/${name}`, bytesOf(name, size), name === 'secret' ? 0o600 : 0o644);
    }
    const user = await k.spawn({ uid: 1000, gid: 1000 });
    const order = (await user.readdir('/tmp/dir')).map((e) => e.name);
    t.same(order, FILES.map(([name]) => name), 'tmpfs lists the entries in the order they were made');

    // What the copy asks of each tree, in order: `ahead NAME`, `open NAME` (read not ahead), `write NAME`.
    const log: string[] = [];
    const kernel = kernelTree(user);
    const host = hostTree();
    const from: FileTree = {
      ...kernel,
      readAhead: (path, size) => (log.push(`ahead ${basename(path)}`), kernel.readAhead!(path, size)),
      openRead: (path, size) => (log.push(`open ${basename(path)}`), kernel.openRead(path, size)),
    };
    const to: FileTree = { ...host, openWrite: (path, mode) => (log.push(`write ${basename(path)}`), host.openWrite(path, mode)) };
    const out = join(tempDir('rumpus-cp-ahead-'), 'dir');
    const reports: string[] = [];
    const ok = await copyTree(from, '/tmp/dir', to, out, { recursive: true, preserveTimes: false, report: (path, err: SysError) => reports.push(`${path}: ${err.errno}`) });

    t.notOk(ok, 'one problem');
    t.same(reports, ['/tmp/dir/secret: EACCES'], 'the file that failed when read ahead is reported, by its own path');
    const copied = FILES.filter(([name, size]) => size >= 0 && name !== 'secret');
    t.ok(copied.every(([name, size]) => Buffer.from(readFileSync(join(out, name))).equals(Buffer.from(bytesOf(name, size)))), 'every file copied, with its bytes');
    t.same(['s0', 's1', 's2'].map((f) => readFileSync(join(out, 'sub', f), 'utf8')), ['s0', 's1', 's2'], 'and the subdirectory');

    // The top directory's files: the first is opened when its turn comes, every other read
    // ahead, before its write, never more than FILE_AHEAD entries or (unless one) BYTES_AHEAD past the one written.
    const top = log.filter((line) => !/ s\d$/.test(line));
    t.same(top.filter((line) => line.startsWith('open')), ['open a0'], 'only the first file is opened when its turn comes');
    const files = FILES.filter(([, size]) => size >= 0).map(([name]) => name);
    t.same(files.filter((name) => top.includes(`ahead ${name}`)), files.slice(1), 'every other file is read ahead');
    t.ok(files.every((name) => !top.includes(`write ${name}`) || top.indexOf(`ahead ${name}`) < top.indexOf(`write ${name}`)), 'each before its write');
    const sizeOf = new Map(FILES);
    const beyond: string[] = [];
    let worst = { files: 0, bytes: 0 };
    for (const [at, line] of top.entries()) {
      if (!line.startsWith('write')) continue;
      const written = order.indexOf(line.slice(6));
      const past = top.slice(0, at).filter((l) => l.startsWith('ahead') && order.indexOf(l.slice(6)) > written).map((l) => l.slice(6));
      const bytes = past.reduce((sum, name) => sum + sizeOf.get(name)!, 0);
      if (past.some((name) => order.indexOf(name) - written > FILE_AHEAD)) beyond.push(`at ${line}: ${past.join(' ')} read ahead`);
      if (past.length > 1 && bytes > BYTES_AHEAD) beyond.push(`at ${line}: ${bytes} bytes read ahead`);
      worst = { files: Math.max(worst.files, past.length), bytes: Math.max(worst.bytes, bytes) };
    }
    t.same(beyond, [], `never more than ${FILE_AHEAD} entries or ${BYTES_AHEAD} bytes ahead of the file written`);
    t.ok(worst.files === FILE_AHEAD && worst.bytes >= 6 * MIB, `the window was used: ${worst.files} files, ${worst.bytes} bytes ahead at most`);

    // A file that grew since its lstat (10 bytes said, 3 MiB there): read as any other, opened only at its first read.
    const grown = await kernel.readAhead!('/tmp/dir/a3', 10)!;
    t.equal(await user.fstat(0).catch((e: SysError) => e.errno), 'EBADF', 'nothing open until its first read');
    const parts: Uint8Array[] = [];
    for (let chunk = await grown.read(MIB); chunk.length > 0; chunk = await grown.read(MIB)) parts.push(chunk);
    t.equal(typeof (await user.fstat(0)).size, 'number', 'then the file is open');
    await grown.close();
    t.ok(Buffer.concat(parts).equals(Buffer.from(bytesOf('a3', 3 * MIB))), 'and it reads whole');
    t.equal(kernel.readAhead!('/tmp/dir/huge', 64 * MIB), undefined, 'a file larger than one batch reads is not read ahead');
    await kernel.readAhead!('/tmp/dir/a0', 100); // never taken
    t.equal(await user.fstat(0).catch((e: SysError) => e.errno), 'EBADF', 'nothing stays open');
  });
}
