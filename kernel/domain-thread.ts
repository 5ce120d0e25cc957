// Entry of a thread domain (a worker thread). The core talks to it over the worker's own port
// and hands it further ports, one per peer thread domain, as {attach, port} messages; beside
// them go the segments where components keep their records ({keepFor} → {keep, segment}, and
// {keepSegment}: kernel/keep-core.ts).

import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { CoreShare, Poller } from '../ipc/poller.js';
import { PortLink } from '../ipc/port-link.js';
import { Doorbell } from '../ipc/ring.js';
import { RingLink, type RingEnds } from '../ipc/ring-link.js';
import { Domain, MAIN, codeCache } from './domain.js';
import { remoteHooks } from './domain-hooks.js';

const { name, bell, coreShare, ends } = workerData as { name: string; bell: SharedArrayBuffer; coreShare: SharedArrayBuffer; ends?: RingEnds };
const port = parentPort!;
const share = new CoreShare(coreShare);
const poller = new Poller(new Doorbell(bell, share), share);
/** Components waiting for their segment from the core. */
const segmentFor = new Map<string, (segment: SharedArrayBuffer) => void>();
const domain = new Domain(name, 'thread', {
  ...remoteHooks,
  keepSegment: {
    get: (component) => new Promise((resolve) => {
      segmentFor.set(component, resolve);
      port.postMessage({ keepFor: component });
    }),
    adopt: (component, segment) => port.postMessage({ keepSegment: component, segment }),
  },
});

port.on('message', (msg: { attach?: string; port?: MessagePort; ends?: RingEnds; keep?: string; segment?: SharedArrayBuffer }) => {
  if (msg && !Array.isArray(msg) && typeof msg.keep === 'string' && msg.segment instanceof SharedArrayBuffer) {
    segmentFor.get(msg.keep)?.(msg.segment);
    segmentFor.delete(msg.keep);
  }
  if (msg && !Array.isArray(msg) && typeof msg.attach === 'string' && msg.port) {
    const peerPort = msg.port;
    const link = msg.ends ? new RingLink(msg.ends, peerPort, poller, () => peerPort.close()) : new PortLink(peerPort, () => peerPort.close());
    peerPort.on('close', () => link.lost('port closed'));
    domain.addPeer(msg.attach, link);
  }
});
domain.addPeer(MAIN, ends ? new RingLink(ends, port, poller) : new PortLink(port));

// While the build warms the code caches (scripts/code-cache.mjs), a domain saves what V8 has
// compiled once its components stop: by then it has loaded, started and served a first use.
const saveCodeCache = codeCache?.save;
if (saveCodeCache) {
  const stop = domain.control.get('stop')!;
  domain.control.set('stop', async (a) => {
    try {
      return await stop(a);
    } finally {
      saveCodeCache();
    }
  });
}
