// Where a new domain's code comes from. Compiled, it starts from a CommonJS bundle of its entry
// (scripts/bundle.mjs) when there is an up-to-date one — one file instead of some forty ES
// modules — and a thread domain compiles that bundle with V8's code cache saved beside it by the
// build (scripts/code-cache.mjs), when there is one. From TypeScript source (tests, through tsx)
// a domain starts from the same bundles in dist/ when the build there is newer than every source
// file it was made from (`npm test` builds first), else it imports its entry module through
// tsx's loader, which costs a thread or process about a second of loading and compiling.

import { existsSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { TSX_ENV } from './dynamic-import.js';
import { BUILTIN } from './registry.js';

/** The kernel runs from TypeScript source (tests, through tsx) rather than compiled. */
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const THREAD_ENTRY = new URL(`./domain-thread${FROM_SOURCE ? '.ts' : '.js'}`, import.meta.url);
const PROCESS_ENTRY = new URL(`./domain-process${FROM_SOURCE ? '.ts' : '.js'}`, import.meta.url);
const POOL_ENTRY = new URL(`./domain-pool-worker${FROM_SOURCE ? '.ts' : '.js'}`, import.meta.url);

/**
 * The kernel runs in a checkout (from source, or compiled beside the TypeScript it was compiled
 * from) rather than from an installed package (whose files hold dist/ only). Only there can tsc
 * run again without the bundling step, or the bundling step without the code caches' warm-up;
 * and only there do mtimes tell which output is newer: npm gives every file it installs the
 * time it was unpacked, in the order of the tarball.
 */
const IN_CHECKOUT = FROM_SOURCE || existsSync(new URL('../../kernel/bundles.ts', import.meta.url));

/** The directories whose TypeScript the domain bundles are compiled from (scripts/bundle.mjs). */
const BUNDLED_SOURCES = ['kernel', 'ipc', 'servers'];

/** The newest mtime (ms) of a .ts file under `dir`, recursively; 0 when there is none. */
function newestSource(dir: string): number {
  let newest = 0;
  for (const f of readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
    if (f.endsWith('.ts')) newest = Math.max(newest, statSync(`${dir}/${f}`).mtimeMs);
  }
  return newest;
}

/**
 * From source, the mtime a bundle in dist/ must not be older than: the newest source file it
 * could hold. A bundle older than that may run code the source no longer has.
 */
const SOURCE_MTIME = FROM_SOURCE ? Math.max(...BUNDLED_SOURCES.map((d) => newestSource(fileURLToPath(new URL(`../${d}`, import.meta.url))))) : 0;

/** Where the compiled entries and their bundles are: beside this module, or from source in dist/. */
const COMPILED_KERNEL = new URL(FROM_SOURCE ? '../dist/kernel/' : './', import.meta.url);

/**
 * An entry's CommonJS bundle (scripts/bundle.mjs): one file, which more than halves what a new
 * domain spends loading its code; null when there is none up to date. tsc rewrites every
 * output, so in a checkout a bundle missing or older than its entry means tsc ran without the
 * bundling step, and the bundle would run stale code: the module graph is used instead. From
 * source, tsc's output older than any source file is refused for the same reason.
 */
function bundleOf(entry: string, variant = ''): string | null {
  const path = fileURLToPath(new URL(`${entry}${variant}.bundle.cjs`, COMPILED_KERNEL));
  const compiled = fileURLToPath(new URL(`${entry}.js`, COMPILED_KERNEL));
  if (!FROM_SOURCE) return notOlder(path, compiled);
  try {
    // The bundle is made from tsc's output, which must be newer than the source itself.
    return statSync(compiled).mtimeMs >= SOURCE_MTIME ? notOlder(path, compiled) : null;
  } catch {
    return null;
  }
}

/**
 * `file`, if it exists and, in a checkout, is not older than `source` (what it was made from),
 * else null. In an installed package both came from one build.
 */
function notOlder(file: string, source: string): string | null {
  try {
    const made = statSync(file).mtimeMs;
    return !IN_CHECKOUT || made >= statSync(source).mtimeMs ? file : null;
  } catch {
    return null;
  }
}

const THREAD_BUNDLE = bundleOf('domain-thread');
const PROCESS_BUNDLE = bundleOf('domain-process');

/**
 * V8's code for a bundle, saved beside it by the build (scripts/code-cache.mjs) from domains
 * that booted and served a first few calls: a domain that starts with it need not compile
 * again what they ran. Null when there is none or it is older than the bundle (a cache made for
 * other code, or by another Node, is also refused by V8 itself, which then compiles as usual).
 */
function codeCacheOf(bundle: string): string | null {
  return notOlder(`${bundle}.v8cache`, bundle);
}

/** Set while the build warms the code caches: each thread domain saves its own as its components stop. */
const SAVE_CODE_CACHE = 'RUMPUS_SAVE_CODE_CACHE';

/**
 * The eval'd entry of a thread domain that starts from a bundle: it compiles the bundle with
 * its code cache, if there is one, and runs it as Node runs a CommonJS module. What the bundle
 * needs of it is under globalThis[Symbol.for('rumpus.…')]: the code cache (see domain.ts), and
 * an import(), which code compiled from a code cache cannot run itself (kernel/dynamic-import.ts);
 * it finds a package by name (argon2) from the bundle's place, as the bundle's require would.
 */
const BUNDLE_LOADER = `
const { threadId, workerData } = require('node:worker_threads');
const { readFileSync, renameSync, writeFileSync } = require('node:fs');
const { dirname } = require('node:path');
const { Script } = require('node:vm');
const Module = require('node:module');
const { pathToFileURL } = require('node:url');
const { bundle, codeCache, saveCodeCache } = workerData.loader;
const bundleRequire = Module.createRequire(bundle);
let cachedData;
try { if (codeCache) cachedData = readFileSync(codeCache); } catch {}
const script = new Script(Module.wrap(readFileSync(bundle, 'utf8')), { filename: bundle, cachedData });
globalThis[Symbol.for('rumpus.import')] = (specifier) => import(/^[a-z][a-z0-9+.-]*:/i.test(specifier) || specifier.startsWith('.') || specifier.startsWith('/')
  ? specifier : pathToFileURL(bundleRequire.resolve(specifier)).href);
globalThis[Symbol.for('rumpus.codeCache')] = {
  used: cachedData !== undefined && !script.cachedDataRejected,
  save: saveCodeCache ? () => {
    const file = bundle + '.v8cache', part = file + '.' + process.pid + '.' + threadId;
    writeFileSync(part, script.createCachedData());
    renameSync(part, file);
  } : null,
};
const module = { exports: {}, filename: bundle, id: bundle };
script.runInThisContext().call(module.exports, module.exports, Module.createRequire(bundle), module, bundle, dirname(bundle));
`;

/** Thread bundles that hold one built-in server only, for a domain that hosts no other. */
const ONE_SERVER_BUNDLES = new Map(BUILTIN.map((c) => [c as string, bundleOf('domain-thread', `.${c}`)]));

/**
 * The bundle a thread domain hosting `components` starts from: the one with only its built-in
 * server, if it hosts one (a component a placement adds is imported from its own module from any
 * bundle), else the full one.
 */
function threadBundle(components: readonly string[]): string | null {
  const builtins = components.filter((c) => ONE_SERVER_BUNDLES.has(c));
  return (builtins.length === 1 ? ONE_SERVER_BUNDLES.get(builtins[0]) : null) ?? THREAD_BUNDLE;
}

/** When the kernel runs from TypeScript source, its domains need the same loader. */
function tsLoader(): string | null {
  return FROM_SOURCE ? import.meta.resolve('tsx/esm/api') : null;
}

/** What BUNDLE_LOADER reads from the worker's data (`workerData.loader`). */
export interface BundleLoad {
  /** The bundle's path. */
  bundle: string;
  /** Its V8 code cache's path, if there is an up-to-date one. */
  codeCache: string | null;
  /** Whether the domain saves its code cache when its components stop (the build's warm-up). */
  saveCodeCache: boolean;
}

/** How to start a thread domain's worker: the Worker's first argument and whether it is code to eval. */
export interface ThreadScript {
  script: string | URL;
  eval: boolean;
  /** For a worker that starts from a bundle: goes in its workerData as `loader`. */
  loader?: BundleLoad;
  /** What the domain's environment adds to the kernel's (TSX_ENV). */
  env: Record<string, string>;
}

/**
 * The environment a domain started from a bundle needs beside the kernel's: from source, where
 * tsx is, for a component from a TypeScript module (a test's fixture, say).
 */
function bundleEnv(): Record<string, string> {
  const loader = tsLoader();
  return loader ? { [TSX_ENV]: loader } : {};
}

/**
 * The code a thread domain's worker starts from: its bundle (with the code cache) when one is up
 * to date, else from source its entry through tsx, else its entry module.
 *
 * @param components  what the domain will be asked to load, if known (a spare's is not): picks
 *   the bundle
 */
export function threadScript(components: readonly string[]): ThreadScript {
  const bundle = threadBundle(components);
  if (bundle) {
    const loader = { bundle, codeCache: codeCacheOf(bundle), saveCodeCache: process.env[SAVE_CODE_CACHE] === '1' };
    return { script: BUNDLE_LOADER, eval: true, loader, env: bundleEnv() };
  }
  const tsx = tsLoader();
  if (tsx) {
    return { script: `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(THREAD_ENTRY.href)}); })`, eval: true, env: {} };
  }
  return { script: THREAD_ENTRY, eval: false, env: {} };
}

/**
 * How to run a process domain's entry: Node's arguments (its bundle when one is up to date, else
 * its entry module, through tsx's loader from source) and what its environment adds.
 */
export function processScript(): { args: string[]; env: Record<string, string> } {
  if (PROCESS_BUNDLE) return { args: [PROCESS_BUNDLE], env: bundleEnv() };
  return { args: [...(tsLoader() ? ['--import', import.meta.resolve('tsx')] : []), fileURLToPath(PROCESS_ENTRY)], env: {} };
}

/**
 * What a pool domain's piscina workers run: the module piscina loads in each (the worker entry;
 * piscina loads it itself, so it is not bundled), and from TypeScript source the URL of tsx's
 * ESM API, which the worker registers before it imports its components (piscina itself loads
 * the entry through tsx's require hook, which the worker inherits with the kernel's --import).
 */
export function poolScript(): { filename: string; tsx?: string } {
  return { filename: fileURLToPath(POOL_ENTRY), tsx: tsLoader() ?? undefined };
}
