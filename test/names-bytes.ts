// Names are bytes in every layer: the codecs between byte strings and the client form; then, under
// every policy, names holding every byte value but '/' and NUL made, listed, stat'ed, renamed and
// removed through the API on tmpfs and ext2 (1 KiB and 4 KiB blocks), symlink targets, the cwd and
// error messages in client form, rmdir of a directory whose names are not UTF-8, and cp -r both
// ways between the host and an image with host names that are not UTF-8; last, the same through
// the command line, and ls's display of such names.

import { mkdirSync, readFileSync, readdirSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { copyTree } from '../bin/copy.js';
import { parse } from '../bin/shell/parse.js';
import { hostTree as hostFiles, kernelTree } from '../bin/files.js';
import {
  SysError, boot, byteString, bytesOf, displayName, fromByteString, toByteString, type Proc,
} from '../kernel/index.js';
import { errnoOf } from './lib/errno.js';
import { fsckClean, mkImage, random, tempDir } from './lib/e2fs.js';
import { ALL_POLICIES, policyName } from './lib/policies.js';
import { runRumpus, type CliRun } from './lib/cli.js';

const dir = tempDir('rumpus-names-bytes-');
const at = (...parts: string[]) => join(dir, ...parts);
/** A host path from bytes (node:fs takes a Buffer path as its exact bytes). */
const hostBytes = (...parts: (string | Uint8Array)[]) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));
const bytes = (...b: number[]) => Uint8Array.from(b);
/** A JS string's UTF-8 as a byte string, by node's own encoder: the oracle for toByteString. */
const utf8 = (s: string) => Buffer.from(s, 'utf8').toString('latin1');

// ---- the codecs -------------------------------------------------------------------------------

t.test('every single byte and every pair of bytes round-trips through the client form', async (t) => {
  let bad = 0;
  for (let b = 0; b < 256; b++) {
    const s = String.fromCharCode(b);
    const client = fromByteString(s);
    if (client !== (b < 0x80 ? s : String.fromCharCode(0xdc00 + b))) bad++; // a lone byte is never valid UTF-8 above 0x7f
    if (toByteString(client) !== s || toByteString(bytes(b)) !== s || bytesOf(s)[0] !== b) bad++;
  }
  t.equal(bad, 0, 'single bytes: a byte above 0x7f is U+DC00 + byte, and comes back');
  let badPairs = 0;
  for (let b = 0; b < 0x10000; b++) {
    const s = String.fromCharCode(b >> 8, b & 0xff);
    if (toByteString(fromByteString(s)) !== s) badPairs++;
  }
  t.equal(badPairs, 0, 'all 65,536 pairs of bytes');
  t.equal(fromByteString(utf8('café')), 'café', 'valid UTF-8 decodes as UTF-8');
  t.equal(fromByteString('caf\xe9'), 'caf\udce9', 'an invalid byte is escaped, alone');
  t.equal(fromByteString('\xed\xb3\xa9'), '\udced\udcb3\udca9', 'U+DCE9 encoded is no valid UTF-8: each byte escaped, so it cannot pass for the raw byte 0xe9');
  t.equal(fromByteString('\xc0\xaf'), '\udcc0\udcaf', 'an overlong form is escaped');
  t.equal(fromByteString(utf8('\u{10ffff}') + '\xf4\x90\x80\x80'), '\u{10ffff}\udcf4\udc90\udc80\udc80', 'U+10FFFF decodes, past it does not');
});

