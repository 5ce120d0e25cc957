// Crash consistency: after the crash of ext2 or blk — at any op, even in the middle of a commit
// — every byte acknowledged by fsync is on the image and the image passes e2fsck; a commit is
// applied entirely or not at all; and a small fault campaign holds all its invariants.

import { execFile } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { DEFAULT_MOUNTS, boot, localControl, type FaultSpec } from '../kernel/index.js';
import { sealCommit } from '../servers/blk/wal.js';
import { fsyncedAppends } from './lib/appends.js';
import { fsckClean, mkImage, tempDir } from './lib/e2fs.js';
import { RUMPUS } from './lib/cli.js';

const dir = tempDir('rumpus-crash-');
const FAST = { heartbeat: { periodMs: 200, timeoutMs: 3000 }, calls: { timeoutMs: 4000, tries: 3, reconnectMs: 20_000 } };

function image(name: string): string {
  const path = join(dir, name);
  mkImage(path, { size: 16 << 20, blockSize: 1024, features: 'none,filetype,sparse_super' });
  return path;
}

const line = (i: number) => `line ${String(i).padStart(3, '0')} of the log\n`;

/** Appends with fsync while `fault` hits; returns the lines acknowledged. */
async function appendThrough(policy: string, img: string, faults: FaultSpec[]): Promise<{ acked: number[]; restarts: number }> {
  const k = await boot({ policy, mounts: [...DEFAULT_MOUNTS, { target: '/mnt', fstype: 'ext2', source: img }], memoryLimitMb: 96, ...FAST });
  try {
    const p = await k.spawn();
    await p.writeFile('/mnt/before', 'synced before the crash');
    await p.sync();
    for (const f of faults) await k.inject(f);
    const acked = await fsyncedAppends(p, '/mnt/log', line);
    await k.settled();
    return { acked, restarts: k.domains().reduce((n, d) => n + d.restarts, 0) };
  } finally {
    await k.halt();
  }
}

for (const policy of ['microkernel', 'multiprocess']) {
  for (const fault of [
    { component: 'ext2', type: 'crash', op: 'fsync', after: 5 },
    { component: 'ext2', type: 'crash', op: 'append', after: 7 },
    { component: 'blk', type: 'crash', op: 'commit', after: 4 },
    { component: 'blk', type: 'hang', op: 'commit', after: 3 },
    { component: 'ext2', type: 'leak', op: 'append', count: 0 },
  ] as FaultSpec[]) {
    t.test(`${policy}: ${fault.component} ${fault.type} at ${fault.op}: fsynced bytes survive, e2fsck is clean`, async (t) => {
      const img = image(`${policy}-${fault.component}-${fault.type}-${fault.op}.img`);
      const { acked, restarts } = await appendThrough(policy, img, [fault]);
      t.ok(restarts >= 1, `the component was restarted (${restarts})`);
      t.ok(acked.length >= 20, `most appends were acknowledged (${acked.length} of 40)`);
      const k = await boot({ policy: 'monolithic', mounts: [...DEFAULT_MOUNTS, { target: '/mnt', fstype: 'ext2', source: img, readonly: true }] });
      const p = await k.spawn();
      const log = new TextDecoder().decode(await p.readFile('/mnt/log'));
      t.same(acked.filter((i) => !log.includes(line(i))), [], 'every acknowledged line is on the image');
      t.equal(new TextDecoder().decode(await p.readFile('/mnt/before')), 'synced before the crash');
      await k.halt();
      const fsck = fsckClean(img);
      t.ok(fsck.clean, fsck.report);
    });
  }
}

