// The ext4 metadata write test (test/lib/ext4-meta-write.ts) under multiprocess: one file per policy, so
// that each stays well inside tap's timeout on a busy machine.

import { metaWriteTest } from './lib/ext4-meta-write.js';

metaWriteTest('multiprocess');
