// How a worker-thread or child-process domain carries out injected faults and reaches the
// host: a crash ends it (the supervisor sees the exit), a hang stops its event loop for good
// (the heartbeat notices), a leak grows its heap until its memory limit ends it.

import type { DomainHooks } from './domain.js';
import { hostHyp } from './hyp-host.js';
import { rmSync } from 'node:fs';
import { checkPrivateDir, connectSocket, listenSocket } from './sockets.js';

/** Exit status of a domain ended by an injected crash. */
export const CRASH_EXIT = 70;

/** Heap held forever: 16 MiB of JS heap per hit, so heap limits are reached. */
const leaked: number[][] = [];

export const remoteHooks: DomainHooks = {
  hyp: hostHyp,
  connect: connectSocket,
  async listen(path, gate) {
    checkPrivateDir(path);
    rmSync(path, { force: true }); // left behind by a predecessor that was killed
    await listenSocket(path, gate);
  },
  die(reason) {
    hostHyp('domain').log('warn', reason);
    process.exit(CRASH_EXIT);
  },
  hang() {
    for (;;);
  },
  leak() {
    leaked.push(new Array(2 * 1024 * 1024).fill(leaked.length + 0.5));
  },
};
