// How the driver reports a damaged image: EUCLEAN ("structure needs cleaning") with a
// sentence saying what is wrong where, as Linux does for a corrupt ext2/ext4.

import { SysError } from '../../kernel/api.js';

export function corrupt(message: string): SysError {
  return new SysError('EUCLEAN', `ext2: corrupt file system: ${message}`);
}
