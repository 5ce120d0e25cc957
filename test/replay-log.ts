// vfs's replay log charges every change it keeps, not only file data: a client that makes
// changes without data (chmod, rename, symlink) reaches REPLAY_LIMIT and so a sync, instead of
// growing vfs without bound.

import t from 'tap';
import { REPLAY_LIMIT, ReplayLog } from '../servers/vfs/replay.js';

const h = { ino: 12, gen: 1 };

t.test('changes without data are charged', async (t) => {
  const log = new ReplayLog();
  log.record('setattr', { fsid: 1, h, attrs: { mode: 0o644 } }, undefined);
  t.ok(log.bytes > 0, 'a chmod costs something');
  const one = log.bytes;
  log.record('symlink', { fsid: 1, dir: h, name: 'n'.repeat(255), target: 't'.repeat(4000) }, { handle: { ino: 13, gen: 1 } });
  t.ok(log.bytes - one >= 4255, 'a symlink costs at least its name and target');
  log.clear();
  t.equal(log.bytes, 0, 'a sync empties it');
});

t.test('a stream of chmods reaches the limit in bounded entries', async (t) => {
  const log = new ReplayLog();
  let n = 0;
  while (log.bytes <= REPLAY_LIMIT && n < 1_000_000) {
    log.record('setattr', { fsid: 1, h, attrs: { mode: n & 0o777 } }, undefined);
    n++;
  }
  t.ok(log.bytes > REPLAY_LIMIT, `the limit is reached (after ${n} chmods)`);
  t.ok(n < 200_000, 'well before a client could exhaust memory with them');
});

t.test('data is still charged by its length', async (t) => {
  const log = new ReplayLog();
  log.record('write', { fsid: 1, h, offset: 0, data: new Uint8Array(1 << 20) }, 1 << 20);
  t.ok(log.bytes >= 1 << 20, 'a 1 MiB write costs at least 1 MiB');
});

// A sync point empties the log only of what came before it was sent: a change whose reply
// arrived while the sync was on its way may have reached the file system after the commit.
t.test('a sync point forgets only the changes recorded before it was sent', async (t) => {
  const log = new ReplayLog();
  log.record('write', { fsid: 1, h, offset: 0, data: new Uint8Array(100) }, 100);
  const mark = log.mark();
  log.record('write', { fsid: 1, h, offset: 100, data: new Uint8Array(5000) }, 5000);
  const sent: unknown[] = [];
  log.clearBefore(mark);
  await log.replay(async (op, args) => { sent.push([op, args.offset]); });
  t.same(sent, [['write', 100]], 'the change recorded after the mark is kept, the one before is gone');
  t.ok(log.bytes >= 5000 && log.bytes < 5000 + 1024, 'and the bytes charged are its own');
  log.clearBefore(log.mark());
  t.ok(log.empty, 'a mark taken after everything empties the log');
  t.equal(log.bytes, 0, 'and its charge');
});
