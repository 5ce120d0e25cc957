// The htree write test (test/lib/htree-write.ts) under the microkernel policy.

import { htreeWriteTest } from './lib/htree-write.js';

htreeWriteTest('microkernel');
