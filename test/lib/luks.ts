// cryptsetup as the oracle of the LUKS tests, and what a test needs to use the LUKS library
// without a kernel: containers made by `cryptsetup luksFormat` on a plain file (no device
// mapper), the volume key it dumps, its passphrase check, a RawDevice on a host file, a
// LuksCrypto on the host's hyp, and an independent node:crypto decryption of a payload.

import { execFileSync, spawnSync } from 'node:child_process';
import { createCipheriv, createDecipheriv, createHash } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readSync, rmSync, truncateSync, writeFileSync, writeSync, fstatSync, fsyncSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hostHyp } from '../../kernel/hyp-host.js';
import type { Hyp } from '../../kernel/hyp.js';
import { crypt, derive } from '../../servers/cipher/cipher.js';
import type { LuksCrypto, RawDevice } from '../../servers/cgd/luks.js';

/** Why the cryptsetup tests cannot run here, or undefined when they can (for tap's `skip`). */
export const noCryptsetup: string | undefined = (() => {
  const r = spawnSync('cryptsetup', ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return 'cryptsetup is not installed (Debian: apt-get install cryptsetup-bin)';
  return undefined;
})();

/** A fresh temporary directory, removed at exit. */
export function luksTempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'rumpus-luks-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes `passphrase` (its exact bytes) to a key file beside `img` and returns its path. */
export function keyFile(img: string, passphrase: string | Uint8Array, name = 'key'): string {
  const path = `${img}.${name}`;
  writeFileSync(path, passphrase);
  return path;
}

export interface CryptsetupFormat {
  type?: 'luks1' | 'luks2';
  pbkdf?: 'pbkdf2' | 'argon2i' | 'argon2id';
  /** KiB, for argon2. */
  memory?: number;
  /** --pbkdf-force-iterations: argon2's time, or PBKDF2's iterations (≥ 1000). */
  iterations?: number;
  /** Bits: 256 or 512. */
  keySize?: number;
  sectorSize?: number;
  cipher?: string;
  hash?: string;
  /** Bytes of the file, made anew. */
  size?: number;
}

/** Runs cryptsetup (in batch mode) and returns its stdout; throws with its stderr on failure. */
export function cryptsetup(args: string[]): string {
  return execFileSync('cryptsetup', ['-q', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** `cryptsetup luksFormat` on a fresh file `img` (small KDF costs by default: tests stay fast). */
export function cryptsetupFormat(img: string, passphrase: string | Uint8Array, o: CryptsetupFormat = {}): void {
  rmSync(img, { force: true });
  writeFileSync(img, '');
  truncateSync(img, o.size ?? 20 * 1024 * 1024);
  const pbkdf = o.pbkdf ?? 'argon2id';
  const args = ['luksFormat', '--type', o.type ?? 'luks2', '--pbkdf', pbkdf, '--key-file', keyFile(img, passphrase)];
  if (pbkdf !== 'pbkdf2') args.push('--pbkdf-memory', String(o.memory ?? 32768));
  args.push('--pbkdf-force-iterations', String(o.iterations ?? (pbkdf === 'pbkdf2' ? 1000 : 4)));
  if (o.keySize) args.push('--key-size', String(o.keySize));
  if (o.sectorSize) args.push('--sector-size', String(o.sectorSize));
  if (o.cipher) args.push('--cipher', o.cipher);
  if (o.hash) args.push('--hash', o.hash);
  cryptsetup([...args, img]);
}

/** `cryptsetup luksAddKey`: a keyslot for `newPassphrase`, opened with `passphrase`. */
export function cryptsetupAddKey(img: string, passphrase: string | Uint8Array, newPassphrase: string | Uint8Array, o: CryptsetupFormat = {}): void {
  const pbkdf = o.pbkdf ?? 'argon2id';
  const args = ['luksAddKey', '--key-file', keyFile(img, passphrase), '--pbkdf', pbkdf];
  if (pbkdf !== 'pbkdf2') args.push('--pbkdf-memory', String(o.memory ?? 32768));
  args.push('--pbkdf-force-iterations', String(o.iterations ?? (pbkdf === 'pbkdf2' ? 1000 : 4)));
  cryptsetup([...args, img, keyFile(img, newPassphrase, 'newkey')]);
}

/** The volume key cryptsetup reads from `img` with `passphrase` (luksDump --dump-volume-key). */
export function dumpVolumeKey(img: string, passphrase: string | Uint8Array): Uint8Array {
  const out = cryptsetup(['luksDump', '--dump-volume-key', '--key-file', keyFile(img, passphrase), img]);
  const m = /(?:MK|Volume key|Master key) dump:\s*((?:[0-9a-f]{2}\s*)+)/i.exec(out);
  if (!m) throw new Error(`no volume key in cryptsetup's dump:\n${out}`);
  return Uint8Array.from(Buffer.from(m[1].replace(/\s+/g, ''), 'hex'));
}

/** Whether cryptsetup opens `img` with `passphrase` (open --test-passphrase: no device mapper). */
export function cryptsetupAccepts(img: string, passphrase: string | Uint8Array): boolean {
  const r = spawnSync('cryptsetup', ['open', '--test-passphrase', '--key-file', keyFile(img, passphrase), img], { encoding: 'utf8' });
  return r.status === 0;
}

/** `cryptsetup luksDump` of `img`: its text; throws with cryptsetup's stderr if it refuses the header. */
export function cryptsetupDump(img: string): string {
  return cryptsetup(['luksDump', img]);
}

/** A RawDevice on a host file (for the library without a kernel); close it after. */
export function fileDevice(path: string): RawDevice & { close(): void } {
  const fd = openSync(path, 'r+');
  return {
    size: fstatSync(fd).size,
    async read(offset, length) {
      const buf = new Uint8Array(length);
      const n = readSync(fd, buf, 0, length, offset);
      if (n !== length) throw new Error(`short read at ${offset}`);
      return buf;
    },
    async write(offset, data) {
      writeSync(fd, data, 0, data.length, offset);
      fsyncSync(fd);
    },
    close: () => closeSync(fd),
  };
}

/** A LuksCrypto that runs the cipher component's code directly on a host hyp. */
export function hostLuksCrypto(hyp: Hyp = hostHyp('test')): LuksCrypto {
  return {
    hyp,
    derive: (kdf, passphrase, length) => derive(hyp, kdf, passphrase, length),
    encrypt: async (cipher, key, sector, sectorSize, data) => crypt(hyp, 'encrypt', cipher, key, sector, sectorSize, data),
    decrypt: async (cipher, key, sector, sectorSize, data) => crypt(hyp, 'decrypt', cipher, key, sector, sectorSize, data),
  };
}

/** Where a payload is and how it is encrypted (a Volume has these fields). */
export interface PayloadLayout {
  offset: number;
  sectorSize: number;
  /** The IV of the payload's first byte, 512-byte sectors. */
  ivOffset?: number;
}

/**
 * aes-xts-plain64 of `data` at payload byte `at` (a multiple of sectorSize), computed here with
 * node:crypto alone: the IV of each unit is its 512-byte sector number in the payload (plus
 * ivOffset), little-endian — dm-crypt without iv_large_sectors, as cryptsetup sets up LUKS.
 */
export function xtsPayload(direction: 'encrypt' | 'decrypt', key: Uint8Array, layout: PayloadLayout, at: number, data: Uint8Array): Uint8Array {
  const algorithm = key.length === 32 ? 'aes-128-xts' : 'aes-256-xts';
  const out = Buffer.alloc(data.length);
  for (let i = 0; i < data.length; i += layout.sectorSize) {
    const iv = Buffer.alloc(16);
    iv.writeBigUInt64LE(BigInt((layout.ivOffset ?? 0) + (at + i) / 512));
    const c = direction === 'encrypt' ? createCipheriv(algorithm, key, iv) : createDecipheriv(algorithm, key, iv);
    c.setAutoPadding(false);
    Buffer.concat([c.update(data.subarray(i, i + layout.sectorSize)), c.final()]).copy(out, i);
  }
  return new Uint8Array(out);
}

/** The plain bytes of `length` at payload byte `at` of image `img`, decrypted with node:crypto. */
export function decryptPayload(img: string, key: Uint8Array, layout: PayloadLayout, at: number, length: number): Uint8Array {
  const fd = openSync(img, 'r');
  try {
    const buf = new Uint8Array(length);
    readSync(fd, buf, 0, length, layout.offset + at);
    return xtsPayload('decrypt', key, layout, at, buf);
  } finally {
    closeSync(fd);
  }
}

/** Decrypts the whole payload of `img` into a plain image file `out` (for e2fsck and debugfs). */
export function decryptImage(img: string, key: Uint8Array, layout: PayloadLayout, out: string): void {
  const fdIn = openSync(img, 'r');
  const fdOut = openSync(out, 'w');
  try {
    const size = fstatSync(fdIn).size - layout.offset;
    const chunk = 1024 * 1024;
    for (let at = 0; at < size; at += chunk) {
      const length = Math.min(chunk, size - at);
      const buf = new Uint8Array(length);
      readSync(fdIn, buf, 0, length, layout.offset + at);
      writeSync(fdOut, xtsPayload('decrypt', key, layout, at, buf));
    }
  } finally {
    closeSync(fdIn);
    closeSync(fdOut);
  }
}

/**
 * Rewrites the JSON of a LUKS2 container made with 16 KiB headers (cryptsetup's default) and
 * recomputes each copy's sha256 checksum with node:crypto — so a test can make metadata that is
 * well-formed as far as the checksum goes but says what it wants. `copies` picks which to change.
 */
export function rewriteLuks2Json(img: string, mutate: (json: Record<string, any>) => void, copies: ('primary' | 'secondary')[] = ['primary', 'secondary']): void {
  const fd = openSync(img, 'r+');
  try {
    for (const copy of copies) {
      const offset = copy === 'primary' ? 0 : 16384;
      const hdr = Buffer.alloc(16384);
      readSync(fd, hdr, 0, hdr.length, offset);
      const area = hdr.subarray(4096);
      const json = JSON.parse(area.subarray(0, area.indexOf(0)).toString('utf8'));
      mutate(json);
      area.fill(0);
      area.write(JSON.stringify(json), 'utf8');
      hdr.fill(0, 448, 512);
      createHash('sha256').update(hdr).digest().copy(hdr, 448);
      writeSync(fd, hdr, 0, hdr.length, offset);
    }
  } finally {
    closeSync(fd);
  }
}

/** Overwrites bytes of a file at `offset` (to damage a header). */
export function patchFile(img: string, offset: number, bytes: Uint8Array | string): void {
  const fd = openSync(img, 'r+');
  try {
    const b = typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes;
    writeSync(fd, b, 0, b.length, offset);
  } finally {
    closeSync(fd);
  }
}

/**
 * `cryptsetup reencrypt --encrypt` of the plain file `img` in place, offline — cryptsetup's own
 * userspace encryption, no device mapper (LUKS2 only: LUKS1's needs it): the file becomes a LUKS2
 * container whose payload holds the file's first bytes (its size less `reduce`), encrypted by
 * cryptsetup itself.
 */
export function cryptsetupEncrypt(img: string, passphrase: string | Uint8Array, o: { sectorSize?: number; reduce?: string } = {}): void {
  const args = ['reencrypt', '--encrypt', '--type', 'luks2', '--reduce-device-size', o.reduce ?? '32M', '--pbkdf', 'pbkdf2', '--pbkdf-force-iterations', '1000', '--key-file', keyFile(img, passphrase)];
  if (o.sectorSize) args.push('--sector-size', String(o.sectorSize));
  cryptsetup([...args, img]);
}
