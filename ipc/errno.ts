// POSIX error numbers as they cross every boundary in rumpus: a name, its Linux number and
// the sentence strerror(3) gives. A failure is always a SysError carrying one of these names
// and a message that says what failed; it reads the same in every policy.

export const ERRNO = {
  EPERM: [1, 'Operation not permitted'],
  ENOENT: [2, 'No such file or directory'],
  ESRCH: [3, 'No such process'],
  EINTR: [4, 'Interrupted system call'],
  EIO: [5, 'Input/output error'],
  ENXIO: [6, 'No such device or address'],
  E2BIG: [7, 'Argument list too long'],
  EBADF: [9, 'Bad file descriptor'],
  EAGAIN: [11, 'Resource temporarily unavailable'],
  ENOMEM: [12, 'Cannot allocate memory'],
  EACCES: [13, 'Permission denied'],
  EFAULT: [14, 'Bad address'],
  EBUSY: [16, 'Device or resource busy'],
  EEXIST: [17, 'File exists'],
  EXDEV: [18, 'Invalid cross-device link'],
  ENODEV: [19, 'No such device'],
  ENOTDIR: [20, 'Not a directory'],
  EISDIR: [21, 'Is a directory'],
  EINVAL: [22, 'Invalid argument'],
  EMFILE: [24, 'Too many open files'],
  EFBIG: [27, 'File too large'],
  ENOSPC: [28, 'No space left on device'],
  ESPIPE: [29, 'Illegal seek'],
  EROFS: [30, 'Read-only file system'],
  EMLINK: [31, 'Too many links'],
  EPIPE: [32, 'Broken pipe'],
  ERANGE: [34, 'Numerical result out of range'],
  ENAMETOOLONG: [36, 'File name too long'],
  ENOSYS: [38, 'Function not implemented'],
  ENOTEMPTY: [39, 'Directory not empty'],
  ELOOP: [40, 'Too many levels of symbolic links'],
  EPROTO: [71, 'Protocol error'],
  EOVERFLOW: [75, 'Value too large for defined data type'],
  EMSGSIZE: [90, 'Message too long'],
  EPROTONOSUPPORT: [93, 'Protocol not supported'],
  EADDRINUSE: [98, 'Address already in use'],
  ESTALE: [116, 'Stale file handle'],
  EUCLEAN: [117, 'Structure needs cleaning'],
  ENOTSUP: [95, 'Operation not supported'],
  ECONNRESET: [104, 'Connection reset by peer'],
  ETIMEDOUT: [110, 'Connection timed out'],
  ECONNREFUSED: [111, 'Connection refused'],
  ECANCELED: [125, 'Operation canceled'],
  ENOKEY: [126, 'Required key not available'],
} as const satisfies Record<string, readonly [number, string]>;

export type Errno = keyof typeof ERRNO;

export function isErrno(name: unknown): name is Errno {
  return typeof name === 'string' && Object.hasOwn(ERRNO, name);
}

export function errnoNumber(name: Errno): number {
  return ERRNO[name][0];
}

/** strerror(3): "No such file or directory" for ENOENT. */
export function strerror(name: Errno): string {
  return ERRNO[name][1];
}

/** The only error type that crosses a boundary: an errno name and a sentence. */
export class SysError extends Error {
  readonly errno: Errno;
  readonly code: Errno;

  constructor(errno: Errno, message?: string) {
    super(message ?? strerror(errno));
    this.errno = errno;
    this.code = errno;
    this.name = 'SysError';
  }

  /** The POSIX number, e.g. 2 for ENOENT. */
  get number(): number {
    return errnoNumber(this.errno);
  }
}

/**
 * A host (Node.js) error as a SysError with the same errno when it names one rumpus knows, else
 * EIO; the message is `what` and the host's words.
 */
export function fromHostError(err: unknown, what: string): SysError {
  const code = (err as { code?: unknown } | null | undefined)?.code;
  return new SysError(isErrno(code) ? code : 'EIO', `${what}: ${err instanceof Error ? err.message : String(err)}`);
}

/**
 * Turns anything thrown into a SysError. A SysError passes unchanged; anything else is a
 * bug in the code that threw it and becomes EIO, with where it happened and what it said —
 * never a stack trace, so the result reads the same whether the call was direct or remote.
 */
export function toSysError(err: unknown, where: string): SysError {
  if (err instanceof SysError) return err;
  if (err && typeof err === 'object' && isErrno((err as { errno?: unknown }).errno)) {
    const e = err as { errno: Errno; message?: unknown };
    return new SysError(e.errno, typeof e.message === 'string' ? e.message : undefined);
  }
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return new SysError('EIO', `${where}: internal error: ${text}`);
}
