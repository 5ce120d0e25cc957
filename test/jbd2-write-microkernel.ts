// test/lib/jbd2-write.ts under the microkernel policy.

import { jbd2WriteTest } from './lib/jbd2-write.js';

jbd2WriteTest('microkernel');
