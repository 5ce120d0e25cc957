// Appends under faults, as the crash-consistency tests make them.

import { O_APPEND, O_CREAT, O_WRONLY, type Proc } from '../../kernel/index.js';

/**
 * Appends line(0) … line(count - 1) to `path`, each in its own open, write, fsync and close, while
 * faults hit; resolves to the lines that fsync acknowledged. A fd lost with a restart of vfs, or
 * an EIO, is opened again; a failed fsync acknowledges nothing, and what it did not acknowledge
 * may be gone.
 */
export async function fsyncedAppends(p: Proc, path: string, line: (i: number) => string, count = 40): Promise<number[]> {
  const acked: number[] = [];
  let pending: number[] = [];
  for (let i = 0; i < count; i++) {
    const fd = await p.open(path, O_WRONLY | O_CREAT | O_APPEND, 0o644).catch(() => null);
    if (fd === null) continue;
    if (await p.write(fd, line(i)).then(() => true, () => false)) pending.push(i);
    if (await p.fsync(fd).then(() => true, () => false)) acked.push(...pending);
    pending = [];
    await p.close(fd).catch(() => {});
  }
  return acked;
}
