// The image commands: rumpus mkfs, and cp, ls, cat, mkdir, rm, mv, ln, stat, df, chmod and touch
// on IMAGE:PATH operands. Apart from mkfs and cp (whose operands may be host paths), each is the
// shell's own command, run on the images mounted in a fresh kernel with its operands translated
// to kernel paths and the paths in its messages translated back.

import { boot, type Kernel } from '../kernel/index.js';
import { copyOperands } from './copy.js';
import { hostTree } from './files.js';
import { IMAGE_OPERAND_HELP, imageOperand, parseImageOperand, withKernel } from './image.js';
import { imageName, shownImage } from './image-name.js';
import { KEY_HELP, Keys, isLuksImage, keyOptions } from './keys.js';
import { KDF_HELP, kdfFrom, kdfOptions, newPassphrase } from './luks-command.js';
import { parseSize, runCommand, type Io } from './shell/commands.js';
import { writeErr, writeOut } from './stdio.js';
import {
  KERNEL_HELP, SERVER_HELP, UsageError, bootOptions, kernelOptions, noServerHere, serverChoice, serverOptions, type Subcommand, type Values,
} from './subcommand.js';

const terminal: Io = { out: writeOut, err: writeErr, stdin: null };

interface ShellCommandSpec {
  /** The command's arguments, after its name. */
  usage: string;
  summary: string;
  /** What it does, for --help. */
  about: string;
  /** Its one-letter flags and what each means. */
  flags?: Record<string, string>;
  /** Whether it changes the images (then they are mounted read-write). */
  writes: boolean;
  /** How many leading operands are not image paths (chmod's mode, ln -s's target). */
  literals?(flags: Set<string>): number;
}

/** An image command that is the shell command of the same name. */
function shellCommand(name: string, spec: ShellCommandSpec): Subcommand {
  const flags = spec.flags ?? {};
  const usage = `rumpus ${name} ${spec.usage}`;
  const flagHelp = Object.entries(flags).map(([f, what]) => `  -${f}${' '.repeat(18)}${what}\n`).join('');
  return {
    summary: spec.summary,
    usage,
    help: `${spec.about}\n\n${flagHelp}${KEY_HELP}\n${KERNEL_HELP}\n${SERVER_HELP}\n\n${IMAGE_OPERAND_HELP}`,
    options: { ...kernelOptions, ...serverOptions, ...keyOptions, ...Object.fromEntries(Object.keys(flags).map((f) => [f, { type: 'boolean', short: f }])) },
    async run(v, positionals) {
      const set = new Set(Object.keys(flags).filter((f) => v[f] === true));
      const literalCount = spec.literals?.(set) ?? 0;
      const literals = positionals.slice(0, literalCount);
      const server = serverChoice(v);
      const operands = positionals.slice(literalCount).map((text) => imageOperand(text, server !== null));
      if (operands.length === 0) throw new UsageError('missing IMAGE:PATH operand');
      const uses = operands.map((o) => ({ image: o.image, writable: spec.writes }));
      return withKernel(server, v, uses, async (k) => {
        // '--' ends the flags, so that a literal such as ln -s's target may start with '-'.
        const flagArgs = set.size ? [`-${[...set].join('')}`, '--'] : [];
        const argv = [name, ...flagArgs, ...literals, ...operands.map((o) => k.kernelPath(o))];
        return runCommand({ control: k.control, p: k.p, exitCode: null, show: k.show, showSource: k.showSource }, argv, terminal, usage);
      });
    },
  };
}

/** The options of mkfs that only --encrypt takes. */
const LUKS_ONLY = ['type', 'key-size', 'sector-size', ...Object.keys(kdfOptions)];

/** What cgd's format says of the container it made (no key in it); bytes. */
interface FormattedVolume {
  version: 1 | 2;
  uuid: string;
  cipher: string;
  offset: number;
  size: number;
  sectorSize: number;
}

