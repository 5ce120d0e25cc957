// rumpus luks: the keyslots of a LUKS container (add one, remove one) and its header in words,
// through the cgd component of a kernel booted here; and the options that choose a keyslot's
// key derivation, which mkfs --encrypt shares.

import { SysError, boot, type Kernel } from '../kernel/index.js';
import { KEY_HELP, Keys, keyOptions, readKeyFile } from './keys.js';
import { imageName } from './image-name.js';
import { formatLuksDump, type LuksDump } from './luks-dump.js';
import { KERNEL_HELP, UsageError, bootOptions, kernelOptions, noServerHere, serverOptions, type Subcommand, type Values } from './subcommand.js';

export const KDF_HELP = `  --pbkdf KDF                  argon2id, argon2i or pbkdf2 (default: the library's, argon2id
                               for LUKS2, pbkdf2 for LUKS1)
  --pbkdf-memory KIB           argon2's memory cost in KiB
  --pbkdf-force-iterations N   pbkdf2's iterations, or argon2's time cost (passes)
  --pbkdf-parallel N           argon2's lanes`;

export const kdfOptions = {
  pbkdf: { type: 'string' },
  'pbkdf-memory': { type: 'string' },
  'pbkdf-force-iterations': { type: 'string' },
  'pbkdf-parallel': { type: 'string' },
} as const;

const KDF_TYPES = ['argon2id', 'argon2i', 'pbkdf2'] as const;

/** A whole number ≥ 1 given to --NAME, or undefined when absent. */
export function countOption(v: Values, name: string): number | undefined {
  const text = v[name];
  if (typeof text !== 'string') return undefined;
  if (!/^\d+$/.test(text) || Number(text) < 1 || !Number.isSafeInteger(Number(text))) throw new UsageError(`--${name}: '${text}' is not a positive integer`);
  return Number(text);
}

/** A keyslot's key derivation from --pbkdf and its costs (cgd's `kdf` argument), or undefined for the library's default. */
export function kdfFrom(v: Values): Record<string, unknown> | undefined {
  const type = v.pbkdf;
  if (type !== undefined && !(KDF_TYPES as readonly unknown[]).includes(type)) throw new UsageError(`--pbkdf: '${String(type)}' is not one of ${KDF_TYPES.join(', ')}`);
  const memory = countOption(v, 'pbkdf-memory');
  const forced = countOption(v, 'pbkdf-force-iterations');
  const parallel = countOption(v, 'pbkdf-parallel');
  if (type === 'pbkdf2' && (memory !== undefined || parallel !== undefined)) throw new UsageError('--pbkdf-memory and --pbkdf-parallel are argon2\'s costs, not pbkdf2\'s');
  if (type === undefined && (memory ?? forced ?? parallel) !== undefined) throw new UsageError('--pbkdf-memory, --pbkdf-force-iterations and --pbkdf-parallel need --pbkdf');
  if (type === undefined) return undefined;
  const kdf: Record<string, unknown> = { type };
  if (type === 'pbkdf2') {
    if (forced !== undefined) kdf.iterations = forced;
  } else {
    if (forced !== undefined) kdf.time = forced;
    if (memory !== undefined) kdf.memory = memory;
    if (parallel !== undefined) kdf.parallel = parallel;
  }
  return kdf;
}

/**
 * A new passphrase: --new-key-file's (or --key-file's for mkfs) exact bytes, or typed twice on
 * the terminal (EINVAL when the two differ).
 */
export async function newPassphrase(image: string, keyFile: string | undefined, keys: Keys, question: string): Promise<Uint8Array> {
  if (keyFile !== undefined) return readKeyFile(keyFile);
  const first = await keys.ask(image, question);
  const again = await keys.ask(image, 'Verify passphrase: ');
  if (Buffer.compare(first, again) !== 0) throw new UsageError(`${image}: the passphrases do not match`);
  return first;
}

const ACTIONS = ['addkey', 'removekey', 'dump'] as const;

