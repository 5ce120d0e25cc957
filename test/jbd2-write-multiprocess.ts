// test/lib/jbd2-write.ts under the multiprocess policy.

import { jbd2WriteTest } from './lib/jbd2-write.js';

jbd2WriteTest('multiprocess');