/** cgd format's options from mkfs --encrypt's: the LUKS version, key bytes, sector size and key derivation. */
function containerOptions(v: Values): Record<string, unknown> {
  const type = v.type ?? 'luks2';
  if (type !== 'luks2' && type !== 'luks1') throw new UsageError(`--type: '${String(type)}' is not luks2 or luks1`);
  const keySize = v['key-size'] ?? '512';
  if (keySize !== '256' && keySize !== '512') throw new UsageError(`--key-size: '${String(keySize)}' is not 256 or 512 (bits)`);
  const sectorSize = numberOption(v, 'sector-size');
  if (sectorSize !== undefined && sectorSize !== 512 && sectorSize !== 4096) throw new UsageError(`--sector-size: '${String(v['sector-size'])}' is not 512 or 4096`);
  if (sectorSize !== undefined && type === 'luks1') throw new UsageError('--sector-size is LUKS2\'s: LUKS1 encrypts 512-byte sectors');
  return { version: type === 'luks1' ? 1 : 2, keyBytes: Number(keySize) / 8, sectorSize, kdf: kdfFrom(v) };
}

/** A numeric option: a plain number, or a size with K, M, G or T (powers of 1024). */
function numberOption(v: Values, name: string): number | undefined {
  const text = v[name];
  if (typeof text !== 'string') return undefined;
  const n = parseSize(text);
  if (n === null) throw new UsageError(`--${name}: '${text}' is not a number`);
  return n;
}

/** -J size=MIB: the journal's size in MiB, or undefined. */
function journalMiB(v: Values): number | undefined {
  const size = keyValueOption(v, 'journal', 'size');
  if (size !== undefined && !/^[0-9]+$/.test(size)) throw new UsageError(`--journal: size '${size}' is not a whole number of MiB`);
  return size === undefined ? undefined : Number(size);
}

/** The value of mke2fs-style `-X key=value` option `name`, which takes only `key`. */
function keyValueOption(v: Values, name: string, key: string): string | undefined {
  const given = v[name];
  if (given === undefined) return undefined;
  const m = new RegExp(`^${key}=(.+)$`).exec(String(given));
  if (!m) throw new UsageError(`--${name}: '${String(given)}' is not ${key}=…`);
  return m[1];
}

