// The fault campaign (rumpus faults) on an encrypted image: mounted through cgd with
// --key-file's key, faults drawn for cgd and its cipher (in a pool under microkernel, the
// default policy), and every invariant holds — e2fsck checking the decrypted payload.

import t from 'tap';
import { runRumpus } from './lib/cli.js';
import { CRYPTSETUP, LuksFixture, NO_CRYPTSETUP } from './lib/luks-cli.js';

if (!CRYPTSETUP) {
  t.plan(0, NO_CRYPTSETUP);
} else {
  const f = new LuksFixture();

  t.test('the fault campaign on an encrypted image hits cgd and the cipher', async (t) => {
    const made = await f.rumpus('mkfs', 'campaign.img', '--size', '24M', '--encrypt', '--key-file', 'key.txt', '--pbkdf', 'pbkdf2', '--pbkdf-force-iterations', '1000');
    t.equal(made.code, 0, made.stderr);
    const before = f.sha('campaign.img');
    const r = await runRumpus(f.dir, ['faults', '--image', 'campaign.img', '--key-file', 'key.txt', '--components', 'cgd,cipher', '--trials', '4', '--seed', '2', '--json'], 280_000);
    t.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    t.equal(report.trials, 4);
    t.same(report.violations, [], 'no invariant broke');
    t.ok(report.rows.length > 0 && report.rows.every((x: { component: string }) => ['cgd', 'cipher'].includes(x.component)), 'faults in cgd and cipher only');
    t.ok(report.rows.every((x: { synced_bytes_lost: number }) => x.synced_bytes_lost === 0));
    t.equal(f.sha('campaign.img'), before, 'the campaign never touches the image it is given');
    const unknown = await f.rumpus('faults', '--image', 'campaign.img', '--key-file', 'key.txt', '--components', 'nosuch', '--trials', '1');
    t.equal(unknown.code, 2);
    t.match(unknown.stderr, /unknown component 'nosuch'.*cgd, cipher/);
  });
}
