// import() for kernel code that may run from a domain bundle. A thread domain's bundle is
// compiled from V8's code cache when it has one (kernel/bundles.ts), and in Node 20 code
// compiled so cannot run import() itself: the module loader's callback is lost with the cache
// ("A dynamic import callback was not specified"). The bundle's loader lends its own.
//
// A domain started from a bundle by a kernel that runs from TypeScript source (tests) has no
// TypeScript loader; the kernel names tsx's in its environment (TSX_ENV), and the first import
// of a component's module registers it.

const lent = (globalThis as { [key: symbol]: ((specifier: string) => Promise<unknown>) | undefined })[Symbol.for('rumpus.import')];
/**
 * The environment variable in which a kernel running from source tells a domain it starts from
 * a bundle where tsx's ESM API is (kernel/bundles.ts).
 */
export const TSX_ENV = 'RUMPUS_TSX';
const tsx = process.env[TSX_ENV];
let tsxRegistered: Promise<void> | undefined;

/** import(specifier), through the loader lent by a bundle if any. */
export function dynamicImport<T>(specifier: string): Promise<T> {
  return (lent ? lent(specifier) : import(specifier)) as Promise<T>;
}

/**
 * A component's module (a placement's `modules`), through dynamicImport; when TSX_ENV names
 * tsx, it is registered first: the module may be TypeScript under any name tsx resolves (.ts,
 * .mts, .tsx, a .js that tsx maps to .ts) or import some.
 */
export async function importComponentModule<T>(url: string): Promise<T> {
  if (tsx) await (tsxRegistered ??= dynamicImport<{ register(): void }>(tsx).then((api) => api.register()));
  return dynamicImport<T>(url);
}
