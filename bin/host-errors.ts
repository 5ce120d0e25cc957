// Host (node:fs) errors as the rumpus command says them: one sentence naming the file and the
// errno's strerror(3) words ("key file d: Is a directory"), never Node's own wording
// ("EISDIR: illegal operation on a directory, read").

import { SysError, isErrno, strerror } from '../kernel/index.js';

/** A host error about `what` (a file as the user named it) as a SysError: its errno, else EIO; `what: strerror`. */
export function hostFileError(err: unknown, what: string): SysError {
  const code = (err as { code?: unknown } | null | undefined)?.code;
  const errno = isErrno(code) ? code : 'EIO';
  return new SysError(errno, `${what}: ${strerror(errno)}`);
}
