import { join } from 'node:path';

/** The project root: entry points, the lock file and the stack config are found from here. */
export const PROJECT_ROOT = join(import.meta.dirname, '..');
