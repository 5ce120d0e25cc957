// Entry of a process domain (a child process). The core talks to it over a pipe on fd 3;
// other domains reach it through the unix socket it listens on. When the pipe to the core
// closes, the kernel is gone and so is this process.

import { rmSync } from 'node:fs';
import * as net from 'node:net';
import { StreamLink } from '../ipc/stream-link.js';
import { Domain, MAIN } from './domain.js';
import { remoteHooks } from './domain-hooks.js';
import { listenSocket } from './sockets.js';

const [name, socketPath] = process.argv.slice(2);
const domain = new Domain(name, 'process', remoteHooks);

rmSync(socketPath, { force: true }); // left behind by a predecessor that was killed
await listenSocket(socketPath, (link) => domain.acceptLink(link));
const pipe = new net.Socket({ fd: 3, readable: true, writable: true });
const toCore = domain.addPeer(MAIN, new StreamLink(pipe));
toCore.onClose = () => process.exit(0);
