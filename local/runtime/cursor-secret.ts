/**
 * The local runtime's cursor secret: random bytes made at the first start and kept in the data
 * dir (`cursor-secret`, mode 0600), served to the list function through the local Secrets
 * Manager as the deployed stack's generated secret is. Never derived from anything: whoever can
 * compute the secret can sign cursors.
 */
import { randomBytes } from 'node:crypto';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MIN_CURSOR_SECRET_LENGTH } from '#shared/api/cursor.ts';

export const CURSOR_SECRET_FILE = 'cursor-secret';

/** The data dir's cursor secret, made (32 random bytes, base64url) if there is none yet. */
export async function provideCursorSecret(dataDir: string): Promise<string> {
  const file = join(dataDir, CURSOR_SECRET_FILE);
  const made = randomBytes(32).toString('base64url');
  try {
    // `wx`: two starts racing on one data dir keep the first secret written.
    await writeFile(file, `${made}\n`, { mode: 0o600, flag: 'wx' });
    return made;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  // Kept private whatever mode an older copy or a restore left it with.
  await chmod(file, 0o600);
  const secret = (await readFile(file, 'utf8')).trim();
  if (secret.length < MIN_CURSOR_SECRET_LENGTH) {
    throw new Error(
      `${file} holds no cursor secret (at least ${MIN_CURSOR_SECRET_LENGTH} characters); delete it to have a new one made`,
    );
  }
  return secret;
}
