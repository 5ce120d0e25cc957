// Tokens of `rumpus serve`: who a connection is. A token maps to credentials (uid, gid, groups)
// and says whether it may use the control ops (admin). The table comes from a file, one token a
// line:
//
//   # comment
//   TOKEN uid=N gid=N [groups=N,N,…] [admin]
//
// where TOKEN is at least 32 hex or base64url chars; or it is made here: one admin root token of
// 32 random bytes in hex. A client's token file holds its token as its first word, so the file
// written for a generated token serves a client as it is.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { SysError } from '../../ipc/errno.js';
import { fullCredentials, type FullCredentials } from '../proc.js';

/** What a token grants: the credentials of the connection's process, and the control ops. */
export interface Grant {
  cred: FullCredentials;
  admin: boolean;
}

/** Shortest token accepted, in chars. */
export const MIN_TOKEN_CHARS = 32;
const TOKEN_CHARS = /^[A-Za-z0-9_-]+$/;

const digest = (token: string) => createHash('sha256').update(token, 'utf8').digest();

/** The tokens a server accepts. */
export class TokenTable {
  private readonly entries: { digest: Buffer; grant: Grant }[] = [];

  /**
   * @param generated  the token this table was made with by TokenTable.generate(), which the
   *   server writes beside each unix socket (`P.token`); absent for a table read from a file.
   */
  constructor(readonly generated?: string) {}

  /** A table of one new admin root token: 32 random bytes, in hex. */
  static generate(): TokenTable {
    const token = randomBytes(32).toString('hex');
    const table = new TokenTable(token);
    table.add(token, { cred: fullCredentials({}), admin: true });
    return table;
  }

  /** The table of a token file's text (see the top of this file). EINVAL, naming the line, for a bad one. */
  static parse(text: string, source = 'token file'): TokenTable {
    const table = new TokenTable();
    text.split('\n').forEach((raw, i) => {
      const line = raw.replace(/#.*/, '').trim();
      if (line === '') return;
      const where = `${source}, line ${i + 1}`;
      const [token, ...fields] = line.split(/\s+/);
      table.add(token, parseGrant(fields, where), where);
    });
    if (table.entries.length === 0) throw new SysError('EINVAL', `${source}: no token in it`);
    return table;
  }

  /** The table of a token file. Fails as readFileSync (ENOENT, EACCES…) or parse. */
  static read(path: string): TokenTable {
    return TokenTable.parse(readText(path), path);
  }

  /** Adds a token. EINVAL for one too short, of other chars, or there already. */
  add(token: string, grant: Grant, where = 'token'): void {
    if (token.length < MIN_TOKEN_CHARS || !TOKEN_CHARS.test(token)) {
      throw new SysError('EINVAL', `${where}: a token must be at least ${MIN_TOKEN_CHARS} hex or base64url chars`);
    }
    const d = digest(token);
    if (this.entries.some((e) => timingSafeEqual(e.digest, d))) throw new SysError('EINVAL', `${where}: the same token is there twice`);
    this.entries.push({ digest: d, grant });
  }

  /**
   * Writes the generated token's file at `path` (0600; see writeTokenFile), for clients to read.
   * EINVAL for a table read from a file, whose tokens its owner hands out.
   */
  writeGenerated(path: string): void {
    if (this.generated === undefined) throw new SysError('EINVAL', 'only a generated token is written out; this table was read from a file');
    writeTokenFile(path, this.generated, this.lookup(this.generated)!);
  }

  /**
   * What `token` grants, or null for no token of this table. Compared in constant time: the
   * digests of every entry are compared, whichever matches.
   */
  lookup(token: string): Grant | null {
    const d = digest(token);
    let found: Grant | null = null;
    for (const e of this.entries) if (timingSafeEqual(e.digest, d)) found = e.grant;
    return found;
  }
}

/** The fields after a token: uid=N gid=N [groups=N,N,…] [admin]. */
function parseGrant(fields: string[], where: string): Grant {
  const cred: { uid?: number; gid?: number; groups?: number[] } = {};
  let admin = false;
  const num = (v: string, name: string) => {
    if (!/^\d+$/.test(v)) throw new SysError('EINVAL', `${where}: ${name} must be a number, got '${v}'`);
    return Number(v);
  };
  for (const f of fields) {
    const [name, value] = f.split('=', 2);
    if (f === 'admin') admin = true;
    else if ((name === 'uid' || name === 'gid') && value !== undefined) cred[name] = num(value, name);
    else if (name === 'groups' && value !== undefined) cred.groups = value === '' ? [] : value.split(',').map((g) => num(g, 'a group'));
    else throw new SysError('EINVAL', `${where}: unknown field '${f}' (known: uid=N gid=N groups=N,N admin)`);
  }
  if (cred.uid === undefined || cred.gid === undefined) throw new SysError('EINVAL', `${where}: a token needs uid=N and gid=N`);
  try {
    return { cred: fullCredentials(cred), admin };
  } catch (err) {
    throw new SysError('EINVAL', `${where}: ${(err as Error).message}`);
  }
}

/** A file's text; a SysError with the file named when it cannot be read. */
function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new SysError(code === 'ENOENT' ? 'ENOENT' : code === 'EACCES' ? 'EACCES' : 'EIO', `cannot read token file ${path}: ${(err as Error).message}`);
  }
}

