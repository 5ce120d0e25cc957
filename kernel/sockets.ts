// Unix-socket channels, used wherever a process domain is on one end (other than the pipe
// between the core and the process): process domains listen, their peers connect. node:net and
// node:crypto are loaded when first needed: most thread domains never open a socket, and would
// pay for them at every start.
//
// Anyone on the host who can reach a socket can connect to it, so a channel is made only
// between peers that prove who they are. The core hands each domain, over its private link
// (the pipe or port it was started with, never the command line or the environment), one key
// per channel it may have: an HMAC key derived from a per-boot secret and the two domains'
// names. The handshake, in frames of the usual shape:
//
//   listener → dialer  [REQ, 0, '@domain', 'challenge', {domain: L, nonce: Ln}]
//   dialer → listener  [REQ, 1, '@domain', 'hello', {from: D, nonce: Dn, proof: mac('hello')}]
//   listener → dialer  [OK, 1, {proof: mac('welcome')}]    or [ERR, 1, errno, sentence], closed
//
// where mac(label) = HMAC-SHA256(key of D–L, JSON [label, D, L] ‖ Ln ‖ Dn): each side proves it
// holds the key for this very connection (fresh nonces: a recorded proof is worth nothing), and
// the dialer learns it reached the genuine listener. Until then a peer may send one frame of
// at most PREAUTH_FRAME bytes within HELLO_TIMEOUT_MS; anything else costs it its connection
// and nothing more. Whether a proven peer may open a channel now (one the core announced, none
// live) is the domain's decision (Domain.admit).

import type * as crypto from 'node:crypto';
import { lstatSync, mkdtempSync, readdirSync, rmdirSync, unlinkSync } from 'node:fs';
import type * as net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { SysError } from '../ipc/errno.js';
import { ERR, OK, REQ, type Frame, type Link } from '../ipc/frame.js';
import { MAX_FRAME, StreamLink } from '../ipc/stream-link.js';
import { dynamicImport } from './dynamic-import.js';
import { checkPrivateDir as checkPrivateDirectory } from './private-files.js';

/** Largest frame a peer may send before it has proved who it is, in bytes. */
export const PREAUTH_FRAME = 4096;
/** How long a peer has, from connecting, to complete the handshake, in milliseconds. */
export const HELLO_TIMEOUT_MS = 10_000;
/** Handshakes a listener runs at once; a connection beyond them is closed at once. */
export const MAX_UNPROVEN = 32;
/** Bytes in a nonce and in a channel key. */
const NONCE_BYTES = 32;

const CONTROL = '@domain';

/** How a listening domain decides on a peer that has proved its name. */
export interface Gate {
  /** The listening domain's name. */
  self: string;
  /** The key of the channel with `peer`, or undefined when this domain has no channel with it. */
  keyFor(peer: string): Uint8Array | undefined;
  /**
   * Takes the link of a proven peer as its channel, synchronously (frames that follow the
   * handshake go to whatever it installs); or refuses it with a SysError, which the peer is sent.
   */
  admit(peer: string, link: Link): void;
}

/**
 * Connects to `listener`'s socket at `path` as `self`, proves itself with `key`, checks the
 * listener's proof, and hands the link to `adopt` (synchronously, before any later frame is
 * read). Fails with ECONNRESET when the socket cannot be reached or the peer breaks off,
 * EACCES when either side's proof is wrong, ETIMEDOUT when the handshake takes too long.
 */
