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
  /** Create the file if it does not exist (mode 0600). Implies `owned`. */
  create?: boolean;
  /**
   * The file is one the driver keeps for itself beside the user's (a write-ahead log) or makes
   * (create): the path is not followed if it is a symbolic link (ELOOP), and it must name a
   * regular file owned by this user with one link (EPERM otherwise), checked on the open file.
   */
  owned?: boolean;
}

/** A claim on a host file, by its identity. */
export interface FileClaim {
  /** True: one writer and no readers. False: shared by any number of readers, and no writer. */
  exclusive: boolean;
  /** Who claims it, for the message a refused claimer gets, e.g. 'attached read-write for the mount at /mnt'. */
  note: string;
}

/** The digests hyp computes: what LUKS1 and LUKS2 headers made by cryptsetup name (sha256 by default, sha1 in old LUKS1 headers). */
export type DigestName = 'sha1' | 'sha224' | 'sha256' | 'sha384' | 'sha512' | 'ripemd160';

/** The argon2 variants LUKS2 keyslots use (RFC 9106; version 0x13). */
export type Argon2Type = 'argon2i' | 'argon2id';

/** Parameters of one argon2 derivation, as the LUKS2 JSON names them (cpus → parallel). */
export interface Argon2Params {
  type: Argon2Type;
  /** Passes over memory, ≥ 1. */
  time: number;
  /** Memory in KiB, ≥ 8 × parallel, ≤ 4 GiB (4194304). */
  memory: number;
  /** Lanes (threads), 1 … 16. */
  parallel: number;
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
   * Opens a host file (close-on-exec, and never blocking on a FIFO). ENOENT (missing and not
   * create), EACCES/EPERM (permissions), EISDIR (a directory), EINVAL (neither a regular file
   * nor a block device: a FIFO, a socket, a character device), EROFS, EMFILE; EINVAL for an
   * empty path. With `owned` (or `create`): ELOOP for a symbolic link, EPERM for a file that is
   * not regular, not this user's, or has more than one link.
   */
  fileOpen(path: string, options?: FileOpenOptions): HostFile;
  /** The file's size in bytes. EBADF (not open), EIO. */
  fileSize(file: HostFile): number;
  /**
   * The file's identity, 'device:inode' (decimal): the same for every path that names the same
   * file (another spelling, a symlink, a hard link). EBADF, EIO.
   */
  fileIdentity(file: HostFile): string;
  /**
   * Claims the open file by its identity, against every other claimer in any thread or process
   * of this user (a lock file in a per-user runtime directory): EBUSY with a sentence naming the
   * holder ('held by rumpus pid N …') when a live claim conflicts. A claim whose holder — a
   * thread or a process — is gone is stale and taken over. The claim ends when the file is
   * closed, or when its holder ends. EPERM when the runtime directory is not this user's alone
   * ($XDG_RUNTIME_DIR/rumpus, else $TMPDIR/rumpus-UID), EBADF, EIO.
   */
  fileClaim(file: HostFile, claim: FileClaim): void;
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
  /** Closes the file, ending its claim if any. EBADF if it was not open. */
  fileClose(file: HostFile): void;
  /**
   * Removes a host file the driver made, e.g. a spent write-ahead log; a symbolic link there is
   * removed as a link, never followed. ENOENT, EACCES, EISDIR (a directory), EPERM (a file of
   * another user).
   */
  fileUnlink(path: string): void;
  /**
   * Renames a file the driver made (e.g. a log set aside), never replacing one: EEXIST if `to`
   * exists. ENOENT, EACCES, EISDIR, EPERM (a file of another user), EXDEV.
   */
  fileRename(from: string, to: string): void;

  // ---- cryptography --------------------------------------------------------------------
  // Digests and AES-XTS run on the calling thread (they are fast, and a component that wants
  // them on other cores is placed in a pool); PBKDF2 and argon2 — deliberately slow — run on the
  // host's thread pool and never block the calling domain while they derive.

  /** The digest of `data` with `hash`. EINVAL for a digest hyp does not know (naming it). */
  digest(hash: DigestName, data: Uint8Array): Uint8Array;
  /**
   * PBKDF2 (RFC 8018) of `password` with HMAC-`hash`: `length` bytes (1 … 1024). EINVAL for an
   * unknown hash, iterations outside 1 … 2^31−1, a bad length.
   */
  pbkdf2(hash: DigestName, password: Uint8Array, salt: Uint8Array, iterations: number, length: number): Promise<Uint8Array>;
  /**
   * Raw argon2i/argon2id output (RFC 9106, version 0x13) of `password`: `length` bytes (4 … 1024).
   * EINVAL for an unknown type, a salt shorter than 8 bytes, parameters out of Argon2Params'
   * bounds; ENOMEM when the host cannot allocate `memory`.
   */
  argon2(params: Argon2Params, password: Uint8Array, salt: Uint8Array, length: number): Promise<Uint8Array>;
  /**
   * AES-XTS of `data`, whole units of `sectorSize` bytes (512 or 4096), each with the plain64
   * IV (its sector number, little-endian, zero-padded to 16 bytes): the first unit's is
   * `sector`, each next one's `sectorSize / 512` more — sectors count 512 bytes whatever the
   * unit, as dm-crypt without iv_large_sectors. AES-128 for a 32-byte key, AES-256 for 64.
   * EINVAL for another key length, a sector size, data not whole units, a sector past 2^53.
   */
  aesXts(direction: 'encrypt' | 'decrypt', key: Uint8Array, sector: number, sectorSize: number, data: Uint8Array): Uint8Array;

  // ---- logging ---------------------------------------------------------------------------

  /** A diagnostic line, tagged with the component by the host. Never fails. */
  log(level: LogLevel, message: string): void;
  /** Text written to the system console (/dev/console). Never fails. */
  consoleWrite(text: string): void;
}
