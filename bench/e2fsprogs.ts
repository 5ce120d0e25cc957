// e2fsprogs, the reference ext2 implementation, as the bench and the fault campaign use it: to
// make images rumpus did not make, and as the oracle that says whether an image is sound.

import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/** A tool on PATH or where Debian puts it (/usr/sbin is often not on a user's PATH); null if missing. */
export function e2fsprogsTool(name: string): string | null {
  for (const dir of [...(process.env.PATH ?? '').split(':').filter(Boolean), '/usr/sbin', '/sbin']) {
    if (existsSync(join(dir, name))) return join(dir, name);
  }
  return null;
}

export interface FsckResult {
  clean: boolean;
  /** Both runs' output, for the message that explains a failure. */
  report: string;
}

/**
 * Both checks an image must pass (exit 0 alone misses wrong free counts and more): `e2fsck -fn`
 * exits 0 and prints nothing but its passes and summary, and `e2fsck -fy` on a copy exits 0
 * without "FILE SYSTEM WAS MODIFIED".
 */
export function fsckClean(img: string): FsckResult {
  const e2fsck = e2fsprogsTool('e2fsck') ?? 'e2fsck';
  const n = spawnSync(e2fsck, ['-fn', img], { encoding: 'utf8' });
  const copy = `${img}.fsck-copy`;
  copyFileSync(img, copy);
  const y = spawnSync(e2fsck, ['-fy', copy], { encoding: 'utf8' });
  rmSync(copy, { force: true });
  const extra = n.stdout.split('\n').filter((l) => l && !/^Pass \d/.test(l) && !/ files \(.*\), .* blocks$/.test(l));
  const clean = n.status === 0 && extra.length === 0 && y.status === 0 && !y.stdout.includes('MODIFIED');
  return { clean, report: `e2fsck -fn: exit ${n.status}\n${n.stdout}${n.stderr}\ne2fsck -fy (copy): exit ${y.status}\n${y.stdout}${y.stderr}` };
}
