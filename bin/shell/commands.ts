// The shell's commands. Each runs against a client process of the kernel and prints the POSIX
// way: output to stdout, `cmd: path: strerror` to stderr, status 0 only when all went well.

import {
  FAULT_HELP, FAULT_TYPES, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFMT, SysError, bytesOf, describeFault, displayName, fileTypeOf, makedev,
  strerror, toByteString,
  type FaultSpec, type KernelControl, type Proc, type Stat,
} from '../../kernel/index.js';
import { basename, copyOperands, copyTree, join } from '../copy.js';
import { kernelTree, usableNames } from '../files.js';
import { dfTable, longListing, statBlock, type LongEntry } from '../format.js';
import { shownImage } from '../image-name.js';
import { problem } from '../stdio.js';

export interface Io {
  /** Standard output; may go to a file in the kernel. */
  out(text: string | Uint8Array): Promise<void>;
  err(text: string): void;
  /** Standard input, when '<' gave one. */
  stdin: Uint8Array | null;
}

/** What the control commands (ps, inject, faults, clear, dmesg) need: the kernel, local or remote. */
export interface ControlState {
  control: KernelControl;
}

export interface ShellState extends ControlState {
  p: Proc;
  /** Set by exit. */
  exitCode: number | null;
  /** A path as messages and listings name it: as typed in the shell, as IMAGE:PATH in the image commands. */
  show(path: string): string;
  /** A mount's source (and partition) as df shows it: as the user named the image in the image commands; SOURCE or SOURCE@N without this. */
  showSource?(source: string, partition?: number): string;
}

export interface CommandDef<S = ShellState> {
  usage: string;
  summary: string;
  run(s: S, args: string[], io: Io): Promise<number>;
}

class UsageError extends Error {}

/** Splits leading '-abc' flags off the arguments; anything not in `allowed` is a usage error. */
function flags(args: string[], allowed: string): { set: Set<string>; rest: string[] } {
  const set = new Set<string>();
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i];
    if (a === '--') {
      i++;
      break;
    }
    if (!a.startsWith('-') || a === '-') break;
    for (const c of a.slice(1)) {
      if (!allowed.includes(c)) throw new UsageError(`invalid option -- '${c}'`);
      set.add(c);
    }
  }
  return { set, rest: args.slice(i) };
}

const isDir = (st: Stat) => (st.mode & S_IFMT) === S_IFDIR;

/** `cmd: shown-path: strerror`, for problems a command reports and goes on from. */
function reporter(cmd: string, io: Io): (shown: string, err: SysError) => void {
  return (shown, err) => io.err(`${cmd}: ${shown}: ${problem(err)}\n`);
}

/**
 * Runs fn for each operand, printing `cmd: operand: strerror` for failures; the exit status. fn
 * returns false for a failure it has reported itself.
 */
async function each(s: ShellState, cmd: string, io: Io, operands: string[], fn: (x: string) => Promise<void | boolean>): Promise<number> {
  let status = 0;
  for (const x of operands) {
    try {
      if ((await fn(x)) === false) status = 1;
    } catch (err) {
      if (!(err instanceof SysError)) throw err;
      io.err(`${cmd}: ${s.show(x)}: ${problem(err)}\n`);
      status = 1;
    }
  }
  return status;
}

/**
 * Removes a tree: path and, when it is a directory, everything below it. Each problem is
 * reported (the path as `s.show` shows it) and the rest still removed; a name the directory
 * lists that cannot be a file name is never acted on. True when everything is gone.
 */
async function removeTree(s: ShellState, path: string, report: (shown: string, err: SysError) => void, depth = 0): Promise<boolean> {
  try {
    if (!isDir(await s.p.lstat(path))) {
      await s.p.unlink(path);
      return true;
    }
    if (depth > 256) throw new SysError('ELOOP', `${path}: too deep`);
    let ok = true;
    const names = usableNames(s.show(path), (await s.p.readdir(path)).map((e) => e.name), (x, err) => {
      report(x, err);
      ok = false;
    });
    for (const name of names) ok = (await removeTree(s, join(path, name), report, depth + 1)) && ok;
    await s.p.rmdir(path);
    return ok;
  } catch (err) {
    if (!(err instanceof SysError)) throw err;
    report(s.show(path), err);
    return false;
  }
}

