// dk's partition tables against the tools that made them, under every policy with identical
// results: an MBR disk made by sfdisk (primaries, an extended partition with two logical ones)
// and a GPT disk made by sgdisk (names, types, GUIDs) read as sfdisk --json reads them; a GPT
// whose primary header or entry array is damaged read from the backup, with a note saying so;
// both damaged, a looping EBR chain, overlapping entries and an entry leaving the disk refused
// with an errno naming what. Then a seeded fuzz of the table bytes (bounded by count and time,
// its seed printed) under microkernel: only SysErrors, and the kernel keeps serving.

import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { SysError, boot, type Kernel, type UnitInfo } from '../kernel/index.js';
import type { PartitionTable } from '../servers/dk/table.js';
import { random, tempDir } from './lib/e2fs.js';
import { SECTOR, diskToolsMissing, makeGptDisk, makeMbrDisk, outcomeIn, readAt, sfdiskJson, writeAt } from './lib/disks.js';
import { ALL_POLICIES, policyName } from './lib/policies.js';

const missing = diskToolsMissing();
const dir = tempDir('rumpus-dk-tables-');
const MBR = join(dir, 'mbr.img');
const GPT = join(dir, 'gpt.img');
if (!missing) {
  makeMbrDisk(MBR);
  makeGptDisk(GPT);
}

/** A copy of `disk` named `name`, with `damage` done to it. */
function damaged(disk: string, name: string, damage: (path: string) => void): string {
  const path = join(dir, name);
  copyFileSync(disk, path);
  damage(path);
  return path;
}

/** Flips every bit of the byte at `offset`. */
function flip(path: string, offset: number): void {
  writeAt(path, offset, readAt(path, offset, 1).map((b) => b ^ 0xff));
}

const LAST_LBA = 64 * 1024 * 1024 / SECTOR - 1;
const CASES = missing ? {} : {
  gptPrimaryHeader: damaged(GPT, 'gpt-primary-header.img', (p) => flip(p, SECTOR + 60)), // in the disk GUID: the header CRC32 fails
  gptPrimaryArray: damaged(GPT, 'gpt-primary-array.img', (p) => flip(p, 2 * SECTOR + 40)), // entry 1's start: the array CRC32 fails
  gptBackupHeader: damaged(GPT, 'gpt-backup-header.img', (p) => flip(p, LAST_LBA * SECTOR + 60)),
  gptBoth: damaged(GPT, 'gpt-both.img', (p) => {
    flip(p, SECTOR + 60);
    flip(p, LAST_LBA * SECTOR + 60);
  }),
  // Logical 6's EBR links back to logical 5's: the chain loops.
  ebrLoop: damaged(MBR, 'ebr-loop.img', (p) => {
    const ebr6 = 102400; // the second EBR, 2048 sectors past the first (sfdisk's alignment)
    const link = new Uint8Array(16);
    link.set([0, 0, 0, 0, 0x05, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]); // type 5, start 0 (relative to the extended start), 1 sector
    writeAt(p, ebr6 * SECTOR + 446 + 16, link);
  }),
  // Entry 2 starts inside entry 1.
  overlap: damaged(MBR, 'overlap.img', (p) => writeAt(p, 446 + 16 + 8, new Uint8Array([0x00, 0x10, 0, 0]))),
  // Entry 2's size runs it far past the end of the disk.
  outside: damaged(MBR, 'outside.img', (p) => writeAt(p, 446 + 16 + 12, new Uint8Array([0, 0, 0, 0x10]))),
};

/** A call's answer, or its errno and message with the test directory made neutral. */
const outcome = <T>(p: Promise<T>) => outcomeIn(dir, p);

