// rumpus ctl: looks at and steers the kernel of a running `rumpus serve`, as rumpctrl does a
// rump_server's — the shell's ps, dmesg, faults, inject and clear (their code, so the same
// output), and halt. Each needs an admin token; any other gets EPERM from the server.

import { CONTROL_COMMANDS, runCommandIn, type CommandDef, type ControlState, type Io } from './shell/commands.js';
import { writeErr, writeOut } from './stdio.js';
import { SERVER_HELP, UsageError, connectServer, serverChoice, type Subcommand, type Values } from './subcommand.js';

const terminal: Io = { out: writeOut, err: writeErr, stdin: null };

/** The shell's control commands, and halt. */
const CTL_COMMANDS: Record<string, CommandDef<ControlState>> = {
  ...CONTROL_COMMANDS,
  halt: {
    usage: 'halt',
    summary: 'halt the server: it unmounts its images, writing them back, and exits 0',
    async run(s, args) {
      if (args.length) throw new UsageError('halt takes no arguments');
      await s.control.halt();
      return 0;
    },
  },
};
const OPS = Object.keys(CTL_COMMANDS);

/**
 * --server URL and --token-file F (also as --server=URL) taken out of the arguments, wherever
 * they are: inject's own options (--after N, --op OP, …) are open-ended, so the rest is passed
 * on as it is.
 */
function serverArgs(args: string[]): { values: Values; rest: string[] } {
  const values: Values = {};
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const m = /^--(server|token-file)(?:=(.*))?$/.exec(args[i]);
    if (!m) {
      rest.push(args[i]);
      continue;
    }
    const value = m[2] ?? args[++i];
    if (value === undefined) throw new UsageError(`--${m[1]} needs a value`);
    values[m[1]] = value;
  }
  return { values, rest };
}

export const CTL_SUBCOMMAND: Subcommand = {
  summary: 'the kernel of a running rumpus serve: ps, dmesg, faults, inject, clear, halt',
  usage: 'rumpus ctl ps|dmesg|faults|inject COMPONENT TYPE [OPTIONS]|clear [COMPONENT]|halt [--server URL] [--token-file F]',
  help: `Looks at and steers the kernel of a running 'rumpus serve' (the server given by --server or
RUMPUS_SERVER), with the same output as the shell's commands of the same names. Each needs an
admin token; with any other the server refuses with EPERM.

  ps                  the server's domains: kind, id, status, restarts, uptime, components
  dmesg               the supervisor's log: failures, restarts, faults armed, panics
  faults              the armed faults
  inject COMPONENT TYPE [--after N] [--op OP] [--prob P --seed S] [--count K] [--ms MS --jitter J] [--errno E]
                      arm a fault, as the shell's inject
  clear [COMPONENT]   disarm the faults of one component, or of all
  halt                halt the server: it syncs, unmounts and exits 0
${SERVER_HELP}`,
  options: {},
  ownArgs: true,
  async run(_v, args) {
    const { values, rest } = serverArgs(args);
    const [op, ...opArgs] = rest;
    if (op === undefined) throw new UsageError(`needs one of ${OPS.join(', ')}`);
    if (!OPS.includes(op)) throw new UsageError(`unknown command '${op}' (known: ${OPS.join(', ')})`);
    const server = serverChoice(values);
    if (!server) throw new UsageError('no server: give --server URL or set RUMPUS_SERVER');
    const control = await connectServer(server);
    try {
      return await runCommandIn(CTL_COMMANDS, { control }, [op, ...opArgs], terminal, `rumpus ctl ${CTL_COMMANDS[op].usage}`);
    } finally {
      await control.close().catch(() => {});
    }
  },
};