/**
 * ls's lines for names in dir, or for operands (dir ''), which are shown as the user named them;
 * with `subdirs`, also the paths of the directories among them. Like GNU ls, a name that cannot
 * be looked at (lstat, readlink) is reported through `report` and the rest listed (a long
 * listing leaves it out). Without -l or -R nothing is looked at. Names (and symlink targets) are
 * in their display form, escaped as GNU ls does when not printable UTF-8.
 */
async function listing(
  s: ShellState, dir: string, names: string[], opts: { long: boolean; subdirs: boolean }, report: (shown: string, err: SysError) => void,
): Promise<{ lines: string[]; subdirs: string[] }> {
  const shown = (name: string) => displayName(dir === '' ? s.show(name) : name);
  if (!opts.long && !opts.subdirs) return { lines: names.map(shown), subdirs: [] };
  const entries: LongEntry[] = [];
  const subdirs: string[] = [];
  for (const name of names) {
    const path = dir === '' ? name : join(dir, name);
    try {
      const st = await s.p.lstat(path);
      const target = opts.long && fileTypeOf(st.mode) === 'lnk' ? displayName(await s.p.readlink(path)) : undefined;
      entries.push({ name: shown(name), st, target });
      if (opts.subdirs && isDir(st) && name !== '.' && name !== '..') subdirs.push(path);
    } catch (err) {
      if (!(err instanceof SysError)) throw err;
      report(s.show(path), err);
    }
  }
  return { lines: opts.long ? longListing(entries) : names.map(shown), subdirs };
}

/** A usage error for a command that takes no operands and was given some. */
function noOperands(command: string, args: string[]): void {
  if (args.length > 0) throw new UsageError(`takes no arguments, got '${args[0]}'`);
}

/**
 * The commands that look at and steer the kernel itself rather than files: the shell's, and
 * `rumpus ctl`'s (bin/ctl-command.ts) with a server's kernel.
 */
export const CONTROL_COMMANDS: Record<string, CommandDef<ControlState>> = {
  ps: {
    usage: 'ps',
    summary: 'the kernel\'s domains: kind (a pool: pool/WORKERS), id (a pool: its workers\' thread ids), status, restarts, uptime, components',
    async run(s, args, io) {
      noOperands('ps', args);
      const rows = (await s.control.ps()).map((d) => [
        d.name, d.workers === undefined ? d.kind : `${d.kind}/${d.workers}`, d.threads === undefined ? String(d.id) : d.threads.join(',') || '-', d.status, String(d.restarts), formatUptime(d.uptimeMs), d.components.join(','),
      ]);
      await io.out(columns([['DOMAIN', 'KIND', 'ID', 'STATUS', 'RESTARTS', 'UPTIME', 'COMPONENTS'], ...rows]));
      return 0;
    },
  },
  inject: {
    usage: 'inject COMPONENT TYPE [--after N] [--op OP] [--prob P --seed S] [--count K] [--ms MS --jitter J] [--errno E]',
    summary: `arm a fault: ${FAULT_TYPES.join(', ')}`,
    async run(s, args, io) {
      const [component, type, ...rest] = args;
      if (!component || !type) throw new UsageError('needs COMPONENT and TYPE');
      const fault: Record<string, unknown> = { component, type };
      for (let i = 0; i < rest.length; i += 2) {
        const key = rest[i].replace(/^--/, '');
        const value = rest[i + 1];
        if (!rest[i].startsWith('--') || value === undefined) throw new UsageError(`expected --option VALUE, got '${rest[i]}'`);
        fault[key] = key === 'op' || key === 'errno' ? value : Number(value);
      }
      try {
        await s.control.inject(fault as unknown as FaultSpec);
      } catch (err) {
        if (!(err instanceof SysError && err.errno === 'EINVAL')) throw err;
        io.err(`inject: ${err.message}\n`);
        return 1;
      }
      await io.out(`armed: ${describeFault(fault as unknown as FaultSpec)} (${FAULT_HELP[type as FaultSpec['type']]})\n`);
      return 0;
    },
  },
  faults: {
    usage: 'faults',
    summary: 'list the armed faults',
    async run(s, args, io) {
      noOperands('faults', args);
      await io.out((await s.control.faults()).map((f) => describeFault(f) + '\n').join('') || 'no faults armed\n');
      return 0;
    },
  },
  clear: {
    usage: 'clear [COMPONENT]',
    summary: 'disarm the faults of one component, or of all',
    async run(s, args) {
      if (args.length > 1) throw new UsageError(`takes at most one COMPONENT, got '${args[1]}' too`);
      await s.control.clear(args[0]);
      return 0;
    },
  },
  dmesg: {
    usage: 'dmesg',
    summary: 'the supervisor\'s log: failures, restarts, faults armed, panics',
    async run(s, args, io) {
      noOperands('dmesg', args);
      const lines = (await s.control.dmesg()).map((e) => `[${(e.at / 1000).toFixed(3).padStart(10)}] ${e.kind}: ${e.domain} (${e.components.join(',')}): ${e.reason}\n`);
      await io.out(lines.join(''));
      return 0;
    },
  },
};

