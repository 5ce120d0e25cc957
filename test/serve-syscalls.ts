// The syscall suite (test/lib/syscall-steps.ts, the script of test/syscalls.ts) through remote
// processes: a root and a user process connected to a served kernel give, step for step, the
// outcomes that k.spawn()'s processes give in a kernel of the same policy.

import t from 'tap';
import { TokenTable, boot, connect } from '../kernel/index.js';
import { runSteps } from './lib/syscall-steps.js';
import { served } from './lib/serve.js';

const ROOT = 'r'.repeat(40);
const USER = 'u'.repeat(40);

for (const policy of ['monolithic', 'microkernel', 'multiprocess']) {
  t.test(`${policy}: the syscall suite through connect() as through k.spawn()`, async (t) => {
    const k = await boot({ policy });
    const local = await runSteps({ root: await k.spawn(), user: await k.spawn({ uid: 1000, gid: 1000 }) }).finally(() => k.halt());

    const s = await served({ policy }, { tokens: TokenTable.parse(`${ROOT} uid=0 gid=0 admin\n${USER} uid=1000 gid=1000\n`) });
    t.teardown(() => s.stop());
    const root = await connect(s.unix, { token: ROOT });
    const user = await connect(s.tcp, { token: USER });
    const remote = await runSteps({ root, user });
    t.equal(remote.length, local.length);
    const differing = local.map((l, i) => ({ step: i, local: l, remote: remote[i] })).filter((d) => JSON.stringify(d.local) !== JSON.stringify(d.remote));
    t.same(differing, [], 'every step as locally');
    await root.exit();
    await user.exit();
  });
}
