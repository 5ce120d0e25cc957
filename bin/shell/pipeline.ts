// Pipelines: `a | b | c`. Each stage runs in a client process of its own, with the shell's
// credentials, working directory and umask, and writes its standard output into a pipe the
// next stage reads as its standard input; the status is the last stage's. A pipe between two
// client processes is a FIFO in the kernel: the shell makes it in /tmp under a name of its
// own, both stages open it, and the shell unlinks the name at once. A stage's ends close when
// it is done, so the next one sees EOF and the one before it a broken pipe (it then stops
// quietly, as a program killed by SIGPIPE).

import { O_RDONLY, O_WRONLY, SysError, strerror, type Proc } from '../../kernel/index.js';
import { OutputFailed } from '../stdio.js';
import type { ShellState } from './commands.js';
import type { Stage } from './parse.js';

/** Where a pipeline stage's standard input and output go when no redirection says otherwise. */
export interface StageIo {
  /** Reads the pipe from the stage before, to its end. */
  stdin?: () => Promise<Uint8Array>;
  /** Writes into the pipe to the stage after; a reader that has gone is OutputFailed('EPIPE'). */
  out?: (data: Uint8Array) => Promise<void>;
}

/** Runs one stage in state.p with the pipes of `io`; its status. */
export type RunStage = (stage: Stage, state: ShellState, io: StageIo) => Promise<number>;

/** The directory the FIFOs of pipelines are made in. */
const PIPE_DIR = '/tmp';

/** Everything a stage's standard input holds, up to EOF (what was read before a failure, if one comes). */
async function readToEnd(p: Proc, fd: number): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  try {
    for (;;) {
      const chunk = await p.read(fd, 1 << 20);
      if (chunk.length === 0) break;
      parts.push(chunk);
    }
  } catch (err) {
    if (!(err instanceof SysError)) throw err;
  }
  return Buffer.concat(parts);
}

async function writeAll(p: Proc, fd: number, data: Uint8Array): Promise<void> {
  try {
    await p.writeAll(fd, data);
  } catch (err) {
    if (err instanceof SysError && err.errno === 'EPIPE') throw new OutputFailed('EPIPE', err.message);
    throw err;
  }
}

/** Names tried for one FIFO before giving up: another's file of that name is never touched. */
const FIFO_TRIES = 16;

/**
 * Makes the FIFO between stage i and the next in PIPE_DIR under a name no file has (mkfifo
 * fails with EEXIST on one that exists, and a new name is tried), and returns its path.
 */
async function makeFifo(p: Proc, i: number): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    const path = `${PIPE_DIR}/.sh-pipe-${p.pid}-${i}-${Math.random().toString(36).slice(2, 10)}`;
    try {
      await p.mkfifo(path, 0o600);
      return path;
    } catch (err) {
      if (!(err instanceof SysError && err.errno === 'EEXIST') || attempt + 1 >= FIFO_TRIES) throw err;
    }
  }
}

/**
 * Runs `stages` as a pipeline for the shell whose state is `shell`; the last stage's status, or
 * 1 when the pipeline could not be set up (said on stderr).
 */
export async function runPipeline(shell: ShellState, stages: Stage[], runStage: RunStage, stderr: (text: string) => void): Promise<number> {
  const { control, p } = shell;
  const procs: Proc[] = [];
  const running = new Set<Proc>();
  let fifo: string | null = null;
  try {
    const cwd = await p.getcwd();
    const mask = await p.umask(0);
    await p.umask(mask);
    for (let i = 0; i < stages.length; i++) {
      const q = await control.spawn({ uid: p.cred.uid, gid: p.cred.gid, groups: [...p.cred.groups] });
      procs.push(q);
      running.add(q);
      await q.chdir(cwd);
      await q.umask(mask);
    }
    const ends: { in?: number; out?: number }[] = stages.map(() => ({}));
    for (let i = 0; i + 1 < stages.length; i++) {
      fifo = await makeFifo(p, i);
      [ends[i].out, ends[i + 1].in] = await Promise.all([procs[i].open(fifo, O_WRONLY), procs[i + 1].open(fifo, O_RDONLY)]);
      await p.unlink(fifo);
      fifo = null;
    }
    const statuses = await Promise.all(stages.map(async (stage, i) => {
      const q = procs[i];
      const { in: inFd, out: outFd } = ends[i];
      try {
        return await runStage(stage, { ...shell, p: q, exitCode: null }, {
          stdin: inFd === undefined ? undefined : () => readToEnd(q, inFd),
          out: outFd === undefined ? undefined : (data) => writeAll(q, outFd, data),
        });
      } finally {
        running.delete(q);
        await q.exit(); // closes its ends of the pipes
      }
    }));
    return statuses[statuses.length - 1];
  } catch (err) {
    if (!(err instanceof SysError)) throw err;
    stderr(`sh: pipe: ${fifo ?? PIPE_DIR}: ${strerror(err.errno)}\n`);
    return 1;
  } finally {
    if (fifo !== null) await p.unlink(fifo).catch(() => {});
    for (const q of running) await q.exit().catch(() => {});
  }
}