/** The token in a client's token file: its first whitespace-separated word. */
export function readClientToken(path: string): string {
  const token = readText(path).replace(/#.*/g, '').trim().split(/\s+/)[0];
  if (!token) throw new SysError('EINVAL', `token file ${path} holds no token`);
  return token;
}

/**
 * Writes a token file for `token` (mode 0600, created or replaced): the token and, after it, what
 * it grants, as a server's token file has it.
 */
export function writeTokenFile(path: string, token: string, grant: Grant): void {
  const groups = grant.cred.groups.length > 0 ? ` groups=${grant.cred.groups.join(',')}` : '';
  const line = `${token} uid=${grant.cred.uid} gid=${grant.cred.gid}${groups}${grant.admin ? ' admin' : ''}\n`;
  writeFileSync(path, line, { mode: 0o600 });
  chmodSync(path, 0o600); // a file that was there keeps its mode through writeFileSync
}

/**
 * Where `rumpus serve` writes a generated token when it listens on TCP, unless told:
 * `$XDG_RUNTIME_DIR/rumpus-PID.token`, else `/tmp/rumpus-UID/rumpus-PID.token` (that directory
 * made 0700; refused with EACCES when it is another user's or open to others).
 */
export function defaultTokenOut(env: NodeJS.ProcessEnv = process.env): string {
  const name = `rumpus-${process.pid}.token`;
  if (env.XDG_RUNTIME_DIR) return join(env.XDG_RUNTIME_DIR, name);
  const dir = join('/tmp', `rumpus-${process.getuid?.() ?? 0}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  checkPrivateDir(dir);
  return join(dir, name);
}

/**
 * Checks that a directory is the server's own and closed to others: owned by this process's
 * uid, no group or other permission bits. EACCES, with a sentence, otherwise.
 */
export function checkPrivateDir(dir: string): void {
  const st = statSync(dir);
  const uid = process.getuid?.();
  if (!st.isDirectory()) throw new SysError('ENOTDIR', `${dir} is not a directory`);
  if (uid !== undefined && st.uid !== uid) throw new SysError('EACCES', `${dir} belongs to uid ${st.uid}, not to this server's uid ${uid}; use a directory of your own`);
  if ((st.mode & 0o077) !== 0) {
    throw new SysError('EACCES', `${dir} has mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}: others can enter it; make it 0700 (chmod 700 ${dir}) or use another directory`);
  }
}

/** The token file beside a unix socket at `socketPath`: `socketPath.token`. */
export const tokenFileBeside = (socketPath: string): string => `${socketPath}.token`;
