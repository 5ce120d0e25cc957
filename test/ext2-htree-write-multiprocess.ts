// The htree write test (test/lib/htree-write.ts) under the multiprocess policy.

import { htreeCorruptionTest, htreeWriteTest } from './lib/htree-write.js';

htreeWriteTest('multiprocess');
htreeCorruptionTest('multiprocess');
