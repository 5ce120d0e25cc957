// cryptsetup as the oracle of the cgd tests: containers it makes, the volume key it dumps, and
// the payload decrypted here with node:crypto — independently of rumpus — into a plain image
// that e2fsck and debugfs read. Also the placements the cgd tests run under: each policy, with
// the cipher in the kernel's thread, in a thread of its own and in a pool.

import { execFileSync, spawnSync } from 'node:child_process';
import { createDecipheriv } from 'node:crypto';
import { closeSync, openSync, readSync, writeFileSync } from 'node:fs';
import { placeComponent, presetSpec, type PlacementSpec, type PolicyName } from '../../kernel/placement.js';
import { BUILTIN } from '../../kernel/registry.js';

/** The passphrase of the test containers (as text: its UTF-8 bytes), and a cheap KDF for those cgd makes (cryptsetup's are argon2id). */
export const KEY = 'cgd test passphrase 7f3a';
export const WRONG_KEY = 'cgd test passphrase 7f3b';
export const FAST_KDF = { type: 'pbkdf2', hash: 'sha256', iterations: 1000 };

/** Why the cryptsetup tests cannot run here, or null when they can. */
export function cryptsetupMissing(): string | null {
  const r = spawnSync('cryptsetup', ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? null : 'cryptsetup is not installed (CI installs cryptsetup-bin)';
}

/** Writes `key` to a file beside `img`, as cryptsetup's --key-file reads it; returns its path. */
export function keyFile(img: string, key = KEY): string {
  writeFileSync(`${img}.key`, key);
  return `${img}.key`;
}

/** `cryptsetup luksFormat` of a plain file, with small KDF parameters. */
export function cryptsetupFormat(img: string, type: 'luks1' | 'luks2'): void {
  const kdf = type === 'luks2'
    ? ['--pbkdf', 'argon2id', '--pbkdf-memory', '32768', '--pbkdf-force-iterations', '4']
    : ['--pbkdf', 'pbkdf2', '--pbkdf-force-iterations', '1000'];
  execFileSync('cryptsetup', ['luksFormat', '-q', '--type', type, ...kdf, '--key-file', keyFile(img), img], { stdio: 'pipe' });
}

/** Whether cryptsetup opens the container with the passphrase (`open --test-passphrase`). */
export function cryptsetupOpens(img: string, key = KEY): boolean {
  return spawnSync('cryptsetup', ['open', '--test-passphrase', '--key-file', keyFile(img, key), img], { stdio: 'pipe' }).status === 0;
}

/** What decrypting a container's payload needs, as cryptsetup reports it. */
export interface Payload {
  volumeKey: Buffer;
  /** Bytes from the device's start. */
  offset: number;
  /** The encryption sector, in bytes. */
  sectorSize: number;
}

/** The container's volume key and payload layout, from `cryptsetup luksDump` (with --dump-volume-key). */
export function payloadOf(img: string, key = KEY): Payload {
  const dump = execFileSync('cryptsetup', ['luksDump', '--dump-volume-key', '-q', '--key-file', keyFile(img, key), img], { encoding: 'utf8' });
  const hex = /MK dump:([\s0-9a-f]+)/.exec(dump)![1].replace(/\s+/g, '');
  const offset = Number(/Payload offset:\s*(\d+)/.exec(dump)![1]) * 512;
  const plain = execFileSync('cryptsetup', ['luksDump', img], { encoding: 'utf8' });
  const sector = /^\s*sector:\s*(\d+) \[bytes\]/m.exec(plain);
  return { volumeKey: Buffer.from(hex, 'hex'), offset, sectorSize: sector ? Number(sector[1]) : 512 };
}

/**
 * The payload of `img` decrypted (aes-xts-plain64: each sector's IV its number in 512-byte
 * sectors, little-endian, as dm-crypt's plain64) into the plain image `out`; returns `out`.
 */
export function decryptPayload(img: string, out: string, key = KEY): string {
  const { volumeKey, offset, sectorSize } = payloadOf(img, key);
  const algorithm = volumeKey.length === 64 ? 'aes-256-xts' : 'aes-128-xts';
  const fd = openSync(img, 'r');
  const chunks: Buffer[] = [];
  try {
    const sector = Buffer.alloc(sectorSize);
    for (let at = offset; readSync(fd, sector, 0, sectorSize, at) === sectorSize; at += sectorSize) {
      const iv = Buffer.alloc(16);
      iv.writeBigUInt64LE(BigInt((at - offset) / 512));
      const d = createDecipheriv(algorithm, volumeKey, iv);
      chunks.push(Buffer.concat([d.update(sector), d.final()]));
    }
  } finally {
    closeSync(fd);
  }
  writeFileSync(out, Buffer.concat(chunks));
  return out;
}

/** A placement to boot the cgd tests under: a name, and its spec. */
export interface CgdRun {
  name: string;
  policy: PlacementSpec;
}

const where = { main: 'in the kernel thread', thread: 'in a thread', process: 'in a process', pool: 'in a pool' } as const;

/** `policy` with the cipher moved into a domain of `kind` (its own, or main). */
export function cipherIn(policy: PolicyName, kind: 'main' | 'thread' | 'pool'): CgdRun {
  return { name: `${policy}, cipher ${where[kind]}`, policy: placeComponent(presetSpec(policy, BUILTIN), 'cipher', kind, kind === 'pool' ? 2 : undefined) };
}

/**
 * Each policy once, and the cipher in each kind of domain once: monolithic with the cipher in
 * main and in a pool, microkernel with it in a thread (the preset) and in main, multiprocess
 * with it in a pool.
 */
export const CGD_RUNS: CgdRun[] = [
  cipherIn('monolithic', 'main'),
  cipherIn('microkernel', 'thread'),
  cipherIn('multiprocess', 'pool'),
  cipherIn('microkernel', 'main'),
  cipherIn('monolithic', 'pool'),
];
