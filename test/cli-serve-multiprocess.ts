// test/cli-serve.ts under multiprocess, in a file of its own: booting a process per component
// for every command without a server takes most of tap's time limit on a loaded machine.

import { sameOutputThroughServer } from './lib/serve-cli.js';

sameOutputThroughServer('multiprocess');
