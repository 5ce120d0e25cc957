// The htree write test (test/lib/htree-write.ts) under the microkernel policy.

import { htreeCorruptionTest, htreeWriteTest } from './lib/htree-write.js';

htreeWriteTest('microkernel');
htreeCorruptionTest('microkernel');
