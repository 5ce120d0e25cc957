// halt leaves nothing behind: no worker thread, no child process, no socket directory.

import { existsSync } from 'node:fs';
import t from 'tap';
import { alive, threads } from './lib/os.js';
import { boot } from '../kernel/index.js';
import { ALL_POLICIES, policyName } from './lib/policies.js';


/** Waits up to a second for a condition the OS reports asynchronously (thread exit). */
async function eventually(check: () => boolean): Promise<boolean> {
  for (let i = 0; i < 100 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  return check();
}

for (const policy of ALL_POLICIES) {
  t.test(`halt under ${policyName(policy)} ends every domain`, async (t) => {
    const threadsBefore = threads();
    const handles = () => process.getActiveResourcesInfo().filter((r) => ['MessagePort', 'PipeWrap', 'ProcessWrap', 'TCPWRAP', 'PipeServerWrap'].includes(r)).sort();
    const handlesBefore = handles();
    const k = await boot({ policy });
    const p = await k.spawn();
    await p.writeFile('/tmp/x', 'x');
    const socketDir = k.socketDir;
    const children = k.domains().filter((d) => d.kind === 'process').map((d) => d.id);
    t.ok(children.every(alive), 'process domains run while booted');
    await k.halt();
    t.ok(children.every((pid) => !alive(pid)), 'no child process is left');
    t.ok(await eventually(() => threads() <= threadsBefore), `no thread is left (${threads()} now, ${threadsBefore} before)`);
    t.ok(socketDir === null || !existsSync(socketDir), 'no socket directory is left');
    await eventually(() => JSON.stringify(handles()) === JSON.stringify(handlesBefore));
    t.same(handles(), handlesBefore, 'no port, pipe or process handle is left');
    await t.rejects(p.getpid(), { errno: 'EIO', message: /halted/ }, 'a call after halt fails with EIO');
    await k.halt();
    t.pass('halting twice is harmless');
  });
}

t.test('a kernel whose boot fails leaves nothing behind', async (t) => {
  const threadsBefore = threads();
  await t.rejects(boot({ policy: 'microkernel', mounts: [{ target: '/', fstype: 'nosuchfs' }] }), { errno: 'ENODEV', message: /unknown file-system type 'nosuchfs'/ });
  t.ok(await eventually(() => threads() <= threadsBefore), 'no thread is left');
});