const mkfs: Subcommand = {
  summary: 'make an ext2, ext3 or ext4 file system in a host file or a partition of one (rumpus\'s own mkfs)',
  usage: 'rumpus mkfs IMAGE[@N] --size SIZE [-t ext2|ext3|ext4] [-b BLOCK-SIZE] [-N INODES | -i BYTES-PER-INODE] [-I INODE-SIZE] [-L LABEL] [-U UUID] ' +
    '[-E hash_seed=UUID] [-J size=MIB] [--time SECONDS] [--encrypt [--key-file K] [--type luks2|luks1] [--pbkdf KDF …] [--key-size 256|512] [--sector-size 512|4096]]',
  help: `Writes a new file system to IMAGE, creating the file or cutting or extending it to SIZE,
laid out as mke2fs lays out the same parameters, with lost+found; e2fsck accepts it. ext2
(the default): revision 1 with the features filetype, sparse_super and large_file (or
revision 0). ext3: the same with a journal (has_journal) of mke2fs's size. ext4: the features
mke2fs -t ext4 sets — has_journal, extent, 64bit, flex_bg, metadata_csum, huge_file, dir_nlink,
extra_isize, resize_inode, dir_index, ext_attr, sparse_super, large_file, filetype — and the
same layout. (rumpus does not write into ext4 file systems yet.)
Given --uuid and --time, the image is the same byte for byte every time (the hash seed is
the UUID unless -E hash_seed= says otherwise). Sizes are bytes or take K, M, G or T (powers
of 1024).

With --encrypt, IMAGE becomes a LUKS container of SIZE (as cryptsetup luksFormat makes one:
aes-xts-plain64, one keyslot for the passphrase) and the file system is made inside it, in
the container's payload; cryptsetup opens it, and every rumpus command with the passphrase.
The passphrase is --key-file's, else typed twice on the terminal. Without --encrypt and
--size, an IMAGE that is a LUKS container already (cryptsetup luksFormat's) gets the file
system inside its payload, opened with --key-file's passphrase or one asked for.

IMAGE@N makes the file system in partition N of the disk image IMAGE (an MBR or GPT disk, as
'rumpus parts' lists it), filling the partition: no --size, no --encrypt; nothing outside the
partition is written. The suffix @N names a partition only when IMAGE@N is not an existing file.

  --size SIZE                  the image's size (required but inside a container), e.g. 64M
  -t, --fs-type TYPE           ext2 (default), ext3 or ext4
  -b, --block-size N           1024, 2048 or 4096 (default 1024 below 512 MiB, else 4096)
  -N, --inodes N               how many inodes (rounded up to fill the inode tables)
  -i, --bytes-per-inode N      one inode per N bytes (default 4096 below 512 MiB, else 16384)
  -I, --inode-size N           bytes per inode, a power of two from 128 (default 256)
  -L, --label LABEL            the volume label, up to 16 bytes
  -U, --uuid UUID              the file system's UUID (default: a random one)
  -E, --extended OPTS          hash_seed=UUID: the directory hash's seed (default: the UUID if given)
  -J, --journal OPTS           size=MIB: ext3/ext4's journal size in MiB (default: mke2fs's choice)
  --time SECONDS               creation time, seconds since 1970 (default: now)
  --revision 0|1               the ext2 revision (default 1)
  --encrypt                    make a LUKS container first, and the file system inside it
  --type luks2|luks1           the container's format (default luks2)
  --key-size 256|512           aes-xts key bits (default 512, cryptsetup's)
  --sector-size 512|4096       LUKS2's encryption unit in bytes (default 4096, as cryptsetup's on a file)
${KDF_HELP}
${KEY_HELP}
${KERNEL_HELP}
  --server URL        not used (said on stderr): mkfs makes IMAGE here, as a host file`,
  options: {
    ...kernelOptions,
    ...serverOptions,
    size: { type: 'string' },
    'block-size': { type: 'string', short: 'b' },
    inodes: { type: 'string', short: 'N' },
    'bytes-per-inode': { type: 'string', short: 'i' },
    'inode-size': { type: 'string', short: 'I' },
    label: { type: 'string', short: 'L' },
    uuid: { type: 'string', short: 'U' },
    time: { type: 'string' },
    revision: { type: 'string' },
    'fs-type': { type: 'string', short: 't' },
    extended: { type: 'string', short: 'E' },
    journal: { type: 'string', short: 'J' },
    encrypt: { type: 'boolean', default: false },
    ...keyOptions,
    ...kdfOptions,
    type: { type: 'string' },
    'key-size': { type: 'string' },
    'sector-size': { type: 'string' },
  },
  async run(v, positionals) {
    if (positionals.length !== 1) throw new UsageError('needs exactly one IMAGE');
    const size = numberOption(v, 'size');
    if (v.inodes !== undefined && v['bytes-per-inode'] !== undefined) throw new UsageError('give --inodes or --bytes-per-inode, not both');
    const [image] = positionals;
    const fs = fsOptions(v);
    const { path: source, partition } = imageName(image);
    if (partition !== undefined) return mkfsInPartition(v, image, source, partition, fs);
    const container = v.encrypt === true ? containerOptions(v) : null;
    if (!container && LUKS_ONLY.some((o) => v[o] !== undefined)) throw new UsageError(`--${LUKS_ONLY.find((o) => v[o] !== undefined)} is an option of --encrypt`);
    // Inside an existing container: no --size (the payload's is the file system's).
    const inside = !container && size === undefined && isLuksImage(source);
    if (size === undefined && !inside) throw new UsageError('--size is required');
    if (!container && !inside && v['key-file'] !== undefined) throw new UsageError(`--key-file is for --encrypt, or for an IMAGE that is a LUKS container (without --size)`);
    noServerHere(v, 'mkfs', 'it makes the image here, as a host file', writeErr);
    const keyFile = typeof v['key-file'] === 'string' ? v['key-file'] : undefined;
    const key = container ? await newPassphrase(source, keyFile, Keys.of(v), `Enter passphrase for ${source}: `) : inside ? await Keys.of(v).key(source) : undefined;
    const kernel = await boot(bootOptions(v, { mounts: [] }));
    try {
      if (container) {
        const volume = await kernel.call<FormattedVolume>('cgd', 'format', { path: source, size, key, ...container });
        process.stdout.write(`${source}: LUKS${volume.version} container, ${volume.cipher}, ${volume.sectorSize}-byte sectors, ` +
          `payload of ${volume.size} bytes at ${volume.offset}, UUID ${volume.uuid}\n`);
      }
      await makeFileSystem(kernel, v, source, { size: key ? undefined : size, key }, fs);
      return 0;
    } finally {
      await kernel.halt();
    }
  },
};

