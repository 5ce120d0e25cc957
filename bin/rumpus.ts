#!/usr/bin/env node
// The rumpus command: parses arguments and hands each subcommand to kernel/ or bench/.

import { parseArgs } from 'node:util';
import { readFileSync, writeFileSync } from 'node:fs';
import { SysError, THREAD_TRANSPORTS, byteString, fromByteString, localControl, strerror } from '../kernel/index.js';
import { BENCH_POLICIES, VFS_IN_CLIENT } from '../bench/configs.js';
import { DEFAULT_WORKLOADS, WORKLOAD_GROUPS, runBench } from '../bench/index.js';
import { svgReport } from '../bench/svg.js';
import { formatReport } from '../bench/table.js';
import { CTL_SUBCOMMAND } from './ctl-command.js';
import { FAULTS_SUBCOMMAND } from './faults-command.js';
import { bootWithImages } from './image.js';
import { IMAGE_SUBCOMMANDS } from './image-commands.js';
import { KEY_HELP, Keys, keyOptions } from './keys.js';
import { imageName } from './image-name.js';
import { LUKS_SUBCOMMAND } from './luks-command.js';
import { PARTS_SUBCOMMAND } from './parts-command.js';
import { SERVE_SUBCOMMAND } from './serve-command.js';
import { Shell } from './shell/shell.js';
import { BROKEN_PIPE_STATUS, OutputFailed, describeUnexpected, guardStdio, outputFailure, writeErr, writeOut } from './stdio.js';
import {
  KERNEL_HELP, SERVER_HELP, UsageError, bootOptions, connectServer, kernelOptions, noServerHere, serverChoice, serverOptions, type Subcommand,
  type Values,
} from './subcommand.js';

