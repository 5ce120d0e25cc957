// What rumpus picks where cryptsetup would benchmark: fixed parameters, so that a container's
// cost to open is the same on every machine and in every test run.

import { checkKdf, type Kdf, type Pbkdf2Kdf } from '../../kernel/api.js';
import { luksError } from './luks-common.js';
import type { KdfOptions } from './luks-types.js';

/**
 * The default keyslot KDF: argon2id, 4 passes over 256 MiB in 4 lanes. cryptsetup benchmarks
 * for 2 s with at most 1 GiB and min(4, cores) lanes; a fixed 256 MiB takes about 1.1 s on a
 * 2-core machine here (1 GiB: 4.3 s), and leaves room for several derivations at once in a
 * pool, each of which holds its memory while it runs.
 */
export const DEFAULT_ARGON2 = { time: 4, memory: 256 * 1024, parallel: 4 } as const;
/** The default PBKDF2 (LUKS1, or asked for): sha256 as cryptsetup, 1,000,000 iterations (~0.5 s here). */
export const DEFAULT_PBKDF2 = { hash: 'sha256', iterations: 1_000_000 } as const;
/**
 * Iterations of the volume key's digest (PBKDF2-sha256), checked once per keyslot tried:
 * cryptsetup benchmarks for 1/8 s with at least 1000; 100,000 take ~20 ms here.
 */
export const DIGEST_ITERATIONS = 100_000;
/** Stripes of the anti-forensic splitter (LUKS_STRIPES in cryptsetup), and its hash. */
export const STRIPES = 4000;
export const AF_HASH = 'sha256';
/** Salts of keyslots and digests: 32 bytes, as cryptsetup. */
export const SALT_BYTES = 32;

/**
 * The KDF of a new keyslot from what the caller gave: the defaults above for any field left
 * out, a fresh salt (from `random`) unless one is given. EINVAL for an unknown type or hash, or
 * a parameter out of the cipher component's bounds.
 */
export function kdfFrom(options: KdfOptions | undefined, random: (n: number) => Uint8Array): Kdf {
  try {
    return checkKdf(filled(options, random));
  } catch (err) {
    const message = (err as Error).message;
    throw message.startsWith('cipher: ') ? luksError('EINVAL', message.slice('cipher: '.length)) : err;
  }
}

function filled(options: KdfOptions | undefined, random: (n: number) => Uint8Array): Kdf {
  const type = options?.type ?? 'argon2id';
  const salt = options?.salt ?? random(SALT_BYTES);
  const o = (options ?? {}) as Partial<Record<string, unknown>>;
  switch (type) {
    case 'pbkdf2':
      return { type, hash: (o.hash as Pbkdf2Kdf['hash']) ?? DEFAULT_PBKDF2.hash, iterations: (o.iterations as number) ?? DEFAULT_PBKDF2.iterations, salt };
    case 'argon2i':
    case 'argon2id':
      return {
        type, salt, time: (o.time as number) ?? DEFAULT_ARGON2.time, memory: (o.memory as number) ?? DEFAULT_ARGON2.memory,
        parallel: (o.parallel as number) ?? DEFAULT_ARGON2.parallel,
      };
    default:
      throw luksError('EINVAL', `unknown KDF '${String(type)}' (rumpus has pbkdf2, argon2i, argon2id)`);
  }
}
