// ext2 in a LUKS2 container made by cgd, under every policy and with the cipher in the kernel's
// thread, in a thread and in a pool, with identical results: cgd.format and ext2 mkfs with a
// key make it, a mount with the key reads and writes it, and cryptsetup agrees — it opens the
// container, and the payload decrypted with the volume key it dumps is a plain image that
// passes e2fsck and holds the files rumpus wrote. Without a key a mount is ENOKEY, with a wrong
// one EACCES with nothing written; the key shows in no list of mounts, ps, event or error.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { DEFAULT_MOUNTS, O_RDWR, SysError, boot, type Kernel, type PlacementSpec } from '../kernel/index.js';
import { CGD_RUNS, FAST_KDF, KEY, WRONG_KEY, cryptsetupMissing, cryptsetupOpens, decryptPayload, payloadOf } from './lib/cgd.js';
import { FAKE_TIME, UUID, debugfs, fsckClean, seededBytes, tempDir } from './lib/e2fs.js';

const MiB = 1024 * 1024;
const dir = tempDir('rumpus-cgd-');
const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);
const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
/** Spans many cipher calls, and ends inside an encryption sector. */
const BIG = seededBytes(3 * MiB + 1536, 7);
const HELLO = 'hello from inside a LUKS2 container\n';

/** An error as the runs compare it: errno and message, with the image's path made neutral. */
async function failure(p: Promise<unknown>, img: string): Promise<string> {
  try {
    await p;
    return 'no error';
  } catch (err) {
    if (!(err instanceof SysError)) throw err;
    return `${err.errno}: ${err.message.replaceAll(img, 'IMG')}`;
  }
}

/** Everything a user could read about the kernel: mounts, ps, the event log. */
async function visible(k: Kernel): Promise<string> {
  const p = await k.spawn();
  return JSON.stringify({ mounts: await p.mounts(), ps: k.domains(), dmesg: k.events });
}

/** The scenario of one run, on a new image; what it observed (the same under every placement). */
async function scenario(t: Test, policy: PlacementSpec, img: string): Promise<Record<string, unknown>> {
  const seen: Record<string, unknown> = {};
  const k = await boot({ policy });
  try {
    const f = await k.call<Record<string, unknown>>('cgd', 'format', { path: img, size: 24 * MiB, key: bytes(KEY), kdf: FAST_KDF, uuid: UUID });
    seen.format = { version: f.version, cipher: f.cipher, offset: f.offset, size: f.size, sectorSize: f.sectorSize, uuid: f.uuid };
    seen.mkfs = await k.call('ext2', 'mkfs', { source: img, key: bytes(KEY), blockSize: 1024, uuid: UUID, time: FAKE_TIME });
    const p = await k.spawn();
    await p.mkdir('/mnt');

    const untouched = sha256(img);
    seen.withoutKey = await failure(p.mount('/mnt', 'ext2', { source: img }), img);
    seen.wrongKey = await failure(p.mount('/mnt', 'ext2', { source: img, key: WRONG_KEY }), img);
    t.equal(sha256(img), untouched, 'a mount refused wrote nothing');

    await p.mount('/mnt', 'ext2', { source: img, key: KEY });
    await p.mkdir('/mnt/docs');
    await p.writeFile('/mnt/docs/hello.txt', HELLO);
    await p.writeFile('/mnt/big', BIG);
    // A write of 700 bytes in the middle of a block: a read-modify-write of an encryption sector.
    const fd = await p.open('/mnt/big', O_RDWR);
    await p.pwrite(fd, bytes('x'.repeat(700)), 5000);
    await p.fsync(fd);
    await p.close(fd);
    seen.statfs = await p.statfs('/mnt');
    const shown = await visible(k);
    t.notOk(shown.includes(KEY), 'mounts, ps and dmesg do not show the key');
    await p.unmount('/mnt');

    await p.mount('/mnt', 'ext2', { source: img, key: bytes(KEY), readonly: true });
    seen.hello = text(await p.readFile('/mnt/docs/hello.txt'));
    seen.bigIntact = Buffer.compare(await p.readFile('/mnt/big'), bigAfterPwrite()) === 0;
    seen.list = (await p.readdir('/mnt')).map((e) => e.name).sort();
    await p.unmount('/mnt');
  } finally {
    await k.halt();
  }
  return seen;
}

