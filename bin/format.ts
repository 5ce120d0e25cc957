// How the shell and the image commands print files: ls -l lines, stat blocks, df tables.

import { S_IALLUGO, S_ISGID, S_ISUID, S_ISVTX, fileTypeOf, major, minor, type Stat, type StatFs } from '../kernel/index.js';

const TYPE_CHAR: Record<string, string> = { reg: '-', dir: 'd', lnk: 'l', chr: 'c', blk: 'b', fifo: 'p', sock: 's' };
const TYPE_NAME: Record<string, string> = {
  reg: 'regular file', dir: 'directory', lnk: 'symbolic link', chr: 'character special file',
  blk: 'block special file', fifo: 'fifo', sock: 'socket',
};
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** '-rw-r--r--' for 0100644, with setuid, setgid and sticky shown as ls does. */
export function modeString(mode: number): string {
  const rwx = (bits: number, special: boolean, ch: string) =>
    (bits & 4 ? 'r' : '-') + (bits & 2 ? 'w' : '-') + (special ? (bits & 1 ? ch : ch.toUpperCase()) : bits & 1 ? 'x' : '-');
  return (
    TYPE_CHAR[fileTypeOf(mode)] +
    rwx((mode >> 6) & 7, (mode & S_ISUID) !== 0, 's') +
    rwx((mode >> 3) & 7, (mode & S_ISGID) !== 0, 's') +
    rwx(mode & 7, (mode & S_ISVTX) !== 0, 't')
  );
}

/** ls's date: 'Nov 27 13:56' within six months of now, 'Nov 27  2025' otherwise. */
export function lsDate(ms: number, now = Date.now()): string {
  const d = new Date(ms);
  const day = String(d.getDate()).padStart(2, ' ');
  const recent = Math.abs(now - ms) < 182 * 24 * 3600 * 1000;
  const tail = recent
    ? `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`
    : ` ${d.getFullYear()}`;
  return `${MONTHS[d.getMonth()]} ${day} ${tail}`;
}

export interface LongEntry {
  name: string;
  st: Stat;
  /** A symlink's target, shown after '->'. */
  target?: string;
}

/** ls -l lines, columns aligned across the entries: mode, links, uid, gid, size, date, name. */
export function longListing(entries: LongEntry[]): string[] {
  const size = (st: Stat) => {
    const t = fileTypeOf(st.mode);
    return t === 'chr' || t === 'blk' ? `${major(st.rdev)}, ${minor(st.rdev)}` : String(st.size);
  };
  const w = (f: (e: LongEntry) => string) => Math.max(0, ...entries.map((e) => f(e).length));
  const wl = w((e) => String(e.st.nlink));
  const wu = w((e) => String(e.st.uid));
  const wg = w((e) => String(e.st.gid));
  const ws = w((e) => size(e.st));
  return entries.map(({ name, st, target }) =>
    `${modeString(st.mode)}  ${String(st.nlink).padStart(wl)} ${String(st.uid).padEnd(wu)} ${String(st.gid).padEnd(wg)}  ` +
    `${size(st).padStart(ws)} ${lsDate(st.mtime)} ${name}${target !== undefined ? ` -> ${target}` : ''}`,
  );
}

function isoTime(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number, k = 2) => String(n).padStart(k, '0');
  const off = -d.getTimezoneOffset();
  const zone = `${off >= 0 ? '+' : '-'}${pad(Math.floor(Math.abs(off) / 60))}${pad(Math.abs(off) % 60)}`;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:` +
    `${pad(d.getSeconds())}.${pad(Math.floor(ms % 1000), 3)} ${zone}`;
}

/** stat(1)'s block. */
export function statBlock(name: string, st: Stat, target?: string): string {
  const t = fileTypeOf(st.mode);
  const file = target !== undefined ? `${name} -> ${target}` : name;
  return [
    `  File: ${file}`,
    `  Size: ${String(st.size).padEnd(15)} Blocks: ${String(st.blocks).padEnd(10)} IO Block: ${String(st.blksize).padEnd(6)} ${TYPE_NAME[t]}`,
    `Device: ${String(st.dev).padEnd(14)} Inode: ${String(st.ino).padEnd(11)} Links: ${st.nlink}` +
      (t === 'chr' || t === 'blk' ? `     Device type: ${major(st.rdev)},${minor(st.rdev)}` : ''),
    `Access: (${(st.mode & S_IALLUGO).toString(8).padStart(4, '0')}/${modeString(st.mode)})  Uid: ${String(st.uid).padStart(5)}   Gid: ${String(st.gid).padStart(5)}`,
    `Access: ${isoTime(st.atime)}`,
    `Modify: ${isoTime(st.mtime)}`,
    `Change: ${isoTime(st.ctime)}`,
  ].join('\n');
}

export interface DfRow {
  source: string;
  target: string;
  fs: StatFs;
}

/** df's table in 1K blocks. */
export function dfTable(rows: DfRow[]): string[] {
  const cells = rows.map(({ source, target, fs }) => {
    const k = (n: number) => Math.floor((n * fs.bsize) / 1024);
    const used = fs.blocks - fs.bfree;
    const pct = fs.blocks === 0 ? '-' : `${Math.ceil((used * 100) / (used + fs.bavail || 1))}%`;
    return [source, String(k(fs.blocks)), String(k(used)), String(k(fs.bavail)), pct, target];
  });
  const header = ['Filesystem', '1K-blocks', 'Used', 'Available', 'Use%', 'Mounted on'];
  const all = [header, ...cells];
  const widths = header.map((_, i) => Math.max(...all.map((r) => r[i].length)));
  return all.map((r) =>
    r.map((c, i) => (i === 0 || i === 5 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd(),
  );
}
