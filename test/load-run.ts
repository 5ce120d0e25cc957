// The load run on a small scale: a real `rumpus serve` process on an ext2 image, a few clients
// for a few seconds with the run's errno and delay faults armed, not its crashes (whose
// outcome depends on where they land; the full run has them). Its own checks must all hold
// (every call answered or an errno, nothing acknowledged lost, e2fsck clean, fds back), and it
// must have done work worth checking. Skipped without mke2fs.

import t from 'tap';
import { e2fsprogsTool } from '../bench/e2fsprogs.js';
import { formatLoadReport, loadFaults, runLoad } from '../bench/load-run.js';

t.test('a short load run holds every invariant', { skip: e2fsprogsTool('mke2fs') ? false : 'mke2fs is not installed' }, async (t) => {
  const faults = loadFaults(1).filter((f) => f.type !== 'crash');
  const r = await runLoad({ clients: 4, seconds: 3, policy: 'microkernel', seed: 1, callDeadlineMs: 60_000, faults });
  t.ok(r.ok, 'no failure', { report: formatLoadReport(r) });
  t.same(r.failures, []);
  t.ok(r.tally.calls > 100 && r.tally.ok > 0, `calls were made and answered (${r.tally.calls})`);
  t.ok(r.ackedFiles > 0, `files were acknowledged by fsync (${r.ackedFiles}) and checked on the image`);
  t.equal(r.ackedBytesLost, 0, 'no acknowledged byte lost');
  t.equal(r.usage.after.fds, r.usage.before.fds, 'the server has as many fds after the clients as before');
  t.equal(r.haltExit, 0, 'ctl halt: the server exits 0');
  t.ok(r.fsck.clean, 'e2fsck clean');
});
