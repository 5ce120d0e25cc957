// What a syscall came to, as the tests compare it.

import { SysError } from '../../kernel/index.js';

/** The errno a call fails with, or 'ok'; anything thrown that is not a SysError is rethrown. */
export async function errnoOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    if (err instanceof SysError) return err.errno;
    throw err;
  }
}
