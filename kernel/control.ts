// What a program needs from a kernel to run client processes and to administer it (the CLI's
// shell, `rumpus ctl`), the same for a kernel in this process and for one behind `rumpus serve`:
// localControl() wraps a Kernel, connectKernel() (kernel/serve/client.ts) reaches a server.

import type { DomainInfo } from './domains.js';
import type { FaultSpec } from './faults.js';
import type { Kernel } from './kernel.js';
import type { Credentials, Proc } from './proc.js';
import type { KernelEvent } from './supervisor.js';

/** A kernel, local or remote, as programs and administrators use it. */
export interface KernelControl {
  /**
   * A new client process. Locally: with these credentials (default root). Remotely: a new
   * connection with the same token, whose credentials the token decides (`cred` is ignored).
   */
  spawn(cred?: Partial<Credentials>): Promise<Proc>;
  /** Each domain: kind, components, thread or process id, status, restarts, uptime (Kernel.domains()). */
  ps(): Promise<DomainInfo[]>;
  /** The kernel's events so far: failures, restarts, faults armed, panics (Kernel.events). */
  dmesg(): Promise<KernelEvent[]>;
  /** The faults armed and not cleared, as given (Kernel.armed). */
  faults(): Promise<FaultSpec[]>;
  /** Arms a fault; EINVAL for one that is not a valid FaultSpec of a component of this kernel. */
  inject(fault: FaultSpec): Promise<void>;
  /** Disarms the faults of one component, or of all; EINVAL for an unknown component. */
  clear(component?: string): Promise<void>;
  /** The panic report, or null when the kernel has not panicked. */
  panicked(): Promise<string | null>;
  /** Halts the kernel: syncs, unmounts, stops every domain. Remotely: asks the server to (admin). */
  halt(): Promise<void>;
}

/** The KernelControl of a kernel in this process. */
export function localControl(k: Kernel): KernelControl {
  return {
    spawn: (cred) => k.spawn(cred),
    ps: async () => k.domains(),
    dmesg: async () => [...k.events],
    faults: async () => [...k.armed],
    inject: (fault) => k.inject(fault),
    clear: (component) => k.clearFaults(component),
    panicked: async () => k.panicked,
    halt: () => k.halt(),
  };
}