t.test('seeded fuzz: byte strings round-trip, and so do strings of valid UTF-16', async (t) => {
  const seed = Number(process.env.NAMES_SEED ?? Date.now() % 1_000_000);
  t.comment(`seed ${seed} (rerun with NAMES_SEED=${seed})`);
  const rnd = random(seed);
  const int = (n: number) => Math.floor(rnd() * n);
  // Bytes that are often near-UTF-8: leads, continuations, ASCII, anything.
  const pools = [[0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff, 0xc0], [0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf], [0x41, 0x2f, 0]];
  let badBytes = 0;
  let badText = 0;
  for (let i = 0; i < 20_000; i++) {
    const n = int(24);
    const codes = Array.from({ length: n }, () => {
      const pool = pools[int(pools.length)];
      return rnd() < 0.5 ? pool[int(pool.length)] : int(256);
    });
    const s = String.fromCharCode(...codes);
    if (toByteString(fromByteString(s)) !== s) badBytes++;
    const text = Array.from({ length: int(12) }, () => {
      const k = int(4);
      const cp = k === 0 ? int(0x80) : k === 1 ? 0x80 + int(0x780) : k === 2 ? 0x800 + int(0xf800) : 0x10000 + int(0x100000);
      return cp >= 0xd800 && cp < 0xe000 ? 'x' : String.fromCodePoint(cp);
    }).join('');
    if (toByteString(text) !== utf8(text) || fromByteString(toByteString(text)) !== text) badText++;
  }
  t.equal(badBytes, 0, 'toByteString(fromByteString(s)) === s');
  t.equal(badText, 0, 'a valid UTF-16 string is its UTF-8, and comes back');
  const long = Uint8Array.from({ length: 100_000 }, () => int(256));
  const longStr = byteString(long);
  t.equal(longStr.length, long.length, 'a long path makes a byte string of its length');
  t.ok(Buffer.from(bytesOf(toByteString(fromByteString(longStr)))).equals(Buffer.from(long)), 'and round-trips');
});

t.test('what cannot be converted is EINVAL, with a sentence', async (t) => {
  for (const lone of ['\ud800', '\udbff', '\udc00', '\udc7f', '\udd00', 'a\ud83d']) {
    const err = (() => {
      try {
        toByteString(lone);
      } catch (e) {
        return e as SysError;
      }
    })();
    t.equal(err?.errno, 'EINVAL', `U+${lone.codePointAt(lone.length - 1)!.toString(16)}`);
  }
  t.match((() => { try { return bytesOf('\u0100'); } catch (e) { return (e as Error).message; } })(), /U\+0100/, 'a char above 0xFF is no byte');
});

t.test('the display form is what GNU ls shows with --quoting-style=shell-escape', async (t) => {
  const b = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
  t.equal(displayName('café'), 'café', 'printable UTF-8 is unchanged');
  t.equal(displayName('a b'), 'a b', 'even with a space');
  t.equal(displayName(b('caf\xe9')), "'caf'$'\\351'");
  t.equal(displayName('caf\udce9'), "'caf'$'\\351'", 'the same name in client form');
  t.equal(displayName('a\nb'), "'a'$'\\n''b'");
  t.equal(displayName('x\x01y'), "'x'$'\\001''y'");
  t.equal(displayName('tab\there'), "'tab'$'\\t''here'");
  t.equal(displayName('q\x7f'), "'q'$'\\177'");
  t.equal(displayName('e\u0085'), "'e'$'\\302\\205'", 'a C1 control is its bytes');
  t.equal(displayName(b('\xe9\xe8')), "''$'\\351\\350'");
  t.equal(displayName(b("it's\xff")), "'it'\\''s'$'\\377'", "a quote in a quoted run");
});

t.test("the shell reads $'…' as bash does, so a name ls shows escaped can be typed back", async (t) => {
  const word = (line: string) => parse(`x ${line}`)[0].argv[1];
  t.equal(word("'caf'$'\\351'"), 'caf\udce9', 'a raw byte');
  t.equal(word("caf$'\\xc3\\xa9'"), 'café', 'bytes that make UTF-8 are that character');
  t.equal(word("$'\\xc3'$'\\xa9'"), 'é', 'even across two $\'…\'');
  t.equal(word("$'a\\nb\\t\\'\\\\\\u00e9\\U0001F600\\101\\q'"), "a\nb\t'\\é😀A\\q", 'escapes by letter, \\u, \\U, octal; others kept');
  t.throws(() => parse("x $'open"), /unterminated quote/);
  const seed = Number(process.env.NAMES_SEED ?? Date.now() % 1_000_000);
  t.comment(`seed ${seed}`);
  const rnd = random(seed);
  let bad = 0;
  for (let i = 0; i < 2000; i++) {
    // A name ls escapes (it holds a byte that is no UTF-8), of any other bytes but '/' and NUL.
    const name = Uint8Array.from({ length: 1 + Math.floor(rnd() * 12) }, () => 1 + Math.floor(rnd() * 255)).map((b) => (b === 0x2f ? 0xff : b));
    name[Math.floor(rnd() * name.length)] = 0xf8 + Math.floor(rnd() * 8); // never part of UTF-8
    if (toByteString(word(displayName(name))) !== byteString(name)) bad++;
  }
  t.equal(bad, 0, 'what ls shows parses back to the same bytes (seeded)');
});

