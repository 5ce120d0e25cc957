// A child process that answers every request on a framed stream (its fd 3) with null: the far
// end of the framed-stream floor (bench/floors.ts). The same framing and endpoint as a process
// domain, nothing else.

import * as net from 'node:net';
import { Endpoint } from '../ipc/endpoint.js';
import { StreamLink } from '../ipc/stream-link.js';

const link = new StreamLink(new net.Socket({ fd: 3, readable: true, writable: true }));
new Endpoint(link, 'bench', () => null).onClose = () => process.exit(0);
