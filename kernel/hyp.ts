// hyp — the hypercall interface: the whole of what a component may ask of its host.
//
// Like NetBSD's rumpuser(3), it is small, flat and grouped by concern, and every call states
// how it fails: a failing hypercall throws a SysError whose errno names the cause, so a driver
// never guesses what went wrong. Each domain (the main thread, a worker thread, a child
// process) has its own instance bound to that domain's host resources; a driver cannot tell
// which one it got.
//
// File calls are synchronous and block the calling domain until the host answers, as a disk
// controller's driver would wait for its interrupt: in the monolithic policy that is the whole
// kernel, in the microkernel policy only the component's own thread.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** A host file opened for block I/O; valid only in the domain that opened it. */
export type HostFile = number;

export interface FileOpenOptions {
  /** Open for reading only; pwrite then fails with EBADF. */
  readonly?: boolean;
  /** Create the file if it does not exist (mode 0600). */
  create?: boolean;
}

export interface Hyp {
  // ---- clock ---------------------------------------------------------------------------

  /** Wall-clock time in milliseconds since the epoch. Never fails. */
  clockRealtime(): number;
  /** A monotonic clock in nanoseconds (as a double), for intervals. Never fails. */
  clockMonotonic(): number;
  /**
   * Resolves after `ms` milliseconds. Never fails. Used for timeouts and periodic work;
   * an idle component that awaits it burns no CPU.
   */
  sleep(ms: number): Promise<void>;

  // ---- random --------------------------------------------------------------------------

  /** `n` bytes from the host's cryptographic generator. EINVAL if n > 65536. */
  random(n: number): Uint8Array;

  // ---- host files, for block devices -----------------------------------------------------

  /**
   * Opens a host file. ENOENT (missing and not create), EACCES/EPERM (permissions),
   * EISDIR (a directory), EROFS, EMFILE; EINVAL for an empty path.
   */
  fileOpen(path: string, options?: FileOpenOptions): HostFile;
  /** The file's size in bytes. EBADF (not open), EIO. */
  fileSize(file: HostFile): number;
  /**
   * Reads up to buf.length bytes at byte offset `pos` into buf; returns how many were read
   * (fewer only at end of file). EBADF, EINVAL (negative pos), EIO.
   */
  filePread(file: HostFile, buf: Uint8Array, pos: number): number;
  /** Writes all of data at byte offset `pos`. EBADF (also: opened read-only), ENOSPC, EFBIG, EIO. */
  filePwrite(file: HostFile, data: Uint8Array, pos: number): void;
  /** Makes everything written so far durable (fdatasync). EBADF, EIO. */
  fileSync(file: HostFile): void;
  /** Sets the file's size. EBADF, EINVAL, EFBIG, EIO. */
  fileTruncate(file: HostFile, size: number): void;
  /** Closes the file. EBADF if it was not open. */
  fileClose(file: HostFile): void;
  /** Removes a host file, e.g. a spent write-ahead log. ENOENT, EACCES, EISDIR. */
  fileUnlink(path: string): void;

  // ---- logging ---------------------------------------------------------------------------

  /** A diagnostic line, tagged with the component by the host. Never fails. */
  log(level: LogLevel, message: string): void;
  /** Text written to the system console (/dev/console). Never fails. */
  consoleWrite(text: string): void;
}