export const COMMANDS: Record<string, CommandDef> = {
  help: {
    usage: 'help [COMMAND]',
    summary: 'list the commands, or describe one',
    async run(_s, args, io) {
      if (args[0]) {
        const c = COMMANDS[args[0]];
        if (!c) {
          io.err(`help: no command '${args[0]}'\n`);
          return 1;
        }
        await io.out(`usage: ${c.usage}\n  ${c.summary}\n`);
        return 0;
      }
      const width = Math.max(...Object.values(COMMANDS).map((c) => c.usage.length));
      await io.out(Object.values(COMMANDS).map((c) => `  ${c.usage.padEnd(width)}  ${c.summary}\n`).join(''));
      return 0;
    },
  },
  exit: {
    usage: 'exit [STATUS]',
    summary: 'leave the shell',
    async run(s, args) {
      s.exitCode = args[0] === undefined ? 0 : Number.parseInt(args[0], 10) & 0xff;
      return s.exitCode;
    },
  },
  echo: {
    usage: 'echo [-n] [WORD…]',
    summary: 'print the words, then a newline (none with -n)',
    async run(_s, args, io) {
      const noNewline = args[0] === '-n';
      await io.out(args.slice(noNewline ? 1 : 0).join(' ') + (noNewline ? '' : '\n'));
      return 0;
    },
  },
  cat: {
    usage: 'cat [FILE…]',
    summary: 'print files (standard input without one)',
    async run(s, args, io) {
      if (args.length === 0) {
        if (io.stdin) await io.out(io.stdin);
        return 0;
      }
      return each(s, 'cat', io, args, async (path) => {
        const fd = await s.p.open(path);
        try {
          for (;;) {
            const chunk = await s.p.read(fd, 1 << 20);
            if (chunk.length === 0) break;
            await io.out(chunk);
          }
        } finally {
          await s.p.close(fd);
        }
      });
    },
  },
  ls: {
    usage: 'ls [-laR] [-d] [PATH…]',
    summary: 'list directories (-l long, -a with dot files, -R subdirectories too, -d the directory itself)',
    async run(s, args, io) {
      const { set, rest } = flags(args, 'ladR1');
      const paths = rest.length ? rest : ['.'];
      const files: string[] = [];
      const dirs: string[] = [];
      const status = await each(s, 'ls', io, paths, async (path) => {
        // Like ls(1): -l and -d show a symlink operand itself; otherwise it is followed.
        const st = set.has('l') || set.has('d')
          ? await s.p.lstat(path)
          : await s.p.stat(path).catch(async (err) => {
            if (err instanceof SysError && err.errno === 'ENOENT') return s.p.lstat(path); // a dangling symlink
            throw err;
          });
        (isDir(st) && !set.has('d') ? dirs : files).push(path);
      });
      let more = 0;
      const report = (shown: string, err: SysError) => {
        reporter('ls', io)(shown, err);
        more = 1;
      };
      const { lines } = await listing(s, '', files, { long: set.has('l'), subdirs: false }, report);
      if (lines.length) await io.out(lines.join('\n') + '\n');
      let nothingYet = lines.length === 0;
      const listDir = async (dir: string, depth: number): Promise<void> => {
        let subdirs: string[] = [];
        const failed = await each(s, 'ls', io, [dir], async () => {
          if (depth > 256) throw new SysError('ELOOP', `${dir}: too deep`);
          const listed = (await s.p.readdir(dir)).map((e) => e.name);
          let names = usableNames(s.show(dir), listed, report);
          if (set.has('a')) names = ['.', '..', ...names];
          else names = names.filter((n) => !n.startsWith('.'));
          names.sort();
          const out = await listing(s, dir, names, { long: set.has('l'), subdirs: set.has('R') }, report);
          const header = paths.length > 1 || set.has('R') ? `${nothingYet ? '' : '\n'}${displayName(s.show(dir))}:\n` : '';
          nothingYet = false;
          await io.out(header + out.lines.map((l) => l + '\n').join(''));
          subdirs = out.subdirs;
        });
        more |= failed;
        for (const sub of subdirs) await listDir(sub, depth + 1);
      };
      for (const dir of dirs) await listDir(dir, 0);
      return status | more;
    },
  },
  stat: {
    usage: 'stat FILE…',
    summary: 'show a file\'s inode: size, blocks, links, mode, owner, times',
    async run(s, args, io) {
      if (!args.length) throw new UsageError('missing operand');
      return each(s, 'stat', io, args, async (path) => {
        const st = await s.p.lstat(path);
        const target = fileTypeOf(st.mode) === 'lnk' ? await s.p.readlink(path) : undefined;
        await io.out(statBlock(s.show(path), st, target) + '\n');
      });
    },
  },
  mkdir: {
    usage: 'mkdir [-p] DIR…',
    summary: 'make directories (-p: with their parents, no error if they exist)',
    async run(s, args, io) {
      const { set, rest } = flags(args, 'p');
      if (!rest.length) throw new UsageError('missing operand');
      return each(s, 'mkdir', io, rest, (path) => s.p.mkdir(path, { recursive: set.has('p') }));
    },
  },
  rmdir: {
    usage: 'rmdir DIR…',
    summary: 'remove empty directories',
    async run(s, args, io) {
      if (!args.length) throw new UsageError('missing operand');
      return each(s, 'rmdir', io, args, (path) => s.p.rmdir(path));
    },
  },
  rm: {
    usage: 'rm [-rf] PATH…',
    summary: 'remove files (-r: directories and their contents, -f: no error if missing)',
    async run(s, args, io) {
      const { set, rest } = flags(args, 'rRf');
      if (!rest.length && !set.has('f')) throw new UsageError('missing operand');
      return each(s, 'rm', io, rest, async (path) => {
        try {
          const st = await s.p.lstat(path);
          if (!isDir(st)) return await s.p.unlink(path);
          if (!set.has('r') && !set.has('R')) throw new SysError('EISDIR', `${path} is a directory`);
          return await removeTree(s, path, reporter('rm', io));
        } catch (err) {
          if (!(set.has('f') && err instanceof SysError && err.errno === 'ENOENT')) throw err;
        }
      });
    },
  },
  mv: {
    usage: 'mv SOURCE… DEST',
    summary: 'rename or move files and directories (into DEST when it is a directory)',
    async run(s, args, io) {
      if (args.length < 2) throw new UsageError('missing operand');
      const dest = args[args.length - 1];
      const destIsDir = await s.p.stat(dest).then(isDir, () => false);
      if (args.length > 2 && !destIsDir) {
        io.err(`mv: target '${s.show(dest)}' is not a directory\n`);
        return 1;
      }
      return each(s, 'mv', io, args.slice(0, -1), async (src) => {
        const to = destIsDir ? join(dest, basename(src)) : dest;
        try {
          await s.p.rename(src, to);
        } catch (err) {
          if (!(err instanceof SysError && err.errno === 'EXDEV')) throw err;
          // Across mounts: copy, then remove the original, as mv(1) does.
          const tree = kernelTree(s.p);
          let failure: SysError | null = null;
          const ok = await copyTree(tree, src, tree, to, { recursive: true, preserveTimes: true, report: (_, e) => (failure ??= e) });
          if (!ok) throw failure ?? new SysError('EIO', 'copy failed');
          return removeTree(s, src, reporter('mv', io));
        }
      });
    },
  },
  cp: {
    usage: 'cp [-rp] SOURCE… DEST',
    summary: 'copy files (-r: directories too, symlinks as symlinks; -p: keep times)',
    async run(s, args, io) {
      const { set, rest } = flags(args, 'rRp');
      if (rest.length < 2) throw new UsageError('missing operand');
      const tree = kernelTree(s.p);
      const places = rest.map((path) => ({ tree, path }));
      const opts = { recursive: set.has('r') || set.has('R'), preserveTimes: set.has('p') };
      return copyOperands(places.slice(0, -1), places[places.length - 1], opts, (text) => io.err(text));
    },
  },
  ln: {
    usage: 'ln [-s] TARGET LINK',
    summary: 'make a hard link, or a symbolic link with -s',
    async run(s, args, io) {
      const { set, rest } = flags(args, 's');
      if (rest.length !== 2) throw new UsageError('needs TARGET and LINK');
      const [target, link] = rest;
      const to = await s.p.stat(link).then((st) => (isDir(st) ? join(link, basename(target)) : link), () => link);
      return each(s, 'ln', io, [to], () => (set.has('s') ? s.p.symlink(target, to) : s.p.link(target, to)));
    },
  },
  touch: {
    usage: 'touch FILE…',
    summary: 'create empty files, or set their times to now',
    async run(s, args, io) {
      if (!args.length) throw new UsageError('missing operand');
      return each(s, 'touch', io, args, async (path) => {
        const fd = await s.p.open(path, 'a');
        await s.p.close(fd);
        const now = Date.now();
        await s.p.utimes(path, now, now);
      });
    },
  },
  truncate: {
    usage: 'truncate -s SIZE FILE…',
    summary: 'set file sizes (creating missing files), cutting or extending with a hole',
    async run(s, args, io) {
      if (args[0] !== '-s' || args.length < 3) throw new UsageError('needs -s SIZE and a file');
      const size = parseSize(args[1]);
      if (size === null) throw new UsageError(`invalid size '${args[1]}'`);
      return each(s, 'truncate', io, args.slice(2), async (path) => {
        const fd = await s.p.open(path, 'a');
        try {
          await s.p.ftruncate(fd, size);
        } finally {
          await s.p.close(fd);
        }
      });
    },
  },
  chmod: {
    usage: 'chmod OCTAL-MODE FILE…',
    summary: 'change permission bits',
    async run(s, args, io) {
      if (args.length < 2 || !/^[0-7]{1,4}$/.test(args[0])) throw new UsageError('needs an octal mode and a file');
      const mode = Number.parseInt(args[0], 8);
      return each(s, 'chmod', io, args.slice(1), (path) => s.p.chmod(path, mode));
    },
  },
  umask: {
    usage: 'umask [OCTAL-MODE]',
    summary: 'print the file-mode creation mask, or set it',
    async run(s, args, io) {
      if (args.length > 1 || (args.length === 1 && !/^[0-7]{1,4}$/.test(args[0]))) throw new UsageError('needs at most one octal mode');
      if (args.length === 1) {
        await s.p.umask(Number.parseInt(args[0], 8));
        return 0;
      }
      const mask = await s.p.umask(0);
      await s.p.umask(mask);
      await io.out(mask.toString(8).padStart(4, '0') + '\n');
      return 0;
    },
  },
  mkfifo: {
    usage: 'mkfifo FILE…',
    summary: 'make FIFOs (named pipes), mode 0666 less the umask',
    async run(s, args, io) {
      if (!args.length) throw new UsageError('missing operand');
      return each(s, 'mkfifo', io, args, (path) => s.p.mkfifo(path));
    },
  },
  mknod: {
    usage: 'mknod FILE p|c|b [MAJOR MINOR]',
    summary: 'make a FIFO (p), or a character (c) or block (b) device node, mode 0666 less the umask',
    async run(s, args, io) {
      const [path, type, ...nums] = args;
      const mode = { p: S_IFIFO, c: S_IFCHR, b: S_IFBLK }[type as 'p' | 'c' | 'b'];
      const device = type === 'c' || type === 'b';
      if (!path || mode === undefined || nums.length !== (device ? 2 : 0) || !nums.every((n) => /^\d+$/.test(n))) {
        throw new UsageError('needs a file, a type p, c or b, and for c and b a major and a minor number');
      }
      const rdev = device ? makedev(Number(nums[0]), Number(nums[1])) : 0;
      return each(s, 'mknod', io, [path], (x) => s.p.mknod(x, mode | 0o666, rdev));
    },
  },
  chown: {
    usage: 'chown UID[:GID] FILE…',
    summary: 'change owner (and group) by number',
    async run(s, args, io) {
      const m = /^(\d+)(?::(\d+))?$/.exec(args[0] ?? '');
      if (!m || args.length < 2) throw new UsageError('needs UID[:GID] and a file');
      return each(s, 'chown', io, args.slice(1), async (path) => {
        const st = await s.p.stat(path);
        await s.p.chown(path, Number(m[1]), m[2] === undefined ? st.gid : Number(m[2]));
      });
    },
  },
  cd: {
    usage: 'cd [DIR]',
    summary: 'change the working directory (to / without DIR)',
    async run(s, args, io) {
      return each(s, 'cd', io, [args[0] ?? '/'], (path) => s.p.chdir(path));
    },
  },
  pwd: {
    usage: 'pwd',
    summary: 'print the working directory',
    async run(s, _args, io) {
      // Its exact bytes, as pwd(1) prints them: a string would turn bytes that are not UTF-8 into U+FFFD.
      await io.out(bytesOf(toByteString(`${await s.p.getcwd()}\n`)));
      return 0;
    },
  },
  df: {
    usage: 'df [PATH…]',
    summary: 'space used and free on each mounted file system (or the ones holding PATHs)',
    async run(s, args, io) {
      const mounts = await s.p.mounts();
      const targets = args.length ? args : mounts.map((m) => m.target);
      const rows: Parameters<typeof dfTable>[0] = [];
      const status = await each(s, 'df', io, targets, async (path) => {
        const st = await s.p.stat(path);
        const m = mounts.find((x) => x.dev === st.dev)!;
        rows.push({ source: s.showSource?.(m.source, m.partition) ?? shownImage(m.source, m.partition), target: s.show(m.target), fs: await s.p.statfs(path) });
      });
      await io.out(dfTable(rows).join('\n') + '\n');
      return status;
    },
  },
  mount: {
    usage: 'mount [-r] [-t TYPE SOURCE TARGET]',
    summary: 'list mounts, or mount a file system (ext2 needs a host image as SOURCE)',
    async run(s, args, io) {
      const { set, rest } = flags(args, 'rt');
      if (!rest.length && !set.has('t')) {
        const lines = (await s.p.mounts()).map((m) => `${shownImage(m.source, m.partition)} on ${m.target} type ${m.fstype} (${m.readonly ? 'ro' : 'rw'})\n`);
        await io.out(lines.join(''));
        return 0;
      }
      if (!set.has('t') || rest.length < 2 || rest.length > 3) throw new UsageError('needs -t TYPE [SOURCE] TARGET');
      const [type, ...where] = rest;
      const target = where[where.length - 1];
      const source = where.length === 2 ? where[0] : undefined;
      try {
        await s.p.mount(target, type, { source, readonly: set.has('r') });
      } catch (err) {
        if (!(err instanceof SysError)) throw err;
        // The file system's whole sentence: why it cannot mount SOURCE (not ext2, a LUKS container without a key …) is what the user needs.
        io.err(`mount: ${s.show(target)}: ${err.message || strerror(err.errno)}\n`);
        return 1;
      }
      return 0;
    },
  },
  umount: {
    usage: 'umount TARGET',
    summary: 'unmount a file system (syncing it)',
    async run(s, args, io) {
      if (args.length !== 1) throw new UsageError('needs TARGET');
      return each(s, 'umount', io, args, (path) => s.p.unmount(path));
    },
  },
  sync: {
    usage: 'sync',
    summary: 'commit every mounted file system to its device',
    async run(s) {
      await s.p.sync();
      return 0;
    },
  },
  ...CONTROL_COMMANDS,
};

