// One mounted ext2 file system: the FS_OPS semantics (see kernel/api.ts) on top of the
// superblock, groups, inodes, block maps and directories.
//
// Ops run one at a time (a mutex), each as a unit: if an op fails half-way, everything it
// changed in the cache is rolled back, so a commit only ever writes the state between two
// whole ops. Commits happen at sync points (fsync, sync, unmount) and after an op that left
// more than DIRTY_LIMIT bytes of changed blocks (less on a journaled mount: half of what one
// jbd2 transaction holds). A commit goes to blk as one atomic batch, or, on an image with an
// internal journal, as one jbd2 transaction (journal.ts).
//
// One exception to "an op is one commit": on a journaled mount, freeing more blocks than one
// transaction can log (a file whose blocks lie in more groups than a transaction holds
// bitmaps) is spread, as Linux's ext4_truncate is. The op commits with the inode on the orphan
// list (its names gone, or i_size at its new value) and its blocks still mapped; then the
// blocks go from the end in as many commits as needed (spread.ts chooses each step), each a
// consistent file system with the inode on the list; the last reshapes what is left of an
// extent tree and takes the inode off the list (and frees it when it has no links). The mutex is held from the op's start to the last step, so no op sees a file half
// freed, nor writes into the range being freed; a crash between two steps leaves an orphan
// that the next mount or e2fsck finishes.
//
// Corruption met on a read-write mount (any EUCLEAN an op raises) is recorded in the
// superblock at once, as Linux's ext2_error does: s_state gains EXT2_ERROR_FS, which the
// unmount keeps, so the next `e2fsck -p` checks the file system in full. Then s_errors says
// whether to go on (continue) or to refuse every later change (remount-ro; panic too, for a
// driver does not stop the system it runs in).

import {
  S_IALLUGO, NAME_MAX, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK, SysError, byteString, bytesOf, fileTypeOf, isByteString, mknodTypeFault,
  type Attr, type Context, type FileType, type DirPage, type FsArgs, type FsInstance, type WriteResult, type Handle, type StatFs, type WalkResult, type WalkStep,
} from '../../kernel/api.js';
import { Allocator } from './alloc.js';
import { BlockMap } from './blockmap.js';
import { setU32, u32 } from './bytes.js';
import { BlockCache } from './cache.js';
import { Device, refuseContainer } from './device.js';
import { Directories, type Slot } from './dir.js';
import { corrupt } from './errors.js';
import { FileContent } from './file.js';
import { Groups } from './groups.js';
import { Journal, recoverAtMount } from './journal.js';
import { OrphanList } from './orphans.js';
import { FAST_SYMLINK_MAX, I_BLOCKS_UNIT, InodeTable, LINK_MAX, ROOT_INO, attrOf, handleOf, type Inode } from './inode.js';
import { Mutex } from './mutex.js';
import { STEP_RESERVE, cutFor, type GroupLayout } from './spread.js';
import {
  COMPAT_HAS_JOURNAL, ERRORS_CONTINUE, INCOMPAT_RECOVER, MAX_SIZE_WITHOUT_LARGE_FILE, RO_COMPAT_LARGE_FILE, STATE_CLEAN, STATE_ERRORS, SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE, Superblock, checkFeatures, geometryOf,
  type Geometry,
} from './superblock.js';

/** Clean blocks kept in the cache. */
const CACHE_BYTES = 64 * 1024 * 1024;
/** Changed blocks allowed to wait for a sync point. */
const DIRTY_LIMIT = 8 * 1024 * 1024;
/** relatime: an atime older than this is refreshed on access even if newer than mtime and ctime. */
const ATIME_REFRESH_MS = 24 * 3600 * 1000;
/** An extended attribute block starts with this magic number. */
const XATTR_MAGIC = 0xea020000;
// Where the fields of an extended attribute block's header lie: Linux's struct ext2_xattr_header
// (fs/ext2/xattr.h). Little-endian.
const XATTR_H_MAGIC = 0x00; // u32
const XATTR_H_REFCOUNT = 0x04; // u32: inodes sharing the block

/** Owners are 32-bit on disk. */
function checkId(id: number): number {
  if (id > 0xffffffff) throw new SysError('EINVAL', `ext2: user or group id ${id} does not fit in 32 bits`);
  return id;
}

/** Refuses a name that cannot be a directory entry's. Names are byte strings: their length is their byte count. */
function checkName(name: string): void {
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0') || !isByteString(name)) {
    throw new SysError('EINVAL', `ext2: '${name}' cannot be a directory entry's name`);
  }
  if (name.length > NAME_MAX) throw new SysError('ENAMETOOLONG', `ext2: a name is longer than ${NAME_MAX} bytes`);
}

/** An inode in use, checked to hold a file type: one that holds none is damage, never a regular file. */
function typed(node: Inode): Inode {
  if (!node.hasFileType) throw corrupt(`inode ${node.ino} has mode 0o${node.mode.toString(8)}, which holds no file type`);
  return node;
}

export class Ext2 implements FsInstance {
  private readonly mutex = new Mutex();
  private readonly alloc: Allocator;
  private readonly inodes: InodeTable;
  private readonly map: BlockMap;
  private readonly dirs: Directories;
  private readonly content: FileContent;
  /** Open file descriptions per inode: an unlinked inode is freed at its last close. */
  private readonly opens = new Map<number, number>();
  /** A journaled read-write mount's orphan list (s_last_orphan): unlinked inodes still open. */
  private orphans: OrphanList | null = null;
  /** Inodes whose blocks the op under way leaves, on the orphan list, to be freed in steps after its commit. */
  private readonly spreading = new Set<number>();
  /**
   * s_state as found at mount (or as it was before a crashed incarnation), written back at
   * unmount — with EXT2_ERROR_FS if the superblock has it, set by this mount or an earlier one.
   */
  readonly stateAtMount: number;
  private sbDirty = false;
  /** Set when corruption was met and s_errors says to stop changing the file system. */
  private readonlyAfterErrors = false;
  private unmounted = false;
  private rootGeneration = 0;

