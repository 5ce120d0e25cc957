// The file operations the file-system workloads are written against, so that one workload runs
// unchanged through a rumpus client process and through the peer library (bench/peer.ts).

import { O_CREAT, O_RDONLY, O_TRUNC, O_WRONLY, type Proc } from '../kernel/index.js';

export interface OpenFile {
  pwrite(data: Uint8Array, position: number): Promise<void>;
  /** Returns the number of bytes read. */
  pread(length: number, position: number): Promise<number>;
  fsync(): Promise<void>;
  close(): Promise<void>;
}

/** Paths are absolute within the file system under test. */
export interface Files {
  /** Creates (or truncates) a file for writing, mode 0644. */
  create(path: string): Promise<OpenFile>;
  /** Opens an existing file for reading. */
  open(path: string): Promise<OpenFile>;
  stat(path: string): Promise<unknown>;
  exists(path: string): Promise<boolean>;
  /** Makes a directory whose parent exists, unless it exists already. */
  mkdir(path: string): Promise<void>;
}

/** The file system mounted at `root` (a directory made by the caller), through a client process. */
export function procFiles(p: Proc, root: string): Files {
  const at = (path: string) => root + path;
  const wrap = (fd: number): OpenFile => ({
    pwrite: async (data, position) => void (await p.pwrite(fd, data, position)),
    pread: async (length, position) => (await p.pread(fd, length, position)).length,
    fsync: () => p.fsync(fd),
    close: () => p.close(fd),
  });
  return {
    create: async (path) => wrap(await p.open(at(path), O_WRONLY | O_CREAT | O_TRUNC, 0o644)),
    open: async (path) => wrap(await p.open(at(path), O_RDONLY)),
    stat: (path) => p.stat(at(path)),
    exists: (path) => p.stat(at(path)).then(() => true, () => false),
    mkdir: (path) => p.mkdir(at(path), { recursive: true }),
  };
}
