// A unit of a block device component (blk, or cgd or dk stacked on it), as its user holds it: a file
// system's device, cgd's container. If the device restarts it forgets its units (ENXIO): the
// unit is then attached again with what attached it (the same path, access, holder and key),
// once per call, and the call goes on — but never once the unit is detached.

import { SysError } from '../ipc/errno.js';
import type { Context, UnitInfo } from './api.js';
import type { CallArgs, CallResult } from './ops.js';

/** The components that serve BLOCK_OPS on units they attach. */
export type BlockDevice = 'blk' | 'cgd' | 'dk';

/** The ops sent on a unit. */
type UnitOp = 'read' | 'write' | 'flush' | 'commit' | 'detach';

/** One write of a commit: bytes at a byte offset from the unit's start. */
export interface BlockWrite {
  offset: number;
  data: Uint8Array;
}

export class BlockUnit {
  private isDetached = false;

  private constructor(
    private readonly ctx: Context,
    private readonly device: BlockDevice,
    /** What attaches it again: the first attach's arguments but a size (which creates). */
    private readonly again: Record<string, unknown>,
    private unit: number,
    /** What the device answered at attach. */
    readonly info: UnitInfo,
  ) {}

  /** Attaches a unit of `device` with its attach op's arguments (the device's errors: EBUSY, ENOENT, …). */
  static async attach<D extends BlockDevice>(ctx: Context, device: D, args: CallArgs<D, 'attach'>): Promise<BlockUnit> {
    const info = (await ctx.call(device as 'blk', 'attach', args as CallArgs<'blk', 'attach'>)) as UnitInfo;
    const again: Record<string, unknown> = { ...args, size: undefined };
    return new BlockUnit(ctx, device, again, info.unit, info);
  }

  /** Size in bytes. */
  get size(): number {
    return this.info.size;
  }

  /** Reads `length` bytes at byte `offset` (aligned to the unit's sector size). */
  read(offset: number, length: number): Promise<Uint8Array> {
    return this.call('read', { offset, length });
  }

  /** Writes without waiting for durability (flush or commit makes it durable). */
  write(offset: number, data: Uint8Array): Promise<void> {
    return this.call('write', { offset, data });
  }

  /** Writes a batch atomically and durably: a file system's sync point. */
  commit(writes: BlockWrite[]): Promise<void> {
    return this.call('commit', { writes });
  }

  flush(): Promise<void> {
    return this.call('flush', {});
  }

  /**
   * Lets the device go of the unit. After a restart of the device the unit is attached again
   * first, so that the device finds what it left half done (blk: a sealed commit) and finishes it.
   */
  async detach(): Promise<void> {
    await this.call('detach', {});
    this.isDetached = true;
  }

  get detached(): boolean {
    return this.isDetached;
  }

  /** An op on this unit; ENXIO (the device restarted, the unit is gone) attaches it again. */
  private async call<O extends UnitOp>(op: O, args: Omit<CallArgs<'blk', O>, 'unit'>): Promise<CallResult<'blk', O>> {
    if (this.isDetached) throw new SysError('ENXIO', `${this.ctx.name}: ${String(this.again.path)} is detached`);
    const send = () => this.ctx.call(this.device as 'blk', op, { unit: this.unit, ...args } as CallArgs<'blk', O>);
    try {
      return await send();
    } catch (err) {
      if (!(err instanceof SysError && err.errno === 'ENXIO')) throw err;
      this.unit = ((await this.ctx.call(this.device as 'blk', 'attach', this.again)) as UnitInfo).unit;
      return send();
    }
  }
}