const SUBCOMMANDS: Record<string, Subcommand> = {
  sh: {
    summary: 'a shell on a booted kernel',
    usage: 'rumpus sh [--policy P] [--image IMG [--key-file K]] [--server URL] [-c SCRIPT]',
    help: `Boots a kernel (tmpfs at / and /tmp, devices at /dev) and runs a shell in one client
process. Without -c it reads commands from standard input, with a prompt on a terminal.
Type 'help' in the shell for its commands; 'inject', 'faults', 'clear', 'ps' and 'dmesg'
arm faults and show how the supervisor deals with them. With a server (--server or
RUMPUS_SERVER) the shell runs in a client process of the server's kernel instead, each stage
of a pipeline in one more; 'inject', 'faults', 'clear', 'ps' and 'dmesg' then need an admin
token.

  -c SCRIPT           run SCRIPT (commands separated by ';' or newlines) and exit
  --image IMG         mount the ext2 image IMG at /mnt (not with a server: its mounts are used);
                      IMG@N mounts partition N of the disk image IMG; a LUKS container is opened with --key-file's key, or one asked for
${KEY_HELP}
${KERNEL_HELP}
${SERVER_HELP}`,
    options: { ...kernelOptions, ...serverOptions, ...keyOptions, c: { type: 'string', short: 'c' }, image: { type: 'string' } },
    async run(v) {
      const server = serverChoice(v);
      if (server && typeof v.image === 'string') throw new UsageError(`--image mounts an image in a kernel booted here; the server's mounts are its own ('mount' lists them)`);
      if (typeof v['key-file'] === 'string' && typeof v.image !== 'string') throw new UsageError('--key-file is the key of --image');
      if (v['key-file'] === '-' && typeof v.c !== 'string') throw new UsageError(`--key-file - reads standard input, which the shell reads its commands from without -c`);
      if (server && typeof v.faults === 'string') throw new UsageError(`--faults arms faults in a kernel booted here; in the shell, 'inject' arms them in the server's`);
      const script = typeof v.c === 'string' ? v.c : null;
      if (server) {
        const control = await connectServer(server);
        try {
          const p = await control.spawn();
          try {
            return await runShell(new Shell(control, p, { stdout: writeOut, stderr: writeErr }), script);
          } finally {
            await p.exit().catch(() => {});
          }
        } finally {
          await control.close();
        }
      }
      const images = [];
      if (typeof v.image === 'string') {
        const { path, partition } = imageName(v.image);
        images.push({ image: v.image, mount: { target: '/mnt', fstype: 'ext2', source: path, partition, key: await Keys.of(v).keyFor(v.image) } });
      }
      const kernel = await bootWithImages(bootOptions(v), images);
      try {
        return await runShell(new Shell(localControl(kernel), await kernel.spawn(), { stdout: writeOut, stderr: writeErr }), script);
      } finally {
        await kernel.halt();
      }
    },
  },
  serve: SERVE_SUBCOMMAND,
  ctl: CTL_SUBCOMMAND,
  bench: {
    summary: 'what each boundary costs: workloads under each policy, with baselines',
    usage: 'rumpus bench [--policies LIST] [--workloads LIST] [--quick] [--busy] [--json] [--report FILE.svg]',
    help: `Boots each policy in turn (microkernel once per thread transport: ${THREAD_TRANSPORTS.join(', ')}),
runs the workloads through client processes, and prints p50/p99/mean latency, throughput and
CPU per operation, with each p50's ratio to monolithic. In the same run it measures what bare
boundaries cost (in-process async call, worker postMessage, piscina.run, child_process IPC),
starting bare threads and processes, each policy's boot time, and the CPU of an idle
microkernel system. The ext2 and ext4 workloads (--workloads ext2, ext4 or all) also run
through the ext2fs package, the peer. The cgd workloads (--workloads cgd or all) run once,
apart from --policies: block I/O through cgd with its cipher in main, in a thread and in a
pool, against plain blk.
See bench/README.md for every workload and the JSON shape.

  --policies LIST     comma-separated policies or placement files (default
                      ${BENCH_POLICIES.join(',')}); POLICY:TRANSPORT picks one thread
                      transport (microkernel:ring); ${VFS_IN_CLIENT}: vfs in main with
                      the clients, the rest in threads as under microkernel
  --workloads LIST    comma-separated workload names or groups (default ${DEFAULT_WORKLOADS.join(',')}):
                      kernel: ${WORKLOAD_GROUPS.kernel.join(', ')}
                      ext2: ${WORKLOAD_GROUPS.ext2.join(', ')}
                      ext4: ${WORKLOAD_GROUPS.ext4.join(', ')}
                      remote: ${WORKLOAD_GROUPS.remote.join(', ')}
                      cgd: ${WORKLOAD_GROUPS.cgd.join(', ')}
                      concurrency: ${WORKLOAD_GROUPS.concurrency.join(', ')}
                      tree: ${WORKLOAD_GROUPS.tree.join(', ')} (minutes; not in the default)
                      all: every group
  --quick             a smoke run of seconds: few iterations, small files, short idle
  --busy              also run the kernel workloads under monolithic and microkernel
                      with a CPU-bound process per core beside the bench (the busy
                      machine), each microkernel/monolithic ratio against the quiet one
  --json              print one JSON object instead of the table
  --report FILE.svg   also draw p50 latency per workload and policy as an SVG chart
  --server URL        not used (said on stderr): bench boots the kernels it measures`,
    options: {
      ...serverOptions,
      policies: { type: 'string', default: BENCH_POLICIES.join(',') },
      workloads: { type: 'string' },
      quick: { type: 'boolean', default: false },
      busy: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      report: { type: 'string' },
    },
    async run(v) {
      noServerHere(v, 'bench', 'it boots the kernels it measures, here', writeErr);
      const list = (s: unknown) => (typeof s === 'string' ? s.split(',').filter(Boolean) : undefined);
      const tty = process.stderr.isTTY;
      process.env.RUMPUS_LOG ??= 'error'; // the recovery measurement crashes components on purpose
      const report = await runBench({
        policies: list(v.policies)!,
        workloads: list(v.workloads),
        quick: v.quick === true,
        busy: v.busy === true,
        progress: tty ? (line) => process.stderr.write(`\r\x1b[K… ${line}`) : null,
      });
      if (tty) process.stderr.write('\r\x1b[K');
      if (typeof v.report === 'string') writeFileSync(v.report, svgReport(report));
      process.stdout.write(v.json ? JSON.stringify(report, null, 2) + '\n' : formatReport(report) + '\n');
      return 0;
    },
  },
  faults: FAULTS_SUBCOMMAND,
  ...IMAGE_SUBCOMMANDS,
  luks: LUKS_SUBCOMMAND,
  parts: PARTS_SUBCOMMAND,
};