t.test('a commit reaches the image entirely or not at all: the write-ahead log', async (t) => {
  const img = join(dir, 'wal.img');
  writeFileSync(img, Buffer.alloc(64 * 1024, 0));
  // A sealed log left by a blk that died after sealing and before applying: replayed at attach.
  const sealed = (writes: [number, number][]) => {
    const now = readFileSync(img);
    const { records, trailer } = sealCommit(
      writes.map(([offset, fill]) => ({ offset, data: new Uint8Array(512).fill(fill) })),
      (offset, length) => now.subarray(offset, offset + length),
      `${statSync(img, { bigint: true }).dev}:${statSync(img, { bigint: true }).ino}`,
    );
    return Buffer.concat([records, trailer]);
  };
  const k = await boot({ policy: 'microkernel', supervision: { blk: { intensity: { max: 20, withinMs: 60_000 } } } });
  t.teardown(() => k.halt());
  writeFileSync(`${img}.wal`, sealed([[0, 1], [4096, 2]]));
  let { unit } = await k.call<{ unit: number }>('blk', 'attach', { path: img });
  await k.call('blk', 'detach', { unit });
  const bytes = readFileSync(img);
  t.same([bytes[0], bytes[511], bytes[4096], bytes[4607], bytes[512]], [1, 1, 2, 2, 0], 'a sealed commit is applied');
  // A torn one (its trailer never written) is a commit that did not happen.
  writeFileSync(`${img}.wal`, sealed([[8192, 3]]).subarray(0, 300));
  ({ unit } = await k.call<{ unit: number }>('blk', 'attach', { path: img }));
  await k.call('blk', 'detach', { unit });
  t.equal(readFileSync(img)[8192], 0, 'a torn commit is thrown away');
  // Killed in the middle of commits, again and again: each commit is there entirely or not at all.
  for (let round = 1; round <= 6; round++) {
    ({ unit } = await k.call<{ unit: number }>('blk', 'attach', { path: img }));
    await k.inject({ component: 'blk', type: 'crash', op: 'commit', after: round % 3 });
    const writes = Array.from({ length: 64 }, (_, i) => ({ offset: i * 512 + 16384, data: new Uint8Array(512).fill(round) }));
    for (let c = 0; c < 3; c++) await k.call('blk', 'commit', { unit, writes }).catch(() => {});
    await k.settled();
    ({ unit } = await k.call<{ unit: number }>('blk', 'attach', { path: img }));
    await k.call('blk', 'detach', { unit });
    const now = readFileSync(img).subarray(16384, 16384 + 64 * 512);
    t.ok(now.every((b) => b === now[0]), `round ${round}: all 64 sectors from one commit`);
  }
});

t.test('a small fault campaign holds every invariant', async (t) => {
  const img = image('campaign.img');
  const out = await new Promise<{ code: number; stdout: string }>((resolve) => {
    execFile(process.execPath, [RUMPUS, 'faults', '--image', img, '--trials', '6', '--seed', '3', '--json'],
      { timeout: 300_000 }, (err, stdout) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout }));
  });
  const report = JSON.parse(out.stdout);
  t.equal(report.trials, 6);
  t.same(report.violations, [], 'no invariant broke');
  t.equal(out.code, 0);
  t.ok(report.rows.every((r: { synced_bytes_lost: number }) => r.synced_bytes_lost === 0));
  t.ok(fsckClean(img).clean, 'the campaign never touches the image it is given');
});

for (const policy of ['microkernel', 'multiprocess']) {
  t.test(`${policy}: ext2 crashes mid-copy, is restarted, and the copy completes (the issue's session)`, async (t) => {
    const img = image(`${policy}-copy.img`);
    const k = await boot({ policy, mounts: [...DEFAULT_MOUNTS, { target: '/mnt', fstype: 'ext2', source: img }], ...FAST });
    t.teardown(() => k.halt());
    const { Shell } = await import('../bin/shell/shell.js');
    const out: string[] = [];
    const err: string[] = [];
    const sh = new Shell(localControl(k), await k.spawn(), { stdout: (x) => out.push(typeof x === 'string' ? x : new TextDecoder().decode(x)), stderr: (x) => err.push(x) });
    await sh.run('mkdir -p /tmp/src/a/b; echo one > /tmp/src/1; echo two > /tmp/src/a/2; echo three > /tmp/src/a/b/3; echo four > /tmp/src/4; echo five > /tmp/src/a/5');
    await sh.run('inject ext2 crash --after 3 --op write');
    t.equal(await sh.run('cp -r /tmp/src /mnt/dst'), 0, 'cp succeeds');
    t.same(err.filter((e) => !e.startsWith('rumpus')), [], 'and prints no error');
    await k.settled();
    t.equal(k.domains().find((d) => d.name === 'ext2')!.restarts, 1, 'ext2 was restarted under it');
    out.length = 0;
    await sh.run('cat /mnt/dst/1 /mnt/dst/a/2 /mnt/dst/a/b/3 /mnt/dst/4 /mnt/dst/a/5');
    t.equal(out.join(''), 'one\ntwo\nthree\nfour\nfive\n', 'the whole tree is there, made before and after the crash');
    await k.halt();
    const fsck = fsckClean(img);
    t.ok(fsck.clean, fsck.report);
  });
}