const missing = cryptsetupMissing();
let first: { name: string; seen: Record<string, unknown> } | null = null;

for (const run of CGD_RUNS) {
  t.test(run.name, { skip: missing ?? false }, async (t) => {
    const img = join(dir, `${run.name.replace(/[^a-z]+/g, '-')}.img`);
    const seen = await scenario(t, run.policy, img);
    t.match(seen.withoutKey, /^ENOKEY: ext2: IMG is a LUKS2 container: give its passphrase \(a key\)$/, 'no key: ENOKEY');
    t.match(seen.wrongKey, /^EACCES: cgd: /, 'a wrong key: EACCES');
    t.notOk(String(seen.wrongKey).includes(WRONG_KEY), 'the error does not show the key');
    t.equal(seen.hello, HELLO);
    t.equal(seen.bigIntact, true, 'the big file reads back, with the bytes written over it');
    t.same(seen.list, ['big', 'docs', 'lost+found']);

    // cryptsetup's view: it opens the container; the payload it decrypts is a sound ext2.
    t.ok(cryptsetupOpens(img), 'cryptsetup open --test-passphrase accepts the key');
    const plain = decryptPayload(img, `${img}.plain`);
    const fsck = fsckClean(plain);
    t.ok(fsck.clean, fsck.report);
    t.equal(debugfs(plain, 'cat /docs/hello.txt'), HELLO, 'debugfs reads the file from the decrypted image');
    t.ok(debugfsDump(plain, '/big').equals(bigAfterPwrite()), 'and the big file, byte for byte');
    t.notOk(JSON.stringify(seen).includes(payloadOf(img).volumeKey.toString('hex')), 'no result shows the volume key');

    if (first === null) first = { name: run.name, seen };
    else t.same(seen, first.seen, `the same as ${first.name}`);
  });
}

/** The big file's content after the pwrite over it. */
function bigAfterPwrite(): Uint8Array {
  const expected = BIG.slice();
  expected.set(bytes('x'.repeat(700)), 5000);
  return expected;
}

/** A file's bytes out of a plain image, by debugfs dump. */
function debugfsDump(img: string, path: string): Buffer {
  const out = `${img}.dump`;
  debugfs(img, `dump ${path} ${out}`);
  return readFileSync(out);
}

t.test('boot mounts with a key: text and bytes, under monolithic and microkernel', { skip: missing ?? false }, async (t) => {
  const img = join(dir, 'boot-mount.img');
  const k0 = await boot();
  await k0.call('cgd', 'format', { path: img, size: 24 * MiB, key: bytes(KEY), kdf: FAST_KDF });
  await k0.call('ext2', 'mkfs', { source: img, key: bytes(KEY), blockSize: 1024 });
  await k0.halt();
  for (const [policy, key] of [['monolithic', KEY], ['microkernel', bytes(KEY)]] as const) {
    const k = await boot({ policy, mounts: [...DEFAULT_MOUNTS, { target: '/mnt', fstype: 'ext2', source: img, key }] });
    try {
      const p = await k.spawn();
      await p.writeFile(`/mnt/${policy}`, policy);
      t.equal(text(await p.readFile(`/mnt/${policy}`)), policy, `${policy}: written and read back`);
      t.notOk((await visible(k)).includes(KEY), `${policy}: the key is not shown`);
    } finally {
      await k.halt();
    }
  }
  const fsck = fsckClean(decryptPayload(img, `${img}.plain`));
  t.ok(fsck.clean, fsck.report);
  await t.rejects(boot({ mounts: [{ target: '/', fstype: 'ext2', source: img, key: 42 as unknown as string }] }),
    { errno: 'EINVAL', message: 'boot option mounts[0].key must be a Uint8Array or a string, got 42' });
});
