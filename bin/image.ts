// IMAGE:PATH operands, and the kernel that serves them. Without a server, every distinct image
// named on the command line is mounted at /img0, /img1, … of a freshly booted kernel — read-only
// unless the command writes to it, so that reading never marks an image dirty — and unmounted,
// which writes it back, before the kernel halts. With a server (--server, RUMPUS_SERVER), each
// image is found among the server's mounts, and a path of the server's kernel is written as
// it is (or as ':/PATH'). An image may be a partition of a disk image (IMAGE@N, image-name.ts):
// it is then found and mounted by its real path and its partition.

import { realpathSync, statSync } from 'node:fs';
import { posix } from 'node:path';
import {
  SysError, boot, localControl, type BootOptions, type Kernel, type MountSpec, type KernelControl, type MountInfo, type Proc,
} from '../kernel/index.js';
import { hostFileError } from './host-errors.js';
import { imageKeyOf, imageName, shownImage } from './image-name.js';
import { kernelTree, pathUnder, type FileTree, type ImageMount } from './files.js';
import { Keys, noKeyWithServer } from './keys.js';
import { UsageError, bootOptions, connectServer, type ServerChoice, type Values } from './subcommand.js';

export const IMAGE_OPERAND_HELP = `IMAGE:PATH is PATH inside the ext2 image IMAGE, a host file. An operand is split at its
first ':' when the part before it names an existing host file (not a directory) and the part
after it starts with '/'; anything else is a host path (cp) or an error (the other commands).
IMAGE@N:PATH is PATH in partition N (from 1; MBR logical partitions from 5, as 'rumpus parts'
lists them) of the disk image IMAGE. The suffix @N names a partition only when the whole text
IMAGE@N is not an existing host file: a file named 'backup@2' is that file.
With a server (--server or RUMPUS_SERVER), IMAGE must be one the server has mounted (compared
by its real path), and a path of the server's kernel is written ':/PATH' (in cp) or as it is,
'/PATH' (in the other commands).`;

export interface ImageOperand {
  /** The host image, as the user wrote it; '' for a path of the server's kernel itself. */
  image: string;
  /** From the image's root; '..' never leads out of it. A kernel path is kept as written. */
  path: string;
}

/** The text split at its first ':' when the part after starts with '/', else null. */
function split(text: string): ImageOperand | null {
  const colon = text.indexOf(':');
  if (colon < 0 || text[colon + 1] !== '/') return null;
  const image = text.slice(0, colon);
  const path = text.slice(colon + 1);
  return { image, path: image === '' ? path : posix.normalize(path) };
}

/** Why a host path (or IMAGE@N) cannot be an image, or null when it can. */
function notAnImage(image: string): SysError | null {
  const { path } = imageName(image);
  try {
    return statSync(path).isDirectory() ? new SysError('EISDIR', `${path}: is a directory, not an image`) : null;
  } catch (err) {
    return hostFileError(err, path);
  }
}

/** ':/PATH' without a server: there is no kernel it could be in. */
function needsServer(text: string): UsageError {
  return new UsageError(`${text}: ':/PATH' is a path in a server's kernel, and no server is set (--server URL or RUMPUS_SERVER)`);
}

/** The cp operand as IMAGE:PATH (or, with a server, ':/PATH'), or null when it is a host path. */
export function parseImageOperand(text: string, server: boolean): ImageOperand | null {
  const op = split(text);
  if (op?.image === '' && !server) throw needsServer(text);
  return op && (op.image === '' || !notAnImage(op.image)) ? op : null;
}

/**
 * The operand as IMAGE:PATH, or with a server also a path of its kernel ('/PATH' or ':/PATH');
 * anything else is an error that says why.
 */
export function imageOperand(text: string, server: boolean): ImageOperand {
  const op = split(text) ?? (server && text.startsWith('/') ? { image: '', path: text } : null);
  if (!op) throw new UsageError(`${text}: not an IMAGE:PATH operand`);
  if (op.image === '') {
    if (!server) throw needsServer(text);
    return op;
  }
  const why = notAnImage(op.image);
  if (why) throw why;
  return op;
}

