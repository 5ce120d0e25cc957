// Taking S_ISUID and S_ISGID away from a file that a process other than root writes (Linux's
// file_remove_privs), without asking its file system for the mode before every write.
//
// vfs is the only way to a file's mode, and the set-id bits come to a file that exists only
// through chmod or fchmod (a new file may have them, but then the open that made it saw them).
// So an open file description that was seen without them stays without them until the next
// chmod that sets either bit on any file: SetidWatch counts those (grants), and each OpenFile
// remembers the count when it was last seen clean (setidFreeAt). A write asks the file system
// only when a grant came since: one getattr, and one setattr when there are bits to take away.
// Any new syscall that can store a mode on an existing file must call chmodding() first.

import { S_IFMT, S_IFREG, S_ISGID, S_ISUID, type Attr } from '../../kernel/api.js';
import { modeAfterWrite } from './access.js';
import type { FsRequests } from './fs-requests.js';
import type { Cred, OpenFile } from './procs.js';

/** Whether a write could ever take set-id bits away from a file with attributes a. */
function mayLoseSetid(a: Attr): boolean {
  return (a.mode & S_IFMT) === S_IFREG && (a.mode & (S_ISUID | S_ISGID)) !== 0;
}

export class SetidWatch {
  /** chmods and fchmods so far that stored S_ISUID or S_ISGID. */
  private grants = 0;

  /** @param fs  the file systems, as the syscalls ask them */
  constructor(private readonly fs: FsRequests) {}

  /** Called before a chmod stores `mode`: one with a set-id bit makes every open file be looked at again. */
  chmodding(mode: number): void {
    if (mode & (S_ISUID | S_ISGID)) this.grants++;
  }

  /**
   * The count to record in an OpenFile as it is opened, taken before the walk that finds its
   * attributes, so that a chmod during the walk is not missed.
   */
  now(): number {
    return this.grants;
  }

  /** Records in `file` what its attributes `a`, seen when the count was `at`, say. */
  seen(file: OpenFile, a: Attr, at: number): void {
    file.setidFreeAt = mayLoseSetid(a) ? undefined : at;
  }

  /**
   * Before p writes to (or truncates) `file`: unless p is root or the file is known to have no
   * set-id bit, takes away the bits p's write takes (modeAfterWrite). Resolves when that is done.
   */
  async beforeWrite(p: Cred, file: OpenFile): Promise<void> {
    const node = file.node;
    if (p.uid === 0 || !node || file.setidFreeAt === this.grants) return;
    const at = this.grants;
    let a = await this.fs.getattr(node);
    const mode = modeAfterWrite(p, a);
    if (mode !== undefined) a = await this.fs.setattr(node, { mode });
    this.seen(file, a, at);
  }
}
