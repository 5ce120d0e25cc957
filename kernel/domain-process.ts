// Entry of a process domain (a child process). The core talks to it over a pipe on fd 3;
// other domains reach it through the unix socket it listens on once the core has told it
// where (when it loads its plan). When the pipe to the core closes, the kernel is gone and so
// is this process.

import * as net from 'node:net';
import { StreamLink } from '../ipc/stream-link.js';
import { Domain, MAIN } from './domain.js';
import { remoteHooks } from './domain-hooks.js';

const domain = new Domain(process.argv[2], 'process', remoteHooks);
const pipe = new net.Socket({ fd: 3, readable: true, writable: true });
const toCore = domain.addPeer(MAIN, new StreamLink(pipe));
toCore.onClose = () => process.exit(0);
