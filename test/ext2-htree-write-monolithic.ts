// The htree write test (test/lib/htree-write.ts) under the monolithic policy.

import { htreeCorruptionTest, htreeWriteTest } from './lib/htree-write.js';

htreeWriteTest('monolithic');
htreeCorruptionTest('monolithic');
