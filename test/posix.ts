// The POSIX conformance suite (issue 12), modeled on pjdfstest: a table of cases (test/lib/posix-*.ts)
// — who calls, what root makes first, the syscalls, the errno Linux gives (or OK) and what stat
// shows afterwards — run under every placement on three mounts of one kernel: tmpfs, ext2 with
// 1 KiB blocks and ext2 with 4 KiB blocks. Every mount must give the table's answer, errno for
// errno. Each case runs in a fresh directory of its own. After each placement's run both ext2
// images must pass e2fsck. A case that needs a part of the API not there yet (a Proc method, or
// supplementary groups) is skipped, naming it; a wrong answer is never skipped.
// POSIX_POLICY=monolithic npx tap test/posix.ts runs one placement.

import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { DEFAULT_MOUNTS, boot, type Kernel, type Proc } from '../kernel/index.js';
import { fsckClean, mkImage, tempDir } from './lib/e2fs.js';
import { ALL_POLICIES, policyName } from './lib/policies.js';
import { ATTR_CASES } from './lib/posix-attrs.js';
import type { Case } from './lib/posix-case.js';
import { FILE_CASES } from './lib/posix-files.js';
import { NAME_CASES } from './lib/posix-names.js';
import { PATH_CASES } from './lib/posix-paths.js';
import { describeSteps, missingFeatures, prepare, prepareMount, probeFeatures, run, type MountRun, type Prepared, type Result } from './lib/posix-runner.js';

const CASES: Case[] = [...PATH_CASES, ...NAME_CASES, ...ATTR_CASES, ...FILE_CASES];

/** POSIX_POLICY=<name> runs the table under that placement only (to look into one), else under all. */
const POLICIES = process.env.POSIX_POLICY ? [process.env.POSIX_POLICY] : ALL_POLICIES;

/** Cases of one mount made ready or run at once (each in its own directory, so they cannot meet). */
const CONCURRENCY = 8;
/** Time let pass between setup and the steps, so that a changed time differs (tmpfs keeps ms, the images ns). */
const SETTLE_MS = 30;
const IMAGE_BYTES = 32 * 1024 * 1024;

t.test('every case has a name of its own', async (t) => {
  const seen = new Set<string>();
  const twice = CASES.map((c) => c.name).filter((n) => seen.has(n) || !seen.add(n));
  t.same(twice, [], `${CASES.length} cases`);
});

/** Runs fn on every item, at most `limit` at a time; results in the items' order. */
async function pool<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** The three mounts, each with a directory on another mount for the EXDEV cases. */
function mountRuns(): MountRun[] {
  return [
    { name: 'tmpfs', root: '/tmp/posix', otherRoot: '/mnt/e1/xdev-tmpfs' },
    { name: 'ext2 (1 KiB blocks)', root: '/mnt/e1/posix', otherRoot: '/tmp/xdev-e1' },
    { name: 'ext2 (4 KiB blocks)', root: '/mnt/e4/posix', otherRoot: '/tmp/xdev-e4' },
  ];
}

const pass = (c: Case, r: Result) => r.got === c.expect && r.problems.length === 0;

for (const policy of POLICIES) {
  t.test(`the POSIX table under ${policyName(policy)}`, async (t) => {
    const dir = tempDir('rumpus-posix-');
    const images = { e1: join(dir, 'e1.img'), e4: join(dir, 'e4.img') };
    // 256-byte inodes keep times to the nanosecond, as tmpfs keeps them to the millisecond.
    mkImage(images.e1, { size: IMAGE_BYTES, blockSize: 1024, inodeSize: 256 });
    mkImage(images.e4, { size: IMAGE_BYTES, blockSize: 4096, inodeSize: 256 });
    const k: Kernel = await boot({
      policy,
      mounts: [...DEFAULT_MOUNTS, { target: '/mnt/e1', fstype: 'ext2', source: images.e1 }, { target: '/mnt/e4', fstype: 'ext2', source: images.e4 }],
    });
    try {
      const root: Proc = await k.spawn();
      await root.umask(0);
      const mounts = mountRuns();
      for (const m of mounts) await prepareMount(root, m, CASES.length);
      const features = await probeFeatures(root);
      const runnable: { c: Case; index: number }[] = [];
      CASES.forEach((c, i) => {
        const missing = missingFeatures(c, root, features);
        if (missing.length > 0) t.pass(c.name, { skip: `needs ${missing.join(', ')}` });
        else runnable.push({ c, index: i });
      });
      const pairs = mounts.flatMap((m) => runnable.map((r) => ({ ...r, m })));
      const prepared: Prepared[] = await pool(pairs, CONCURRENCY, (p) => prepare(root, p.c, p.m, p.index));
      await sleep(SETTLE_MS);
      const results = await pool(prepared, CONCURRENCY, (pr) => run(k, root, pr));

      runnable.forEach(({ c }, i) => {
        const perMount = mounts.map((m, j) => ({ mount: m.name, result: results[j * runnable.length + i] }));
        const failed = perMount.filter((x) => !pass(c, x.result));
        t.ok(failed.length === 0, `${c.name} [${policyName(policy)}]`, failed.length === 0 ? {} : {
          steps: describeSteps(c),
          expected: c.expect,
          failures: failed.map((x) => ({ mount: x.mount, got: x.result.got, ...(x.result.problems.length > 0 ? { problems: x.result.problems } : {}) })),
          ...(failed.length < mounts.length ? { passedOn: perMount.filter((x) => !failed.includes(x)).map((x) => x.mount) } : {}),
        });
      });
    } finally {
      await k.halt();
    }
    for (const [name, img] of Object.entries(images)) {
      const fsck = fsckClean(img);
      t.ok(fsck.clean, `e2fsck finds ${name}.img clean after ${policyName(policy)}`, fsck.clean ? {} : { report: fsck.report });
    }
  });
}