function columns(rows: string[][]): string {
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(w[i])).join('  ').trimEnd() + '\n').join('');
}

function formatUptime(ms: number): string {
  const s = Math.floor(ms / 1000);
  return s < 60 ? `${(ms / 1000).toFixed(1)}s` : s < 3600 ? `${Math.floor(s / 60)}m${s % 60}s` : `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
}

/** '64M' → 67108864; plain numbers are bytes; K, M, G, T are powers of 1024. */
export function parseSize(text: string): number | null {
  const m = /^(\d+)([KMGT]?)(i?B)?$/i.exec(text);
  if (!m) return null;
  const unit = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 }[m[2].toUpperCase()]!;
  const n = Number(m[1]) * unit;
  return Number.isSafeInteger(n) ? n : null;
}

/** Runs one shell command; `usage` replaces the command's own usage line in usage errors. */
export function runCommand(s: ShellState, argv: string[], io: Io, usage?: string): Promise<number> {
  return runCommandIn(COMMANDS, s, argv, io, usage);
}

/**
 * Runs one command of `table` as the shell runs its own: `cmd: strerror` for an error, usage
 * errors with the usage line (`usage` instead of the command's own, when given), the status.
 */
export async function runCommandIn<S>(table: Record<string, CommandDef<S>>, s: S, argv: string[], io: Io, usage?: string): Promise<number> {
  const [name, ...args] = argv;
  const c = Object.hasOwn(table, name) ? table[name] : undefined;
  if (!c) {
    io.err(`sh: ${name}: command not found\n`);
    return 127;
  }
  try {
    return await c.run(s, args, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`${name}: ${err.message}\nusage: ${usage ?? c.usage}\n`);
      return 2;
    }
    if (err instanceof SysError) {
      io.err(`${name}: ${problem(err)}\n`);
      return 1;
    }
    throw err;
  }
}
