// cp's host side sets times to the microsecond, as the image holds them: before 1970 too, and
// whatever the microsecond (a double's seconds near today are good to a quarter of one only).

import { lstatSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { hostTree } from '../bin/files.js';
import { tempDir } from './lib/e2fs.js';

t.test('hostTree().utimes and lutimes set the very microsecond, before and after 1970', async (t) => {
  const dir = tempDir('rumpus-host-times-');
  const file = join(dir, 'f');
  const link = join(dir, 'l');
  writeFileSync(file, '');
  symlinkSync('f', link);
  const host = hostTree();
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const edges = [0, 1, -1, 999_999, -999_999, 1e6, -1e6, -1_000_001, 1_796_095_670_737_999, 2 ** 31 * 1e6 - 1, -(2 ** 31) * 1e6];
  const times = [...edges, ...Array.from({ length: 1000 }, (_, i) => (i % 4 === 0 ? -1 : 1) * Math.floor(random() * 2e15))];
  const wrong: string[] = [];
  for (const [i, us] of times.entries()) {
    const follow = i % 2 === 0;
    await (follow ? host.utimes(file, us / 1000, us / 1000) : host.lutimes(link, us / 1000, us / 1000));
    const st = (follow ? statSync : lstatSync)(follow ? file : link, { bigint: true });
    if (st.mtimeNs !== BigInt(us) * 1000n || st.atimeNs !== BigInt(us) * 1000n) wrong.push(`${us} µs became ${st.mtimeNs} ns`);
  }
  t.same(wrong.slice(0, 5), [], `${times.length} times, each set to the microsecond (${wrong.length} not)`);
});
