// rumpus serve: a booted kernel as a server that other programs use (NetBSD's rump_server). It
// boots with the default mounts and each --image, listens (kernel/serve/server.ts), prints one
// readiness line and runs in the foreground. SIGTERM or SIGINT: it drops its connections,
// unmounts the images itself (so that a failure to write one back is said, not logged), halts
// the kernel and exits 0; `rumpus ctl halt`: the server halts the kernel (which unmounts
// everything) and it exits 0. A kernel panic ends it with status 1 and the report on stderr.

import { join, resolve } from 'node:path';
import {
  SysError, TokenTable, defaultTokenOut, parseAddress, serve, type Kernel, type MountSpec, type Server,
} from '../kernel/index.js';
import { removeOwn, writeFresh, type WrittenFile } from '../kernel/private-files.js';
import { bootWithImages, type ImageMountSpec } from './image.js';
import { KEY_HELP, Keys, keyOptions } from './keys.js';
import { imageName } from './image-name.js';
import { writeErr } from './stdio.js';
import { KERNEL_HELP, UsageError, bootOptions, kernelOptions, type Subcommand, type Values } from './subcommand.js';

/** Where the server listens unless told: a socket in the user's runtime directory, else in /tmp/rumpus-UID. */
export function defaultListen(env: NodeJS.ProcessEnv = process.env): string {
  const dir = env.XDG_RUNTIME_DIR ? join(env.XDG_RUNTIME_DIR, 'rumpus') : `/tmp/rumpus-${process.getuid?.() ?? 0}`;
  return `unix://${join(dir, 'rumpus.sock')}`;
}

/**
 * The images' mounts: the first at /mnt (as `rumpus sh --image`), the next at /mnt1, /mnt2, …
 * read-write; a LUKS image with its key (which no client ever sees).
 */
async function imageMounts(images: string[], keys: Keys): Promise<ImageMountSpec[]> {
  const mounts: ImageMountSpec[] = [];
  for (const [i, image] of images.entries()) {
    // Absolute, so that a client finds an image among the mounts by its real path from any directory.
    const { path, partition } = imageName(image);
    mounts.push({ image, mount: { target: i === 0 ? '/mnt' : `/mnt${i}`, fstype: 'ext2', source: resolve(path), partition, key: await keys.keyFor(image) } });
  }
  return mounts;
}

function positiveInteger(v: Values, name: string): number | undefined {
  const text = v[name];
  if (typeof text !== 'string') return undefined;
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new UsageError(`--${name}: '${text}' is not a positive integer`);
  return Number(text);
}

/** What ends the server's run: a signal, `ctl halt` (or the server closed), or a panic with its report. */
type Ending = { kind: 'signal'; name: string } | { kind: 'halted' } | { kind: 'panic'; report: string };

/** The tokens the server accepts, and the file a generated token was written to here (removed at exit). */
function tokensFor(v: Values, listen: string[]): { tokens: TokenTable; written: WrittenFile | null } {
  if (typeof v['token-file'] === 'string') {
    if (typeof v['token-out'] === 'string') throw new UsageError('--token-out writes a generated token; with --token-file none is generated');
    return { tokens: TokenTable.read(v['token-file']), written: null };
  }
  const tokens = TokenTable.generate();
  const tcp = listen.some((url) => url.startsWith('tcp:'));
  const out = typeof v['token-out'] === 'string' ? v['token-out'] : tcp ? defaultTokenOut() : null;
  return { tokens, written: out === null ? null : tokens.writeGenerated(out) };
}

/** Unmounts the images (which writes them back), saying on stderr which one failed; whether all went well. */
async function unmountImages(kernel: Kernel, mounts: MountSpec[]): Promise<boolean> {
  const images = mounts.filter((m) => m.fstype === 'ext2');
  if (images.length === 0 || kernel.panicked !== null) return true;
  let ok = true;
  const p = await kernel.spawn();
  for (const m of images) {
    await p.unmount(m.target).catch((err: unknown) => {
      writeErr(`rumpus serve: ${m.source}: ${err instanceof SysError ? err.message : String(err)}\n`);
      ok = false;
    });
  }
  await p.exit().catch(() => {});
  return ok;
}

