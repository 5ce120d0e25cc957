// import() for kernel code that may run from a domain bundle. A thread domain's bundle is
// compiled from V8's code cache when it has one (kernel/bundles.ts), and in Node 20 code
// compiled so cannot run import() itself: the module loader's callback is lost with the cache
// ("A dynamic import callback was not specified"). The bundle's loader lends its own.

const lent = (globalThis as { [key: symbol]: ((specifier: string) => Promise<unknown>) | undefined })[Symbol.for('rumpus.import')];

export function dynamicImport<T>(specifier: string): Promise<T> {
  return (lent ? lent(specifier) : import(specifier)) as Promise<T>;
}
