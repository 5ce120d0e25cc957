// IMAGE:PATH operands, and the kernel that serves them: every distinct image named on the
// command line is mounted at /img0, /img1, … of a freshly booted kernel — read-only unless the
// command writes to it, so that reading never marks an image dirty — and unmounted, which writes
// it back, before the kernel halts.

import { realpathSync, statSync } from 'node:fs';
import { posix } from 'node:path';
import { SysError, boot, isErrno, strerror, type BootOptions, type Kernel, type Proc } from '../kernel/index.js';
import { fromHost, kernelTree, type FileTree, type ImageMount } from './files.js';
import { UsageError } from './subcommand.js';

export const IMAGE_OPERAND_HELP = `IMAGE:PATH is PATH inside the ext2 image IMAGE, a host file. An operand is split at its
first ':' when the part before it names an existing host file (not a directory) and the part
after it starts with '/'; anything else is a host path (cp) or an error (the other commands).`;

export interface ImageOperand {
  /** The host image, as the user wrote it. */
  image: string;
  /** From the image's root; '..' never leads out of it. */
  path: string;
}

/** The text split at its first ':' when the part after starts with '/', else null. */
function split(text: string): ImageOperand | null {
  const colon = text.indexOf(':');
  if (colon <= 0 || text[colon + 1] !== '/') return null;
  return { image: text.slice(0, colon), path: posix.normalize(text.slice(colon + 1)) };
}

/** Why a host path cannot be an image, or null when it can. */
function notAnImage(image: string): SysError | null {
  try {
    return statSync(image).isDirectory() ? new SysError('EISDIR', `${image}: is a directory, not an image`) : null;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const errno = isErrno(code) ? code : 'EIO';
    return new SysError(errno, `${image}: ${strerror(errno)}`);
  }
}

/** The operand as IMAGE:PATH, or null when it is a host path. */
export function parseImageOperand(text: string): ImageOperand | null {
  const op = split(text);
  return op && !notAnImage(op.image) ? op : null;
}

/** The operand as IMAGE:PATH; anything else is an error that says why. */
export function imageOperand(text: string): ImageOperand {
  const op = split(text);
  if (!op) throw new UsageError(`${text}: not an IMAGE:PATH operand`);
  const why = notAnImage(op.image);
  if (why) throw why;
  return op;
}

export interface ImageUse {
  image: string;
  /** Whether the command writes to it: then it is mounted read-write. */
  writable: boolean;
}

interface Mounted extends ImageMount {
  writable: boolean;
}

/** A booted kernel with the images mounted, and the translations between their paths and the kernel's. */
export class ImageKernel {
  constructor(
    readonly kernel: Kernel,
    readonly p: Proc,
    /** By the image's real path, so that two spellings of one image share a mount. */
    private readonly mounts: Map<string, Mounted>,
  ) {}

  private mountOf(image: string): Mounted {
    return this.mounts.get(realpathSync(image))!;
  }

  /** Where an operand is in the kernel: '/img0/photos' for 'disk.img:/photos'. */
  kernelPath(op: ImageOperand): string {
    return this.mountOf(op.image).root + op.path;
  }

  /** A kernel path as the user would write it: 'disk.img:/photos' for '/img0/photos'. */
  readonly show = (path: string): string => {
    for (const m of this.mounts.values()) {
      if (path === m.root || path.startsWith(`${m.root}/`)) return `${m.image}:${path.slice(m.root.length) || '/'}`;
    }
    return path;
  };

  /** One image as a file tree, its paths from the image's root. */
  tree(image: string): FileTree {
    return kernelTree(this.p, this.mountOf(image));
  }
}

/** A SysError whose message names the image it is about. */
function about(image: string, err: unknown): unknown {
  return err instanceof SysError ? new SysError(err.errno, `${image}: ${err.message}`) : err;
}

/**
 * Boots a kernel, mounts the images, runs fn, and unmounts the images the command wrote before
 * halting — explicitly, so that a failure to write one back is an error, not a line in a log.
 */
export async function withImages(options: BootOptions, uses: ImageUse[], fn: (k: ImageKernel) => Promise<number>): Promise<number> {
  const mounts = new Map<string, Mounted>();
  for (const use of uses) {
    let key: string;
    try {
      key = realpathSync(use.image);
    } catch (err) {
      throw fromHost(err, use.image);
    }
    const m = mounts.get(key) ?? { root: `/img${mounts.size}`, image: use.image, writable: false };
    m.writable ||= use.writable;
    mounts.set(key, m);
  }
  const kernel = await boot(options);
  try {
    const p = await kernel.spawn();
    // Mounted here rather than as boot mounts, so that a failure names its image.
    for (const m of mounts.values()) {
      await p.mkdir(m.root);
      await p.mount(m.root, 'ext2', { source: m.image, readonly: !m.writable }).catch((err: unknown) => {
        throw about(m.image, err);
      });
    }
    const status = await fn(new ImageKernel(kernel, p, mounts));
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