/** Everything one kernel says about the disks; the same under every placement. */
async function scenario(k: Kernel): Promise<Record<string, unknown>> {
  const seen: Record<string, unknown> = {
    mbr: await outcome(k.call<PartitionTable>('dk', 'table', { path: MBR })),
    gpt: await outcome(k.call<PartitionTable>('dk', 'table', { path: GPT })),
  };
  for (const [name, path] of Object.entries(CASES)) seen[name] = await outcome(k.call<PartitionTable>('dk', 'table', { path }));
  // A damaged primary still attaches its partitions (from the backup); a damaged table does not.
  const attach = async (path: string, partition: number) => {
    const u = await k.call<UnitInfo>('dk', 'attach', { path, partition, readonly: true });
    await k.call('dk', 'detach', { unit: u.unit });
    return u.size;
  };
  seen.attachFromBackup = await outcome(attach(CASES.gptPrimaryHeader!, 2));
  seen.attachLoop = await outcome(attach(CASES.ebrLoop!, 5));
  seen.attachExtended = await outcome(attach(MBR, 3));
  seen.attachMissing = await outcome(attach(MBR, 4));
  return seen;
}

t.test('tables and damaged tables, under every policy', { skip: missing ?? false }, async (t) => {
  const runs: Record<string, unknown>[] = [];
  for (const policy of ALL_POLICIES) {
    const k = await boot({ policy });
    try {
      runs.push(await scenario(k));
    } finally {
      await k.halt();
    }
    t.same(runs.at(-1), runs[0], `${policyName(policy)}: the same as monolithic`);
  }
  const seen = runs[0] as Record<string, PartitionTable | string>;

  const mbr = seen.mbr as PartitionTable;
  const sf = sfdiskJson(MBR);
  t.equal(mbr.scheme, 'mbr');
  t.equal(mbr.id, sf.id, 'the disk identifier');
  t.same(mbr.partitions.map((p) => [p.number, p.start / SECTOR, p.size / SECTOR, parseInt(p.type, 16), p.bootable]),
    sf.partitions.map((p) => [Number(/(\d+)$/.exec(p.node)![1]), p.start, p.size, parseInt(p.type, 16), p.bootable === true]),
    'MBR: numbers (logical from 5), starts, sizes, types and boot flags as sfdisk --json');
  t.same(mbr.partitions.map((p) => p.typeName), ['FAT32 (LBA)', 'Linux', 'Extended', 'Linux', 'Linux swap']);
  t.same(mbr.partitions.map((p) => p.extended === true), [false, false, true, false, false]);

  const gpt = seen.gpt as PartitionTable;
  const sg = sfdiskJson(GPT);
  t.equal(gpt.scheme, 'gpt');
  t.equal(gpt.id, sg.id, 'the disk GUID');
  t.same(gpt.partitions.map((p) => [p.number, p.start / SECTOR, p.size / SECTOR, p.type, p.uuid, p.name]),
    sg.partitions.map((p) => [Number(/(\d+)$/.exec(p.node)![1]), p.start, p.size, p.type, p.uuid, p.name]),
    'GPT: numbers, starts, sizes, type GUIDs, unique GUIDs and names as sfdisk --json');
  t.same(gpt.partitions.map((p) => p.typeName), ['EFI System', 'Linux filesystem', 'Linux swap', 'Linux filesystem']);
  t.same(gpt.notes, []);

  for (const name of ['gptPrimaryHeader', 'gptPrimaryArray']) {
    const read = seen[name] as PartitionTable;
    t.same(read.partitions, gpt.partitions, `${name}: the partitions, from the backup`);
    t.match(read.notes, [/^the GPT primary header at LBA 1 is damaged \((header|partition entry array) CRC32 mismatch\): the table was read from the backup header at LBA 131071$/], `${name}: a note says so`);
  }
  t.same((seen.gptBackupHeader as PartitionTable).partitions, gpt.partitions, 'a damaged backup: the primary is read');
  t.match((seen.gptBackupHeader as PartitionTable).notes, [/GPT backup header at LBA 131071 is damaged \(header CRC32 mismatch\)/]);
  t.equal(seen.gptBoth, 'EUCLEAN: dk: DIR/gpt-both.img: GPT primary header at LBA 1: header CRC32 mismatch; backup header at LBA 131071: header CRC32 mismatch');
  t.equal(seen.ebrLoop, 'EUCLEAN: dk: DIR/ebr-loop.img: the EBR chain of extended partition 3 loops back to sector 83968');
  t.match(seen.overlap, /^EUCLEAN: dk: DIR\/overlap\.img: MBR: partitions 1 and 2 overlap/);
  t.match(seen.outside, /^EUCLEAN: dk: DIR\/outside\.img: MBR entry 2 \(sectors 34816–\d+\) runs past the end of the disk \(131072 sectors\)$/);
  t.equal(seen.attachFromBackup, 20 * 1024 * 1024, 'a partition of a disk read from its backup GPT attaches');
  t.match(seen.attachLoop, /^EUCLEAN: dk: DIR\/ebr-loop\.img: the EBR chain/);
  t.match(seen.attachExtended, /^EINVAL: dk: DIR\/mbr\.img@3 is an extended partition/);
  t.equal(seen.attachMissing, 'EINVAL: dk: DIR/mbr.img has no partition 4 (its partitions: 1, 2, 3, 5, 6)');
});