  private constructor(
    private readonly ctx: Context,
    readonly source: string,
    private readonly dev: Device,
    private readonly sb: Superblock,
    private readonly geo: Geometry,
    private readonly cache: BlockCache,
    private readonly groups: Groups,
    readonly readonly: boolean,
    /** Why the file system cannot be written here (features, uninitialised groups), or null. */
    readonly readOnlyReason: string | null,
    stateBefore: number | undefined,
    /** The journal a read-write mount of a journaled image commits through, or null (blk's side log). */
    private readonly journal: Journal | null,
  ) {
    this.alloc = new Allocator(cache, groups, geo);
    this.inodes = new InodeTable(cache, groups, geo);
    this.map = new BlockMap(cache, groups, this.alloc, geo);
    this.dirs = new Directories(cache, this.map, geo, sb.defHashVersion);
    this.content = new FileContent(cache, this.map, groups, geo.blockSize);
    this.stateAtMount = stateBefore ?? sb.state;
  }

  /**
   * Attaches the image, checks it, and (read-write) marks it not clean on disk. `stateBefore`
   * is the state the image had before an earlier incarnation of this driver mounted it: every
   * commit is atomic and made between whole ops, so a crash leaves the image as consistent as
   * that incarnation found it, and unmounting may say so. With `key` (the passphrase of the
   * LUKS container the image is) the image is attached through cgd; without one, an image that
   * is a LUKS container is refused with ENOKEY.
   */
  static async mount(ctx: Context, source: string, how: { readonly: boolean; stateBefore?: number; holder?: string; key?: Uint8Array; partition?: number }): Promise<Ext2> {
    const { readonly: readonlyWanted, holder, key, partition } = how;
    const dev = await Device.attach(ctx, source, { readonly: readonlyWanted, holder, key, partition });
    try {
      if (key === undefined) await refuseContainer(dev, source);
      if (dev.size < SUPERBLOCK_OFFSET + SUPERBLOCK_SIZE) throw new SysError('EINVAL', `ext2: ${source} is too small to hold a file system`);
      const fs = await Ext2.open(ctx, source, dev, how, false);
      await fs.start(how.stateBefore !== undefined);
      return fs;
    } catch (err) {
      await dev.detach().catch(() => {});
      throw err;
    }
  }

  /**
   * Reads and checks the file system on `dev`. One that needs recovery has its journal
   * recovered first (journal.ts: on the image when the mount will be read-write, else in
   * memory) and is then read again, `recovered`.
   */
  private static async open(ctx: Context, source: string, dev: Device, how: { readonly: boolean; stateBefore?: number }, recovered: boolean): Promise<Ext2> {
    const sb = new Superblock((await dev.read(SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE)).slice());
    const featuresReason = checkFeatures(sb);
    const geo = geometryOf(sb, dev.size);
    const cache = new BlockCache(dev, geo.blockSize, geo.blocksCount, CACHE_BYTES);
    const groups = await Groups.load(cache, geo, sb.uuid);
    const readOnlyReason = featuresReason ?? groups.uninitialisedReason();
    const readonly = how.readonly || readOnlyReason !== null;
    if (sb.incompat & INCOMPAT_RECOVER) {
      if (!recovered) {
        const report = await recoverAtMount({ dev, sb, geo, cache, groups }, !readonly);
        ctx.hyp.log('info', `ext2: ${source}: ${report.summary}`);
        for (const s of report.skipped) ctx.hyp.log('warn', `ext2: ${source}: journal recovery left out ${s}`);
        return Ext2.open(ctx, source, dev, how, true);
      }
      // Read-only: the image still needs recovery, but this mount reads it recovered.
      sb.incompat = (sb.incompat & ~INCOMPAT_RECOVER) >>> 0;
    }
    if (readOnlyReason && !how.readonly) ctx.hyp.log('warn', `ext2: ${source}: ${readOnlyReason}; mounting read-only`);
    const journaled = !readonly && (sb.compat & COMPAT_HAS_JOURNAL) !== 0 && sb.journalInum !== 0;
    const journal = journaled ? await Journal.open({ dev, sb, geo, cache, groups }, () => ctx.hyp.clockRealtime()) : null;
    return new Ext2(ctx, source, dev, sb, geo, cache, groups, readonly, readOnlyReason, how.stateBefore, journal);
  }

  /**
   * Checks the root; read-write, marks the file system mounted. A journaled one reads its
   * orphan list first (a damaged list refuses the mount, nothing written) and, unless this is
   * a mount made again after this driver restarted (`restarted`: the files on the list are
   * still open through vfs), frees what a crash left on it.
   */
  private async start(restarted: boolean): Promise<void> {
    await this.run(false, async () => {
      const root = await this.inodes.get(ROOT_INO);
      if (!root.isDir || root.links === 0) throw corrupt('the root inode is not a directory in use');
      this.rootGeneration = root.generation;
      if (this.journal) this.orphans = await OrphanList.load(this.sb.lastOrphan, this.inodes, { firstIno: this.geo.firstIno, inodesCount: this.geo.inodesCount });
    });
    if (this.readonly) return;
    const state = this.sb.state;
    if (!(this.stateAtMount & STATE_CLEAN) || this.stateAtMount & STATE_ERRORS) {
      this.ctx.hyp.log('warn', `ext2: ${this.source} was not cleanly unmounted or has errors; running e2fsck is recommended`);
    }
    // A journaled image stays valid on disk while mounted (Linux's ext4_setup_super clears
    // EXT4_VALID_FS only without a journal): whatever a crash leaves, the journal makes consistent.
    if (!this.journal) this.sb.state = state & ~STATE_CLEAN;
    this.sb.mountTime = Math.floor(this.now() / 1000);
    this.sb.mountCount = (this.sb.mountCount + 1) & 0xffff;
    this.sbDirty = true;
    await this.mutex.run(async () => {
      await this.journal?.mounted(this.sb);
      await this.commit();
    });
    if (this.orphans && !restarted) await this.releaseOrphans();
  }