export const LUKS_SUBCOMMAND: Subcommand = {
  summary: 'LUKS containers: add or remove a keyslot\'s passphrase, show the header',
  usage: 'rumpus luks addkey IMG [--key-file OLD] [--new-key-file NEW] [--pbkdf KDF …] | luks removekey IMG [--key-file K] | luks dump IMG [--json]',
  help: `Works on a LUKS1 or LUKS2 container (as cryptsetup makes them, or rumpus mkfs --encrypt)
in the host file IMG, through the cgd component of a kernel booted here.

  addkey IMG     adds a keyslot for a new passphrase (--new-key-file, else typed twice on
                 the terminal), opening the container with an existing one (--key-file, else
                 asked for); prints the new keyslot's number
  removekey IMG  removes the keyslot that --key-file's passphrase (else the one asked for)
                 opens; refused (EBUSY) for the last keyslot, which would lock the data out
  dump IMG       the header without any key: version, UUID, cipher, payload offset and size,
                 sector size, and each keyslot's key derivation

  --new-key-file FILE          the new passphrase of addkey: FILE's exact bytes
${KDF_HELP}
  --json                       dump: one JSON object instead of the listing
${KEY_HELP}
${KERNEL_HELP}

A wrong passphrase is EACCES and writes nothing. The passphrases never appear in any output.`,
  options: {
    ...kernelOptions,
    ...serverOptions,
    ...keyOptions,
    ...kdfOptions,
    'new-key-file': { type: 'string' },
    json: { type: 'boolean', default: false },
  },
  async run(v, positionals) {
    const [action, image, ...extra] = positionals;
    if (!(ACTIONS as readonly (string | undefined)[]).includes(action)) throw new UsageError(`the first operand is one of ${ACTIONS.join(', ')}`);
    if (image === undefined || extra.length) throw new UsageError(`luks ${action} needs exactly one IMG`);
    if (action !== 'addkey' && (v['new-key-file'] !== undefined || v.pbkdf !== undefined)) throw new UsageError(`--new-key-file and --pbkdf are for addkey`);
    if (action !== 'dump' && v.json === true) throw new UsageError('--json is for dump');
    if (v['key-file'] === '-' && v['new-key-file'] === '-') throw new UsageError('--key-file and --new-key-file cannot both be standard input');
    noServerHere(v, 'luks', 'it works on the host file IMG here', (text) => process.stderr.write(text));
    const kdf = action === 'addkey' ? kdfFrom(v) : undefined;
    const keys = Keys.of(v);
    // Every passphrase before the boot, so that a prompt does not wait with a kernel running.
    const key = action === 'dump' ? undefined : await keys.key(image, action === 'addkey' ? 'Enter any existing passphrase: ' : undefined);
    const newKey = action === 'addkey'
      ? await newPassphrase(image, typeof v['new-key-file'] === 'string' ? v['new-key-file'] : undefined, keys, 'Enter new passphrase for key slot: ')
      : undefined;
    const kernel = await boot(bootOptions(v, { mounts: [] }));
    try {
      return await act(kernel, action, image, { ...imageName(image), key, newKey, kdf, json: v.json === true });
    } catch (err) {
      // Named after the image, as the image commands' errors are.
      throw err instanceof SysError ? new SysError(err.errno, `${image}: ${err.message}`) : err;
    } finally {
      await kernel.halt();
    }
  },
};

/** What one action needs besides the container: the passphrases and the new keyslot's KDF. */
interface ActionArgs {
  /** The host file, and the partition of it the container is in (IMAGE@N). */
  path: string;
  partition?: number;
  key?: Uint8Array;
  newKey?: Uint8Array;
  kdf?: Record<string, unknown>;
  json: boolean;
}

/** One action on the container, through cgd; prints what it did. */
async function act(kernel: Kernel, action: string, image: string, a: ActionArgs): Promise<number> {
  if (action === 'addkey') {
    const slot = await kernel.call<number>('cgd', 'addkey', { path: a.path, partition: a.partition, key: a.key, newKey: a.newKey, kdf: a.kdf });
    process.stdout.write(`${image}: keyslot ${slot} added\n`);
  } else if (action === 'removekey') {
    const slot = await kernel.call<number>('cgd', 'removekey', { path: a.path, partition: a.partition, key: a.key });
    process.stdout.write(`${image}: keyslot ${slot} removed\n`);
  } else {
    const info = await kernel.call<LuksDump>('cgd', 'dump', { path: a.path, partition: a.partition });
    process.stdout.write(a.json ? JSON.stringify(info, null, 2) + '\n' : formatLuksDump(image, info) + '\n');
  }
  return 0;
}
