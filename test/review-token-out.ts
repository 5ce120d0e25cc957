// Review: the generated token's file (`rumpus serve --token-out F`, TokenTable.writeGenerated)
// is written with writeFileSync, which follows a symlink at F and reuses a file already at F.
// In a shared directory another user can plant F: as a symlink, the server (as root) overwrites
// and chmods 0600 any file it points to (shown by hand on a root-owned file); as a file of its
// own, the admin token lands in a file the planter owns, who chmods it back and reads it
// (shown by hand with uid 65534). The file should be created anew (O_EXCL | O_NOFOLLOW, or a
// temporary file renamed over F), never written through a symlink.

import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { TokenTable } from '../kernel/index.js';

t.test('a symlink at the token file path is not written through', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rumpus-review-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const victim = join(dir, 'victim');
  writeFileSync(victim, 'precious\n', { mode: 0o644 });
  const out = join(dir, 'rumpus.token');
  symlinkSync(victim, out);
  try {
    TokenTable.generate().writeGenerated(out);
  } catch {
    // refusing is one right answer
  }
  t.equal(readFileSync(victim, 'utf8'), 'precious\n', 'the file the symlink points to is untouched');
});