  /**
   * Releases the inodes a crash left on the orphan list, as Linux's ext4_orphan_cleanup does at
   * mount (and e2fsck's release_orphan_inodes): each in one commit, or in steps (finishOrphan).
   * One that cannot be released (damage, a change too large for the journal) is logged, and it
   * and the rest stay on the list for e2fsck; the mount goes on.
   */
  private async releaseOrphans(): Promise<void> {
    const left = [...this.orphans!.inodes];
    let released = 0;
    for (const ino of left) {
      try {
        await this.mutex.run(() => this.finishOrphan(ino));
      } catch (err) {
        this.ctx.hyp.log('warn', `ext2: ${this.source}: orphan inode ${ino} could not be released (${(err as Error).message}); it and the ${left.length - released - 1} after it stay on the orphan list for e2fsck`);
        break;
      }
      released++;
    }
    if (released > 0) this.ctx.hyp.log('info', `ext2: ${this.source}: released ${released} orphan inode(s) left by a crash`);
  }

  /**
   * An orphan nothing holds open: freed when it has no links; else (a truncate Linux was cutting
   * short) a regular file loses its blocks past i_size, and it leaves the list.
   */
  private async dropOrphan(node: Inode): Promise<void> {
    if (node.links === 0) return this.freeInode(node);
    if (node.isReg) await this.map.truncate(node, this.blocksOf(node));
    await this.orphans!.remove(node, this.inodes);
  }

  /**
   * Finishes orphan `ino`, the mutex held: its blocks past where it ends (all of them when it
   * has no links and is not open) freed from the end, each step one commit of what a
   * transaction holds; the last one reshapes what is left of an extent tree and takes the
   * inode off the list, freeing it when it has no links (dropOrphan). One still open and
   * unlinked keeps its blocks to i_size and stays on the list, for its last close. Throws what
   * stopped it (the steps before stay committed; the inode stays on the list).
   */
  private async finishOrphan(ino: number): Promise<void> {
    for (let done = false; !done; ) {
      this.assertWritable();
      done = await this.unit(async () => {
        const node = await this.inodes.get(ino);
        const open = this.opens.has(ino);
        const freeAll = node.links === 0 && !open;
        const keep = freeAll ? 0 : this.blocksOf(node);
        const runs = this.hasBlockMap(node) && (freeAll || node.isReg) ? await this.map.freedFrom(node, keep) : [];
        const cut = cutFor(runs, keep, this.stepBudget(1), this.layout);
        if (cut > keep) {
          await this.map.truncate(node, cut, false);
          return false;
        }
        // The last step: the rest goes here (not left by freeInode to steps of its own).
        if (runs.length > 0) await this.map.truncate(node, keep);
        if (freeAll || !node.isReg) {
          await this.dropOrphan(node);
        } else {
          await this.map.reshape(node);
          // One unlinked while open stays on the list: its last close frees it.
          if (node.links > 0) await this.orphans!.remove(node, this.inodes);
        }
        return true;
      });
      await this.commit();
    }
  }

  /**
   * Whether truncating `node` to `keep` blocks must be spread: on a journaled mount, when what
   * it frees would change more bitmap and descriptor blocks than this op may add to its
   * transaction (half of one, less what the op changed so far). Then the inode joins the orphan
   * list and `spreading`, and its blocks stay for the steps after the op's commit.
   */
  private async spreads(node: Inode, keep: number): Promise<boolean> {
    if (!this.orphans) return false;
    const budget = this.stepBudget(0.5);
    // Each block freed changes at most one bitmap and one descriptor block.
    if (2 * (node.blocks / (this.geo.blockSize / I_BLOCKS_UNIT)) <= budget) return false;
    if (cutFor(await this.map.freedFrom(node, keep), keep, budget, this.layout) === keep) return false;
    this.orphans.add(node);
    this.spreading.add(node.ino);
    return true;
  }

  /**
   * Bitmap and descriptor blocks a truncate may change in the current op: `share` of one
   * transaction, less the blocks the op changed so far, the superblock and STEP_RESERVE.
   */
  private stepBudget(share: number): number {
    return Math.floor(this.journal!.capacity * share) - this.cache.dirtyBytes / this.geo.blockSize - 1 - STEP_RESERVE;
  }

  /** Where groups' bitmaps and descriptors lie, for spread.ts. */
  private get layout(): GroupLayout {
    const { blocksPerGroup, firstDataBlock, blockSize, descSize } = this.geo;
    return { blocksPerGroup, firstDataBlock, descriptorsPerBlock: blockSize / descSize };
  }

  /** The blocks a file of node's size needs. */
  private blocksOf(node: Inode): number {
    return Math.ceil(node.size / this.geo.blockSize);
  }

  get root(): Handle {
    return { ino: ROOT_INO, gen: this.rootGeneration };
  }

  // ---- the ops ----------------------------------------------------------------------------

  /** Whether its device is detached: set by unmount() once blk has let go of the image. */
  get detached(): boolean {
    return this.dev.detached;
  }

  /**
   * Releases files unlinked while open, commits, marks the file system clean, detaches. Ops
   * after it fail with ENODEV. Throws what failed (the commit, or the detach: then `detached`
   * stays false).
   */
  async unmount(): Promise<void> {
    let failure: unknown = null;
    const warn = (err: unknown) => this.ctx.hyp.log('warn', `ext2: ${this.source}: releasing unlinked open files at unmount: ${(err as Error).message}`);
    await this.run(false, async () => {
      for (const ino of [...this.opens.keys()]) {
        const node = await this.inodes.get(ino);
        this.opens.delete(ino);
        await this.release(node);
      }
    }).catch(warn);
    // Orphans a restart left that vfs did not open again.
    for (const ino of [...(this.orphans?.inodes ?? [])]) await this.mutex.run(() => this.finishOrphan(ino)).catch(warn);
    await this.mutex.run(async () => {
      try {
        if (this.writable) {
          this.sb.state = this.stateAtMount | (this.sb.state & STATE_ERRORS);
          this.sbDirty = true;
          await this.commit();
        }
        await this.journal?.unmounted(this.sb);
      } catch (err) {
        failure = err;
      }
      this.unmounted = true;
      await this.dev.detach();
    });
    if (failure) throw failure;
  }

