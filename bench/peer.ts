// The peer: the npm package ext2fs (libext2fs compiled to WebAssembly), the library a Node user
// would pick today to work on an ext2 image without mounting it. The ext2 workloads run through
// it unchanged, on a copy of the image the policies get.

import { open as openHost } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { Files, OpenFile } from './files.js';

export const PEER_POLICY = 'peer';

/** 'ext2fs 4.2.5 (wasm)', or null when the package is not installed (it is a dev dependency). */
export function peerName(): string | null {
  try {
    const { version } = createRequire(import.meta.url)('ext2fs/package.json') as { version: string };
    return `ext2fs ${version} (wasm)`;
  } catch {
    return null;
  }
}

export interface MountedPeer {
  files: Files;
  unmount(): Promise<void>;
}

/** Mounts the ext2 image at `imagePath` with ext2fs; its disk is the host file, read and written in place. */
export async function mountPeer(imagePath: string): Promise<MountedPeer> {
  const ext2fs = await import('ext2fs');
  const image = await openHost(imagePath, 'r+');
  const fs = await ext2fs.mount({
    read: (buffer, offset, length, position) => image.read(buffer, offset, length, position),
    write: (buffer, offset, length, position) => image.write(buffer, offset, length, position),
    discard: async () => {},
    flush: () => image.datasync(),
  });
  let scratch = Buffer.alloc(0);
  const wrap = (h: import('ext2fs').FileHandle): OpenFile => ({
    // ext2fs takes a Buffer only (a plain Uint8Array is mistaken for a string): a view, no copy.
    pwrite: async (data, position) => void (await h.write(Buffer.from(data.buffer, data.byteOffset, data.length), 0, data.length, position)),
    // ext2fs's readFile ignores its encoding option and returns a string: read into a Buffer.
    async pread(length, position) {
      if (scratch.length < length) scratch = Buffer.alloc(length);
      return (await h.read(scratch, 0, length, position)).bytesRead;
    },
    fsync: () => Promise.reject(new Error('ext2fs implements no fsync')),
    close: () => h.close(),
  });
  const files: Files = {
    create: async (path) => wrap(await fs.promises.open(path, 'w', 0o644)),
    open: async (path) => wrap(await fs.promises.open(path, 'r')),
    stat: (path) => fs.promises.stat(path),
    exists: (path) => fs.promises.stat(path).then(() => true, () => false),
    async mkdir(path) {
      if (!(await files.exists(path))) await fs.promises.mkdir(path, 0o755);
    },
  };
  return {
    files,
    async unmount() {
      try {
        await ext2fs.umount(fs);
      } finally {
        await image.close();
      }
    },
  };
}