export interface ImageUse {
  /** As in ImageOperand: '' for the server's kernel itself. */
  image: string;
  /** Whether the command writes to it: then it is mounted read-write (and synced, on a server). */
  writable: boolean;
}

interface Mounted extends ImageMount {
  writable: boolean;
}

/** The server's kernel itself, as an ImageMount: its paths as they are, shown as ':/PATH'. */
const SERVER_KERNEL: ImageMount = { root: '/', image: '' };

/** A host path's real path, or null when it has none (a mount source that is not a host file). */
function realPathOrNull(path: string): string | null {
  try {
    return realpathSync(path);
  } catch {
    return null;
  }
}

/**
 * A kernel with the images mounted — booted here or a server's — and the translations between
 * their paths and the kernel's.
 */
export class ImageKernel {
  constructor(
    readonly control: KernelControl,
    readonly p: Proc,
    /** By the image's real path, so that two spellings of one image share a mount. */
    private readonly mounts: Map<string, ImageMount>,
  ) {}

  private mountOf(image: string): ImageMount {
    return image === '' ? SERVER_KERNEL : this.mounts.get(realImage(image))!;
  }

  /** Where an operand is in the kernel: '/img0/photos' for 'disk.img:/photos'. */
  kernelPath(op: ImageOperand): string {
    return pathUnder(this.mountOf(op.image).root, op.path);
  }

  /** A kernel path as the user would write it: 'disk.img:/photos' for '/img0/photos'. */
  readonly show = (path: string): string => {
    for (const m of this.mounts.values()) {
      const inside = m.root === '/' ? path : path === m.root || path.startsWith(`${m.root}/`) ? path.slice(m.root.length) || '/' : null;
      if (inside !== null) return `${m.image}:${inside}`;
    }
    return path;
  };

  /** A mount's source (and partition) as the user named the image, when it is one of theirs (df's first column). */
  readonly showSource = (source: string, partition?: number): string => {
    const real = realPathOrNull(source);
    return (real !== null ? this.mounts.get(imageKeyOf(real, partition))?.image : undefined) ?? shownImage(source, partition);
  };

  /** One image as a file tree, its paths from the image's root ('': the server's kernel, from '/'). */
  tree(image: string): FileTree {
    return kernelTree(this.p, this.mountOf(image));
  }
}

/** A SysError whose message names the image it is about. */
function about(image: string, err: unknown): unknown {
  return err instanceof SysError ? new SysError(err.errno, `${image}: ${err.message}`) : err;
}

/** An image a kernel booted here mounts: where and how, and the image as the user named it. */
export interface ImageMountSpec {
  mount: MountSpec;
  image: string;
}

/**
 * Boots a kernel and mounts the images in it, in order, each by a client process rather than
 * as a boot mount, so that a failure (a wrong key, not an ext2 image …) names its image; the
 * kernel is halted again when one fails. `options.mounts` are the other mounts (the defaults
 * when absent).
 */
export async function bootWithImages(options: BootOptions, images: ImageMountSpec[]): Promise<Kernel> {
  const kernel = await boot(options);
  try {
    const p = await kernel.spawn();
    try {
      for (const { mount: m, image } of images) {
        await p.mkdir(m.target, { recursive: true, mode: 0o755 });
        await p.mount(m.target, m.fstype, { source: m.source, readonly: m.readonly, key: m.key, partition: m.partition }).catch((err: unknown) => {
          throw about(image, err);
        });
      }
    } finally {
      await p.exit().catch(() => {});
    }
  } catch (err) {
    await kernel.halt();
    throw err;
  }
  return kernel;
}

/** An image operand (IMAGE or IMAGE@N) as a key: imageKeyOf its real path and partition; or the host's error with its errno. */
function realImage(image: string): string {
  const { path, partition } = imageName(image);
  try {
    return imageKeyOf(realpathSync(path), partition);
  } catch (err) {
    throw hostFileError(err, path);
  }
}