/** ext2's mkfs with the file-system options of `v` on `source` (with `where`: a size, key or partition); prints what it made. */
/** The file system's type and mke2fs-style options (-t, -E hash_seed=, -J size=), checked before anything is made. */
function fsOptions(v: Values): { type?: string; hashSeed?: string; journalSize?: number } {
  return { type: v['fs-type'] as string | undefined, hashSeed: keyValueOption(v, 'extended', 'hash_seed'), journalSize: journalMiB(v) };
}

async function makeFileSystem(kernel: Kernel, v: Values, source: string, where: { size?: number; key?: Uint8Array; partition?: number }, fs: ReturnType<typeof fsOptions>): Promise<void> {
  const made = await kernel.call<{ blocks: number; blockSize: number; inodes: number; inodeSize: number; groups: number; uuid: string }>(
    'ext2', 'mkfs', {
      source, ...where, ...fs, blockSize: numberOption(v, 'block-size'), inodes: numberOption(v, 'inodes'),
      inodeRatio: numberOption(v, 'bytes-per-inode'), inodeSize: numberOption(v, 'inode-size'),
      label: v.label, uuid: v.uuid, time: numberOption(v, 'time'), revision: numberOption(v, 'revision'),
    },
  );
  process.stdout.write(`${shownImage(source, where.partition)}: ${made.blocks} blocks of ${made.blockSize} bytes, ${made.inodes} inodes of ` +
    `${made.inodeSize} bytes, ${made.groups} block group${made.groups === 1 ? '' : 's'}, UUID ${made.uuid}\n`);
}

/** mkfs IMAGE@N: a file system filling partition N of an existing disk image; its table gives the size. */
async function mkfsInPartition(v: Values, image: string, source: string, partition: number, fs: ReturnType<typeof fsOptions>): Promise<number> {
  const refused = ['size', 'encrypt', 'key-file', ...LUKS_ONLY].find((o) => v[o] !== undefined && v[o] !== false);
  if (refused !== undefined) throw new UsageError(`--${refused} is not for a partition (${image}): the file system fills the partition its table gives`);
  noServerHere(v, 'mkfs', 'it makes the image here, as a host file', writeErr);
  const kernel = await boot(bootOptions(v, { mounts: [] }));
  try {
    await makeFileSystem(kernel, v, source, { partition }, fs);
    return 0;
  } finally {
    await kernel.halt();
  }
}

const cp: Subcommand = {
  summary: 'copy files and trees from the host into images, out of them, or between them',
  usage: 'rumpus cp [-r] SOURCE… DEST',
  help: `Copies each SOURCE to DEST, or into DEST when it is a directory. Any operand may be
IMAGE:PATH or a host path: host to image, image to host, image to image (one image or two).
Symbolic links are copied as symbolic links; modes and modification times are kept (owners
are not: copies belong to root in an image, to you on the host). FIFOs and device nodes are
made again in an image (devices with their numbers); sockets, and any special file copied to
the host, are skipped, each named on stderr. Problems are reported per file and the copy goes
on; the exit status is 0 only when everything was copied.

  -r, -R              copy directories and their contents
${KEY_HELP}
${KERNEL_HELP}
${SERVER_HELP}

${IMAGE_OPERAND_HELP}`,
  options: { ...kernelOptions, ...serverOptions, ...keyOptions, r: { type: 'boolean', short: 'r' }, R: { type: 'boolean', short: 'R' } },
  async run(v, positionals) {
    if (positionals.length < 2) throw new UsageError('missing operand');
    const server = serverChoice(v);
    const operands = positionals.map((text) => ({ text, image: parseImageOperand(text, server !== null) }));
    const dest = operands[operands.length - 1];
    const uses = operands.flatMap((o) => (o.image ? [{ image: o.image.image, writable: o === dest }] : []));
    return withKernel(server, v, uses, async (k) => {
      const host = hostTree();
      const places = operands.map((o) => (o.image ? { tree: k.tree(o.image.image), path: o.image.path } : { tree: host, path: o.text }));
      const opts = { recursive: v.r === true || v.R === true, preserveTimes: true };
      return copyOperands(places.slice(0, -1), places[places.length - 1], opts, terminal.err);
    });
  },
};

