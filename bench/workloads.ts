// The bench's workloads: each runs against a booted kernel through one client process and
// returns one time per operation, in nanoseconds.

import { O_CREAT, O_TRUNC, O_WRONLY, type Kernel, type Proc } from '../kernel/index.js';
import { sample, type CpuClock, type Samples } from './stats.js';

export interface Workload {
  name: string;
  /** What one operation is, for the table's legend. */
  op: string;
  run(p: Proc, k: Kernel, scale: number, cpu: CpuClock): Promise<Samples>;
}

const FILE = new Uint8Array(4096).fill(0x61);

export const WORKLOADS: Workload[] = [
  {
    name: 'null-syscall',
    op: 'getpid(): one round trip from the client to vfs and back',
    run: (p, _k, scale, cpu) => sample(() => p.getpid(), Math.round(20000 * scale), Math.round(2000 * scale), cpu),
  },
  {
    name: 'small-files',
    op: 'open(O_CREAT) + write 4 KiB + close of a new file in /tmp (tmpfs)',
    async run(p, _k, scale, cpu) {
      const n = Math.round(2000 * scale);
      await p.mkdir('/tmp/bench', { recursive: true });
      let i = 0;
      const result = await sample(async () => {
        const fd = await p.open(`/tmp/bench/f${i++}`, O_WRONLY | O_CREAT | O_TRUNC, 0o644);
        await p.write(fd, FILE);
        await p.close(fd);
      }, n, n / 10, cpu);
      while (i > 0) await p.unlink(`/tmp/bench/f${--i}`);
      await p.rmdir('/tmp/bench');
      return result;
    },
  },
];
