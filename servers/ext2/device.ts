// The block device under a mount, reached only through the blk component. Reads and commits
// larger than blk's limit on one transfer are split. If blk restarts, it forgets its units:
// the image is then attached again, once per call, and the call goes on — but never once the
// device is detached.

import { SysError, type CallArgs, type CallResult, type Context } from '../../kernel/api.js';

/** blk's largest single transfer. */
const MAX_TRANSFER = 64 * 1024 * 1024;

export interface Write {
  offset: number;
  data: Uint8Array;
}

/** The ops of blk a device sends on its unit. */
type UnitOp = 'read' | 'write' | 'flush' | 'commit' | 'detach';

export class Device {
  private isDetached = false;

  private constructor(
    private readonly ctx: Context,
    private readonly path: string,
    private unit: number,
    /** Size in bytes. */
    readonly size: number,
    readonly readonly: boolean,
    private readonly holder: string | undefined,
  ) {}

  /**
   * Attaches a host image; with `size`, the file is created or resized to exactly that.
   * `holder` names the mount (its mount point): after this driver restarts, the mount made
   * again takes over the image its dead incarnation still held in blk. EBUSY if the image is
   * attached elsewhere.
   */
  static async attach(ctx: Context, path: string, opts: { readonly?: boolean; size?: number; holder?: string } = {}): Promise<Device> {
    const info = await ctx.call('blk', 'attach', { path, readonly: opts.readonly || undefined, size: opts.size, holder: opts.holder });
    if (info.sectorSize !== 512) {
      await ctx.call('blk', 'detach', { unit: info.unit });
      throw new SysError('EINVAL', `ext2: ${path} has ${info.sectorSize}-byte sectors; only 512 is supported`);
    }
    return new Device(ctx, path, info.unit, info.size, opts.readonly === true, opts.holder);
  }

  /** Reads `length` bytes at `offset` (both multiples of 512). */
  async read(offset: number, length: number): Promise<Uint8Array> {
    if (length <= MAX_TRANSFER) return this.call('read', { offset, length });
    const out = new Uint8Array(length);
    for (let at = 0; at < length; at += MAX_TRANSFER) {
      out.set(await this.call('read', { offset: offset + at, length: Math.min(MAX_TRANSFER, length - at) }), at);
    }
    return out;
  }

  /** Writes a batch and makes it durable: the file system's sync point. */
  async commit(writes: Write[]): Promise<void> {
    if (writes.length > 0) await this.call('commit', { writes });
  }

  /**
   * Lets blk close the image (and remove its emptied write-ahead log). After a blk restart the
   * image is attached again first, so that blk finds a commit it left sealed and applies it.
   */
  async detach(): Promise<void> {
    await this.call('detach', {});
    this.isDetached = true;
  }

  get detached(): boolean {
    return this.isDetached;
  }

  /** An op of blk on this device's unit; ENXIO (blk restarted, the unit is gone) attaches the image again. */
  private async call<O extends UnitOp>(op: O, args: Omit<CallArgs<'blk', O>, 'unit'>): Promise<CallResult<'blk', O>> {
    if (this.isDetached) throw new SysError('ENXIO', `ext2: ${this.path} is detached`);
    try {
      return await this.ctx.call('blk', op, { unit: this.unit, ...args } as CallArgs<'blk', O>);
    } catch (err) {
      if (!(err instanceof SysError && err.errno === 'ENXIO')) throw err;
      const info = await this.ctx.call('blk', 'attach', { path: this.path, readonly: this.readonly || undefined, holder: this.holder });
      this.unit = info.unit;
      return this.ctx.call('blk', op, { unit: this.unit, ...args } as CallArgs<'blk', O>);
    }
  }
}
