// The shell: runs scripts (from -c, a pipe, or a terminal) against one client process of a
// booted kernel. Redirections open files inside the kernel; the host is never touched. Each
// stage of a pipeline (`a | b`) runs in a client process of its own, the stages joined by
// pipes in the kernel (pipeline.ts).

import { createInterface } from 'node:readline';
import { O_APPEND, O_CREAT, O_TRUNC, O_WRONLY, SysError, fromByteString, type KernelControl, type Proc } from '../../kernel/index.js';
import { runCommand, type Io, type ShellState } from './commands.js';
import { ParseError, parse, type Command, type Stage } from './parse.js';
import { runPipeline, type StageIo } from './pipeline.js';
import { BROKEN_PIPE_STATUS, OutputFailed, problem } from '../stdio.js';

export interface Terminal {
  /** Writes to standard output; a promise it returns (waiting for the reader, or rejecting with OutputFailed) is awaited. */
  stdout(text: string | Uint8Array): unknown;
  stderr(text: string): void;
}

export class Shell {
  private readonly state: ShellState;
  /** Status of the last command run. */
  status = 0;
  private panicShown = false;

  /** `control` is the kernel `p` belongs to, local (localControl) or a server's (connectKernel). */
  constructor(control: KernelControl, p: Proc, private readonly term: Terminal) {
    this.state = { control, p, exitCode: null, show: (path) => path };
  }

  /** Set once `exit` ran: the status the shell exits with. */
  get exitCode(): number | null {
    return this.state.exitCode;
  }

  /** Runs a script; returns the status of its last command. */
  async run(script: string): Promise<number> {
    let commands: Command[];
    try {
      commands = parse(script);
    } catch (err) {
      if (!(err instanceof ParseError)) throw err;
      this.term.stderr(`sh: syntax error: ${err.message}\n`);
      return (this.status = 2);
    }
    for (const c of commands) {
      if (this.state.exitCode !== null) break;
      if ((c.join === '&&' && this.status !== 0) || (c.join === '||' && this.status === 0)) continue;
      this.status = await this.runOne(c);
      const panic = this.panicShown ? null : await this.panicReport();
      if (panic !== null) {
        this.panicShown = true;
        this.term.stderr(`rumpus: kernel panic: ${panic}\n`);
      }
    }
    return this.status;
  }

  /**
   * The kernel's panic report, or null. A server may not tell a client without an admin token
   * (EPERM), or may be gone: then the shell has nothing to add to what its commands said.
   */
  private async panicReport(): Promise<string | null> {
    try {
      return await this.state.control.panicked();
    } catch (err) {
      if (!(err instanceof SysError)) throw err;
      return null;
    }
  }

  /** Reads commands line by line from a stream; prompts when it is a terminal. */
  async interact(input: NodeJS.ReadableStream & { isTTY?: boolean }, prompt = 'rumpus$ '): Promise<number> {
    // A script that is not typed is read as bytes (one char per byte) and each line taken in
    // client form, so that bytes that are not UTF-8 reach the kernel as they are.
    if (!input.isTTY) input.setEncoding('latin1');
    const rl = createInterface({ input, output: input.isTTY ? process.stdout : undefined, terminal: input.isTTY === true });
    rl.setPrompt(prompt);
    if (input.isTTY) rl.prompt();
    for await (const line of rl) {
      await this.run(input.isTTY ? line : fromByteString(line));
      if (this.state.exitCode !== null) break;
      if (input.isTTY) rl.prompt();
    }
    rl.close();
    return this.state.exitCode ?? this.status;
  }

  private runOne(c: Command): Promise<number> {
    if (c.piped.length === 0) return this.runStage(c, this.state, {});
    return runPipeline(this.state, [c, ...c.piped], (stage, state, pipeIo) => this.runStage(stage, state, pipeIo), this.term.stderr);
  }

  /**
   * Runs one command in state.p with its redirections; without them, its standard input and
   * output are the pipes of `pipeIo` when it is a stage of a pipeline, else the terminal's.
   */
  private async runStage(c: Stage, state: ShellState, pipeIo: StageIo): Promise<number> {
    const { p } = state;
    let outFd: number | null = null;
    let stdin: Uint8Array | null = null;
    let failing = '';
    let outPath = '';
    try {
      for (const r of c.redirects) {
        failing = r.path;
        if (r.op === '<') {
          stdin = await p.readFile(r.path);
          continue;
        }
        if (outFd !== null) await p.close(outFd);
        outFd = await p.open(r.path, O_WRONLY | O_CREAT | (r.op === '>>' ? O_APPEND : O_TRUNC), 0o666);
        outPath = r.path;
      }
    } catch (err) {
      if (outFd !== null) await p.close(outFd).catch(() => {});
      if (!(err instanceof SysError)) throw err;
      this.term.stderr(`sh: ${failing}: ${problem(err)}\n`);
      return 1;
    }
    const fd = outFd;
    const encoder = new TextEncoder();
    const io: Io = {
      out: async (text) => {
        const bytes = typeof text === 'string' ? encoder.encode(text) : text;
        if (fd !== null) {
          // A failed write names the file written to, never one of the command's operands.
          await p.writeAll(fd, bytes).catch((err: unknown) => {
            throw err instanceof SysError ? OutputFailed.ofFile(outPath, err) : err;
          });
        }
        else if (pipeIo.out) await pipeIo.out(bytes);
        else await this.term.stdout(text);
      },
      err: (text) => this.term.stderr(text),
      stdin: stdin ?? (pipeIo.stdin ? await pipeIo.stdin() : null),
    };
    try {
      return await runCommand(state, c.argv, io);
    } catch (err) {
      // Standard output failed: this command stops (quietly when the reader has gone), the script goes on.
      if (err instanceof OutputFailed) {
        if (err.broken) return BROKEN_PIPE_STATUS;
        this.term.stderr(`${c.argv[0]}: ${err.message}\n`);
        return 1;
      }
      if (!(err instanceof SysError)) throw err;
      this.term.stderr(`${c.argv[0]}: ${problem(err)}\n`);
      return 1;
    } finally {
      if (fd !== null) await p.close(fd).catch(() => {});
    }
  }
}
