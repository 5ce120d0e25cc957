// One client of the load run: a seeded mix of create + write + fsync, read back and verify,
// rename, unlink, mkdir, readdir and stat in its own directory, through any Proc (a remote one
// in the load run). Every call must end in a value or an errno within a deadline; anything
// else is a failure. The client keeps a ledger of what fsync acknowledged — and every name a
// file may have, since a rename or unlink that was answered but not yet committed may be undone
// by a component's crash — so that the image can be checked once the server is gone.

import { O_CREAT, O_TRUNC, O_WRONLY, isErrno, type Proc } from '../kernel/index.js';
import { seededRandom } from '../kernel/faults.js';

/** A file whose content an fsync acknowledged. */
export interface AckedFile {
  data: Uint8Array;
  /** Every name it may have now, the likeliest first. */
  names: string[];
  /** Unlinked (or an unlink was tried): it may be gone, but if it is there its content is whole. */
  mayBeGone: boolean;
  /** Times it was read back whole while the server ran. */
  verified: number;
  /** It read back wrong once: left alone from then on, so that the image check sees it too. */
  evidence: boolean;
}

/** What all clients saw: calls by outcome, failures in words. */
export interface LoadTally {
  calls: number;
  ok: number;
  /** Calls that failed with an errno, by errno. */
  errnos: Record<string, number>;
  /** Calls that hung past the deadline, threw something that is not an errno, or read back wrong. */
  failures: string[];
}

export function newTally(): LoadTally {
  return { calls: 0, ok: 0, errnos: {}, failures: [] };
}

/** Thrown through a client's loop when a call fails with an errno: the loop goes on. */
class Errno {
  constructor(readonly code: string) {}
}

export class LoadClient {
  readonly acked: AckedFile[] = [];
  private readonly rand: () => number;
  private seq = 0;
  private made = false;

  /**
   * @param p  the client process
   * @param dir  its own directory (made by the client), absolute
   * @param deadlineMs  how long one call may take before it counts as a hang
   */
  constructor(readonly p: Proc, readonly dir: string, seed: number, private readonly tally: LoadTally, private readonly deadlineMs: number) {
    this.rand = seededRandom(seed);
  }

  /** One call: its value, or an Errno thrown; a hang or a non-errno is recorded as a failure. */
  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    this.tally.calls++;
    let timer: NodeJS.Timeout | undefined;
    const hang = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${this.deadlineMs} ms`)), this.deadlineMs);
    });
    try {
      const v = await Promise.race([fn(), hang]);
      this.tally.ok++;
      return v;
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (err instanceof Error && err.name === 'SysError' && isErrno(code)) {
        this.tally.errnos[code] = (this.tally.errnos[code] ?? 0) + 1;
        throw new Errno(code);
      }
      this.tally.failures.push(`${this.dir}: ${what}: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
      throw new Errno('failure');
    } finally {
      clearTimeout(timer);
    }
  }

  /** Runs the mix until `until` (a Date.now() value); never throws. */
  async run(until: number): Promise<void> {
    while (Date.now() < until && this.tally.failures.length < 100) {
      try {
        await this.step();
      } catch (err) {
        if (!(err instanceof Errno)) this.tally.failures.push(`${this.dir}: ${String(err)}`);
      }
    }
  }

  private pickAcked(): AckedFile | undefined {
    const live = this.acked.filter((f) => !f.mayBeGone && !f.evidence);
    return live[Math.floor(this.rand() * live.length)];
  }

  private async step(): Promise<void> {
    const { p, dir } = this;
    if (!this.made) {
      await this.call('mkdir', () => p.mkdir(dir, { recursive: true }));
      this.made = true;
    }
    const x = this.rand();
    const f = this.pickAcked();
    if (x < 0.25 || !f) return this.createFile();
    if (x < 0.5) return this.verify(f);
    if (x < 0.62) {
      const to = `${dir}/r${this.seq++}`;
      f.names.push(to); // whatever the answer, it may be there now
      await this.call('rename', () => p.rename(f.names[0], to));
      f.names.unshift(f.names.pop()!);
      return;
    }
    if (x < 0.8) {
      // Nearly as many unlinks as creates, so that a long run does not fill the image.
      f.mayBeGone = true;
      await this.call('unlink', () => p.unlink(f.names[0]));
      return;
    }
    if (x < 0.87) {
      await this.call('mkdir', () => p.mkdir(`${dir}/d${this.seq++}`));
      return;
    }
    if (x < 0.94) {
      await this.call('readdir', () => p.readdir(dir));
      return;
    }
    await this.call('stat', () => p.stat(f.names[0]));
  }

  /** create, write, fsync, close: on fsync's success the content is acknowledged. */
  private async createFile(): Promise<void> {
    const { p } = this;
    const name = `${this.dir}/f${this.seq++}`;
    const size = Math.floor(this.rand() * 16384);
    const data = Uint8Array.from({ length: size }, (_, i) => (i * 131 + size + this.seq) & 0xff);
    const fd = await this.call('open', () => p.open(name, O_WRONLY | O_CREAT | O_TRUNC, 0o644));
    try {
      await this.call('write', () => p.writeAll(fd, data));
      await this.call('fsync', () => p.fsync(fd));
      this.acked.push({ data, names: [name], mayBeGone: false, verified: 0, evidence: false });
    } finally {
      await this.call('close', () => p.close(fd)).catch(() => {});
    }
  }

  /** Reads an acknowledged file back from whichever of its names has it; content must match. */
  private async verify(f: AckedFile): Promise<void> {
    const back = await readAny(f.names, (n) => this.call('read', () => this.p.readFile(n)), (e) => e instanceof Errno && e.code === 'ENOENT');
    if (back === null || Buffer.compare(back, f.data) !== 0) f.evidence = true;
    if (back === null) {
      this.tally.failures.push(`${f.names[0]}: acknowledged by fsync, but no name of it exists`);
    } else if (Buffer.compare(back, f.data) !== 0) {
      const size = await this.p.stat(f.names[0]).then((st) => `stat says ${st.size}`, (err: Error) => `stat: ${err.message}`);
      this.tally.failures.push(`${f.names[0]}: acknowledged by fsync, but reads back different (${back.length} bytes, ${f.data.length} written, ${size}; read back whole ${f.verified} times before)`);
    } else {
      f.verified++;
    }
  }
}

/** The content at the first of `names` that exists; null when none does (as `absent` says). */
export async function readAny(names: string[], read: (name: string) => Promise<Uint8Array>, absent: (err: unknown) => boolean): Promise<Uint8Array | null> {
  for (const n of names) {
    try {
      return await read(n);
    } catch (err) {
      if (!absent(err)) throw err;
    }
  }
  return null;
}

/** Checks every client's ledger against a process of a kernel that has the image mounted: bytes lost, and what. */
export async function ackedBytesLost(p: Proc, ledgers: AckedFile[][]): Promise<{ lost: number; what: string[] }> {
  let lost = 0;
  const what: string[] = [];
  for (const f of ledgers.flat()) {
    const back = await readAny(f.names, (n) => p.readFile(n), (err) => (err as { code?: unknown }).code === 'ENOENT').catch((err: Error) => {
      what.push(`${f.names[0]}: ${err.message}`);
      return null;
    });
    if (back === null ? !f.mayBeGone : Buffer.compare(back, f.data) !== 0) {
      lost += f.data.length;
      if (what.length < 20) what.push(`${f.names[0]}: ${back === null ? 'missing' : 'content differs'}`);
    }
  }
  return { lost, what };
}
