// Review: serve() checks the unix socket's directory with statSync, which follows a symlink. In a
// shared sticky directory such as /tmp (the default socket is /tmp/rumpus-UID/rumpus.sock when
// XDG_RUNTIME_DIR is unset) another user can plant /tmp/rumpus-UID as a symlink to a private
// directory of the server's user: the check passes, the server listens through the symlink, and
// later the planter (who owns the symlink) points it at a directory of its own with its own
// socket: a client then sends its token there (shown by hand with uid 65534 in the review
// report). The symlinked directory should be refused, as a regular file at the path is.

import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { TokenTable, boot, serve } from '../kernel/index.js';

t.test('a socket directory that is a symlink is refused', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'rumpus-review-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const privateDir = join(root, 'private');
  mkdirSync(privateDir, { mode: 0o700 });
  const planted = join(root, 'rumpus-uid');
  symlinkSync(privateDir, planted);
  const k = await boot({ policy: 'monolithic' });
  t.teardown(() => k.halt());
  const outcome = await serve(k, { listen: [`unix://${join(planted, 'k.sock')}`], tokens: TokenTable.generate() }).then(
    async (s) => (await s.close(), 'listening'),
    (e: { errno: string }) => e.errno,
  );
  t.not(outcome, 'listening', `serve refuses a socket directory reached through a symlink (got: ${outcome})`);
});
