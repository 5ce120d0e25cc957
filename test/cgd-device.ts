// cgd as a block device, under monolithic and microkernel (the cipher pooled) with identical
// results: 512-aligned requests on a container of 4096-byte encryption sectors (a commit of
// writes that cover sectors in part, or overlap, reads back as written around what was there),
// large requests across many cipher calls, blk's errors for misaligned, out-of-range and
// read-only requests and unknown units; and the keyslot ops: addkey, removekey, dump.

import { join } from 'node:path';
import t from 'tap';
import { SysError, boot, type Kernel, type UnitInfo } from '../kernel/index.js';
import { FAST_KDF, cipherIn } from './lib/cgd.js';
import { seededBytes, tempDir } from './lib/e2fs.js';

const MiB = 1024 * 1024;
const dir = tempDir('rumpus-cgd-dev-');
const KEY = new TextEncoder().encode('device key');
const NEW_KEY = new TextEncoder().encode('second key');

async function errno(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'no error';
  } catch (err) {
    if (!(err instanceof SysError)) throw err;
    return `${err.errno}: ${err.message.replace(/\/tmp\/\S+/g, 'IMG')}`;
  }
}

/** What one kernel observes; the same under every placement. */
async function scenario(k: Kernel, img: string): Promise<Record<string, unknown>> {
  const seen: Record<string, unknown> = {};
  await k.call('cgd', 'format', { path: img, size: 16 * MiB + 4 * MiB, key: KEY, kdf: FAST_KDF });
  const u = await k.call<UnitInfo>('cgd', 'attach', { path: img, key: KEY });
  seen.info = { ...u, source: undefined };
  const read = (offset: number, length: number) => k.call<Uint8Array>('cgd', 'read', { unit: u.unit, offset, length });

  // Writes covering 4096-byte sectors in part, one over another: the later one wins.
  const before = await read(0, 16384);
  const writes = [
    { offset: 1024, data: seededBytes(1024, 1) },
    { offset: 1536, data: seededBytes(512, 2) },
    { offset: 8192, data: seededBytes(4096, 3) },
    { offset: 12800, data: seededBytes(1536, 4) },
  ];
  await k.call('cgd', 'commit', { unit: u.unit, writes });
  const expected = before.slice();
  for (const w of writes) expected.set(w.data, w.offset);
  seen.commitReadsBack = Buffer.compare(await read(0, 16384), expected) === 0;
  seen.unalignedRead = Buffer.compare(await read(1536, 512), writes[1].data) === 0;

  // A write of one 512-byte sector, then a large one across many cipher calls.
  await k.call('cgd', 'write', { unit: u.unit, offset: 3584, data: seededBytes(512, 5) });
  await k.call('cgd', 'flush', { unit: u.unit });
  seen.writeReadsBack = Buffer.compare(await read(3584, 512), seededBytes(512, 5)) === 0;
  const big = seededBytes(2 * MiB + 512, 6);
  await k.call('cgd', 'commit', { unit: u.unit, writes: [{ offset: MiB - 512, data: big }] });
  seen.bigReadsBack = Buffer.compare(await read(MiB - 512, big.length), big) === 0;

  seen.errors = [
    await errno(k.call('cgd', 'write', { unit: u.unit, offset: 100, data: new Uint8Array(512) })),
    await errno(k.call('cgd', 'read', { unit: u.unit, offset: 4 * MiB - 512, length: 1024 })),
    await errno(k.call('cgd', 'commit', { unit: u.unit, writes: [{ offset: 0, data: new Uint8Array(100) }] })),
    await errno(k.call('cgd', 'read', { unit: 99, offset: 0, length: 512 })),
    await errno(k.call('cgd', 'attach', { path: img, key: KEY })),
    await errno(k.call('cgd', 'format', { path: img, key: KEY, version: 3 })),
  ];
  await k.call('cgd', 'detach', { unit: u.unit });
  seen.afterDetach = await errno(read(0, 512));

  // Read-only: what was committed is there; writes are refused.
  const ro = await k.call<UnitInfo>('cgd', 'attach', { path: img, key: KEY, readonly: true });
  seen.readonly = [
    Buffer.compare(await k.call<Uint8Array>('cgd', 'read', { unit: ro.unit, offset: 8192, length: 4096 }), writes[2].data) === 0,
    await errno(k.call('cgd', 'write', { unit: ro.unit, offset: 0, data: new Uint8Array(512) })),
  ];
  await k.call('cgd', 'detach', { unit: ro.unit });

  // Keyslots: a second key opens the same payload; the first, removed, no longer does.
  seen.added = await k.call('cgd', 'addkey', { path: img, key: KEY, newKey: NEW_KEY, kdf: FAST_KDF });
  seen.removed = await k.call('cgd', 'removekey', { path: img, key: KEY });
  seen.oldKey = await errno(k.call('cgd', 'attach', { path: img, key: KEY }));
  seen.lastKey = await errno(k.call('cgd', 'removekey', { path: img, key: NEW_KEY }));
  const again = await k.call<UnitInfo>('cgd', 'attach', { path: img, key: NEW_KEY });
  seen.newKeyReads = Buffer.compare(await k.call<Uint8Array>('cgd', 'read', { unit: again.unit, offset: 8192, length: 4096 }), writes[2].data) === 0;
  await k.call('cgd', 'detach', { unit: again.unit });
  const dump = await k.call<{ version: number; sectorSize: number; keyslots: unknown[] }>('cgd', 'dump', { path: img });
  seen.dump = { version: dump.version, sectorSize: dump.sectorSize, keyslots: dump.keyslots.length };
  return seen;
}

