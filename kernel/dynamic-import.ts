// import() for kernel code that may run from a domain bundle. A thread domain's bundle is
// compiled from V8's code cache when it has one (kernel/bundles.ts), and in Node 20 code
// compiled so cannot run import() itself: the module loader's callback is lost with the cache
// ("A dynamic import callback was not specified"). The bundle's loader lends its own.
//
// A domain started from a bundle by a kernel that runs from TypeScript source (tests) has no
// TypeScript loader; the kernel names tsx's in its environment (TSX_ENV), and the first import
// of a .ts module registers it.

const lent = (globalThis as { [key: symbol]: ((specifier: string) => Promise<unknown>) | undefined })[Symbol.for('rumpus.import')];
/**
 * The environment variable in which a kernel running from source tells a domain it starts from
 * a bundle where tsx's ESM API is (kernel/bundles.ts).
 */
export const TSX_ENV = 'RUMPUS_TSX';
const tsx = process.env[TSX_ENV];
let tsxRegistered: Promise<void> | undefined;

const importNow = (specifier: string): Promise<unknown> => (lent ? lent(specifier) : import(specifier));

/** import(specifier), through the loader lent by a bundle if any; a .ts module through tsx when TSX_ENV names it. */
export async function dynamicImport<T>(specifier: string): Promise<T> {
  if (tsx && /\.[cm]?ts$/.test(specifier)) {
    await (tsxRegistered ??= importNow(tsx).then((api) => (api as { register(): void }).register()));
  }
  return (await importNow(specifier)) as T;
}