  statfs(): Promise<StatFs> {
    return this.run(false, async () => {
      const bfree = this.groups.totalFreeBlocks();
      return {
        fstype: 'ext2', bsize: this.geo.blockSize, blocks: this.geo.blocksCount, bfree,
        bavail: Math.max(0, bfree - this.sb.reservedBlocks), files: this.geo.inodesCount,
        ffree: this.groups.totalFreeInodes(), namemax: NAME_MAX, readonly: this.readonly,
      };
    });
  }

  walk({ dir: dirH, names }: FsArgs<'walk'>): Promise<WalkResult> {
    return this.run(false, async () => {
      let cur = await this.live(dirH);
      const result: WalkResult = { start: this.attr(cur), steps: [] };
      for (const name of names) {
        if (!cur.isDir) {
          result.error = { errno: 'ENOTDIR', message: `'${name}' is looked up in something that is not a directory` };
          break;
        }
        if (name === '..' && cur.ino === ROOT_INO) break; // the vfs crosses to the parent mount
        const next = name === '.' ? cur : await this.child(cur, name);
        if (!next || (cur.links === 0 && name !== '.')) {
          result.error = { errno: 'ENOENT', message: `no entry '${name}'` };
          break;
        }
        result.steps.push(this.step(next));
        if (next.isSymlink) break;
        cur = next;
      }
      return result;
    });
  }

  getattr({ h }: FsArgs<'getattr'>): Promise<Attr> {
    return this.run(false, async () => this.attr(await this.live(h)));
  }

  setattr({ h, ...a }: FsArgs<'setattr'>): Promise<Attr> {
    return this.run(true, async () => {
      const node = await this.live(h);
      const now = this.now();
      if (a.size !== undefined) {
        if (node.isDir) throw new SysError('EISDIR', `ext2: inode ${node.ino} is a directory`);
        if (!node.isReg) throw new SysError('EINVAL', `ext2: only regular files can be truncated`);
        const shrinks = a.size < node.size;
        await this.content.resize(node, a.size, !(shrinks && (await this.spreads(node, Math.ceil(a.size / this.geo.blockSize)))));
        this.noteSize(node);
        node.mtime = now;
      }
      if (a.mode !== undefined) node.mode = (node.mode & S_IFMT) | (a.mode & S_IALLUGO);
      if (a.uid !== undefined) node.uid = checkId(a.uid);
      if (a.gid !== undefined) node.gid = checkId(a.gid);
      if (a.atime !== undefined) node.atime = a.atime;
      if (a.mtime !== undefined) node.mtime = a.mtime;
      node.ctime = now;
      node.dirty = true;
      return this.attr(node);
    }, false, async () => this.attr(await this.live(h)));
  }

  create({ dir: dirH, name, mode, uid, gid, excl }: FsArgs<'create'>): Promise<WalkStep> {
    return this.run(true, async () => {
      checkName(name);
      const dir = await this.liveDir(dirH);
      const existing = await this.child(dir, name);
      if (existing) {
        if (excl) throw new SysError('EEXIST', `ext2: '${name}' exists`);
        return this.step(existing);
      }
      const node = await this.newInode(dir, S_IFREG | (mode & S_IALLUGO), uid, gid);
      node.links = 1;
      await this.dirs.add(dir, name, node, node.ctime);
      return this.step(node);
    });
  }

  mkdir({ dir: dirH, name, mode, uid, gid }: FsArgs<'mkdir'>): Promise<WalkStep> {
    return this.run(true, async () => {
      checkName(name);
      const dir = await this.liveDir(dirH);
      await this.absent(dir, name);
      if (!dir.canAddSubdir(this.geo.dirNlink)) throw new SysError('EMLINK', `ext2: inode ${dir.ino} has ${dir.links} links`);
      const node = await this.newInode(dir, S_IFDIR | (mode & S_IALLUGO), uid, gid);
      const { block } = await this.map.map(node, 0, this.groups.firstBlock(this.groups.groupOfInode(node.ino)));
      this.dirs.initialize(this.cache.fresh(block), node, dir.ino);
      node.size = this.geo.blockSize;
      node.links = 2;
      await this.dirs.add(dir, name, node, node.ctime);
      dir.addSubdir(this.geo.dirNlink);
      return this.step(node);
    });
  }

  symlink({ dir: dirH, name, target, uid, gid }: FsArgs<'symlink'>): Promise<WalkStep> {
    return this.run(true, async () => {
      checkName(name);
      const text = bytesOf(target);
      if (text.length === 0) throw new SysError('ENOENT', 'ext2: a symbolic link cannot be empty');
      if (text.length > this.symlinkMax) throw new SysError('ENAMETOOLONG', `ext2: a symbolic link target is longer than ${this.symlinkMax} bytes`);
      const dir = await this.liveDir(dirH);
      await this.absent(dir, name);
      const node = await this.newInode(dir, S_IFLNK | 0o777, uid, gid, text.length > FAST_SYMLINK_MAX);
      if (text.length <= FAST_SYMLINK_MAX) {
        node.setBlockBytes(text);
        node.size = text.length;
      } else if ((await this.content.write(node, 0, text)) < text.length) {
        throw new SysError('ENOSPC', 'ext2: no room for the symbolic link target');
      }
      node.links = 1;
      await this.dirs.add(dir, name, node, node.ctime);
      return this.step(node);
    });
  }

