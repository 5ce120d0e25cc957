// The orphan list of a journaled file system (Documentation/filesystems/ext4/orphan.rst, and
// super.rst's s_last_orphan; fs/ext4/orphan.c): inodes that are unlinked but still open, or
// were being truncated, when the file system last went down. s_last_orphan names the first; each
// one's i_dtime names the next, and 0 ends the list. An inode joins the list in the same commit
// that drops its last link while it is open, and leaves it in the commit that frees it; after a
// crash, the next read-write mount (or e2fsck) frees what is on it.
//
// The list is kept here as an array, head first; the superblock's s_last_orphan is the head,
// written at commit (Ext2.commit). Changes to i_dtime go through the op's inodes, so that a
// failed op's rollback takes them back — and restore() takes back the array, copied before the
// op's first change to it (most ops change nothing here).

import { corrupt } from './errors.js';
import type { Inode, InodeTable } from './inode.js';

export class OrphanList {
  /** The list's inodes, head first. */
  private chain: number[];
  /** The chain as the op under way found it, for restore(); null while the op has not changed it. */
  private saved: number[] | null = null;

  private constructor(chain: number[]) {
    this.chain = chain;
  }

  /**
   * Reads the list from `head` (s_last_orphan) through each inode's i_dtime. EUCLEAN naming
   * the link that cannot be one: an inode number out of range (reserved, or past
   * `inodesCount`), an inode not in use, or a loop. At most `inodesCount` steps.
   */
  static async load(head: number, inodes: InodeTable, limits: { firstIno: number; inodesCount: number }): Promise<OrphanList> {
    const chain: number[] = [];
    const seen = new Set<number>();
    let from = 's_last_orphan';
    for (let ino = head; ino !== 0; ) {
      if (ino < limits.firstIno || ino > limits.inodesCount) throw corrupt(`the orphan list: ${from} names inode ${ino}, which cannot be an orphan (inodes ${limits.firstIno} to ${limits.inodesCount})`);
      if (seen.has(ino)) throw corrupt(`the orphan list: ${from} names inode ${ino} a second time (a loop)`);
      const node = await inodes.get(ino);
      if (node.mode === 0) throw corrupt(`the orphan list: ${from} names inode ${ino}, which is not in use`);
      seen.add(ino);
      chain.push(ino);
      from = `inode ${ino}'s i_dtime`;
      ino = node.dtime;
    }
    return new OrphanList(chain);
  }

  /** The first orphan's inode number (s_last_orphan), 0 for none. */
  get head(): number {
    return this.chain[0] ?? 0;
  }

  /** The list's inodes, head first. */
  get inodes(): readonly number[] {
    return this.chain;
  }

  has(ino: number): boolean {
    return this.chain.includes(ino);
  }

  /** Puts `node` at the head of the list (ext4_orphan_add): its i_dtime names the old head. */
  add(node: Inode): void {
    if (this.has(node.ino)) return;
    node.dtime = this.head;
    node.dirty = true;
    this.save();
    this.chain.unshift(node.ino);
  }

  /**
   * Takes `node` off the list (ext4_orphan_del), if it is on it: the inode before it (or
   * s_last_orphan) then names the one after it, and node's i_dtime is 0.
   */
  async remove(node: Inode, inodes: InodeTable): Promise<void> {
    const at = this.chain.indexOf(node.ino);
    if (at < 0) return;
    const next = this.chain[at + 1] ?? 0;
    if (at > 0) {
      const prev = await inodes.get(this.chain[at - 1]);
      prev.dtime = next;
      prev.dirty = true;
    }
    node.dtime = 0;
    node.dirty = true;
    this.save();
    this.chain.splice(at, 1);
  }

  /** An op begins: the list as it is now is what restore() goes back to. */
  begin(): void {
    this.saved = null;
  }

  /** The op failed and its changes were rolled back: so is the list. */
  restore(): void {
    if (this.saved) this.chain = this.saved;
    this.saved = null;
  }

  /** Before the op's first change: keeps the list as the op found it. */
  private save(): void {
    this.saved ??= [...this.chain];
  }
}
