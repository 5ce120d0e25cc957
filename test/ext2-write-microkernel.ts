// The ext2 write test (test/lib/ext2-write.ts) under microkernel: one file per policy, so that each
// stays well inside tap's timeout on a busy machine.

import { writeTest } from './lib/ext2-write.js';

writeTest('microkernel');
