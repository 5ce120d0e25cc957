// What the operating system says about this test process and its children.

import { readFileSync } from 'node:fs';

/** Threads of this process, from /proc. */
export const threads = (): number => Number(/Threads:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))![1]);

/**
 * Whether a process exists. A pid of 0 or below names no one process (kill(2) would signal a
 * process group, or every process: a domain that has no process of its own reports -1): false.
 */
export function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
