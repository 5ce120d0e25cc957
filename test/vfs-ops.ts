// vfs's declaration of which syscalls walk a path (servers/vfs/ops.ts): only those have their
// text arguments checked for NUL, so every syscall that takes text must be declared one.

import t from 'tap';
import { VFS_OPS, WALKS_A_PATH } from '../servers/vfs/ops.js';

t.test('every syscall with a text argument walks a path', async (t) => {
  const takesText = Object.entries(VFS_OPS)
    .filter(([, spec]) => Object.values(spec.args as Record<string, string>).some((a) => a.replace(/\?$/, '') === 'string'))
    .map(([op]) => op);
  t.ok(takesText.length > 10, `found them (${takesText.length})`);
  t.same(takesText.filter((op) => !WALKS_A_PATH[op as keyof typeof WALKS_A_PATH]), [], 'none is declared not to walk one');
});

t.test('the declaration names exactly the syscalls', async (t) => {
  t.same(Object.keys(WALKS_A_PATH).sort(), Object.keys(VFS_OPS).sort());
});