export const SERVE_SUBCOMMAND: Subcommand = {
  summary: 'run a kernel as a server that other rumpus commands and programs use',
  usage: 'rumpus serve [--policy P] [--transport T] [--image IMG]… [--key-file K] [--listen URL]… [--pidfile F] [--token-file F] [--token-out F] [--max-connections N]',
  help: `Boots a kernel (tmpfs at / and /tmp, devices at /dev, the first --image at /mnt, further ones
at /mnt1, /mnt2, …, read-write) and serves it: each connection is a client process of the
kernel, with its own pid, fds, working directory and the credentials of its token. Other
commands use it with --server URL or RUMPUS_SERVER=URL; 'rumpus ctl' administers it.
When it listens it prints one line on standard output, and nothing more there:
  rumpus serve: ready on URL[, URL…] (policy NAME, pid N)
It runs until SIGTERM, SIGINT or 'rumpus ctl halt': then it unmounts the images (writing them
back), halts the kernel, removes its socket and pidfile, and exits 0. A kernel panic ends it
with status 1 and the report on standard error.

  --image IMG         an ext2 image to mount (repeatable; IMG@N: partition N of the disk image
                      IMG); a LUKS container is opened with --key-file's key, or one asked
                      for on the terminal before the server listens
${KEY_HELP}
  --listen URL        unix:///ABSOLUTE/PATH or tcp://HOST:PORT (repeatable; PORT 0: any free
                      port, the line above tells which; an empty HOST: loopback). Default:
                      unix://$XDG_RUNTIME_DIR/rumpus/rumpus.sock, else
                      unix:///tmp/rumpus-UID/rumpus.sock.
                      A unix socket is made 0600 in a directory only its owner can enter
                      (made 0700 when missing; any other is refused)
  --pidfile F         write the server's pid to F (0644, a new file renamed over F; removed
                      at exit if it is still that file)
  --token-file F      the tokens accepted, one a line: TOKEN uid=N gid=N [groups=N,N,…] [admin]
                      (TOKEN: at least 32 hex or base64url chars; '#' starts a comment).
                      Refused when group or others can read it (chmod 600 F).
                      Without it, one admin root token is generated and written 0600 beside
                      each unix socket (SOCKET.token, where clients look for it) and, with TCP,
                      to --token-out
  --token-out F       where a generated token is written for TCP clients (0600, a new file
                      renamed over F; a directory others can write is refused unless it is
                      sticky and F is absent or ours). Default:
                      $XDG_RUNTIME_DIR/rumpus-PID.token, else /tmp/rumpus-UID/rumpus-PID.token
  --max-connections N authenticated connections at once (default 256)
${KERNEL_HELP}`,
  options: {
    ...kernelOptions,
    ...keyOptions,
    image: { type: 'string', multiple: true },
    listen: { type: 'string', multiple: true },
    pidfile: { type: 'string' },
    'token-file': { type: 'string' },
    'token-out': { type: 'string' },
    'max-connections': { type: 'string' },
  },
  async run(v, positionals) {
    if (positionals.length) throw new UsageError(`unexpected operand '${positionals[0]}'`);
    const listen = (v.listen as string[] | undefined) ?? [defaultListen()];
    for (const url of listen) parseAddress(url); // before anything is booted: a bad URL is said at once
    const maxConnections = positiveInteger(v, 'max-connections');
    const pidfile = typeof v.pidfile === 'string' ? v.pidfile : null;
    let pidWritten: WrittenFile | null = null;
    const mounts = await imageMounts((v.image as string[] | undefined) ?? [], Keys.of(v));
    let end!: (e: Ending) => void;
    const ending = new Promise<Ending>((resolve) => (end = resolve));
    const onSignal = (name: string) => end({ kind: 'signal', name });
    process.once('SIGTERM', onSignal).once('SIGINT', onSignal);
    let written: WrittenFile | null = null;
    let kernel: Kernel | null = null;
    let server: Server | null = null;
    try {
      const chosen = tokensFor(v, listen);
      written = chosen.written;
      kernel = await bootWithImages(bootOptions(v, {
        onEvent: (e) => {
          if (e.kind === 'panic') end({ kind: 'panic', report: e.reason });
        },
      }), mounts);
      server = await serve(kernel, { listen, tokens: chosen.tokens, maxConnections });
      void server.halted.then(() => end({ kind: 'halted' }));
      if (pidfile !== null) {
        pidWritten = writeFresh(pidfile, `${process.pid}\n`, 0o644);
      }
      process.stdout.write(`rumpus serve: ready on ${server.addresses.join(', ')} (policy ${kernel.placement.name}, pid ${process.pid})\n`);
      const why = await ending;
      await server.close();
      if (why.kind === 'panic') {
        writeErr(`rumpus serve: kernel panic: ${why.report}\n`);
        return 1;
      }
      // After ctl halt the kernel has halted already, which unmounted everything.
      return why.kind === 'halted' || (await unmountImages(kernel, mounts.map((m) => m.mount))) ? 0 : 1;
    } finally {
      process.off('SIGTERM', onSignal).off('SIGINT', onSignal);
      await server?.close();
      await kernel?.halt();
      if (pidWritten !== null) removeOwn(pidWritten);
      if (written !== null) removeOwn(written);
    }
  },
};