  /**
   * A FIFO, device node or socket, or an empty regular file: an inode with no blocks, its
   * entry typed (EXT2_FT_FIFO, …), a device's number in i_block as Linux stores it.
   */
  mknod({ dir: dirH, name, mode, rdev, uid, gid }: FsArgs<'mknod'>): Promise<WalkStep> {
    return this.run(true, async () => {
      checkName(name);
      const fault = mknodTypeFault(mode);
      if (fault) throw new SysError(fault.errno, `ext2: mknod '${name}': ${fault.message}`);
      const dir = await this.liveDir(dirH);
      await this.absent(dir, name);
      const node = await this.newInode(dir, (mode & S_IFMT || S_IFREG) | (mode & S_IALLUGO), uid, gid);
      if (node.isDevice) node.rdev = rdev;
      node.links = 1;
      await this.dirs.add(dir, name, node, node.ctime);
      return this.step(node);
    });
  }

  link({ h, dir: dirH, name }: FsArgs<'link'>): Promise<Attr> {
    return this.run(true, async () => {
      checkName(name);
      const node = await this.live(h);
      if (node.isDir) throw new SysError('EPERM', 'ext2: a directory cannot have another name');
      if (node.links === 0) throw new SysError('ENOENT', 'ext2: the file was removed');
      if (node.links >= LINK_MAX) throw new SysError('EMLINK', `ext2: inode ${node.ino} has ${LINK_MAX} links`);
      const dir = await this.liveDir(dirH);
      await this.absent(dir, name);
      const now = this.now();
      await this.dirs.add(dir, name, node, now);
      node.links++;
      node.ctime = now;
      node.dirty = true;
      return this.attr(node);
    });
  }

  unlink({ dir: dirH, name }: FsArgs<'unlink'>): Promise<void> {
    return this.run(true, async () => {
      checkName(name);
      const dir = await this.liveDir(dirH);
      const node = await this.existing(dir, name);
      if (node.isDir) throw new SysError('EISDIR', `ext2: '${name}' is a directory`);
      const now = this.now();
      await this.dirs.remove(dir, name, now);
      this.dropLink(node, now);
      await this.release(node);
    });
  }

  rmdir({ dir: dirH, name }: FsArgs<'rmdir'>): Promise<void> {
    return this.run(true, async () => {
      if (name === '..') throw new SysError('ENOTEMPTY', `ext2: '..' is not empty`);
      checkName(name);
      const dir = await this.liveDir(dirH);
      const node = await this.existing(dir, name);
      if (!node.isDir) throw new SysError('ENOTDIR', `ext2: '${name}' is not a directory`);
      if (!(await this.dirs.isEmpty(node))) throw new SysError('ENOTEMPTY', `ext2: '${name}' is not empty`);
      const now = this.now();
      await this.dirs.remove(dir, name, now);
      dir.dropSubdir(now);
      this.unlinkDirectory(node, now);
      await this.release(node);
    });
  }

  rename({ sdir: sdirH, sname, ddir: ddirH, dname }: FsArgs<'rename'>): Promise<void> {
    return this.run(true, async () => {
      checkName(sname);
      checkName(dname);
      const sdir = await this.liveDir(sdirH);
      const ddir = await this.liveDir(ddirH);
      if (ddir.links === 0) throw new SysError('ENOENT', 'ext2: the target directory was removed');
      const node = await this.existing(sdir, sname);
      const victimSlot = await this.dirs.lookup(ddir, dname);
      if (victimSlot?.ino === node.ino) return; // two names of one file: nothing to do
      const moving = node.isDir && sdir !== ddir;
      if (moving) await this.refuseMoveBelowItself(node, ddir);
      const now = this.now();
      if (victimSlot) {
        const victim = await this.entryInode(ddir, victimSlot, dname);
        if (node.isDir && !victim.isDir) throw new SysError('ENOTDIR', `ext2: '${dname}' is not a directory`);
        if (!node.isDir && victim.isDir) throw new SysError('EISDIR', `ext2: '${dname}' is a directory`);
        if (victim.isDir && !(await this.dirs.isEmpty(victim))) throw new SysError('ENOTEMPTY', `ext2: '${dname}' is not empty`);
        await this.dirs.retarget(ddir, dname, node, now);
        if (victim.isDir) {
          this.unlinkDirectory(victim, now);
          ddir.dropSubdir(now);
        } else {
          this.dropLink(victim, now);
        }
        await this.release(victim);
      } else {
        if (moving && !ddir.canAddSubdir(this.geo.dirNlink)) throw new SysError('EMLINK', `ext2: inode ${ddir.ino} has ${ddir.links} links`);
        await this.dirs.add(ddir, dname, node, now);
      }
      await this.dirs.remove(sdir, sname, now);
      if (moving) {
        await this.dirs.retarget(node, '..', ddir, now);
        sdir.dropSubdir(now);
        ddir.addSubdir(this.geo.dirNlink);
      }
      node.ctime = now;
      node.dirty = true;
    });
  }

  readlink({ h }: FsArgs<'readlink'>): Promise<string> {
    return this.run(false, async () => {
      const node = await this.live(h);
      if (!node.isSymlink) throw new SysError('EINVAL', `ext2: inode ${node.ino} is not a symbolic link`);
      if (this.isFastSymlink(node)) {
        if (node.size > FAST_SYMLINK_MAX + 1) throw corrupt(`symbolic link inode ${node.ino} keeps ${node.size} bytes in its inode`);
        return byteString(node.blockBytes().subarray(0, node.size));
      }
      if (node.size > this.symlinkMax) throw corrupt(`symbolic link inode ${node.ino} has a target of ${node.size} bytes`);
      return byteString(await this.content.read(node, 0, node.size));
    });
  }

  readdir({ h, cookie, count }: FsArgs<'readdir'>): Promise<DirPage> {
    return this.run(false, async () => {
      const dir = await this.liveDir(h);
      const result = await this.dirs.list(dir, cookie, count, (ino) => this.typeOf(ino));
      this.touchAtime(dir);
      return result;
    });
  }

  read({ h, offset, length }: FsArgs<'read'>): Promise<Uint8Array> {
    return this.run(false, async () => {
      const node = await this.liveFile(h);
      const data = await this.content.read(node, offset, length);
      this.touchAtime(node);
      return data;
    });
  }

