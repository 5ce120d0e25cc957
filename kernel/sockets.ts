// Unix-socket channels, used wherever a process domain is on one end (other than the pipe
// between the core and the process): process domains listen, their peers connect. node:net is
// loaded when first needed: most thread domains never open a socket, and would pay for it at
// every start.

import type * as net from 'node:net';
import { SysError } from '../ipc/errno.js';
import { StreamLink } from '../ipc/stream-link.js';
import type { Link } from '../ipc/frame.js';
import { dynamicImport } from './dynamic-import.js';

export async function connectSocket(peer: string, path: string): Promise<Link> {
  const { connect } = await dynamicImport<typeof net>('node:net');
  return new Promise((resolve, reject) => {
    const sock = connect(path);
    sock.once('connect', () => {
      sock.off('error', reject);
      sock.setNoDelay(true);
      resolve(new StreamLink(sock));
    });
    sock.once('error', (err) => reject(new SysError('ECONNRESET', `cannot reach domain ${peer} at ${path}: ${err.message}`)));
  });
}

export async function listenSocket(path: string, onLink: (link: Link) => void): Promise<net.Server> {
  const { createServer } = await dynamicImport<typeof net>('node:net');
  return new Promise((resolve, reject) => {
    const server = createServer((sock) => onLink(new StreamLink(sock)));
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