/** Runs a script (-c), or reads commands from standard input; the shell's exit status. */
async function runShell(shell: Shell, script: string | null): Promise<number> {
  if (script === null) return shell.interact(process.stdin);
  const status = await shell.run(script);
  return shell.exitCode ?? status;
}

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
    parsed = cmd.ownArgs ? { values: {}, positionals: rest } : parseArgs({ args: rest, options: cmd.options, allowPositionals: true, strict: true });
  } catch (err) {
    process.stderr.write(`rumpus ${name}: ${(err as Error).message}\nusage: ${cmd.usage}\n`);
    return 2;
  }
  try {
    return await cmd.run(parsed.values as Values, parsed.positionals);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`rumpus ${name}: ${err.message}\nusage: ${cmd.usage}\n`);
      return 2;
    }
    if (err instanceof OutputFailed && err.broken) return BROKEN_PIPE_STATUS;
    if (err instanceof SysError || err instanceof OutputFailed) {
      writeErr(`rumpus ${name}: ${err.message || strerror((err as SysError).errno)}\n`);
    } else {
      writeErr(`rumpus ${name}: ${describeUnexpected(err)}\n`);
    }
    return 1;
  }
}

/** The last resort, for what escapes every command (a bug, an error event no one listens to): one line, status 1. */
function lastResort(err: unknown): void {
  if (err instanceof OutputFailed && err.broken) process.exit(BROKEN_PIPE_STATUS);
  writeErr(`rumpus: ${describeUnexpected(err)}\n`);
  process.exit(1);
}

guardStdio();
process.on('uncaughtException', lastResort);
process.on('unhandledRejection', lastResort);
// Output written straight to process.stdout (help, reports) may fail after main returned, for
// another reason than a gone reader: said here, as the last thing.
process.on('exit', () => {
  const failed = outputFailure();
  if (failed && !failed.broken && !process.exitCode) {
    writeErr(`rumpus: ${failed.message}\n`);
    process.exitCode = 1;
  }
});
/**
 * The command's arguments with their exact bytes, in client form (kernel/names.ts). Node decodes
 * argv as UTF-8, a byte that is not part of valid UTF-8 becoming U+FFFD, so a name that `ls`
 * showed escaped could not be given back; Linux keeps the bytes in /proc/self/cmdline, whose
 * last entries are these arguments. Where that file is missing, or does not end with what Node
 * decoded, Node's argv it is.
 */
function commandArgs(): string[] {
  const decoded = process.argv.slice(2);
  let cmdline: Buffer;
  try {
    cmdline = readFileSync('/proc/self/cmdline');
  } catch {
    return decoded;
  }
  const raw: Buffer[] = [];
  for (let at = 0; at < cmdline.length; ) {
    const end = cmdline.indexOf(0, at);
    raw.push(cmdline.subarray(at, end < 0 ? cmdline.length : end));
    at = end < 0 ? cmdline.length : end + 1;
  }
  const tail = raw.slice(raw.length - decoded.length);
  if (tail.length !== decoded.length || tail.some((b, i) => b.toString('utf8') !== decoded[i])) return decoded;
  return tail.map((b) => fromByteString(byteString(b)));
}

process.exitCode = await main(commandArgs());