  write({ h, offset, data }: FsArgs<'write'>): Promise<WriteResult> {
    return this.writeAt(h, offset, data);
  }

  append({ h, data }: FsArgs<'append'>): Promise<WriteResult> {
    return this.writeAt(h, null, data);
  }

  /**
   * Writes at offset, or at the end of the file (null). On a journaled mount, a write larger
   * than a quarter of one transaction is made as several ops of that size (each one a whole op:
   * a crash may leave a prefix of the write, never half an op); a piece that fails after
   * others were written ends the write short.
   */
  private async writeAt(h: Handle, offset: number | null, data: Uint8Array): Promise<WriteResult> {
    const piece = this.journal ? Math.max(1, Math.floor(this.journal.capacity / 4)) * this.geo.blockSize : Math.max(1, data.length);
    let result = await this.writeOnce(h, offset, data.subarray(0, piece));
    while (result.written < data.length && result.written % piece === 0) {
      const part = data.subarray(result.written, result.written + piece);
      const r = await this.writeOnce(h, result.end, part).catch(() => null);
      if (r === null || r.written === 0) break;
      result = { written: result.written + r.written, end: r.end };
      if (r.written < part.length) break;
    }
    return result;
  }

  /** Writes at offset, or at the end of the file (null), found under the same lock: one op. */
  private writeOnce(h: Handle, offset: number | null, data: Uint8Array): Promise<WriteResult> {
    return this.run(true, async () => {
      const node = await this.liveFile(h);
      const at = offset ?? node.size;
      const written = await this.content.write(node, at, data);
      if (written > 0) {
        node.mtime = node.ctime = this.now();
        this.noteSize(node);
      }
      return { written, end: at + written };
    });
  }

  open({ h }: FsArgs<'open'>): Promise<void> {
    return this.run(false, async () => {
      const node = await this.live(h, { orphan: true });
      if (node.isDevice || node.type === S_IFSOCK) {
        throw new SysError('ENXIO', `ext2: inode ${node.ino} is a ${node.isDevice ? 'device node' : 'socket'}, with nothing behind it to open`);
      }
      this.opens.set(node.ino, (this.opens.get(node.ino) ?? 0) + 1);
    });
  }

  close({ h }: FsArgs<'close'>): Promise<void> {
    return this.run(false, async () => {
      const count = this.opens.get(h.ino);
      if (!count) return;
      const node = await this.inodes.get(h.ino);
      if (node.generation !== h.gen) return;
      if (count > 1) {
        this.opens.set(h.ino, count - 1);
        return;
      }
      this.opens.delete(h.ino);
      await this.release(node);
    });
  }

  /** A commit writes every change, not only this file's: the vfs may forget what it kept. */
  async fsync({ h }: FsArgs<'fsync'>): Promise<{ everything: boolean }> {
    await this.run(false, async () => {
      await this.live(h);
    }, true);
    return { everything: true };
  }

  sync(): Promise<void> {
    return this.run(false, async () => {}, true);
  }

  // ---- running ops ------------------------------------------------------------------------

  /**
   * Runs one op under the mutex as a unit: on failure every change is rolled back; on
   * success the op's inodes are written back and, at a sync point or when enough has
   * changed, everything is committed. An op that left blocks to free in steps (spreading)
   * answers once they are freed: with `answer`'s result when given (attributes read again),
   * else with its own.
   */
  private run<T>(writes: boolean, fn: () => Promise<T>, syncPoint = false, answer?: () => Promise<T>): Promise<T> {
    return this.mutex.run(async () => {
      if (this.unmounted) throw new SysError('ENODEV', `ext2: ${this.source} is no longer mounted`);
      if (writes) this.assertWritable();
      let result = await this.unit(fn);
      if (this.spreading.size > 0) {
        await this.spread();
        if (answer) result = await this.unit(answer);
      }
      if (syncPoint || this.cache.dirtyBytes > this.dirtyLimit) await this.commit();
      return result;
    });
  }

  /** EROFS with the reason when the mount may not change the image. */
  private assertWritable(): void {
    if (this.readonly) {
      throw new SysError('EROFS', `ext2: ${this.source} is mounted read-only${this.readOnlyReason ? ` (${this.readOnlyReason})` : ''}`);
    }
    if (this.readonlyAfterErrors) throw new SysError('EROFS', `ext2: ${this.source} is read-only after errors (its errors behaviour is not 'continue')`);
  }

  /**
   * Runs fn (the mutex held) as a unit: on failure every change is rolled back and the error
   * thrown; on success the op's inodes are written back to the cache, uncommitted.
   */
  private async unit<T>(fn: () => Promise<T>): Promise<T> {
    this.cache.begin();
    this.orphans?.begin();
    let result: T;
    try {
      result = await fn();
      await this.inodes.flush(this.now());
      this.checkJournalRoom();
    } catch (err) {
      this.cache.rollback();
      this.orphans?.restore();
      this.spreading.clear();
      this.alloc.reset();
      this.dirs.clear();
      if (err instanceof SysError && err.errno === 'EUCLEAN') await this.noteCorruption();
      throw err;
    } finally {
      this.inodes.clear();
    }
    this.cache.end();
    return result;
  }

  /**
   * Commits the op that left inodes in `spreading`, then frees their blocks in steps
   * (finishOrphan). The op has happened once its commit is made: a step that fails is logged,
   * and its inode stays on the orphan list for the unmount, the next mount or e2fsck.
   */
  private async spread(): Promise<void> {
    const inos = [...this.spreading];
    this.spreading.clear();
    await this.commit();
    for (const ino of inos) {
      await this.finishOrphan(ino).catch((err) => {
        this.ctx.hyp.log('warn', `ext2: ${this.source}: freeing the blocks of inode ${ino} stopped (${(err as Error).message}); it stays on the orphan list`);
      });
    }
  }

