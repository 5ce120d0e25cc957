#!/usr/bin/env node
// The rumpus command: parses arguments and hands each subcommand to kernel/ or bench/.

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { POLICIES, SysError, boot, strerror } from '../kernel/index.js';
import { formatReport, runBench } from '../bench/index.js';
import { Shell } from './shell/shell.js';

type Values = Record<string, string | boolean | string[] | undefined>;

interface Subcommand {
  summary: string;
  usage: string;
  /** Help text after the usage line. */
  help: string;
  options: NonNullable<ParseArgsConfig['options']>;
  run(values: Values, positionals: string[]): Promise<number>;
}

const POLICY_HELP = `  --policy NAME|FILE  kernel policy: ${POLICIES.join(', ')} (default monolithic),
                      or a placement JSON file putting components into named domains`;

const policyOption = { policy: { type: 'string', default: 'monolithic' } } as const;

const SUBCOMMANDS: Record<string, Subcommand> = {
  sh: {
    summary: 'a shell on a booted kernel',
    usage: 'rumpus sh [--policy P] [-c SCRIPT]',
    help: `Boots a kernel (tmpfs at / and /tmp, devices at /dev) and runs a shell in one client
process. Without -c it reads commands from standard input, with a prompt on a terminal.
Type 'help' in the shell for its commands.

  -c SCRIPT           run SCRIPT (commands separated by ';' or newlines) and exit
${POLICY_HELP}`,
    options: { ...policyOption, c: { type: 'string', short: 'c' } },
    async run(v) {
      const kernel = await boot({ policy: v.policy as string });
      try {
        const shell = new Shell(kernel, await kernel.spawn(), {
          stdout: (t) => process.stdout.write(t),
          stderr: (t) => process.stderr.write(t),
        });
        if (typeof v.c === 'string') {
          const status = await shell.run(v.c);
          return shell.exitCode ?? status;
        }
        return await shell.interact(process.stdin);
      } finally {
        await kernel.halt();
      }
    },
  },
  bench: {
    summary: 'what each boundary costs: workloads under each policy, with baselines',
    usage: 'rumpus bench [--policies LIST] [--workloads LIST] [--quick] [--json]',
    help: `Boots each policy in turn, runs the workloads through one client process, and prints
p50/p99/mean latency, throughput and CPU per operation, with each p50's ratio to monolithic.
In the same run it measures an in-process async call and a raw worker postMessage round
trip, so the table shows what the transport adds.

  --policies LIST     comma-separated (default ${POLICIES.join(',')}); placement files allowed
  --workloads LIST    comma-separated workload names (default all)
  --quick             a few iterations only (a smoke run)
  --json              print one JSON object instead of the table`,
    options: {
      policies: { type: 'string', default: POLICIES.join(',') },
      workloads: { type: 'string' },
      quick: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
    async run(v) {
      const report = await runBench({
        policies: (v.policies as string).split(',').filter(Boolean),
        workloads: typeof v.workloads === 'string' ? v.workloads.split(',').filter(Boolean) : undefined,
        quick: v.quick === true,
        progress: process.stderr.isTTY ? (line) => process.stderr.write(`\r\x1b[K… ${line}`) : null,
      });
      if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
      process.stdout.write(v.json ? JSON.stringify(report, null, 2) + '\n' : formatReport(report) + '\n');
      return 0;
    },
  },
};

function mainHelp(): string {
  const width = Math.max(...Object.keys(SUBCOMMANDS).map((k) => k.length));
  return `rumpus — driver components under any kernel policy

usage: rumpus COMMAND [OPTIONS]

commands:
${Object.entries(SUBCOMMANDS).map(([k, c]) => `  ${k.padEnd(width)}  ${c.summary}`).join('\n')}

'rumpus COMMAND --help' describes a command.
`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(mainHelp());
    return name === undefined ? 2 : 0;
  }
  const cmd = Object.hasOwn(SUBCOMMANDS, name) ? SUBCOMMANDS[name] : undefined;
  if (!cmd) {
    process.stderr.write(`rumpus: unknown command '${name}'\n${mainHelp()}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`usage: ${cmd.usage}\n\n${cmd.help}\n`);
    return 0;
  }
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: cmd.options, allowPositionals: true, strict: true });
  } catch (err) {
    process.stderr.write(`rumpus ${name}: ${(err as Error).message}\nusage: ${cmd.usage}\n`);
    return 2;
  }
  try {
    return await cmd.run(parsed.values as Values, parsed.positionals);
  } catch (err) {
    if (!(err instanceof SysError)) throw err;
    process.stderr.write(`rumpus ${name}: ${err.message || strerror(err.errno)}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
