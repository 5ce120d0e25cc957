// A worker thread that answers every request on a ring link with null: the far end of the ring
// floor (bench/floors.ts). The same ring, poller and endpoint as a thread domain, nothing else.

import { parentPort, workerData } from 'node:worker_threads';
import { Endpoint } from '../ipc/endpoint.js';
import { CoreShare, Poller } from '../ipc/poller.js';
import { Doorbell } from '../ipc/ring.js';
import { RingLink, type RingEnds } from '../ipc/ring-link.js';

const { bell, coreShare, ends } = workerData as { bell: SharedArrayBuffer; coreShare: SharedArrayBuffer; ends: RingEnds };
const share = new CoreShare(coreShare);
const poller = new Poller(new Doorbell(bell, share), share);
new Endpoint(new RingLink(ends, parentPort!, poller), 'bench', () => null);
