// A read blocked on a pipe under a call deadline shorter than vfs's wait slice: vfs ends each
// wait after half the core's call deadline (servers/vfs/pipes.ts callDeadline), so the client
// makes the call again before the core would give it up as ETIMEDOUT, and no read left waiting
// in vfs takes data its client never sees.

import t from 'tap';
import { boot } from '../kernel/index.js';

t.test('microkernel, calls.timeoutMs 400: a read blocked on a pipe, then a write', async (t) => {
  const k = await boot({ policy: 'microkernel', calls: { timeoutMs: 400, tries: 1, reconnectMs: 8000 } });
  t.teardown(() => k.halt());
  const p = k.init;
  const [rd, wr] = await p.pipe();
  const pending = p.read(rd, 10).then((b) => new TextDecoder().decode(b), (e) => e.errno);
  await new Promise((r) => setTimeout(r, 700));
  t.equal(await p.write(wr, 'hello'), 5, 'the write is taken');
  t.equal(await pending, 'hello', 'the blocked read ends with the data, not ETIMEDOUT');
  await p.write(wr, 'world');
  await new Promise((r) => setTimeout(r, 700)); // a read left waiting in vfs, if any, would have taken it by now
  const next = await p.read(rd, 20).then((b) => new TextDecoder().decode(b), (e) => e.errno);
  t.equal(next, 'world', 'the next read gets the next write: nothing went to a read no client waits for');
});