/**
 * Runs fn on the images: in the server's kernel when `server` is one (serverChoice(v)), else in
 * a kernel booted here with the kernel options of `v`, each LUKS image opened with its key
 * (--key-file, or asked for). The exit status.
 */
export function withKernel(server: ServerChoice | null, v: Values, uses: ImageUse[], fn: (k: ImageKernel) => Promise<number>): Promise<number> {
  if (!server) return withImages(bootOptions(v), uses, fn, Keys.of(v));
  if (typeof v.faults === 'string') throw new UsageError(`--faults arms faults in a kernel booted here; for the server's, use 'rumpus ctl inject'`);
  noKeyWithServer(v);
  return withServer(server, uses, fn);
}

/**
 * Boots a kernel, mounts the images (a LUKS image through cgd, with its key from `keys`), runs
 * fn, and unmounts the images the command wrote before halting — explicitly, so that a failure
 * to write one back is an error, not a line in a log.
 */
export async function withImages(options: BootOptions, uses: ImageUse[], fn: (k: ImageKernel) => Promise<number>, keys: Keys): Promise<number> {
  const mounts = new Map<string, Mounted>();
  for (const use of uses) {
    const key = realImage(use.image);
    const m = mounts.get(key) ?? { root: `/img${mounts.size}`, image: use.image, writable: false };
    m.writable ||= use.writable;
    mounts.set(key, m);
  }
  // Every passphrase before the boot, so that a prompt does not wait with a kernel running.
  const imageKeys = new Map<Mounted, Uint8Array | undefined>();
  for (const m of mounts.values()) imageKeys.set(m, await keys.keyFor(m.image));
  const kernel = await boot(options);
  try {
    const p = await kernel.spawn();
    // Mounted here rather than as boot mounts, so that a failure names its image.
    for (const m of mounts.values()) {
      await p.mkdir(m.root);
      const { path, partition } = imageName(m.image);
      await p.mount(m.root, 'ext2', { source: path, partition, readonly: !m.writable, key: imageKeys.get(m) }).catch((err: unknown) => {
        throw about(m.image, err);
      });
    }
    const status = await fn(new ImageKernel(localControl(kernel), p, mounts));
    for (const m of mounts.values()) {
      if (m.writable) {
        await p.unmount(m.root).catch((err: unknown) => {
          throw about(m.image, err);
        });
      }
    }
    return status;
  } finally {
    await kernel.halt();
  }
}

/** An image the server has not mounted: which one, and what the server has. */
function notServed(image: string, served: MountInfo[], url: string): SysError {
  const images = served.filter((m) => realPathOrNull(m.source) !== null).map((m) => `${shownImage(m.source, m.partition)} on ${m.target}`);
  const has = images.length ? `it has mounted ${images.join(', ')}` : 'it has no image mounted';
  return new SysError('ENOENT', `${image}: not mounted by the server at ${url} (${has})`);
}

/**
 * Runs fn in a client process of the server, each image found among its mounts by its real
 * path; then, when the command wrote, syncs, so that what it did is on the images when it
 * exits (the server keeps them mounted).
 */
async function withServer(server: ServerChoice, uses: ImageUse[], fn: (k: ImageKernel) => Promise<number>): Promise<number> {
  const control = await connectServer(server);
  try {
    const p = await control.spawn();
    try {
      const served = await p.mounts();
      const mounts = new Map<string, ImageMount>();
      for (const use of uses) {
        if (use.image === '') continue;
        const key = realImage(use.image);
        if (mounts.has(key)) continue;
        const m = served.find((x) => {
          const real = realPathOrNull(x.source);
          return real !== null && imageKeyOf(real, x.partition) === key;
        });
        if (!m) throw notServed(use.image, served, server.url);
        mounts.set(key, { root: m.target, image: use.image });
      }
      const status = await fn(new ImageKernel(control, p, mounts));
      if (uses.some((u) => u.writable)) await p.sync();
      return status;
    } finally {
      await p.exit().catch(() => {});
    }
  } finally {
    await control.close();
  }
}