t.test('a seeded fuzz of the table bytes: only SysErrors, and microkernel keeps serving', { skip: missing ?? false }, async (t) => {
  process.env.RUMPUS_LOG ??= 'error'; // each damaged primary or backup GPT is a warning: expected here
  const seed = Number(process.env.RUMPUS_FUZZ_SEED ?? Date.now() % 1_000_000);
  t.comment(`fuzz seed ${seed} (RUMPUS_FUZZ_SEED=${seed} repeats it)`);
  const rand = random(seed);
  const pick = (n: number) => Math.floor(rand() * n);
  // Where the tables are: the MBR, the GPT headers and arrays, the EBRs.
  const regions: Record<string, [number, number][]> = {
    [MBR]: [[0, SECTOR], [83968 * SECTOR, SECTOR], [102400 * SECTOR, SECTOR]],
    [GPT]: [[0, SECTOR], [SECTOR, SECTOR], [2 * SECTOR, 32 * SECTOR], [(LAST_LBA - 32) * SECTOR, 33 * SECTOR]],
  };
  const k = await boot({ policy: 'microkernel' });
  const deadline = Date.now() + 60_000;
  let runs = 0;
  const errnos = new Set<string>();
  try {
    for (; runs < 150 && Date.now() < deadline; runs++) {
      const base = runs % 2 ? GPT : MBR;
      const path = join(dir, 'fuzz.img');
      copyFileSync(base, path);
      for (let flips = 1 + pick(8); flips > 0; flips--) {
        const [at, length] = regions[base][pick(regions[base].length)];
        writeAt(path, at + pick(length), new Uint8Array([pick(256)]));
      }
      for (const call of [
        () => k.call('dk', 'table', { path }),
        async () => {
          const u = await k.call<UnitInfo>('dk', 'attach', { path, partition: 1 + pick(6) });
          try {
            await k.call('dk', 'read', { unit: u.unit, offset: 0, length: 4096 });
          } finally {
            await k.call('dk', 'detach', { unit: u.unit });
          }
        },
      ]) {
        try {
          await call();
        } catch (err) {
          if (!(err instanceof SysError)) throw err;
          errnos.add(err.errno);
          if (!err.message.startsWith('dk: ') && !err.message.startsWith('blk: ')) t.fail(`seed ${seed}, run ${runs}: a message not in dk's or blk's name: ${err.message}`);
        }
      }
    }
    t.ok(runs > 0, `${runs} damaged tables; errnos met: ${[...errnos].sort().join(', ')}`);
    t.same(k.domains().filter((d) => d.status !== 'running' || d.restarts > 0).map((d) => d.name), [], 'every domain still running, none restarted');
    t.equal((await k.call<PartitionTable>('dk', 'table', { path: GPT })).partitions.length, 4, 'dk still serves');
    const p = await k.spawn();
    t.ok(Array.isArray(await p.readdir('/')), 'the kernel still serves a process');
    await p.exit();
  } finally {
    await k.halt();
  }
});
