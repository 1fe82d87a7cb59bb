/**
 * The local runtime's cursor secret: random, made once per data dir, private (0600 whatever the
 * umask), and the same at every later start.
 */
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CURSOR_SECRET_FILE, provideCursorSecret } from '#local/runtime/cursor-secret.ts';

let dirs: string[];
let umask: number;

beforeEach(() => {
  dirs = [];
  umask = process.umask(0o022);
});
afterEach(async () => {
  process.umask(umask);
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function dataDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'spark-t2i-cursor-'));
  dirs.push(dir);
  return dir;
}

describe('the local cursor secret', () => {
  it('is made at the first start, random, in a file only its owner can read, and kept', async () => {
    // Prepare
    const [first, second] = [await dataDir(), await dataDir()];

    // Act
    const made = await provideCursorSecret(first);
    const again = await provideCursorSecret(first);
    const elsewhere = await provideCursorSecret(second);

    // Assess
    expect(made).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(again).toBe(made);
    expect(elsewhere).not.toBe(made);
    const file = join(first, CURSOR_SECRET_FILE);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await readFile(file, 'utf8')).trim()).toBe(made);
  });

  it('makes a file left readable by others private again', async () => {
    // Prepare
    const dir = await dataDir();
    const secret = 'k'.repeat(43);
    await writeFile(join(dir, CURSOR_SECRET_FILE), `${secret}\n`);
    await chmod(join(dir, CURSOR_SECRET_FILE), 0o644);

    // Act
    const read = await provideCursorSecret(dir);

    // Assess
    expect(read).toBe(secret);
    expect((await stat(join(dir, CURSOR_SECRET_FILE))).mode & 0o777).toBe(0o600);
  });

  it('refuses a file that holds no usable secret rather than signing with it', async () => {
    // Prepare
    const dir = await dataDir();
    await writeFile(join(dir, CURSOR_SECRET_FILE), 'short\n', { mode: 0o600 });

    // Act, Assess
    await expect(provideCursorSecret(dir)).rejects.toThrow(/no cursor secret/);
  });
});