let first: Record<string, unknown> | null = null;
for (const run of [cipherIn('monolithic', 'main'), cipherIn('microkernel', 'pool')]) {
  t.test(run.name, async (t) => {
    const k = await boot({ policy: run.policy });
    let seen: Record<string, unknown>;
    try {
      seen = await scenario(k, join(dir, `${run.name.replace(/[^a-z]+/g, '-')}.img`));
    } finally {
      await k.halt();
    }
    t.same(seen.info, { unit: 1, size: 4 * MiB, sectorSize: 512, sectors: 8192, readonly: false, source: undefined });
    t.ok(seen.commitReadsBack, 'a commit of partial and overlapping sector writes reads back');
    t.ok(seen.unalignedRead, 'a read inside an encryption sector');
    t.ok(seen.writeReadsBack, 'a write of one 512-byte sector reads back');
    t.ok(seen.bigReadsBack, 'a 2 MiB commit across many cipher calls reads back');
    const errors = seen.errors as string[];
    t.same(errors.filter((_, i) => i !== 4), [
      'EINVAL: cgd: write of 512 bytes at 100 is not aligned to 512-byte sectors',
      `EINVAL: cgd: read of 1024 bytes at ${4 * MiB - 512} runs past the end of unit 1 (${4 * MiB} bytes)`,
      'EINVAL: cgd: commit of 100 bytes at 0 is not aligned to 512-byte sectors',
      'ENXIO: cgd: no unit 99',
      'EINVAL: cgd: format: version 3 is not one of 1, 2',
    ]);
    t.match(errors[4], /^EBUSY: blk: IMG is already attached read-write/, 'a second attach of the image: EBUSY');
    t.equal(seen.afterDetach, 'ENXIO: cgd: no unit 1');
    t.same(seen.readonly, [true, 'EROFS: cgd: unit 2 is read-only']);
    t.equal(seen.added, 1, 'the new key is in keyslot 1');
    t.equal(seen.removed, 0, 'the first key was in keyslot 0');
    t.match(seen.oldKey, /^EACCES: cgd: /, 'the removed key opens nothing');
    t.match(seen.lastKey, /^EBUSY: cgd: /, 'the last keyslot is not removed');
    t.ok(seen.newKeyReads, 'the new key opens the same payload');
    t.same(seen.dump, { version: 2, sectorSize: 4096, keyslots: 1 });
    if (first === null) first = seen;
    else t.same(seen, first, 'the same as under monolithic');
  });
}