/** The commands that are the shell's command of the same name. */
const SHELL_COMMANDS: Record<string, ShellCommandSpec> = {
  ls: {
    usage: '[-ladR] IMAGE:PATH…',
    summary: 'list directories in images',
    about: 'Lists each directory (or names each file) in an ext2 image, as ls(1) does.',
    flags: { l: 'long listing: mode, links, owner, size, date, symlink target', a: 'include names starting with \'.\'', d: 'the directory itself, not its entries', R: 'list subdirectories too, recursively' },
    writes: false,
  },
  cat: {
    usage: 'IMAGE:FILE…',
    summary: 'print files in images',
    about: 'Writes the contents of each file in an ext2 image to standard output.',
    writes: false,
  },
  stat: {
    usage: 'IMAGE:PATH…',
    summary: 'show inodes in images: size, blocks, links, mode, owner, times',
    about: 'Shows each file\'s inode, as stat(1) does (a symbolic link itself, not what it points to).',
    writes: false,
  },
  df: {
    usage: 'IMAGE:PATH…',
    summary: 'space used and free in images',
    about: 'Shows the size, space used and space available of the file system of each image, in 1K blocks.',
    writes: false,
  },
  mkdir: {
    usage: '[-p] IMAGE:DIR…',
    summary: 'make directories in images',
    about: 'Makes each directory in an ext2 image.',
    flags: { p: 'make missing parents too; no error if the directory exists' },
    writes: true,
  },
  rm: {
    usage: '[-rf] IMAGE:PATH…',
    summary: 'remove files (and trees, with -r) from images',
    about: 'Removes each file from an ext2 image; directories only with -r.',
    flags: { r: 'remove directories and their contents', R: 'the same as -r', f: 'no error when a file does not exist' },
    writes: true,
  },
  mv: {
    usage: 'IMAGE:SOURCE… IMAGE:DEST',
    summary: 'rename or move files within or between images',
    about: `Renames SOURCE to DEST, or moves the SOURCEs into DEST when it is a directory. Between two
images it copies (keeping modes and times) and then removes the original, as mv(1) does.`,
    writes: true,
  },
  ln: {
    usage: '[-s] TARGET IMAGE:LINK',
    summary: 'make hard or symbolic links in images',
    about: `Makes LINK a hard link to TARGET (IMAGE:PATH, in the same image), or with -s a symbolic
link whose target is TARGET exactly as written (a path inside the image, not IMAGE:PATH).
When LINK is a directory, the link is made in it under TARGET's name.`,
    flags: { s: 'make a symbolic link' },
    writes: true,
    literals: (flags) => (flags.has('s') ? 1 : 0),
  },
  chmod: {
    usage: 'OCTAL-MODE IMAGE:PATH…',
    summary: 'change permission bits in images',
    about: 'Sets the permission bits (e.g. 644, 1777) of each file in an ext2 image.',
    writes: true,
    literals: () => 1,
  },
  touch: {
    usage: 'IMAGE:FILE…',
    summary: 'create empty files in images, or set their times to now',
    about: 'Creates each file that does not exist in an ext2 image; sets the access and modification times to now.',
    writes: true,
  },
};

export const IMAGE_SUBCOMMANDS: Record<string, Subcommand> = {
  mkfs,
  cp,
  ...Object.fromEntries(Object.entries(SHELL_COMMANDS).map(([name, spec]) => [name, shellCommand(name, spec)])),
};
