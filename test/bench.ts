// rumpus bench as a user runs it: a --quick run's JSON has the documented shape with finite
// numbers, and its SVG report is well-formed with one bar per result. No timing assertions:
// timing belongs in the bench, never in tests.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { bench } from './lib/bench-cli.js';
import { THREAD_TRANSPORTS } from '../kernel/index.js';

/**
 * Why `xml` is not well-formed, or null: one root element, every tag closed in order,
 * attributes quoted, and '<' and '&' in text only as markup and entities.
 */
function xmlProblem(xml: string): string | null {
  const body = xml.replace(/^<\?xml [^?]*\?>\s*/, '');
  const token = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|([^<]+)|</g;
  const open: string[] = [];
  let roots = 0;
  for (const m of body.matchAll(token)) {
    const [, closing, name, , selfClosing, text] = m;
    if (text !== undefined) {
      if (/&(?!#\d+;|[a-z]+;)/.test(text)) return `a bare '&' in ${JSON.stringify(text.slice(0, 40))}`;
      if (open.length === 0 && text.trim()) return `text outside the root: ${JSON.stringify(text.slice(0, 40))}`;
    } else if (name === undefined) {
      return `a '<' that starts no tag at ${m.index}: ${JSON.stringify(body.slice(m.index, m.index + 40))}`;
    } else if (closing) {
      if (open.pop() !== name) return `</${name}> closes nothing open`;
    } else {
      if (open.length === 0 && ++roots > 1) return `a second root element <${name}>`;
      if (!selfClosing) open.push(name);
    }
  }
  return open.length ? `<${open.at(-1)}> is never closed` : roots === 1 ? null : 'no root element';
}

t.test('bench --quick --workloads all --json has the documented shape, and --report draws it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rumpus-bench-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const svgPath = join(dir, 'report.svg');
  const r = await bench('--quick', '--workloads', 'all', '--json', '--report', svgPath);
  t.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);

  t.match(report.machine, { cpu: String, cores: Number, node: String });
  const finite = (x: unknown) => typeof x === 'number' && Number.isFinite(x);
  const isCgd = (x: { workload: string }) => x.workload.startsWith('cgd-');
  for (const x of report.results) {
    t.match(x, { workload: String, policy: String, transport: String }, `${x.workload} under ${x.policy} ${x.transport}`);
    for (const k of ['p50_ns', 'p99_ns', 'mean_ns', 'ops_per_s', 'cpu_ns_per_op', ...(isCgd(x) ? [] : ['ratio_to_monolithic'])]) {
      t.ok(finite(x[k]), `${x.workload}, ${x.policy} ${x.transport}: ${k} is a finite number (${x[k]})`);
    }
    t.ok(x.p50_ns > 0 && x.p99_ns >= x.p50_ns, 'p99 is at least p50');
    const block = isCgd(x) && x.workload !== 'cgd-open-null-syscall';
    t.ok(block ? finite(x.ratio_to_blk) : x.ratio_to_blk === null, `${x.workload}, ${x.transport}: ratio_to_blk ${block ? 'a finite number' : 'null'} (${x.ratio_to_blk})`);
    if (isCgd(x)) t.equal(x.ratio_to_monolithic, null, `${x.workload}, ${x.transport}: no ratio to monolithic (everything but the cipher is in main)`);
  }
  // The cgd rows: plain blk and the cipher in each kind of domain, the null syscall with and without key derivation.
  const cgdRows = (w: string) => report.results.filter((x: { workload: string }) => x.workload === w).map((x: { policy: string; transport: string }) => `${x.policy} ${x.transport}`);
  const cores = report.machine.cores;
  for (const w of ['cgd-seq-write', 'cgd-seq-read', 'cgd-random-read-4k']) {
    t.same(cgdRows(w), ['blk plain blk', 'cgd cipher in main', 'cgd cipher in a thread', `cgd cipher in a pool of ${cores}`], `${w}: plain blk and the cipher in main, a thread, a pool`);
  }
  t.same(cgdRows('cgd-open-null-syscall'), ['cgd no open', 'cgd during opens']);
  for (const target of ['cgd-seq-write ops/s / plain blk', 'cgd-seq-read ops/s / cipher in a thread', 'null-syscall p99 during key derivation']) {
    t.ok(report.targets.some((x: { target: string }) => x.target.includes(target)), `a target: ${target}`);
  }
  const configs = new Set(report.results.filter((x: { workload: string }) => !isCgd(x)).map((x: { policy: string; transport: string }) => `${x.policy} ${x.transport}`));
  for (const c of ['monolithic direct', 'multiprocess pipe+msgpackr', ...THREAD_TRANSPORTS.map((tr) => `microkernel ${tr}`)]) {
    t.ok(configs.has(c), `results for ${c}`);
  }
  for (const w of report.workloads) {
    t.ok(report.results.some((x: { workload: string }) => x.workload === w.name), `a result for ${w.name}`);
  }
  t.same(report.baselines.map((b: { name: string }) => b.name), [
    'in-process async call', 'worker postMessage round trip', 'piscina.run round trip',
    'child_process IPC (json) round trip', 'ring round trip to a thread (bare)', 'framed-stream echo to a child process (bare)',
    'start a bare worker thread', 'start a bare child process',
  ]);
  for (const b of report.baselines) t.ok(finite(b.p50_ns) && finite(b.p99_ns), `${b.name}: finite numbers`);
  const tree = !report.notes.some((n: string) => /tree-copy-out skipped/.test(n));
  t.equal(report.boot.length, configs.size - (report.peer ? 1 : 0) - (tree ? 1 : 0), 'a boot time per policy and transport (not the peer, not debugfs)');
  for (const b of report.boot) t.ok(finite(b.p50_ns), `boot of ${b.policy} ${b.transport}: finite`);
  t.equal(report.idle.length, THREAD_TRANSPORTS.length, 'idle CPU per microkernel transport');
  for (const i of report.idle) t.ok(finite(i.cpu_percent_of_core), `idle ${i.transport}: finite`);
  t.ok(Array.isArray(report.targets) && Array.isArray(report.notes));
  const ext2 = report.results.some((x: { workload: string }) => x.workload.startsWith('ext2-'));
  t.ok(ext2 || report.notes.some((n: string) => /ext2 workloads skipped/.test(n)), 'ext2 workloads ran, or a note says why not');
  for (const x of report.results) {
    const remote = /^remote-(null-syscall|pread-64k)-/.test(x.workload);
    t.ok(remote ? finite(x.ratio_to_local) : x.ratio_to_local === null, `${x.workload}, ${x.policy} ${x.transport}: ratio_to_local ${remote ? 'a finite number' : 'null'} (${x.ratio_to_local})`);
  }
  for (const w of ['remote-null-syscall-unix', 'remote-null-syscall-tcp', 'remote-pread-64k-unix', 'remote-pread-64k-tcp', 'remote-load-1', 'remote-load-8', 'remote-load-64']) {
    t.ok(report.results.some((x: { workload: string; policy: string }) => x.workload === w && x.policy === 'multiprocess'), `${w} ran under multiprocess too`);
  }
  if (ext2 && report.peer) t.ok(report.results.some((x: { policy: string }) => x.policy === 'peer'), 'the peer ran the ext2 workloads');
  // The ext4 workloads (issue 15): the same six on an ext4 image, under every config and the peer, with their targets.
  const ext4 = report.results.some((x: { workload: string }) => x.workload.startsWith('ext4-'));
  t.ok(ext4 || report.notes.some((n: string) => /ext4 workloads skipped/.test(n)), 'ext4 workloads ran, or a note says why not');
  if (ext4) {
    for (const w of ['create', 'read-files', 'seq-write', 'seq-read', 'random-pread', 'stat']) {
      const ran = report.results.filter((x: { workload: string }) => x.workload === `ext4-${w}`).map((x: { policy: string; transport: string }) => `${x.policy} ${x.transport}`);
      t.same(ran.filter((c: string) => !c.startsWith('peer ')).sort(), ([...configs] as string[]).filter((c) => !/^(peer|debugfs) /.test(c)).sort(), `ext4-${w} under every config`);
      if (report.peer) {
        t.ok(ran.some((c: string) => c.startsWith('peer ')), `ext4-${w} through the peer`);
        t.ok(report.targets.some((x: { target: string }) => x.target === `monolithic direct: ext4-${w} speed / peer`), `a target: monolithic ext4-${w} against the peer`);
      }
    }
  }

  // Issue 13's ops/s targets, each with its limit, and the null syscall's against the floors.
  const limitOf = (target: string) => report.targets.find((x: { target: string }) => x.target === target)?.limit;
  for (const [w, limit] of [['pread-64k', 0.8], ['seq-read', 0.8], ['pread-4k', 0.5], ['stat', 0.5], ['small-files', 0.25]] as const) {
    for (const tr of THREAD_TRANSPORTS) t.equal(limitOf(`microkernel ${tr}: ${w} ops/s / monolithic`), limit, `target: microkernel ${tr} ${w} ≥ ${limit}× monolithic`);
  }
  t.equal(limitOf('multiprocess: pread-64k ops/s / monolithic'), 0.5, 'target: multiprocess pread-64k ≥ 0.5× monolithic');
  for (const x of report.targets) {
    t.ok(finite(x.value) && finite(x.limit) && ['<=', '>='].includes(x.bound) && x.met === (x.bound === '<=' ? x.value <= x.limit : x.value >= x.limit), `target ${x.target}: shape and verdict`);
  }

  // The fdio shape runs every kernel workload, beside microkernel.
  const rows = (policy: string, transport: string) => report.results.filter((x: { policy: string; transport: string }) => x.policy === policy && x.transport === transport).map((x: { workload: string }) => x.workload);
  t.ok(rows('vfs-in-client', 'ring').length > 0, 'vfs-in-client ran (a default policy)');
  const kernelOnly = (w: string) => !/^(ext2|ext4|remote)-/.test(w);
  t.same(rows('vfs-in-client', 'ring').filter(kernelOnly),
    rows('microkernel', 'ring').filter((w: string) => kernelOnly(w) && w !== 'tree-copy-out'), 'vfs-in-client ran every kernel workload microkernel ran');

  // Throughput at 1, 8 and 64 clients, under every policy.
  for (const w of ['stat', 'pread-4k']) {
    for (const clients of [1, 8, 64]) {
      const name = `${w}-clients-${clients}`;
      t.same(report.results.filter((x: { workload: string }) => x.workload === name).map((x: { policy: string; transport: string }) => `${x.policy} ${x.transport}`).sort(),
        ([...configs] as string[]).filter((c) => !/^(peer|debugfs) /.test(c)).sort(), `${name} under every config`);
      t.match(report.workloads.find((x: { name: string }) => x.name === name)?.op, new RegExp(`from ${clients} client process`), `${name}'s legend names its clients`);
    }
  }

  // The tree copy-out: rumpus's cp -r under monolithic and microkernel's first transport, debugfs rdump, the targets.
  if (tree) {
    t.same(report.results.filter((x: { workload: string }) => x.workload === 'tree-copy-out').map((x: { policy: string; transport: string }) => `${x.policy} ${x.transport}`),
      ['monolithic direct', `microkernel ${THREAD_TRANSPORTS[0]}`, 'debugfs rdump'], 'tree-copy-out: monolithic, microkernel, debugfs rdump');
    const op = report.workloads.find((x: { name: string }) => x.name === 'tree-copy-out')?.op;
    const entries = Number(/of ([\d,]+) entries/.exec(op)?.[1].replace(/,/g, ''));
    t.ok(entries > 0, `the legend says how many entries (${op})`);
    for (const x of report.results.filter((y: { workload: string }) => y.workload === 'tree-copy-out')) {
      t.equal(Math.round((x.ops_per_s * x.p50_ns) / 1e9), entries, `${x.policy}: ops/s × the copy's time is the tree's entries`);
    }
    t.equal(limitOf(`monolithic direct: tree-copy-out time / debugfs rdump`), 1, 'target: monolithic ≤ 1× rdump');
    t.equal(limitOf(`microkernel ${THREAD_TRANSPORTS[0]}: tree-copy-out time / debugfs rdump`), 2, 'target: microkernel ≤ 2× rdump');
  }
  t.equal(report.busy, null, 'no busy run without --busy');

  const svg = readFileSync(svgPath, 'utf8');
  t.equal(xmlProblem(svg), null, 'the SVG is well-formed XML');
  t.match(svg, /^(<\?xml [^?]*\?>\s*)?<svg[\s>]/, 'its root is <svg>');
  t.equal(svg.match(/<rect class="bar"/g)?.length, report.results.length, 'one bar per result');
});

t.test('bench refuses unknown workloads and transports with a sentence', async (t) => {
  const w = await bench('--quick', '--workloads', 'nosuch');
  t.equal(w.code, 1);
  t.match(w.stderr, /unknown workload nosuch/);
  const p = await bench('--quick', '--policies', 'microkernel:pigeon');
  t.equal(p.code, 1);
  t.match(p.stderr, /unknown transport 'pigeon'/);
});