  /**
   * Changed bytes allowed to wait for a sync point: on a journaled mount at most half of what
   * one transaction holds, so that the next op, if it changes no more than the other half, fits.
   */
  private get dirtyLimit(): number {
    return this.journal ? Math.min(DIRTY_LIMIT, Math.floor(this.journal.capacity / 2) * this.geo.blockSize) : DIRTY_LIMIT;
  }

  /** ENOSPC (the op is then rolled back) when the changed blocks, the superblock's included, would not fit in one transaction. */
  private checkJournalRoom(): void {
    if (!this.journal) return;
    const blocks = this.cache.dirtyBytes / this.geo.blockSize + 1;
    if (blocks > this.journal.capacity) {
      throw new SysError('ENOSPC', `ext2: ${this.source}: the change needs ${blocks} blocks in one journal transaction, more than the journal's ${this.journal.capacity}`);
    }
  }

  /**
   * Records in the superblock, and commits at once, that corruption was met (nothing on a
   * read-only mount); then follows s_errors. Runs after the op's rollback, so the commit holds
   * whole ops only. A failed commit is logged: the op's own error is what its caller needs.
   */
  private async noteCorruption(): Promise<void> {
    if (!this.writable) return;
    this.sb.noteError(Math.floor(this.now() / 1000));
    this.sbDirty = true;
    try {
      await this.commit();
    } catch (err) {
      this.ctx.hyp.log('warn', `ext2: ${this.source}: recording the error state: ${(err as Error).message}`);
    }
    if (this.sb.errors !== ERRORS_CONTINUE) {
      this.readonlyAfterErrors = true;
      this.ctx.hyp.log('warn', `ext2: ${this.source}: corruption met, and its errors behaviour is not 'continue': no more changes on this mount`);
    }
  }

  /** Whether changes may still reach the image: a read-write mount that has not stopped after errors. */
  private get writable(): boolean {
    return !this.readonly && !this.readonlyAfterErrors;
  }

  /**
   * Writes every changed block and the superblock (with free counts summed from the groups) in
   * one commit; the groups' and the superblock's checksums are stamped first.
   */
  private async commit(): Promise<void> {
    if (this.readonly) return;
    this.cache.begin();
    await this.groups.seal();
    this.cache.end();
    const writes = this.cache.dirtyWrites();
    if (writes.length === 0 && !this.sbDirty) return;
    this.sb.freeBlocks = this.groups.totalFreeBlocks();
    this.sb.freeInodes = this.groups.totalFreeInodes();
    this.sb.writeTime = Math.floor(this.now() / 1000);
    if (this.orphans) this.sb.lastOrphan = this.orphans.head;
    this.sb.sealChecksum();
    writes.push({ offset: SUPERBLOCK_OFFSET, data: this.sb.raw.slice() });
    await (this.journal ? this.journal.commit(writes) : this.dev.commit(writes));
    this.cache.markClean();
    this.sbDirty = false;
  }

  // ---- helpers ----------------------------------------------------------------------------

  private now(): number {
    return this.ctx.hyp.clockRealtime();
  }

  private attr(node: Inode): Attr {
    return attrOf(node, this.geo.blockSize);
  }

  private step(node: Inode): WalkStep {
    return { handle: handleOf(node), attr: this.attr(node) };
  }

  /**
   * The inode a handle names, or ESTALE if it was freed or reused since. With `orphan`, also an
   * inode unlinked while open and never freed (no links; no deletion time, or on the orphan
   * list, where i_dtime names the next orphan): after a restart
   * that is a file the predecessor held open for a client, and vfs, which still holds it,
   * opens it again — then this incarnation holds it until its last close frees it.
   */
  private async live(h: Handle, { orphan = false } = {}): Promise<Inode> {
    const valid = h.ino >= 1 && h.ino <= this.geo.inodesCount && (h.ino >= this.geo.firstIno || h.ino === ROOT_INO);
    const node = valid ? await this.inodes.get(h.ino) : null;
    const held = (n: Inode) => this.opens.has(h.ino) || (orphan && (n.dtime === 0 || this.orphans?.has(h.ino) === true));
    if (!node || node.generation !== h.gen || node.mode === 0 || (node.links === 0 && !held(node))) {
      throw new SysError('ESTALE', `ext2: inode ${h.ino} (generation ${h.gen}) no longer exists`);
    }
    return typed(node);
  }

  private async liveDir(h: Handle): Promise<Inode> {
    const node = await this.live(h);
    if (!node.isDir) throw new SysError('ENOTDIR', `ext2: inode ${h.ino} is not a directory`);
    return node;
  }

  private async liveFile(h: Handle): Promise<Inode> {
    const node = await this.live(h);
    if (node.isDir) throw new SysError('EISDIR', `ext2: inode ${h.ino} is a directory`);
    if (!node.isReg) throw new SysError('EINVAL', `ext2: inode ${h.ino} is not a regular file`);
    return node;
  }

  /** The inode an entry names; an entry naming a reserved or free inode is damage. */
  private async entryInode(dir: Inode, slot: Slot, name: string): Promise<Inode> {
    if (slot.ino < this.geo.firstIno && slot.ino !== ROOT_INO) {
      throw corrupt(`directory inode ${dir.ino}'s entry '${name}' names reserved inode ${slot.ino}`);
    }
    const node = await this.inodes.get(slot.ino);
    if (node.links === 0 || node.mode === 0) throw corrupt(`directory inode ${dir.ino}'s entry '${name}' names inode ${slot.ino}, which is not in use`);
    return typed(node);
  }

  private async child(dir: Inode, name: string): Promise<Inode | undefined> {
    const slot = await this.dirs.lookup(dir, name);
    return slot && this.entryInode(dir, slot, name);
  }

  private async existing(dir: Inode, name: string): Promise<Inode> {
    const node = await this.child(dir, name);
    if (!node) throw new SysError('ENOENT', `ext2: no entry '${name}'`);
    return node;
  }