// ---- host trees whose names are not UTF-8, for cp -r ---------------------------------------------

/** A host tree with names that are not UTF-8: two files differing in one byte, a directory, a symlink to such a name. */
function buildHostTree(root: string): void {
  mkdirSync(hostBytes(root, '/sub', bytes(0xff)), { recursive: true });
  writeFileSync(hostBytes(root, '/caf', bytes(0xe9)), 'one');
  writeFileSync(hostBytes(root, '/caf', bytes(0xe8)), 'two');
  writeFileSync(hostBytes(root, '/sub', bytes(0xff), '/caf\u00e9'), 'three'); // valid UTF-8 beside
  symlinkSync(hostBytes('caf', bytes(0xe9)), hostBytes(root, '/link'));
}

/** The host tree as bytes: relative path (latin1) → content or link target. */
function hostSnapshot(root: string, rel = ''): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of readdirSync(hostBytes(root, Buffer.from(rel, 'latin1')), { withFileTypes: true, encoding: 'buffer' })) {
    const name = Buffer.from(e.name as unknown as Uint8Array);
    const relPath = `${rel}/${name.toString('latin1')}`;
    const full = hostBytes(root, Buffer.from(relPath, 'latin1'));
    if (e.isDirectory()) Object.assign(out, hostSnapshot(root, relPath));
    else if (e.isSymbolicLink()) out[relPath] = `-> ${readlinkSync(full, { encoding: 'buffer' }).toString('latin1')}`;
    else out[relPath] = readFileSync(full).toString('latin1');
  }
  return out;
}

const EXPECTED = {
  '/caf\xe9': 'one', '/caf\xe8': 'two', '/sub\xff/caf\xc3\xa9': 'three', '/link': '-> caf\xe9',
};

// ---- through every layer, under every policy ----------------------------------------------------

/** Every byte value 1–255 but '/', as names of at most 255 bytes (here 127 and 127). */
const ALL_BYTES = Uint8Array.from({ length: 255 }, (_, i) => i + 1).filter((b) => b !== 0x2f);
const NAMES = [ALL_BYTES.subarray(0, 127), ALL_BYTES.subarray(127)];
const slash = bytes(0x2f);
const path = (dirPath: string, name: Uint8Array) => Uint8Array.from([...Buffer.from(dirPath), ...slash, ...name]);
const reversed = (name: Uint8Array) => Uint8Array.from(name).reverse();

/**
 * Images for the policy runs: ext2 with 1 KiB and with 4 KiB blocks, the reproducer's two names
 * made by mke2fs -d, and an empty one for cp -r.
 */
function images(tag: string): { e1: string; e4: string; two: string; cp: string } {
  const e1 = at(`${tag}-1k.img`);
  const e4 = at(`${tag}-4k.img`);
  mkImage(e1, { size: 4 << 20, blockSize: 1024 });
  mkImage(e4, { size: 8 << 20, blockSize: 4096 });
  const src = at(`${tag}-src`);
  mkdirSync(join(src, 'd'), { recursive: true });
  writeFileSync(hostBytes(src, '/d/caf', bytes(0xe9)), 'one');
  writeFileSync(hostBytes(src, '/d/caf', bytes(0xe8)), 'two');
  const two = at(`${tag}-two.img`);
  mkImage(two, { size: 4 << 20, blockSize: 1024, from: src });
  const cp = at(`${tag}-cp.img`);
  mkImage(cp, { size: 4 << 20, blockSize: 1024 });
  return { e1, e4, two, cp };
}

