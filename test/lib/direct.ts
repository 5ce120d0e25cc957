// What the direct-path tests (test/direct-files.ts, test/direct-writes.ts) share.

import { O_CREAT, O_WRONLY, type Kernel, type Proc, type SysError } from '../../kernel/index.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A failure's errno and sentence, or what a call gave: bytes as text, anything else as JSON. */
export async function outcome(p: Promise<unknown>): Promise<string> {
  return p.then(
    (v) => (v instanceof Uint8Array ? `bytes '${dec.decode(v)}'` : JSON.stringify(v)),
    (err: SysError) => `${err.errno}: ${err.message}`,
  );
}

/** Calls served by vfs and by tmpfs so far. */
export async function served(k: Kernel): Promise<{ vfs: number; tmpfs: number }> {
  const c = await k.callCounts();
  return { vfs: c.vfs, tmpfs: c.tmpfs };
}

/** A new file at `path` holding `text`. */
export async function makeFile(p: Proc, path: string, text: string): Promise<void> {
  const fd = await p.open(path, O_WRONLY | O_CREAT, 0o644);
  await p.write(fd, enc.encode(text));
  await p.close(fd);
}
