// The per-mount instance table every file system keeps (kernel/fs-instances.ts): fsids that
// never meet across incarnations, ENODEV for an fsid it does not hold, named instances.

import t from 'tap';
import { FsInstances, SysError, firstFsid } from '../kernel/api.js';

/** What a synchronous call came to: "ok", or its errno and message. */
const outcome = (fn: () => unknown): string => {
  try {
    fn();
    return 'ok';
  } catch (err) {
    return err instanceof SysError ? `${err.errno} ${err.message}` : String(err);
  }
};

t.test('fsids start at the incarnation\'s first and never meet another incarnation\'s', async (t) => {
  const boot = new FsInstances<string>('xfs', 0);
  const again = new FsInstances<string>('xfs', 1);
  const a = boot.add('a');
  const b = boot.add('b');
  t.equal(a, firstFsid(0));
  t.equal(b, a + 1, 'one after another');
  const c = again.add('c');
  t.equal(c, firstFsid(1));
  t.not(c, a);
  t.equal(outcome(() => again.get(a)), `ENODEV xfs: no mounted instance ${a}`, 'an fsid of an earlier incarnation is ENODEV');
  t.equal(boot.get(b), 'b');
});

t.test('remove takes an instance out; removing or reaching it again is ENODEV', async (t) => {
  const table = new FsInstances<string>('xfs', 0);
  const a = table.add('a');
  const b = table.add('b');
  t.equal(table.remove(a), 'a');
  t.equal(outcome(() => table.get(a)), `ENODEV xfs: no mounted instance ${a}`);
  t.equal(outcome(() => table.remove(a)), `ENODEV xfs: no mounted instance ${a}`);
  t.same([...table.entries()], [[b, 'b']], 'the other stays');
  const get = table.get;
  t.equal(get(b), 'b', 'get works detached from the table (as instanceOps calls it)');
});

t.test('a named instance is found again by its name, and only while it is mounted', async (t) => {
  const table = new FsInstances<{ source: string }>('xfs', 0);
  const img1 = { source: 'one.img' };
  const img2 = { source: 'two.img' };
  const first = table.add(img1, '/mnt');
  const second = table.add(img2, '/mnt'); // mounted over the first, at the same path
  table.add({ source: 'anon.img' });
  t.same(table.named('/mnt'), { fsid: first, instance: img1 }, 'the first in mount order');
  t.same(table.named('/mnt', (m) => m.source === 'two.img'), { fsid: second, instance: img2 }, 'the one accepted');
  t.equal(table.named('/elsewhere'), undefined, 'no instance has that name');
  table.remove(first);
  t.same(table.named('/mnt'), { fsid: second, instance: img2 }, 'an unmounted instance is not found');
  for (const [fsid] of table.entries()) table.remove(fsid);
  t.same([...table.entries()], [], 'removing while iterating empties the table');
});
