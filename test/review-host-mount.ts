// Review (a design question, stated as the expectation I would hold): a token with uid 0 but
// not admin can mount any host file the server's host user can open (`mount` with an ext2
// `source` path, resolved on the server's host, relative to the server's cwd) and write into
// it. So a non-admin token's reach is not bounded by the served kernel: it reaches the host's
// files as the server's host user; the error messages also tell whether a host path exists
// (ENOENT vs EINVAL "too small to hold a file system"). Expected: mounting a host image over
// the wire needs an admin token (or a list of images the server allows).

import { join } from 'node:path';
import t from 'tap';
import { TokenTable, connect } from '../kernel/index.js';
import { debugfs, mkImage, tempDir } from './lib/e2fs.js';
import { served } from './lib/serve.js';

t.test('a non-admin root token cannot reach a host file by mounting it', async (t) => {
  const dir = tempDir('rumpus-review-');
  const image = join(dir, 'someone-elses.img');
  mkImage(image, { size: 4 << 20 });
  const token = 'b'.repeat(64);
  const s = await served({ policy: 'monolithic' }, { tokens: TokenTable.parse(`${token} uid=0 gid=0\n`) });
  t.teardown(() => s.stop());
  const p = await connect(s.unix, { token, timeoutMs: 5000 });
  await p.mkdir('/tmp/m', 0o755);
  const mounted = await p.mount('/tmp/m', 'ext2', { source: image }).then(() => 'mounted', (e: { errno: string }) => e.errno);
  if (mounted === 'mounted') {
    await p.writeFile('/tmp/m/planted', 'by a non-admin token');
    await p.unmount('/tmp/m');
  }
  await p.exit();
  t.not(mounted, 'mounted', `mount of a host image by a non-admin token is refused (got: ${mounted})`);
  t.notMatch(debugfs(image, 'ls /'), /planted/, 'nothing was written into the host file');
});
