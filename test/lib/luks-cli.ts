// The LUKS commands' tests share these: a fixture directory with key files, cryptsetup (the
// oracle), containers cryptsetup makes with an ext2 file system inside, and `rumpus` run on a
// pseudo-terminal (util-linux's `script`) or with no controlling terminal at all.

import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { e2fsprogsTool } from '../../bench/e2fsprogs.js';
import { RUMPUS, runRumpus, type CliRun } from './cli.js';
import { tempDir } from './e2fs.js';

export const CRYPTSETUP = e2fsprogsTool('cryptsetup');
export const SCRIPT = e2fsprogsTool('script');
/** For t.plan(0, …) when the oracle is missing. */
export const NO_CRYPTSETUP = 'cryptsetup is not installed (apt-get install cryptsetup-bin): it is the oracle of these tests';

/**
 * Key files: key.txt ends in a newline (part of the passphrase, as for cryptsetup); typed.txt
 * has none (what a terminal gives: the line typed without its newline); new.txt another
 * passphrase; wrong.txt is key.txt without its newline, so not the same bytes.
 */
export const PASSPHRASE = 'correct horse battery\n';

/** A fixture directory with the key files, and the commands run in it. */
export class LuksFixture {
  readonly dir = tempDir('rumpus-cli-luks-');

  constructor() {
    writeFileSync(this.at('key.txt'), PASSPHRASE);
    writeFileSync(this.at('typed.txt'), 'typed at a terminal');
    writeFileSync(this.at('new.txt'), 'a second passphrase');
    writeFileSync(this.at('wrong.txt'), PASSPHRASE.trimEnd());
  }

  at(name: string): string {
    return join(this.dir, name);
  }

  sha(name: string): string {
    return createHash('sha256').update(readFileSync(this.at(name))).digest('hex');
  }

  /** `rumpus ARGS…` (the built command) in the fixture directory. */
  rumpus(...args: string[]): Promise<CliRun> {
    return runRumpus(this.dir, args, 120_000);
  }

  /** cryptsetup ARGS…: its status and output. */
  cryptsetup(...args: string[]): { code: number; out: string } {
    const r = spawnSync(CRYPTSETUP!, args, { cwd: this.dir, encoding: 'utf8', timeout: 60_000 });
    return { code: r.status ?? 1, out: `${r.stdout}${r.stderr}` };
  }

  /** Whether cryptsetup opens `image` with the key file. */
  opens(image: string, keyFile: string): boolean {
    return this.cryptsetup('open', '--test-passphrase', '--key-file', keyFile, image).code === 0;
  }

  /** A 24 MiB container made by cryptsetup (LUKS2 argon2id, or LUKS1 pbkdf2), with an ext2 file system made inside by rumpus. */
  async cryptsetupContainer(name: string, keyFile: string, type: 'luks2' | 'luks1'): Promise<void> {
    writeFileSync(this.at(name), '');
    truncateSync(this.at(name), 24 << 20);
    const kdf = type === 'luks2' ? ['--pbkdf', 'argon2id', '--pbkdf-memory', '32768', '--pbkdf-force-iterations', '4'] : ['--pbkdf', 'pbkdf2', '--pbkdf-force-iterations', '1000'];
    const made = this.cryptsetup('luksFormat', '-q', '--type', type, ...kdf, '--key-file', keyFile, name);
    if (made.code !== 0) throw new Error(`cryptsetup luksFormat: ${made.out}`);
    const fs = await this.rumpus('mkfs', name, '--key-file', keyFile);
    if (fs.code !== 0) throw new Error(`rumpus mkfs inside ${name}: ${fs.stderr}`);
  }

  /**
   * Runs `rumpus ARGS…` on a pseudo-terminal (`script -qfec CMD /dev/null`, util-linux): types
   * each of `typed` (and Enter, '\r') when the terminal shows the next passphrase prompt.
   * Killed after 120 s. Its status, everything the terminal showed, and how many were typed.
   */
  onTerminal(args: string[], typed: string[]): Promise<{ code: number; screen: string; prompts: number }> {
    const quote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;
    const cmd = [process.execPath, RUMPUS, ...args].map(quote).join(' ');
    return new Promise((resolve) => {
      const child = spawn(SCRIPT!, ['-qfec', cmd, '/dev/null'], { cwd: this.dir, stdio: ['pipe', 'pipe', 'pipe'] });
      let screen = '';
      let prompts = 0;
      const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
      child.stdout.on('data', (b: Buffer) => {
        screen += b.toString('utf8');
        const seen = screen.match(/passphrase[^:\n]*: /gi)?.length ?? 0;
        while (prompts < seen && prompts < typed.length) child.stdin.write(`${typed[prompts++]}\r`);
      });
      child.stderr.on('data', (b: Buffer) => (screen += b.toString('utf8')));
      child.on('close', (code) => {
        clearTimeout(timer);
        child.stdin.destroy();
        resolve({ code: code ?? 1, screen, prompts });
      });
    });
  }

  /** Runs `rumpus ARGS…` in a session of its own (setsid), so with no controlling terminal to ask on. */
  withoutTerminal(args: string[]): Promise<CliRun> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [RUMPUS, ...args], { cwd: this.dir, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (b: Buffer) => (stdout += b));
      child.stderr.on('data', (b: Buffer) => (stderr += b));
      const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code: code ?? 1, stdout, stderr });
      });
    });
  }
}
