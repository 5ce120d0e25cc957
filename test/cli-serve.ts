// `rumpus serve` and its clients as a user runs them, from the built command (dist/): under
// monolithic and microkernel, the commands' output through RUMPUS_SERVER is the same as without
// it, and SIGTERM halts the server with the image synced (test/lib/serve-cli.ts);
// multiprocess in test/cli-serve-multiprocess.ts; rumpus ctl in test/cli-serve-ctl.ts; tokens
// over TCP, the operand forms only a server has, and refusals in test/cli-serve-refused.ts.

import { sameOutputThroughServer } from './lib/serve-cli.js';

sameOutputThroughServer('monolithic');
sameOutputThroughServer('microkernel');