export async function connectSocket(listener: string, path: string, self: string, key: Uint8Array, adopt: (link: Link) => void): Promise<void> {
  checkPrivateDir(path);
  const [{ connect }, c] = await Promise.all([dynamicImport<typeof net>('node:net'), dynamicImport<typeof crypto>('node:crypto')]);
  return new Promise((resolve, reject) => {
    const sock = connect(path);
    const link = new StreamLink(sock, PREAUTH_FRAME);
    const nonce = c.randomBytes(NONCE_BYTES);
    let theirs: Uint8Array | null = null;
    let settled = false;
    const fail = (err: SysError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      link.close();
      reject(err);
    };
    const timer = setTimeout(() => fail(new SysError('ETIMEDOUT', `domain ${listener} at ${path} did not complete the handshake in ${HELLO_TIMEOUT_MS} ms`)), HELLO_TIMEOUT_MS);
    sock.once('error', (err) => fail(new SysError('ECONNRESET', `cannot reach domain ${listener} at ${path}: ${err.message}`)));
    link.onClose = (reason) => fail(new SysError('ECONNRESET', `domain ${listener} at ${path} closed the connection during the handshake (${reason})`));
    link.onFrame = (raw) => {
      if (theirs === null) {
        const challenge = requestArgs(raw, 0, 'challenge');
        const n = challenge?.nonce;
        if (challenge?.domain !== listener || !isNonce(n)) return fail(new SysError('EACCES', `the peer at ${path} is not domain ${listener}: no valid challenge`));
        theirs = n;
        link.send([REQ, 1, CONTROL, 'hello', { from: self, nonce, proof: mac(c, key, 'hello', self, listener, theirs, nonce) }]);
        return;
      }
      const f = raw as Frame;
      if (Array.isArray(f) && f[0] === ERR && f[1] === 1) return fail(new SysError('EACCES', `domain ${listener} refused the channel: ${String(f[3])}`));
      const proof = Array.isArray(f) && f[0] === OK && f[1] === 1 ? (f[2] as { proof?: unknown } | null)?.proof : undefined;
      if (!(proof instanceof Uint8Array) || !same(c, proof, mac(c, key, 'welcome', self, listener, theirs, nonce))) {
        return fail(new SysError('EACCES', `the peer at ${path} failed to prove it is domain ${listener}`));
      }
      settled = true;
      clearTimeout(timer);
      link.limit = MAX_FRAME;
      adopt(link);
      resolve();
    };
  });
}

/**
 * Listens at `path` (in a private directory, see checkPrivateDir) and runs the handshake on
 * each connection; proven peers go to `gate.admit`. A failed handshake closes only that
 * connection. Resolves once listening.
 */
export async function listenSocket(path: string, gate: Gate): Promise<net.Server> {
  checkPrivateDir(path);
  const [{ createServer }, c] = await Promise.all([dynamicImport<typeof net>('node:net'), dynamicImport<typeof crypto>('node:crypto')]);
  let unproven = 0;
  return new Promise((resolve, reject) => {
    const server = createServer((sock) => {
      if (unproven >= MAX_UNPROVEN) return void sock.destroy();
      unproven++;
      handshake(c, sock, gate, () => unproven--);
    });
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      // An error accepting a connection (out of file descriptors) must not end the domain.
      server.on('error', () => {});
      resolve(server);
    });
  });
}

/** The listener's side of the handshake on one accepted connection; `done` once it is over. */
function handshake(c: typeof crypto, sock: net.Socket, gate: Gate, done: () => void): void {
  const link = new StreamLink(sock, PREAUTH_FRAME);
  const nonce = c.randomBytes(NONCE_BYTES);
  let over = false;
  const finish = () => {
    if (over) return false;
    over = true;
    clearTimeout(timer);
    done();
    return true;
  };
  const refuse = (id: number | null, err: SysError) => {
    if (!finish()) return;
    if (id !== null) link.send([ERR, id, err.errno, err.message]);
    sock.end(); // after the ERR reply; a peer that keeps its side open is cut off soon after
    setTimeout(() => link.close(), 1000).unref();
  };
  const timer = setTimeout(() => refuse(null, new SysError('ETIMEDOUT', 'no hello in time')), HELLO_TIMEOUT_MS);
  link.onClose = () => finish();
  link.onFrame = (raw) => {
    if (over) return link.close(); // a second frame before the handshake is over
    const hello = requestArgs(raw, 1, 'hello');
    const id = Array.isArray(raw) && raw[0] === REQ && raw[1] === 1 ? 1 : null;
    const { from, nonce: theirs, proof } = hello ?? {};
    if (typeof from !== 'string' || !isNonce(theirs) || !(proof instanceof Uint8Array)) {
      return refuse(id, new SysError('EACCES', `domain ${gate.self}: a peer must say hello with its name and proof first`));
    }
    const key = gate.keyFor(from);
    if (!key || !same(c, proof, mac(c, key, 'hello', from, gate.self, nonce, theirs))) {
      return refuse(id, new SysError('EACCES', `domain ${gate.self}: the peer failed to prove it is domain ${from}`));
    }
    try {
      link.limit = MAX_FRAME;
      gate.admit(from, link);
    } catch (err) {
      link.limit = PREAUTH_FRAME;
      return refuse(id, err instanceof SysError ? err : new SysError('EACCES', `domain ${gate.self}: refused a channel from ${from}`));
    }
    finish();
    link.send([OK, 1, { proof: mac(c, key, 'welcome', from, gate.self, nonce, theirs) }]);
  };
  link.send([REQ, 0, CONTROL, 'challenge', { domain: gate.self, nonce }]);
}