/** Creates, lists, stats, renames and removes the every-byte names in `root`; checks each step. */
async function everyByte(t: Test, p: Proc, root: string, label: string): Promise<void> {
  await p.mkdir(`${root}/all`);
  for (const name of NAMES) await p.writeFile(path(`${root}/all`, name), name);
  const listed = await p.readdir(`${root}/all`);
  const byRaw = (raw: Uint8Array) => listed.find((e) => Buffer.from(e.raw).equals(Buffer.from(raw)));
  t.equal(listed.length, NAMES.length, `${label}: readdir lists each name once`);
  for (const [i, name] of NAMES.entries()) {
    const e = byRaw(name);
    t.ok(e, `${label}: name ${i}: raw is the exact bytes`);
    if (!e) continue;
    t.equal(toByteString(e.name), byteString(name), `${label}: name ${i}: the client form round-trips`);
    const st = await p.stat(`${root}/all/${e.name}`);
    t.equal(st.size, name.length, `${label}: name ${i}: stat by the client-form name`);
    t.ok(Buffer.from(await p.readFile(path(`${root}/all`, name))).equals(Buffer.from(name)), `${label}: name ${i}: read by the bytes`);
    await p.rename(`${root}/all/${e.name}`, path(`${root}/all`, reversed(name)));
  }
  const renamed = await p.readdir(`${root}/all`);
  t.same(renamed.map((e) => byteString(e.raw)).sort(), NAMES.map((n) => byteString(reversed(n))).sort(), `${label}: renamed to the reversed bytes`);
  for (const e of renamed) await p.unlink(path(`${root}/all`, e.raw));
  t.same(await p.readdir(`${root}/all`), [], `${label}: removed`);
  await p.rmdir(`${root}/all`);
}

for (const policy of ALL_POLICIES) {
  t.test(`every byte but '/' and NUL, under ${policyName(policy)}`, async (t) => {
    const tag = policyName(policy).replace(/\W+/g, '-');
    const { e1, e4, two, cp } = images(tag);
    const hostSrc = at(`cp-src-${tag}`);
    const hostOut = at(`cp-out-${tag}`);
    buildHostTree(hostSrc);
    t.same(hostSnapshot(hostSrc), EXPECTED, 'the host tree as made');
    const k = await boot({
      policy,
      mounts: [
        { target: '/', fstype: 'tmpfs' },
        { target: '/e1', fstype: 'ext2', source: e1 },
        { target: '/e4', fstype: 'ext2', source: e4 },
        { target: '/two', fstype: 'ext2', source: two },
        { target: '/cp', fstype: 'ext2', source: cp },
        { target: '/caf\udce9', fstype: 'tmpfs' }, // a boot mount target that is not UTF-8
      ],
    });
    try {
      const p = await k.spawn({ uid: 0, gid: 0 });
      for (const root of ['', '/e1', '/e4']) await everyByte(t, p, root, `${policyName(policy)} ${root || 'tmpfs'}`);

      // A symlink target that is not UTF-8, and a cwd: both come back in client form.
      for (const root of ['', '/e1', '/e4']) {
        await p.symlink(bytes(0x78, 0xff, 0x2f, 0xe9), `${root}/ln`);
        t.equal(await p.readlink(`${root}/ln`), 'x\udcff/\udce9', `${root || 'tmpfs'}: readlink gives the target's bytes in client form`);
        await p.unlink(`${root}/ln`);
      }
      await p.mkdir('/e4/caf\udce9');
      await p.chdir(bytes(0x2f, 0x65, 0x34, 0x2f, 0x63, 0x61, 0x66, 0xe9));
      t.equal(await p.getcwd(), '/e4/caf\udce9', 'getcwd in client form');
      await p.chdir('/');
      t.ok((await p.mounts()).some((m) => m.target === '/caf\udce9'), 'a boot mount target that is not UTF-8 is mounted there');

      // Messages name paths as the client wrote them: café, not mojibake.
      const err = await p.stat('/café/x').catch((e: SysError) => e);
      t.match(err instanceof SysError && err.message, /café/, 'an error message shows café');
      t.equal(await errnoOf(k.call('vfs', 'stat', { pid: p.pid, path: '/\u0100' })), 'EINVAL', 'vfs refuses a path that is not a byte string');
      t.equal(await errnoOf(p.mkdir('/\ud800')), 'EINVAL', 'a lone surrogate that stands for no byte is EINVAL');

      // The reproducer's case: two names that are not UTF-8; unlink one; the directory is not empty.
      const names = (await p.readdir('/two/d')).map((e) => e.name);
      t.same(names.slice().sort(), ['caf\udce8', 'caf\udce9'], 'two distinct names');
      await p.unlink(`/two/d/${names[0]}`);
      t.equal((await p.readdir('/two/d')).length, 1, 'one left after unlinking the first');
      t.equal(await errnoOf(p.rmdir('/two/d')), 'ENOTEMPTY', 'rmdir of the still non-empty directory');
      t.equal(Buffer.from(await p.readFile(`/two/d/${names[1]}`)).toString(), names[1] === 'caf\udce9' ? 'one' : 'two', 'the other keeps its content');

      // cp -r host → image → host, with host names that are not UTF-8.
      const problems: string[] = [];
      const opts = { recursive: true, preserveTimes: true, report: (shown: string, e: SysError) => void problems.push(`${shown}: ${e.message}`) };
      t.ok(await copyTree(hostFiles(), hostSrc, kernelTree(p), '/cp/in', opts), 'cp -r host → image goes well');
      const inImage = (await p.readdir('/cp/in')).map((e) => byteString(e.raw)).sort();
      t.same(inImage, ['caf\xe8', 'caf\xe9', 'link', 'sub\xff'], 'the image holds the exact bytes');
      t.ok(await copyTree(kernelTree(p), '/cp/in', hostFiles(), hostOut, opts), 'cp -r image → host goes well');
      t.same(problems, [], 'no problem reported');
    } finally {
      await k.halt();
    }
    t.same(hostSnapshot(hostOut), EXPECTED, 'the host copy has the exact bytes');
    for (const img of [e1, e4, two, cp]) {
      const fsck = fsckClean(img);
      t.ok(fsck.clean, `e2fsck clean: ${img}`, { report: fsck.report });
    }
  });
}

