// One op at a time per mount: blk calls may be remote, so an op awaits in the middle, and a
// second op must not see (or change) the first one's half-done state.

export class Mutex {
  private tail: Promise<unknown> = Promise.resolve();

  /** Runs fn after every earlier fn has settled; its result or error is passed through. */
  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn, fn);
    this.tail = result.catch(() => {});
    return result;
  }
}
