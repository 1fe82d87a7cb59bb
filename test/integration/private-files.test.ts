/**
 * What the local runtime writes that holds a credential or a secret is the user's alone, under
 * the umask most shells have (022, which leaves a new file readable by everyone): the S3
 * credentials (`endpoints.json`), the control plane's URL (`runtime.json`), the API key
 * (`local-api-key`) and the simulator's URL-signing secret are 0600, and the directories the
 * runtime makes for them 0700; files an earlier version left readable become 0600 at the next
 * start.
 */
import { chmodSync, mkdtempSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ServedRuntime, serve } from '../helpers/serve.ts';

const SECRET_FILES = [
  'endpoints.json',
  'runtime.json',
  'local-api-key',
  'admin-credentials.json',
  'cursor-secret',
  join('simulator', 'simulator-url-secret'),
];
const modeOf = (path: string) => statSync(path).mode & 0o777;

describe('files of the data dir that hold a secret', () => {
  let parent: string;
  let previousUmask: number;
  let runtime: ServedRuntime | undefined;

  beforeAll(() => {
    // The runtime's process inherits it.
    previousUmask = process.umask(0o022);
    parent = mkdtempSync(join(tmpdir(), 'spark-t2i-modes-'));
  });
  afterAll(async () => {
    await runtime?.stop();
    process.umask(previousUmask);
    await rm(parent, { recursive: true, force: true });
  });

  it('are 0600, in directories of 0700 where the runtime makes them, and made so again at a start', async () => {
    const dataDir = join(parent, 'made-by-the-runtime', 'data');
    runtime = await serve({ dataDir });
    for (const file of SECRET_FILES) {
      expect({ file, mode: modeOf(join(dataDir, file)).toString(8) }).toEqual({
        file,
        mode: '600',
      });
    }
    for (const directory of [
      join(parent, 'made-by-the-runtime'),
      dataDir,
      join(dataDir, 'simulator'),
    ]) {
      expect({ directory, mode: modeOf(directory).toString(8) }).toEqual({
        directory,
        mode: '700',
      });
    }
    await runtime.stop();
    runtime = undefined;

    // As an earlier version left them: readable by everyone, in a directory the user opened up.
    chmodSync(dataDir, 0o755);
    for (const file of SECRET_FILES.slice(0, 3)) chmodSync(join(dataDir, file), 0o644);
    runtime = await serve({ dataDir });
    for (const file of SECRET_FILES) {
      expect({ file, mode: modeOf(join(dataDir, file)).toString(8) }).toEqual({
        file,
        mode: '600',
      });
    }
    // A directory the runtime did not make keeps the mode its user gave it.
    expect(modeOf(dataDir).toString(8)).toBe('755');
  }, 150_000);
});