  /** Refuses a name that exists, or a directory that was removed (still open). */
  private async absent(dir: Inode, name: string): Promise<void> {
    if (await this.dirs.lookup(dir, name)) throw new SysError('EEXIST', `ext2: '${name}' exists`);
    if (dir.links === 0) throw new SysError('ENOENT', 'ext2: the directory was removed');
  }

  /** A directory may not move into itself or below itself: walks up from the target to the root. */
  private async refuseMoveBelowItself(node: Inode, target: Inode): Promise<void> {
    const seen = new Set<number>();
    for (let at = target; at.ino !== ROOT_INO; ) {
      if (at.ino === node.ino) throw new SysError('EINVAL', `ext2: cannot move directory inode ${node.ino} below itself`);
      const up = await this.dirs.lookup(at, '..');
      if (!up || seen.has(at.ino)) throw corrupt(`directory inode ${at.ino} has no way up to the root`);
      seen.add(at.ino);
      at = await this.entryInode(at, up, '..');
    }
  }

  /** A new inode; one that will own blocks (a file, a directory, or a symlink that is `slow`) gets its file system's block map. */
  private async newInode(parent: Inode, mode: number, uid: number, gid: number, slow = false): Promise<Inode> {
    const ino = await this.alloc.allocInode(parent, (mode & S_IFMT) === S_IFDIR);
    const node = await this.inodes.get(ino);
    if (node.links !== 0) throw corrupt(`inode ${ino} is free in its bitmap but has ${node.links} links`);
    node.reset(mode, checkId(uid), checkId(gid), (node.generation + 1) >>> 0, this.now());
    if (node.isReg || node.isDir || slow) this.map.initialize(node);
    return node;
  }

  private dropLink(node: Inode, now: number): void {
    node.links = Math.max(0, node.links - 1);
    node.ctime = now;
    node.dirty = true;
  }

  /**
   * A directory loses its only name: no links left (its own '.' does not count). Marked dirty,
   * for a directory still open is not freed now and must reach the disk unlinked, so that its
   * last close (or the unmount) finds it so and frees it.
   */
  private unlinkDirectory(node: Inode, now: number): void {
    node.links = 0;
    node.ctime = now;
    node.dirty = true;
  }

  /**
   * Frees an inode nothing names or holds open any more; one that lost its last name while
   * open joins the orphan list (journaled mounts), in this same op's commit.
   */
  private async release(node: Inode): Promise<void> {
    if (node.links !== 0) return;
    if (!this.opens.has(node.ino)) await this.freeInode(node);
    else this.orphans?.add(node);
  }

  /**
   * Frees an inode: its blocks, its attribute block, its bitmap bit. One with more blocks than
   * the op's transaction can free is left on the orphan list (i_size 0, as Linux's
   * ext4_evict_inode leaves it), freed in steps after the op's commit (spreads).
   */
  private async freeInode(node: Inode): Promise<void> {
    const hasBlockMap = this.hasBlockMap(node);
    if (hasBlockMap && (await this.spreads(node, 0))) {
      node.size = 0;
      return;
    }
    await this.orphans?.remove(node, this.inodes);
    if (hasBlockMap) await this.map.truncate(node, 0);
    if (node.fileAcl !== 0) await this.releaseXattrBlock(node);
    node.links = 0;
    node.size = 0;
    node.blocks = 0;
    node.dtime = Math.min(2 ** 32 - 1, Math.floor(this.now() / 1000));
    node.dirty = true;
    await this.alloc.freeInode(node.ino, node.isDir);
    if (node.isDir) this.dirs.forget(node.ino);
  }

  /** Drops the inode's reference to its extended attribute block, freeing it at zero. */
  private async releaseXattrBlock(node: Inode): Promise<void> {
    const b = node.fileAcl;
    if (this.groups.isMetadata(b)) throw corrupt(`inode ${node.ino}'s attribute block ${b} is metadata or outside the file system`);
    const buf = await this.cache.modify(b);
    if (u32(buf, XATTR_H_MAGIC) !== XATTR_MAGIC) throw corrupt(`inode ${node.ino}'s attribute block ${b} has no attribute header`);
    const refs = u32(buf, XATTR_H_REFCOUNT);
    if (refs <= 1) {
      await this.alloc.freeBlock(b);
    } else {
      setU32(buf, XATTR_H_REFCOUNT, refs - 1);
    }
    node.fileAcl = 0;
    node.blocks = Math.max(0, node.blocks - this.geo.blockSize / I_BLOCKS_UNIT);
  }

  /** Whether the inode maps blocks: a file, a directory, a slow symlink. */
  private hasBlockMap(node: Inode): boolean {
    return node.isReg || node.isDir || (node.isSymlink && !this.isFastSymlink(node));
  }

  /** A fast symlink keeps its target in i_block: it has no blocks, other than an attribute block. */
  private isFastSymlink(node: Inode): boolean {
    return node.blocks - (node.fileAcl !== 0 ? this.geo.blockSize / I_BLOCKS_UNIT : 0) === 0;
  }

  /** A symlink target and its NUL fit in one block (as Linux's ext2 and e2fsck require). */
  private get symlinkMax(): number {
    return this.geo.blockSize - 1;
  }

  private async typeOf(ino: number): Promise<FileType> {
    return fileTypeOf(typed(await this.inodes.get(ino)).mode);
  }

  /** A file past 2 GiB needs the large_file feature. */
  private noteSize(node: Inode): void {
    if (node.size > MAX_SIZE_WITHOUT_LARGE_FILE && !(this.sb.roCompat & RO_COMPAT_LARGE_FILE)) {
      this.sb.roCompat |= RO_COMPAT_LARGE_FILE;
      this.sbDirty = true;
    }
  }

  /** relatime: atime moves only when it is older than mtime or ctime, or a day old. */
  private touchAtime(node: Inode): void {
    if (!this.writable) return;
    const now = this.now();
    if (node.storedTime(now) === node.atime) return;
    if (node.atime > node.mtime && node.atime > node.ctime && now - node.atime < ATIME_REFRESH_MS) return;
    node.atime = now;
    node.dirty = true;
  }
}
