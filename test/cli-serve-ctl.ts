// `rumpus serve` administered, from the built command (dist/): under each policy, a server with
// a token file of an admin token and a uid-1000 one; rumpus ctl ps, inject, faults, dmesg and
// clear with the admin token, EPERM for each without; the shell's ps likewise, and the token's
// credentials on what its process makes; then ctl halt, with the image synced.

import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { fsckClean, mkImage, tempDir } from './lib/e2fs.js';
import { POLICIES, exitOf, rumpus, skip, startServer } from './lib/serve-cli.js';

/** A token of 32 bytes in hex from a seed: as long as a generated one. */
const token = (seed: number) => Buffer.alloc(32, seed).toString('hex');

for (const policy of POLICIES) {
  t.test(`${policy}: rumpus ctl with an admin token and without, then ctl halt`, { skip }, async (t) => {
    const dir = tempDir('rumpus-cli-ctl-');
    const admin = join(dir, 'admin.token');
    const user = join(dir, 'user.token');
    writeFileSync(admin, `${token(1)}\n`);
    writeFileSync(user, `${token(2)}\n`);
    const table = join(dir, 'tokens');
    writeFileSync(table, `# who may use this server\n${token(1)} uid=0 gid=0 admin\n${token(2)} uid=1000 gid=1000 groups=100\n`, { mode: 0o600 });
    mkImage(join(dir, 'disk.img'), { size: 4 << 20 });
    const sock = join(dir, 'run', 'ctl.sock');
    const url = `unix://${sock}`;
    const server = await startServer(t, dir, ['--policy', policy, '--image', 'disk.img', '--listen', url, '--token-file', table]);
    t.notOk(existsSync(`${sock}.token`), 'with --token-file no token is written beside the socket');
    const as = (tokenFile: string, ...args: string[]) => rumpus(dir, [...args, '--server', url, '--token-file', tokenFile]);

    const ps = await as(admin, 'ctl', 'ps');
    t.equal(ps.code, 0, 'ctl ps');
    t.match(ps.stdout, /^DOMAIN +KIND +ID +STATUS +RESTARTS +UPTIME +COMPONENTS\n/, 'the shell\'s ps table');
    t.match(ps.stdout, /\bvfs\b/, 'listing the domains');
    const inject = await as(admin, 'ctl', 'inject', 'ext2', 'error', '--op', 'mkdir', '--errno', 'EIO', '--count', '1');
    t.same([inject.code, inject.stderr], [0, ''], 'ctl inject, with options of its own');
    t.match(inject.stdout, /^armed: ext2 error EIO --op mkdir --count 1 \(/, 'says what it armed, as the shell does');
    t.same(await as(admin, 'ctl', 'faults'), { code: 0, stdout: 'ext2 error EIO --op mkdir --count 1\n', stderr: '' }, 'ctl faults lists it');
    const hit = await as(admin, 'mkdir', 'disk.img:/x');
    t.same([hit.code, hit.stdout], [1, ''], 'the fault hits a client');
    t.match(hit.stderr, /^mkdir: disk\.img:\/x: Input\/output error \(.*\bext2\b.*injected EIO\)\n$/, 'saying where the EIO came from');
    t.match((await as(admin, 'ctl', 'dmesg')).stdout, /fault: .*armed ext2 error EIO/, 'ctl dmesg shows it armed');
    t.same(await as(admin, 'ctl', 'clear'), { code: 0, stdout: '', stderr: '' }, 'ctl clear');
    t.same(await as(admin, 'ctl', 'faults'), { code: 0, stdout: 'no faults armed\n', stderr: '' }, 'nothing armed after it');

    for (const args of [['ps'], ['dmesg'], ['faults'], ['inject', 'ext2', 'crash'], ['clear'], ['halt']]) {
      const r = await as(user, 'ctl', ...args);
      t.same([r.code, r.stdout], [1, ''], `ctl ${args[0]} without an admin token fails`);
      t.equal(r.stderr, `${args[0]}: Operation not permitted\n`, 'with EPERM\'s sentence, in one line');
    }
    t.same(await as(admin, 'sh', '-c', 'mkdir /tmp/u && chown 1000:1000 /tmp/u'), { code: 0, stdout: '', stderr: '' }, 'root makes a directory for uid 1000');
    const sh = await as(user, 'sh', '-c', 'ps; mkdir /tmp/u/mine && ls -ld /tmp/u/mine');
    t.equal(sh.stderr, 'ps: Operation not permitted\n', 'the shell\'s ps too');
    t.match(sh.stdout, /^drwxr-xr-x +\d+ 1000 1000 .* \/tmp\/u\/mine\n$/, 'the token\'s credentials own what its process makes');
    const bad = await as(admin, 'ctl', 'frob');
    t.equal(bad.code, 2, 'an unknown ctl command is a usage error');
    t.match(bad.stderr, /^rumpus ctl: unknown command 'frob'/);

    t.same(await as(admin, 'ctl', 'halt'), { code: 0, stdout: '', stderr: '' }, 'ctl halt');
    t.equal(await exitOf(server), 0, 'the server exits 0');
    t.equal(server.stderr(), '', 'quietly');
    t.notOk(existsSync(sock), 'its socket is removed');
    const fsck = fsckClean(join(dir, 'disk.img'));
    t.ok(fsck.clean, 'the image passes both e2fsck checks', { report: fsck.report });
  });
}