/** The args of a well-formed handshake request `op` with frame id `id`, or null. */
function requestArgs(raw: unknown, id: number, op: string): Record<string, unknown> | null {
  if (!Array.isArray(raw) || raw.length !== 5 || raw[0] !== REQ || raw[1] !== id || raw[2] !== CONTROL || raw[3] !== op) return null;
  const args = raw[4];
  return typeof args === 'object' && args !== null && !Array.isArray(args) ? (args as Record<string, unknown>) : null;
}

function isNonce(x: unknown): x is Uint8Array {
  return x instanceof Uint8Array && x.byteLength === NONCE_BYTES;
}

/** HMAC-SHA256 over who dials whom for what, and both nonces. */
function mac(c: typeof crypto, key: Uint8Array, label: string, dialer: string, listener: string, listenerNonce: Uint8Array, dialerNonce: Uint8Array): Uint8Array {
  return c.createHmac('sha256', key).update(JSON.stringify([label, dialer, listener])).update(listenerNonce).update(dialerNonce).digest();
}

/** Compares two MACs in constant time. */
function same(c: typeof crypto, a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && c.timingSafeEqual(a, b);
}

// ---- the socket directory ------------------------------------------------------------------

/** A socket directory's name: `rumpus-sockets-<pid of the kernel>-<6 random characters>`. */
const SOCKET_DIR = /^rumpus-sockets-([1-9][0-9]{0,9})-[A-Za-z0-9]{6}$/;

/**
 * Refuses (EACCES) a socket whose directory is not a real directory owned by this user with
 * no access for anyone else (ENOENT: no directory): another user could then reach, or replace,
 * the sockets in it. See private-files.ts.
 */
export function checkPrivateDir(socketPath: string): void {
  checkPrivateDirectory(dirname(socketPath));
}

/**
 * Makes the private directory (mode 0700) where this kernel's process domains listen, named
 * after this process; first removes the ones of kernels that are gone (see sweepSocketDirs).
 */
export function makeSocketDir(): string {
  const tmp = tmpdir();
  sweepSocketDirs(tmp);
  return mkdtempSync(join(tmp, `rumpus-sockets-${process.pid}-`));
}

/**
 * Removes what killed kernels left in `tmp`: directories named as makeSocketDir names them,
 * owned by this user, whose kernel's pid is not alive, holding nothing but sockets. Anything
 * else — another name, owner or kind of entry, a live (or reused) pid — is left alone.
 * Returns the directories removed.
 */
export function sweepSocketDirs(tmp: string): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(tmp);
  } catch {
    return removed;
  }
  for (const name of names) {
    const m = SOCKET_DIR.exec(name);
    if (!m || isAlive(Number(m[1]))) continue;
    const dir = join(tmp, name);
    try {
      const st = lstatSync(dir);
      if (!st.isDirectory() || st.uid !== process.getuid?.()) continue;
      const entries = readdirSync(dir);
      if (!entries.every((e) => lstatSync(join(dir, e)).isSocket())) continue;
      for (const e of entries) unlinkSync(join(dir, e));
      rmdirSync(dir); // fails, leaving it, if anything appeared meanwhile
      removed.push(dir);
    } catch {
      // gone already, or not ours to remove
    }
  }
  return removed;
}

/** Whether a process with this pid exists (of any user). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}