// ---- the command line ------------------------------------------------------------------------------


/** `rumpus ARGS…` in the fixture directory. */
const rumpus = (...args: string[]): Promise<CliRun> => runRumpus(dir, args);

t.test('rumpus cp -r both ways and ls: exact bytes on the host, names shown as GNU ls does', async (t) => {
  const src = at('cli-src');
  buildHostTree(src);
  mkImage(at('cli.img'), { size: 4 << 20, blockSize: 4096 });
  const cpIn = await rumpus('cp', '-r', src, 'cli.img:/in');
  t.same([cpIn.code, cpIn.stderr], [0, ''], 'cp -r HOST IMG:/in');
  const ls = await rumpus('ls', 'cli.img:/in');
  t.equal(ls.stdout, "'caf'$'\\350'\n'caf'$'\\351'\nlink\n'sub'$'\\377'\n", 'ls shows names that are not UTF-8 escaped');
  const lsl = await rumpus('ls', '-l', 'cli.img:/in');
  t.match(lsl.stdout, / link -> 'caf'\$'\\351'\n/, 'ls -l shows the link target escaped too');
  const cpOut = await rumpus('cp', '-r', 'cli.img:/in', 'cli-out');
  t.same([cpOut.code, cpOut.stderr], [0, ''], 'cp -r IMG:/in HOST');
  t.same(hostSnapshot(at('cli-out')), EXPECTED, 'the host copy has the exact bytes');
  const sh = await rumpus('sh', '--image', 'cli.img', '-c', "rm /mnt/in/'caf'$'\\351'; ls /mnt/in; rmdir /mnt/in");
  t.equal(sh.stdout, "'caf'$'\\350'\nlink\n'sub'$'\\377'\n", 'the shell removes a name typed as ls shows it');
  t.match(sh.stderr, /rmdir: \/mnt\/in: Directory not empty/, 'and rmdir of the rest is ENOTEMPTY');
  const fsck = fsckClean(at('cli.img'));
  t.ok(fsck.clean, 'e2fsck clean', { report: fsck.report });
});
