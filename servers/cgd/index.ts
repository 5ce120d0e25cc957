// cgd: the encrypted block device (NetBSD's name), a LUKS1 or LUKS2 container on a blk unit (or
// on a dk unit, for a container in a partition of a disk image). A unit of cgd is the container's payload in plaintext: reads are blk reads decrypted, writes and
// commits are encrypted and then written by blk — a commit as one blk commit, so it stays
// atomic. The encryption is the cipher component's (pure: it may run in a pool of workers), and
// so is the key derivation of opening a container: the rest of the kernel goes on meanwhile.
// Requests are aligned to 512 bytes, as blk's: a container that encrypts 4096-byte sectors (the
// default of cryptsetup on a file) read-modify-writes the sectors a write covers in part
// (extents.ts), so that ext2 with 1 KiB blocks works on it.
//
// The passphrase (`key`) and the volume key it opens never appear in a result, a log line, a
// kernel event or an error message.
//
// Restart story: a fresh start and a restart are the same: units — and the volume keys in them
// — are forgotten, and each attacher (ext2's device) attaches again with its passphrase when it
// meets ENXIO, which pays the key derivation again. The volume keys are deliberately not kept in
// ctx.keep: a new incarnation would then have to tell whether an attacher knows the passphrase
// without the derivation (by a fast digest of it, which is what the derivation exists to
// prevent), and a copy of every volume key would outlive the units in the core. A restart is
// rare; one derivation per mount is its price. The blk units the dead incarnation held are taken
// over by the new attach as the same holder (blk's rule); those of units attached without a
// holder stay held until blk restarts.

import {
  BLOCK_OPS, BlockUnit, MAX_IO, type BlockWrite, SysError, checkCommit, checkRequest, checkWritable, defineComponent, op, type Context, type Handlers, type UnitBounds,
  type UnitInfo,
} from '../../kernel/api.js';
import { encryptedWrites, luksCrypto, readDecrypted } from './crypt.js';
import { extentsOf, partlyWritten, widen, type PlainWrite } from './extents.js';
import { luksAddKey, luksDump, luksFormat, luksOpen, luksRemoveKey, type FormatOptions, type LuksInfo, type RawDevice, type Volume } from './luks.js';

/** The alignment of every request: blk's smallest sector. */
const SECTOR = 512;

/** What format answers: the new container, without its keys. */
export interface FormatResult {
  version: 1 | 2;
  uuid: string;
  cipher: string;
  /** Payload start and size, in bytes. */
  offset: number;
  size: number;
  /** The encryption sector, in bytes. */
  sectorSize: number;
}

/** The ops of cgd: those of any block device on its units, and the container's own. */
const CGD_OPS = {
  /**
   * Opens the LUKS container on a host image with `key`, its passphrase (the bytes cryptsetup
   * reads from a key file), attaching the image through blk with the same path, access and
   * holder — or, with `partition`, that partition of the disk image through dk; the unit is its
   * payload. EACCES for a wrong passphrase, EINVAL for an image that is not a LUKS container or
   * one cgd cannot read (naming what), EUCLEAN for damaged headers, and blk's or dk's errors
   * (EBUSY, ENOENT…).
   */
  attach: op<UnitInfo>()({ args: { path: 'string', readonly: 'boolean?', holder: 'string?', key: 'bytes', partition: 'uint?' }, idempotent: false }),
  ...BLOCK_OPS,
  /**
   * Makes a new LUKS container on a host image (created, or resized to `size` bytes when given)
   * with one keyslot for `key`. The options are the LUKS library's FormatOptions (version 2,
   * aes-xts-plain64 with a 512-bit key, 4096-byte sectors by default).
   */
  format: op<FormatResult>()({
    args: { path: 'string', size: 'uint?', key: 'bytes', version: 'uint?', keyBytes: 'uint?', kdf: 'object?', sectorSize: 'uint?', uuid: 'string?' },
    idempotent: false,
  }),
  /**
   * Adds a keyslot for `newKey` to the container `key` opens (in partition `partition` of the
   * disk image at `path`, when given); answers its number.
   */
  addkey: op<number>()({ args: { path: 'string', partition: 'uint?', key: 'bytes', newKey: 'bytes', kdf: 'object?' }, idempotent: false }),
  /** Removes the keyslot `key` opens; answers its number. EBUSY for the last one. */
  removekey: op<number>()({ args: { path: 'string', partition: 'uint?', key: 'bytes' }, idempotent: false }),
  /** What the container's header says, without any key: version, uuid, cipher, offsets, keyslots. */
  dump: op<LuksInfo>()({ args: { path: 'string', partition: 'uint?' }, idempotent: true }),
};

