// A link over a worker_threads MessagePort (or a Worker, or a worker's parentPort): frames
// travel by structured clone, their bytes moved (see portMessage in ./frame.ts). The owner
// reports the end of the port through lost().

import { portMessage, type Frame, type Link } from './frame.js';

export interface PortLike {
  postMessage(value: unknown, transfer?: ArrayBuffer[]): void;
  on(event: 'message', listener: (value: unknown) => void): unknown;
  off(event: 'message', listener: (value: unknown) => void): unknown;
}

export class PortLink implements Link {
  onFrame: (frame: unknown) => void = () => {};
  onClose: (reason: string) => void = () => {};
  protected open = true;
  private readonly listener = (value: unknown) => this.received(value);

  constructor(protected readonly port: PortLike, private readonly closePort: () => void = () => {}) {
    port.on('message', this.listener);
  }

  send(frame: Frame): void {
    if (!this.open) return;
    const { message, transfer } = portMessage(frame, 0);
    this.port.postMessage(message, transfer);
  }

  /** A message arrived on the port. */
  protected received(value: unknown): void {
    this.onFrame(value);
  }

  close(): void {
    if (!this.open) return;
    this.lost('closed');
    this.closePort();
  }

  /** The other side is gone (its worker exited, its port closed). */
  lost(reason: string): void {
    if (!this.open) return;
    this.open = false;
    this.port.off('message', this.listener);
    this.onClose(reason);
  }
}
