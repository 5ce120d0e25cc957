// The ext2 component's FS_OPS called directly, as the vfs calls them: walk's stopping rules,
// exclusive create, readdir paging, stale handles, unlinked open files, truncation, times,
// symlinks, rename rules, read-only mounts, feature checks, shared attribute blocks, htree
// directories, the metadata cache, and revision 0.

import t from 'tap';
import { closeSync, mkdirSync, openSync, readSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { SysError, boot, type Attr, type DirEntry, type Handle, type Kernel, type WalkResult, type WalkStep } from '../kernel/index.js';
import { FAKE_TIME, UUID, debugfs, debugfsWrite, fsckClean, mkImage, seededBytes, superblock, tempDir } from './lib/e2fs.js';
import { errnoOf } from './lib/errno.js';

const MiB = 1024 * 1024;
const dir = tempDir();
const enc = new TextEncoder();
const dec = new TextDecoder();


/** The component's ops on one mount, typed loosely. */
function ops(k: Kernel, fsid: number) {
  const call = <T>(op: string, args: Record<string, unknown> = {}) => k.call<T>('ext2', op, { fsid, ...args });
  const cred = { uid: 0, gid: 0 };
  return {
    call,
    walk: (d: Handle, names: string[]) => call<WalkResult>('walk', { dir: d, names }),
    create: (d: Handle, name: string, excl = true) => call<WalkStep>('create', { dir: d, name, mode: 0o644, excl, ...cred }),
    mkdir: (d: Handle, name: string) => call<WalkStep>('mkdir', { dir: d, name, mode: 0o755, ...cred }),
    symlink: (d: Handle, name: string, target: string) => call<WalkStep>('symlink', { dir: d, name, target, ...cred }),
    getattr: (h: Handle) => call<Attr>('getattr', { h }),
    setattr: (h: Handle, a: Record<string, number>) => call<Attr>('setattr', { h, ...a }),
    write: (h: Handle, offset: number, data: Uint8Array) => call<{ written: number; end: number }>('write', { h, offset, data }),
    read: (h: Handle, offset: number, length: number) => call<Uint8Array>('read', { h, offset, length }),
    unlink: (d: Handle, name: string) => call('unlink', { dir: d, name }),
    rmdir: (d: Handle, name: string) => call('rmdir', { dir: d, name }),
    rename: (sdir: Handle, sname: string, ddir: Handle, dname: string) => call('rename', { sdir, sname, ddir, dname }),
    readdir: (h: Handle, cookie: number, count: number) => call<{ entries: DirEntry[]; cookie: number; eof: boolean }>('readdir', { h, cookie, count }),
  };
}

t.test('ops on a mounted image', async (t) => {
  const img = join(dir, 'ops.img');
  const k = await boot({ policy: 'monolithic', mounts: [] });
  try {
    await k.call('ext2', 'mkfs', { source: img, size: 16 * MiB, uuid: UUID, time: FAKE_TIME });
    const m = await k.call<{ fsid: number; root: Handle; readonly: boolean }>('ext2', 'mount', { source: img });
    t.same(m.root, { ino: 2, gen: 0 }, 'the root handle is inode 2');
    t.equal(m.readonly, false);
    t.equal(await errnoOf(k.call('ext2', 'mount', { source: img })), 'EBUSY', 'an image is mounted once');
    const fs = ops(k, m.fsid);
    const root = m.root;

    await t.test('walk', async (t) => {
      const f = await fs.create(root, 'file');
      await fs.symlink(root, 'link', 'file');
      const up = await fs.walk(root, ['..', 'file']);
      t.same([up.steps.length, up.error], [0, undefined], "walk stops before '..' at the root, without an error");
      const lpf = await fs.walk(root, ['lost+found', '..', 'lost+found', '.']);
      t.same(lpf.steps.map((s) => s.handle.ino), [11, 2, 11, 11], "'.' and '..' resolve inside the file system");
      const missing = await fs.walk(root, ['nothing', 'x']);
      t.same([missing.steps.length, missing.error?.errno], [0, 'ENOENT'], 'a missing name ends the walk with ENOENT');
      const through = await fs.walk(root, ['file', 'x']);
      t.same([through.steps.length, through.error?.errno], [1, 'ENOTDIR'], 'a name below a file is ENOTDIR');
      const link = await fs.walk(root, ['link', 'x']);
      t.same([link.steps.length, link.steps[0].attr.mode & 0o170000], [1, 0o120000], 'a walk stops after a symlink');
      t.equal(await errnoOf(fs.create(root, 'file')), 'EEXIST', 'exclusive create of an existing name');
      t.same((await fs.create(root, 'file', false)).handle, f.handle, 'non-exclusive create opens the existing file');
      t.equal(await errnoOf(fs.create(root, 'a/b')), 'EINVAL', 'a name with a slash');
      t.equal(await errnoOf(fs.create(root, 'x'.repeat(256))), 'ENAMETOOLONG', 'a name of 256 bytes');
      t.equal(await errnoOf(fs.create(root, 'x'.repeat(255))), 'ok', 'a name of 255 bytes');
    });

    await t.test('readdir pages with cookies', async (t) => {
      const d = (await fs.mkdir(root, 'pages')).handle;
      const names = Array.from({ length: 150 }, (_, i) => `name-${i}-${'x'.repeat(i % 40)}`);
      for (const n of names) await fs.create(d, n);
      const seen: string[] = [];
      let cookie = 0;
      for (let calls = 0; calls < 100; calls++) {
        const r = await fs.readdir(d, cookie, 7);
        t.ok(r.entries.length <= 7, 'no more than count entries');
        seen.push(...r.entries.map((e) => e.name));
        if (r.eof) break;
        cookie = r.cookie;
      }
      t.same(seen.sort(), [...names].sort(), "every name once, without '.' and '..'");
      for (const n of names.slice(0, 100)) await fs.unlink(d, n);
      const after = await fs.readdir(d, 0, 1000);
      t.same(after.entries.map((e) => e.name).sort(), names.slice(100).sort(), 'removed names are gone');
      t.ok(after.eof);
    });

    await t.test('stale handles', async (t) => {
      const a = await fs.create(root, 'stale');
      await fs.unlink(root, 'stale');
      t.equal(await errnoOf(fs.getattr(a.handle)), 'ESTALE', 'a removed file');
      const b = await fs.create(root, 'reused');
      t.equal(b.handle.ino, a.handle.ino, 'the inode number is reused');
      t.not(b.handle.gen, a.handle.gen, 'with a new generation');
      t.equal(await errnoOf(fs.getattr(a.handle)), 'ESTALE', 'so the old handle stays stale');
      t.equal(await errnoOf(fs.getattr({ ino: 99999, gen: 0 })), 'ESTALE', 'an inode number past the end');
      t.equal(await errnoOf(fs.getattr({ ino: 7, gen: 0 })), 'ESTALE', 'a reserved inode');
    });

    await t.test('an unlinked open file lives until its last close', async (t) => {
      const before = await fs.call<{ bfree: number; ffree: number }>('statfs');
      const f = (await fs.create(root, 'open-then-unlinked')).handle;
      await fs.call('open', { h: f });
      await fs.call('open', { h: f });
      await fs.write(f, 0, new Uint8Array(200 * 1024).fill(3));
      await fs.unlink(root, 'open-then-unlinked');
      t.equal((await fs.getattr(f)).nlink, 0, 'no links left');
      t.same(await fs.read(f, 1000, 3), new Uint8Array([3, 3, 3]), 'still readable');
      await fs.write(f, 200 * 1024, enc.encode('more'));
      await fs.call('close', { h: f });
      t.equal((await fs.getattr(f)).size, 200 * 1024 + 4, 'alive after the first close');
      const held = await fs.call<{ bfree: number; ffree: number }>('statfs');
      t.ok(held.bfree < before.bfree - 200, 'its blocks are still in use');
      await fs.call('close', { h: f });
      t.equal(await errnoOf(fs.getattr(f)), 'ESTALE', 'gone after the last close');
      const after = await fs.call<{ bfree: number; ffree: number }>('statfs');
      t.same([after.bfree, after.ffree], [before.bfree, before.ffree], 'and its blocks and inode are free again');
    });

    await t.test('truncate and holes', async (t) => {
      const f = (await fs.create(root, 'trunc')).handle;
      await fs.write(f, 0, new Uint8Array(5000).fill(9));
      await fs.setattr(f, { size: 1500 });
      await fs.setattr(f, { size: 300 * 1024 });
      const a = await fs.getattr(f);
      t.equal(a.size, 300 * 1024, 'extended');
      t.equal(a.blocks, 4, 'by a hole: two 1 KiB blocks are used');
      const back = await fs.read(f, 1400, 200);
      t.same(back, Uint8Array.from({ length: 200 }, (_, i) => (i < 100 ? 9 : 0)), 'bytes cut off read back as zeros');
      await fs.write(f, 100 * 1024, enc.encode('in the hole'));
      t.equal(dec.decode(await fs.read(f, 100 * 1024, 11)), 'in the hole', 'writing into a hole allocates');
      t.equal(await errnoOf(fs.setattr(f, { size: 2 ** 40 })), 'EFBIG', 'past the largest file of 1 KiB blocks');
      t.equal(await errnoOf(fs.setattr(root, { size: 0 })), 'EISDIR', 'a directory cannot be truncated');
    });

    await t.test('times and attributes', async (t) => {
      const f = (await fs.create(root, 'times')).handle;
      const a = await fs.setattr(f, { atime: 1234567890123, mtime: 1500000000456.5, mode: 0o4711, uid: 70000, gid: 80000 });
      t.same([a.atime, a.mtime, a.mode, a.uid, a.gid], [1234567890123, 1500000000456.5, 0o104711, 70000, 80000], 'set as given');
      t.same(await fs.getattr(f), a, 'and read back');
    });

    await t.test('symlinks', async (t) => {
      const fast = await fs.symlink(root, 'fast', 'x'.repeat(59));
      const slow = await fs.symlink(root, 'slow', 'y'.repeat(60));
      const long = await fs.symlink(root, 'long', 'z'.repeat(1023));
      t.same([fast.attr.blocks, slow.attr.blocks], [0, 2], 'up to 59 bytes live in the inode');
      t.equal(await fs.call('readlink', { h: long.handle }), 'z'.repeat(1023), 'a target fills a block but its NUL');
      t.equal(await errnoOf(fs.symlink(root, 'toolong', 'z'.repeat(1024))), 'ENAMETOOLONG', 'one byte more does not fit');
      t.equal(await errnoOf(fs.call('readlink', { h: root })), 'EINVAL', 'readlink of a directory');
    });

    await t.test('rename rules', async (t) => {
      const a = (await fs.mkdir(root, 'ra')).handle;
      const b = (await fs.mkdir(a, 'rb')).handle;
      t.equal(await errnoOf(fs.rename(root, 'ra', b, 'inside')), 'EINVAL', 'a directory cannot move below itself');
      t.equal(await errnoOf(fs.rename(root, 'ra', a, 'self')), 'EINVAL', 'or into itself');
      await fs.mkdir(root, 'full');
      await fs.create((await fs.walk(root, ['full'])).steps[0].handle, 'x');
      t.equal(await errnoOf(fs.rename(a, 'rb', root, 'full')), 'ENOTEMPTY', 'over a non-empty directory');
      await fs.create(root, 'plain');
      t.equal(await errnoOf(fs.rename(a, 'rb', root, 'plain')), 'ENOTDIR', 'a directory over a file');
      t.equal(await errnoOf(fs.rename(root, 'plain', a, 'rb')), 'EISDIR', 'a file over a directory');
      const links = (await fs.getattr(root)).nlink;
      await fs.rename(a, 'rb', root, 'moved');
      t.equal((await fs.getattr(root)).nlink, links + 1, "the new parent gains the moved directory's '..'");
      t.equal((await fs.getattr(a)).nlink, 2, 'the old parent loses it');
      t.equal((await fs.walk(b, ['..'])).steps[0].handle.ino, root.ino, "'..' points to the new parent");
      await fs.mkdir(root, 'empty');
      await fs.rename(root, 'moved', root, 'empty');
      t.equal((await fs.getattr(root)).nlink, links + 1, 'replacing an empty directory drops its link');
      t.equal(await errnoOf(fs.rmdir(root, 'full')), 'ENOTEMPTY');
    });

    await fs.call('unmount');
    const r = fsckClean(img);
    t.ok(r.clean, 'e2fsck is happy after all that', { report: r.report });
    t.match(debugfs(img, 'stat /slow'), /Blockcount: 2/, 'a slow symlink has a block on disk');
  } finally {
    await k.halt();
  }
});

t.test('read-only mounts and feature checks', async (t) => {
  const img = join(dir, 'features.img');
  mkImage(img, { size: 8 * MiB });
  const k = await boot({ policy: 'monolithic', mounts: [] });
  try {
    const ro = await k.call<{ fsid: number; root: Handle; readonly: boolean }>('ext2', 'mount', { source: img, options: { readonly: true } });
    t.equal(ro.readonly, true);
    t.equal(await errnoOf(ops(k, ro.fsid).create(ro.root, 'x')), 'EROFS', 'writes on a read-only mount fail');
    t.equal(superblock(img)['Filesystem state'], 'clean', 'a read-only mount leaves the state alone');
    await k.call('ext2', 'unmount', { fsid: ro.fsid });

    const poke = (offset: number, value: number) => {
      const fd = openSync(img, 'r+');
      const b = new Uint8Array(4);
      readSync(fd, b, 0, 4, 1024 + offset);
      new DataView(b.buffer).setUint32(0, new DataView(b.buffer).getUint32(0, true) | value, true);
      writeSync(fd, b, 0, 4, 1024 + offset);
      closeSync(fd);
    };
    poke(0x64, 0x100); // RO_COMPAT quota, which the driver reads but does not write
    const m = await k.call<{ fsid: number; root: Handle; readonly: boolean }>('ext2', 'mount', { source: img });
    t.equal(m.readonly, true, 'an unknown read-only-compatible feature mounts read-only');
    t.equal(await errnoOf(ops(k, m.fsid).mkdir(m.root, 'x')), 'EROFS');
    t.ok((await ops(k, m.fsid).walk(m.root, ['lost+found'])).steps.length === 1, 'but reads work');
    await k.call('ext2', 'unmount', { fsid: m.fsid });
    poke(0x60, 0x8000); // INCOMPAT inline_data
    const err = await k.call('ext2', 'mount', { source: img }).catch((e: SysError) => e);
    t.ok(err instanceof SysError && err.errno === 'ENOTSUP' && /inline_data/.test(err.message), 'an unknown incompatible feature is refused, by name', { err });
  } finally {
    await k.halt();
  }
});

t.test('shared extended attribute blocks are released by reference count', async (t) => {
  const img = join(dir, 'xattr.img');
  mkImage(img, { size: 8 * MiB, inodeSize: 128 });
  debugfsWrite(img, ['write /dev/null a', 'write /dev/null b', `ea_set a user.big ${'v'.repeat(300)}`]);
  const acl = /File ACL: (\d+)/.exec(debugfs(img, 'stat /a'))![1];
  debugfsWrite(img, [`sif /b file_acl ${acl}`, 'sif /b blocks 2', `zap_block -o 4 -l 1 -p 2 ${acl}`]);
  const pre = fsckClean(img);
  t.ok(pre.clean, 'the crafted image is clean: one attribute block, two references', { report: pre.report });
  const k = await boot({ policy: 'monolithic', mounts: [] });
  try {
    const m = await k.call<{ fsid: number; root: Handle }>('ext2', 'mount', { source: img });
    const fs = ops(k, m.fsid);
    const start = await fs.call<{ bfree: number }>('statfs');
    await fs.unlink(m.root, 'a');
    t.equal((await fs.call<{ bfree: number }>('statfs')).bfree, start.bfree, 'the block stays while b refers to it');
    await fs.call('sync');
    await fs.unlink(m.root, 'b');
    t.equal((await fs.call<{ bfree: number }>('statfs')).bfree, start.bfree + 1, 'and is freed with the last reference');
    await fs.call('unmount');
  } finally {
    await k.halt();
  }
  const r = fsckClean(img);
  t.ok(r.clean, 'e2fsck agrees', { report: r.report });
});

t.test('readdir of an indexed directory goes in hash order: names made between two pages, splitting leaves, neither repeat nor hide a name that was there', async (t) => {
  const img = join(dir, 'hash-order.img');
  mkImage(img, { size: 16 * MiB, blockSize: 1024 }); // mke2fs's ext2 defaults: dir_index
  const k = await boot({ policy: 'monolithic', mounts: [] });
  try {
    const m = await k.call<{ fsid: number; root: Handle }>('ext2', 'mount', { source: img });
    const fs = ops(k, m.fsid);
    const d = (await fs.mkdir(m.root, 'd')).handle;
    const before = Array.from({ length: 600 }, (_, i) => `before-${i}-${'x'.repeat((i * 7) % 53)}`);
    for (const n of before) await fs.create(d, n);
    const seen = new Map<string, number>();
    let made = 0;
    for (let cookie = 0, eof = false, pages = 0; !eof && pages < 200; pages++) {
      const r = await fs.readdir(d, cookie, 50);
      for (const e of r.entries) seen.set(e.name, (seen.get(e.name) ?? 0) + 1);
      ({ cookie, eof } = r);
      // Enough new names between two pages that leaves the listing has passed split.
      for (let i = 0; i < 30; i++) await fs.create(d, `between-${made++}-${'y'.repeat((made * 11) % 47)}`);
    }
    const twice = [...seen].filter(([, n]) => n > 1).map(([name]) => name);
    t.same(twice, [], 'no name is listed twice');
    t.same(before.filter((n) => !seen.has(n)), [], 'every name that was there before is listed');
    t.ok(made >= 300, `${made} names were made during the listing`);
    await fs.call('unmount');
  } finally {
    await k.halt();
  }
  t.match(debugfs(img, 'stat /d'), /Flags: 0x1000/, 'the directory is indexed');
  const r = fsckClean(img);
  t.ok(r.clean, 'e2fsck agrees', { report: r.report });
});

t.test('an htree-indexed directory is read, then changed and kept indexed', async (t) => {
  const src = join(dir, 'htree-src');
  mkdirSync(join(src, 'big'), { recursive: true });
  for (let i = 0; i < 600; i++) writeFileSync(join(src, 'big', `file-with-a-longer-name-${i}`), `${i}`);
  const img = join(dir, 'htree.img');
  mkImage(img, { size: 16 * MiB, blockSize: 1024, from: src, index: true });
  t.match(debugfs(img, 'stat /big'), /Flags: 0x1000/, 'e2fsck -D gave the directory an htree index');
  const k = await boot({ policy: 'monolithic', mounts: [] });
  try {
    const m = await k.call<{ fsid: number; root: Handle }>('ext2', 'mount', { source: img });
    const fs = ops(k, m.fsid);
    const big = (await fs.walk(m.root, ['big'])).steps[0].handle;
    const names: string[] = [];
    for (let cookie = 0, eof = false; !eof; ) {
      const r = await fs.readdir(big, cookie, 100);
      names.push(...r.entries.map((e) => e.name));
      ({ cookie, eof } = r);
    }
    t.equal(names.length, 600, 'every entry is listed once');
    t.equal((await fs.walk(big, ['file-with-a-longer-name-599'])).steps.length, 1, 'and found by name');
    for (let i = 0; i < 300; i++) await fs.unlink(big, `file-with-a-longer-name-${i}`);
    for (let i = 0; i < 50; i++) await fs.create(big, `new-${i}`);
    await fs.call('unmount');
  } finally {
    await k.halt();
  }
  t.match(debugfs(img, 'stat /big'), /Flags: 0x1000/, 'the index flag stays once the directory changed');
  t.match(debugfs(img, 'htree /big'), /Root node dump/, 'and debugfs walks its htree');
  const r = fsckClean(img);
  t.ok(r.clean, 'e2fsck -fn finds nothing wrong, and -fy changes nothing (no Pass 3A re-indexing)', { report: r.report });
});

t.test('metadata once read is served from the cache', async (t) => {
  const img = join(dir, 'cached.img');
  mkImage(img, { size: 8 * MiB, blockSize: 1024 });
  debugfsWrite(img, ['mkdir d', 'write /dev/null d/a', 'write /dev/null d/b', 'symlink d/l /elsewhere']);
  const k = await boot({ policy: 'monolithic', mounts: [] });
  try {
    const m = await k.call<{ fsid: number; root: Handle }>('ext2', 'mount', { source: img, options: { readonly: true } });
    const fs = ops(k, m.fsid);
    const look = async () => {
      const d = (await fs.walk(m.root, ['d'])).steps[0].handle;
      const list = (await fs.readdir(d, 0, 100)).entries.map((e) => e.name).sort();
      const steps = await Promise.all(['a', 'b', 'l'].map(async (name) => (await fs.walk(d, [name])).steps[0]));
      return { list, inos: steps.map((s) => s.handle.ino), link: await fs.call('readlink', { h: steps[2].handle }) };
    };
    const warm = await look();
    truncateSync(img, 0); // the device now reads zeros everywhere
    t.same(await look(), warm, 'the same lookups, listings and links with nothing left on the device');
    await fs.call('unmount');
  } finally {
    await k.halt();
  }
});

t.test('revision 0 with 2 KiB blocks: no filetype, no large files', async (t) => {
  const img = join(dir, 'rev0.img');
  const k = await boot({ policy: 'monolithic', mounts: [] });
  try {
    await k.call('ext2', 'mkfs', { source: img, size: 16 * MiB, blockSize: 2048, revision: 0, uuid: UUID, time: FAKE_TIME });
    const m = await k.call<{ fsid: number; root: Handle }>('ext2', 'mount', { source: img });
    const fs = ops(k, m.fsid);
    const d = (await fs.mkdir(m.root, 'dir')).handle;
    const f = (await fs.create(d, 'file')).handle;
    await fs.write(f, 0, seededBytes(3 * 2048 * 256, 5));
    await fs.symlink(d, 'link', 'file');
    await fs.rename(d, 'file', m.root, 'moved');
    const types = (await fs.readdir(d, 0, 10)).entries.map((e) => e.type);
    t.same(types, ['lnk'], 'entry types come from the inodes');
    t.equal(await errnoOf(fs.write(f, 2 ** 31 - 1, new Uint8Array(1))), 'EFBIG', 'a file cannot pass 2 GiB on revision 0');
    await fs.call('unmount');
  } finally {
    await k.halt();
  }
  const r = fsckClean(img);
  t.ok(r.clean, 'e2fsck is happy', { report: r.report });
  t.equal(superblock(img)['Filesystem revision #'], '0 (original)', 'and it is still revision 0');
});

t.test('sparse_super2: backups only in the groups the superblock names', async (t) => {
  const img = join(dir, 'sparse2.img');
  mkImage(img, { size: 64 * MiB, blockSize: 1024, features: 'sparse_super2' });
  const k = await boot({ policy: 'monolithic', mounts: [] });
  try {
    const m = await k.call<{ fsid: number; root: Handle }>('ext2', 'mount', { source: img });
    const fs = ops(k, m.fsid);
    const f = (await fs.create(m.root, 'fill')).handle;
    const chunk = seededBytes(MiB, 9);
    for (let i = 0; i < 50; i++) t.equal((await fs.write(f, i * MiB, chunk)).written, MiB, `MiB ${i} written`, { diagnostic: false });
    t.same(await fs.read(f, 45 * MiB, 100), chunk.subarray(0, 100), 'reads back from groups 3 and 5, which hold no backup');
    await fs.call('unmount');
  } finally {
    await k.halt();
  }
  const r = fsckClean(img);
  t.ok(r.clean, 'e2fsck is happy', { report: r.report });
});
