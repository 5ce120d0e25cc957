// The block device under a mount: a unit of blk, of dk for a partition of a disk image, or of
// cgd for an encrypted image (given its key; cgd reaches a partition through dk in turn). A whole
// image that has a partition table is refused by dk's probe, naming its partitions: the file
// systems are in them. Reads larger than one transfer are split. If the device restarts, it
// forgets its units: the image is then attached again (with the same key), once per call, and
// the call goes on — but never once the device is detached (kernel/block-unit.ts).

import { BlockUnit, MAX_IO, SysError, type BlockWrite, type Context } from '../../kernel/api.js';

/** The largest single transfer: what one call may carry. */
const MAX_TRANSFER = MAX_IO;

export type Write = BlockWrite;

/** Blocks reads see in place of the image's: a read-only mount's journal, replayed in memory. */
interface Overlay {
  blocks: ReadonlyMap<number, Uint8Array>;
  blockSize: number;
}

export class Device {
  private overlay: Overlay | null = null;

  private constructor(
    private readonly unit: BlockUnit,
    readonly readonly: boolean,
  ) {}

  /**
   * Attaches a host image: through cgd when `key` (the passphrase of the LUKS container it
   * is) is given, through dk when `partition` (its number, from 1) is, else through blk; with
   * `size` (blk only), the file is created or resized to exactly that. `holder` names the mount
   * (its mount point): after this driver restarts, the mount made again takes over the image its
   * dead incarnation still held. EBUSY if the image is attached elsewhere; with a key, cgd's
   * errors (EACCES for a wrong one, EINVAL for an image that is not a LUKS container); with a
   * partition, dk's (EINVAL for a disk without that partition, EUCLEAN for a damaged table). A
   * whole image (no partition, key or size) that has a partition table: dk's EINVAL naming its
   * partitions (its probe).
   */
  static async attach(ctx: Context, path: string, opts: { readonly?: boolean; size?: number; holder?: string; key?: Uint8Array; partition?: number } = {}): Promise<Device> {
    const { key, partition, size } = opts;
    if (partition !== undefined && size !== undefined) throw new SysError('EINVAL', `ext2: ${path}@${partition}: a partition has the size its table gives it`);
    const access = { path, readonly: opts.readonly || undefined, holder: opts.holder };
    const unit = key !== undefined ? await BlockUnit.attach(ctx, 'cgd', { ...access, key, partition })
      : partition !== undefined ? await BlockUnit.attach(ctx, 'dk', { ...access, partition })
      : await BlockUnit.attach(ctx, 'blk', { ...access, size });
    const dev = new Device(unit, opts.readonly === true);
    try {
      if (unit.info.sectorSize !== 512) throw new SysError('EINVAL', `ext2: ${path} has ${unit.info.sectorSize}-byte sectors; only 512 is supported`);
      // A whole disk with a partition table: dk refuses it, naming its partitions.
      if (key === undefined && partition === undefined && size === undefined) await ctx.call('dk', 'probe', { unit: unit.info.unit, name: path });
    } catch (err) {
      await unit.detach().catch(() => {});
      throw err;
    }
    return dev;
  }

  /** Size in bytes. */
  get size(): number {
    return this.unit.size;
  }

  /** Reads `length` bytes at `offset` (both multiples of 512), as the overlay has them where it has any. */
  async read(offset: number, length: number): Promise<Uint8Array> {
    const data = await this.readImage(offset, length);
    return this.overlay ? overlaid(data, offset, this.overlay) : data;
  }

  private async readImage(offset: number, length: number): Promise<Uint8Array> {
    if (length <= MAX_TRANSFER) return this.unit.read(offset, length);
    const out = new Uint8Array(length);
    for (let at = 0; at < length; at += MAX_TRANSFER) {
      out.set(await this.unit.read(offset + at, Math.min(MAX_TRANSFER, length - at)), at);
    }
    return out;
  }

  /**
   * Makes every later read see `blocks` (block number → its `blockSize` bytes) in place of
   * the image's, which stays as it is: how a read-only mount sees its journal replayed.
   */
  overlayBlocks(blocks: ReadonlyMap<number, Uint8Array>, blockSize: number): void {
    this.overlay = { blocks, blockSize };
  }

  /** Writes `data` at byte `offset` (multiples of 512), durable only after flush(): a journal's write. */
  write(offset: number, data: Uint8Array): Promise<void> {
    return this.unit.write(offset, data);
  }

  /** Makes every completed write durable: a journal's barrier. */
  flush(): Promise<void> {
    return this.unit.flush();
  }

  /**
   * Writes a batch and makes it durable, atomically: the sync point of a file system without a
   * journal (blk's write-ahead log beside the image, IMG.wal, makes it atomic; a journaled
   * mount writes and flushes instead, so that blk never makes that log).
   */
  async commit(writes: Write[]): Promise<void> {
    if (writes.length > 0) await this.unit.commit(writes);
  }

  /** Lets the device close the image (blk: and remove its emptied write-ahead log). */
  detach(): Promise<void> {
    return this.unit.detach();
  }

  get detached(): boolean {
    return this.unit.detached;
  }
}

/** `data`, read at `offset`, with the overlay's blocks laid over it (a copy when any falls inside). */
function overlaid(data: Uint8Array, offset: number, { blocks, blockSize }: Overlay): Uint8Array {
  const end = offset + data.length;
  const firstBlock = Math.floor(offset / blockSize);
  const lastBlock = Math.floor((end - 1) / blockSize);
  const inside = lastBlock - firstBlock + 1 <= blocks.size
    ? Array.from({ length: lastBlock - firstBlock + 1 }, (_, i) => firstBlock + i).filter((b) => blocks.has(b))
    : [...blocks.keys()].filter((b) => b >= firstBlock && b <= lastBlock);
  if (inside.length === 0) return data;
  const out = data.slice();
  for (const b of inside) {
    const start = b * blockSize;
    const from = Math.max(offset, start);
    const to = Math.min(end, start + blockSize);
    out.set(blocks.get(b)!.subarray(from - start, to - start), from - offset);
  }
  return out;
}

/** The magic at the start of a LUKS header (LUKS1 and LUKS2 primary), and where its version follows. */
const LUKS_MAGIC = [0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe];
const LUKS_VERSION_AT = 6;

/**
 * ENOKEY when the image on `dev` is a LUKS container (mounted without its passphrase, ext2
 * would read ciphertext): the sentence names the container and asks for the key.
 */
export async function refuseContainer(dev: Device, source: string): Promise<void> {
  if (dev.size < 512) return;
  const start = await dev.read(0, 512);
  if (!LUKS_MAGIC.every((b, i) => start[i] === b)) return;
  const version = (start[LUKS_VERSION_AT] << 8) | start[LUKS_VERSION_AT + 1];
  throw new SysError('ENOKEY', `ext2: ${source} is a LUKS${version} container: give its passphrase (a key)`);
}
