// Mode bits read by name: ls's mode string shows setuid, setgid and sticky as ls does, and
// mkdir -p tells a directory on the way from something else by its type bits.

import t from 'tap';
import { S_IFDIR, S_IFMT, boot } from '../kernel/index.js';
import { modeString } from '../bin/format.js';
import { errnoOf } from './lib/errno.js';

t.test('modeString shows the type and every permission bit as ls does', async (t) => {
  const cases: [number, string][] = [
    [0o100644, '-rw-r--r--'],
    [0o104751, '-rwsr-x--x'],
    [0o104640, '-rwSr-----'],
    [0o102755, '-rwxr-sr-x'],
    [0o102745, '-rwxr-Sr-x'],
    [0o041777, 'drwxrwxrwt'],
    [0o041776, 'drwxrwxrwT'],
    [0o120777, 'lrwxrwxrwx'],
    [0o010600, 'prw-------'],
  ];
  for (const [mode, text] of cases) t.equal(modeString(mode), text, mode.toString(8));
});

t.test('mkdir -p goes through directories and stops at anything else', async (t) => {
  const k = await boot({ policy: 'monolithic' });
  try {
    const p = await k.spawn();
    await p.mkdir('/tmp/a/b', { recursive: true });
    t.equal(await errnoOf(p.mkdir('/tmp/a/b/c', { recursive: true })), 'ok', 'existing directories on the way are fine');
    t.equal((await p.stat('/tmp/a/b/c')).mode & S_IFMT, S_IFDIR, 'the last one is made');
    await p.writeFile('/tmp/a/f', 'x');
    t.equal(await errnoOf(p.mkdir('/tmp/a/f/g', { recursive: true })), 'ENOTDIR', 'a file on the way');
    t.equal(await errnoOf(p.mkdir('/tmp/a/f', { recursive: true })), 'ENOTDIR', 'a file where the directory would be');
  } finally {
    await k.halt();
  }
});
