// The extent write test (test/lib/extent-write.ts) under multiprocess: one file per policy, so that each
// stays well inside tap's timeout on a busy machine.

import { extentWriteTest } from './lib/extent-write.js';

extentWriteTest('multiprocess');
