// rumpus faults: the fault campaign (bench/campaign.ts) from the command line.

import { existsSync } from 'node:fs';
import { FAULT_TYPES, SysError, type FaultType } from '../kernel/index.js';
import { DEFAULT_TYPES, campaignComponents, formatCampaign, runCampaign } from '../bench/campaign.js';
import { KEY_HELP, Keys, keyOptions } from './keys.js';
import { imageName } from './image-name.js';
import { UsageError, type Subcommand } from './subcommand.js';

function count(v: unknown, what: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new UsageError(`${what} must be a non-negative integer`);
  return n;
}

export const FAULTS_SUBCOMMAND: Subcommand = {
  summary: 'a fault campaign: a workload on an image while faults hit every component, then checks',
  usage: 'rumpus faults --image IMG [--key-file K] [--policy P] [--trials N] [--seed S] [--types LIST] [--components LIST] [--json]',
  help: `Runs N trials. Each boots a kernel with a copy of IMG mounted, arms one fault drawn from the
seed (a component, a fault type, a trigger), and runs a mixed workload: a tree copy and sync,
appends each followed by fsync, renames, device reads, reads that check content. After each
trial: the kernel must be alive, every operation must have succeeded or failed with an errno,
every byte acknowledged by fsync or sync must be on the image, and the image must pass e2fsck
(both checks). The same seed gives the same faults. Prints a table per component and fault
(injected: the fault hit; survived: every invariant held; recovered: the component was
restarted; recovery time: from its failure to its restart) and exits 1 if an invariant broke.
An encrypted image (a LUKS container with ext2 inside, as mkfs --encrypt makes) is mounted
through cgd with its key, faults hit cgd and its cipher too (in a pool under microkernel),
and e2fsck checks the payload decrypted. IMG@N is partition N of a disk image: mounted through
dk, whose faults join the others, and e2fsck checks the partition extracted.

  --image IMG         an ext2 image, or a LUKS container with one, or IMG@N (never changed:
                      each trial works on a copy)
  --policy P          monolithic, microkernel (default), multiprocess, or a placement file
  --trials N          default 100
  --seed S            default 1
  --types LIST        fault types, comma-separated (default: ${DEFAULT_TYPES.join(',')}; corrupt
                      is left out as ext2 has no checksums to catch flipped bits with)
  --components LIST   default: every component the image goes through
  --json              print the report as one JSON object
${KEY_HELP}`,
  options: {
    image: { type: 'string' },
    policy: { type: 'string', default: 'microkernel' },
    trials: { type: 'string', default: '100' },
    seed: { type: 'string', default: '1' },
    types: { type: 'string' },
    components: { type: 'string' },
    json: { type: 'boolean', default: false },
    ...keyOptions,
  },
  async run(v) {
    if (typeof v.image !== 'string') throw new UsageError('--image IMG is required');
    const image = v.image;
    const { path, partition } = imageName(image);
    if (!existsSync(path)) throw new SysError('ENOENT', `${path}: No such file or directory`);
    const types = typeof v.types === 'string' ? v.types.split(',') : undefined;
    for (const t of types ?? []) if (!(FAULT_TYPES as readonly string[]).includes(t)) throw new UsageError(`unknown fault type '${t}' (known: ${FAULT_TYPES.join(', ')})`);
    const key = await Keys.of(v).keyFor(image);
    const components = typeof v.components === 'string' ? v.components.split(',') : undefined;
    const known = campaignComponents(key !== undefined, partition !== undefined);
    for (const c of components ?? []) if (!known.includes(c)) throw new UsageError(`unknown component '${c}' for this image (known: ${known.join(', ')})`);
    const tty = process.stderr.isTTY;
    process.env.RUMPUS_LOG ??= 'error'; // the failures are the point here: the table reports them
    const report = await runCampaign({
      image: path,
      partition,
      key,
      policy: v.policy as string,
      trials: count(v.trials, '--trials'),
      seed: count(v.seed, '--seed'),
      types: types as FaultType[] | undefined,
      components,
      progress: tty ? (done, total) => process.stderr.write(`\r\x1b[K${progressBar(done, total)}`) : undefined,
    });
    if (tty) process.stderr.write('\r\x1b[K');
    process.stdout.write(v.json ? JSON.stringify(report, null, 2) + '\n' : formatCampaign(report) + '\n');
    return report.ok ? 0 : 1;
  },
};

function progressBar(done: number, total: number): string {
  const width = 30;
  const filled = Math.round((done / total) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} trials`;
}