declare module '../../kernel/ops.js' {
  interface Components {
    cgd: typeof CGD_OPS;
  }
}

/** A blk unit as the LUKS library reads and writes it: each write (of a header) durable, and atomic. */
function rawDevice(blk: BlockUnit): RawDevice {
  return {
    size: blk.size,
    read: (offset, length) => blk.read(offset, length),
    write: (offset, data) => blk.commit([{ offset, data }]),
  };
}

interface Unit {
  unit: number;
  path: string;
  partition: number | undefined;
  readonly: boolean;
  holder: string | undefined;
  blk: BlockUnit;
  volume: Volume;
  /** Writes and commits one at a time: a read-modify-write must not interleave with another. */
  writing: Promise<unknown>;
}

export default defineComponent({
  name: 'cgd',
  description: 'encrypted block devices: LUKS1 and LUKS2 containers on blk',
  requires: ['blk', 'dk', 'cipher'],
  ops: CGD_OPS,
  init: {
    fresh: (ctx) => serve(ctx),
  },
});

function serve(ctx: Context): Handlers<typeof CGD_OPS> {
  const units = new Map<number, Unit>();
  let nextUnit = 1;
  const crypto = luksCrypto(ctx);

  const get = (unit: number): Unit => {
    const u = units.get(unit);
    if (!u) throw new SysError('ENXIO', `cgd: no unit ${unit}`);
    return u;
  };
  const info = (u: Unit): UnitInfo => ({
    unit: u.unit, source: u.path, size: u.volume.size, sectorSize: SECTOR, sectors: u.volume.size / SECTOR, readonly: u.readonly,
  });
  /** What cgd's requests on u are checked against: the payload, in blk's 512-byte sectors. */
  const bounds = (u: Unit): UnitBounds => ({ device: 'cgd', unit: u.unit, size: u.volume.size, sectorSize: SECTOR, maxIo: MAX_IO, readonly: u.readonly });
  /** Runs a write of u after the ones before it. */
  const serially = <T>(u: Unit, fn: () => Promise<T>): Promise<T> => {
    const result = u.writing.then(fn, fn);
    u.writing = result.catch(() => {});
    return result;
  };

  /** The plaintext of payload bytes [at, end) (whole encryption sectors). */
  const decrypted = (u: Unit, at: number, end: number): Promise<Uint8Array> =>
    readDecrypted(crypto, u.volume, (offset, length) => u.blk.read(offset, length), at, end);

  /**
   * The writes encrypted, as blk writes of whole encryption sectors (read-modify-write where they
   * cover a sector in part), in order. An extent that one write covers whole is encrypted from
   * that write's bytes, uncopied.
   */
  const encrypted = async (u: Unit, writes: PlainWrite[]): Promise<BlockWrite[]> =>
    (await Promise.all(extentsOf(writes, u.volume.sectorSize).map(async (e) => {
      const [only] = e.writes;
      if (e.writes.length === 1 && only.offset === e.at && only.data.length === e.end - e.at) return encryptedWrites(crypto, u.volume, e.at, only.data);
      const plain = new Uint8Array(e.end - e.at);
      for (const r of partlyWritten(e, u.volume.sectorSize)) plain.set(await decrypted(u, r.at, r.end), r.at - e.at);
      for (const w of e.writes) plain.set(w.data, w.offset - e.at);
      return encryptedWrites(crypto, u.volume, e.at, plain);
    }))).flat();

  /**
   * Runs fn on a host image's container, attached for the time of it through blk, or through dk
   * when it is partition `partition` of a disk image.
   */
  const onImage = async <T>(path: string, opts: { readonly?: true; size?: number; partition?: number }, fn: (dev: RawDevice) => Promise<T>): Promise<T> => {
    const { partition, ...access } = opts;
    const blk = partition === undefined ? await BlockUnit.attach(ctx, 'blk', { path, ...access }) : await BlockUnit.attach(ctx, 'dk', { path, readonly: access.readonly, partition });
    try {
      return await fn(rawDevice(blk));
    } finally {
      await blk.detach();
    }
  };

  return {
    async attach({ path, readonly = false, holder, key, partition }) {
      for (const other of units.values()) {
        // The same holder again (the file system that attached it restarted): blk (or dk) hands it the image.
        if (holder !== undefined && other.holder === holder && other.path === path && other.partition === partition) units.delete(other.unit);
      }
      const access = { path, readonly: readonly || undefined, holder };
      const blk = partition === undefined ? await BlockUnit.attach(ctx, 'blk', access) : await BlockUnit.attach(ctx, 'dk', { ...access, partition });
      let volume: Volume;
      try {
        volume = await luksOpen(rawDevice(blk), crypto, key);
      } catch (err) {
        await blk.detach().catch(() => {});
        throw err;
      }
      for (const note of volume.notes) ctx.hyp.log('warn', `cgd: ${path}: ${note}`);
      const u: Unit = { unit: nextUnit++, path, partition, readonly, holder, blk, volume, writing: Promise.resolve() };
      units.set(u.unit, u);
      return info(u);
    },
    async detach({ unit }) {
      const u = get(unit);
      await u.writing;
      await u.blk.detach();
      units.delete(unit);
    },
    info: ({ unit }) => info(get(unit)),
    async read({ unit, offset, length }) {
      const u = get(unit);
      checkRequest(bounds(u), 'read', offset, length);
      const r = widen(offset, length, u.volume.sectorSize);
      const plain = await decrypted(u, r.at, r.end);
      return r.at === offset && r.end === offset + length ? plain : plain.slice(offset - r.at, offset - r.at + length);
    },
    async write({ unit, offset, data }) {
      const u = get(unit);
      checkRequest(bounds(u), 'write', offset, data.length);
      checkWritable(bounds(u));
      await serially(u, async () => {
        for (const w of await encrypted(u, [{ offset, data }])) await u.blk.write(w.offset, w.data);
      });
    },
    async flush({ unit }) {
      const u = get(unit);
      await u.writing;
      await u.blk.flush();
    },
    async commit({ unit, writes }) {
      const u = get(unit);
      const list = checkCommit(bounds(u), writes);
      await serially(u, async () => u.blk.commit(await encrypted(u, list)));
    },
    async format({ path, size, key, version, keyBytes, kdf, sectorSize, uuid }) {
      const one = <T extends number>(name: string, v: number | undefined, allowed: readonly T[]): T | undefined => {
        if (v === undefined || (allowed as readonly number[]).includes(v)) return v as T | undefined;
        throw new SysError('EINVAL', `cgd: format: ${name} ${v} is not one of ${allowed.join(', ')}`);
      };
      const options: FormatOptions = {
        version: one('version', version, [1, 2] as const),
        keyBytes: one('keyBytes', keyBytes, [32, 64] as const),
        sectorSize: one('sectorSize', sectorSize, [512, 4096] as const),
        kdf: kdf as FormatOptions['kdf'],
        uuid,
      };
      const v = await onImage(path, { size }, (blk) => luksFormat(blk, crypto, key, options));
      return { version: v.version, uuid: v.uuid, cipher: v.cipher, offset: v.offset, size: v.size, sectorSize: v.sectorSize };
    },
    addkey: ({ path, partition, key, newKey, kdf }) =>
      onImage(path, { partition }, (blk) => luksAddKey(blk, crypto, key, newKey, { kdf: kdf as FormatOptions['kdf'] })),
    removekey: ({ path, partition, key }) => onImage(path, { partition }, (blk) => luksRemoveKey(blk, crypto, key)),
    dump: ({ path, partition }) => onImage(path, { readonly: true, partition }, (blk) => luksDump(blk, ctx.hyp)),
    async stop() {
      for (const u of units.values()) await u.blk.detach().catch(() => {});
      units.clear();
    },
  };
}
