// Entry of a thread domain (a worker thread). The core talks to it over the worker's own port
// and hands it further ports, one per peer thread domain, as {attach, port} messages.

import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { PortLink } from '../ipc/port-link.js';
import { Domain, MAIN } from './domain.js';
import { hostHyp } from './hyp-host.js';
import { connectSocket } from './sockets.js';

const { name } = workerData as { name: string };
const port = parentPort!;
const domain = new Domain(name, 'thread', { hyp: hostHyp, connect: connectSocket });

port.on('message', (msg: { attach?: string; port?: MessagePort }) => {
  if (msg && !Array.isArray(msg) && typeof msg.attach === 'string' && msg.port) {
    const peerPort = msg.port;
    const link = new PortLink(peerPort, () => peerPort.close());
    peerPort.on('close', () => link.lost('port closed'));
    domain.addPeer(msg.attach, link);
  }
});
domain.addPeer(MAIN, new PortLink(port));
