// The types the LUKS library shares between its entry (luks.ts) and the two formats
// (luks1.ts, luks2.ts): the raw device under a container, what the library needs of the cipher
// component, and what it answers.

import type { Hyp, Kdf } from '../../kernel/api.js';

export type { Kdf } from '../../kernel/api.js';

/** The raw device under a container (a blk unit): offsets and lengths multiples of 512. */
export interface RawDevice {
  /** Bytes. */
  readonly size: number;
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Writes and makes durable (the caller's device commits). */
  write(offset: number, data: Uint8Array): Promise<void>;
}

/** What the format code needs of the cipher component and the host. */
export interface LuksCrypto {
  /** Digests and random bytes. */
  readonly hyp: Hyp;
  derive(kdf: Kdf, passphrase: Uint8Array, length: number): Promise<Uint8Array>;
  encrypt(cipher: string, key: Uint8Array, sector: number, sectorSize: number, data: Uint8Array): Promise<Uint8Array>;
  decrypt(cipher: string, key: Uint8Array, sector: number, sectorSize: number, data: Uint8Array): Promise<Uint8Array>;
}

/** An opened container. */
export interface Volume {
  version: 1 | 2;
  uuid: string;
  /** E.g. 'aes-xts-plain64'. */
  cipher: string;
  /** The volume (master) key. */
  key: Uint8Array;
  /** Payload start, bytes from the device start. */
  offset: number;
  /** Payload bytes (LUKS2 'dynamic': to the device's end). */
  size: number;
  /** 512 | 4096: the encryption unit. */
  sectorSize: number;
  /** The IV (512-byte sectors) of the payload's first byte, 0 normally. */
  ivOffset: number;
  /** Which keyslot opened it. */
  keyslot: number;
  /** What the reader should know, e.g. that the primary LUKS2 header is damaged. */
  notes: string[];
}

/** The KDF of a new keyslot: any field left out takes the library's default (see luks.ts). */
export type KdfOptions = Partial<Kdf> & { type?: 'pbkdf2' | 'argon2i' | 'argon2id' };

export interface FormatOptions {
  /** Default 2. */
  version?: 1 | 2;
  /** Default 'aes-xts-plain64'. */
  cipher?: string;
  /** Default 64 (aes-xts 512-bit, cryptsetup's default). */
  keyBytes?: 32 | 64;
  kdf?: KdfOptions;
  /** LUKS2 only; default 4096 as cryptsetup on a file. */
  sectorSize?: 512 | 4096;
  uuid?: string;
  /** LUKS2 only: at most 47 bytes of UTF-8. */
  label?: string;
}

/** One keyslot as luksDump shows it (no secrets: the salt is left out). */
export interface KeyslotInfo {
  slot: number;
  /** Derived key bytes for the keyslot area (LUKS2 area key_size; LUKS1 the key size). */
  keyBytes: number;
  kdf: { type: Kdf['type']; hash?: string; iterations?: number; time?: number; memory?: number; parallel?: number };
  stripes: number;
  afHash: string;
  /** Key material area, bytes from the device start. */
  areaOffset: number;
  areaSize: number;
  /** LUKS2 priority: 0 ignore, 1 normal, 2 high (LUKS1: 1). */
  priority: number;
}

/** What luksDump tells without a key. */
export interface LuksInfo {
  version: 1 | 2;
  uuid: string;
  label: string;
  cipher: string;
  /** Volume key bytes. */
  keyBytes: number;
  offset: number;
  /** Payload bytes (to the device's end when LUKS2 says 'dynamic'). */
  size: number;
  sectorSize: number;
  /** LUKS2: the binary header's seqid (LUKS1: 0). */
  seqid: number;
  /** LUKS2: the header size (binary + JSON), bytes; LUKS1: the 592-byte phdr. */
  headerSize: number;
  keyslots: KeyslotInfo[];
  notes: string[];
}
