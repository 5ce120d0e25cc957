// One op against a damaged image, as the corruption tests run it: its errno or 'ok', within a
// liveness bound; an internal error, an error without an errno or a hang fails the test.

import type { Test } from 'tap';
import { SysError } from '../../kernel/index.js';

/** A liveness bound for one op (generous: this is about hangs, not speed). */
export const OP_BOUND_MS = 30_000;

/** An op's result: 'ok', or its errno; an internal error or a hang fails the test ('broken'). */
export async function attempt(t: Test, what: string, fn: () => Promise<unknown>): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${OP_BOUND_MS} ms`)), OP_BOUND_MS);
  });
  try {
    await Promise.race([fn(), bound]);
    return 'ok';
  } catch (err) {
    if (!(err instanceof SysError) || /internal error/.test(err.message) || err.message.length === 0) {
      t.fail(`${what}: ${err instanceof Error ? err.message : String(err)}`, { err });
      return 'broken';
    }
    return err.errno;
  } finally {
    clearTimeout(timer);
  }
}
