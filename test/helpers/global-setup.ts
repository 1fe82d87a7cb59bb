/**
 * One synthesis cache for the whole test run: every runtime a test starts (in any worker) finds
 * the synthesized stack and its bundles there, so they are built once per configuration rather
 * than once per test file.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Read by `serve.ts` in the workers, which inherit the environment. */
export const TEST_CACHE_DIR_VARIABLE = 'SPARK_T2I_TEST_CACHE_DIR';

export default function setup(): () => void {
  const inherited = process.env[TEST_CACHE_DIR_VARIABLE];
  if (inherited) return () => undefined;
  const dir = mkdtempSync(join(tmpdir(), 'spark-t2i-cache-'));
  process.env[TEST_CACHE_DIR_VARIABLE] = dir;
  return () => rmSync(dir, { recursive: true, force: true });
}
