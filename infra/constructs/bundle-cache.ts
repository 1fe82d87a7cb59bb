/**
 * A function's bundle, kept by what it is built from so a synthesis of the same code reuses it:
 * the local runtime synthesizes the stack once per configuration, and the bundles do not depend
 * on the configuration. `LocalEsbuild` (pipeline-function.ts) reads and fills the cache when a
 * synthesis names one (context `BUNDLE_CACHE_CONTEXT`); `prebundle` builds the missing bundles of
 * a stack side by side beforehand, with the same options, so a first start is not ten builds in a
 * row. A cache folder belongs to one version of the code: its name carries the code's hash.
 *
 * A bundle's source map names the sources relative to the bundle. Cached bundles sit two levels
 * under the cache's parent, as CDK's `bundling-temp-*` folders and the assets sit two levels
 * under a synthesis in the same parent, so a copied bundle's map still points at the sources.
 */
import { createHash, randomUUID } from 'node:crypto';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join, relative } from 'node:path';
import { PROJECT_ROOT } from '../project-root.ts';
import { functionBuildOptions } from './bundling.ts';
import { NODE_ARGUMENTS_WRAPPER_FILE, NODE_ARGUMENTS_WRAPPER_SCRIPT } from './node-arguments.ts';

/** Context naming the bundle cache folder of a synthesis (set by the local runtime only). */
export const BUNDLE_CACHE_CONTEXT = 'spark-t2i:bundleCache';

/** What a function's asset is built from, beside the code itself. */
export interface FunctionBundleSpec {
  /** The handler module, `functions/<name>/handler.ts`. */
  readonly entry: string;
  /** Packages left to the Lambda runtime. */
  readonly external: readonly string[];
  /** Whether the asset carries the node-arguments exec wrapper. */
  readonly nodeArgumentsWrapper: boolean;
}

/**
 * Writes the exec wrapper into an asset folder. Executable: Lambda runs it (and refuses to start
 * the function, exit 126, when it is not), and CDK's zip keeps each file's mode. Set by chmod,
 * not by writeFile's mode, which the umask of whoever synthesizes narrows (0700 under umask 077).
 */
export function writeNodeArgumentsWrapper(dir: string): void {
  const wrapper = join(dir, NODE_ARGUMENTS_WRAPPER_FILE);
  writeFileSync(wrapper, NODE_ARGUMENTS_WRAPPER_SCRIPT);
  chmodSync(wrapper, 0o755);
}

function bundleKey(spec: FunctionBundleSpec): string {
  const described = JSON.stringify({
    entry: relative(PROJECT_ROOT, spec.entry),
    external: spec.external,
    nodeArgumentsWrapper: spec.nodeArgumentsWrapper,
  });
  return createHash('sha256').update(described).digest('hex').slice(0, 32);
}

/** The cached bundle's folder, when the cache has it whole. */
export function cachedBundle(cacheDir: string, spec: FunctionBundleSpec): string | undefined {
  const dir = join(cacheDir, bundleKey(spec));
  return existsSync(join(dir, 'index.mjs')) ? dir : undefined;
}

/** Copies a cached bundle into an asset folder, the wrapper's mode set again. */
export function copyBundle(from: string, to: string, spec: FunctionBundleSpec): void {
  cpSync(from, to, { recursive: true });
  if (spec.nodeArgumentsWrapper) writeNodeArgumentsWrapper(to);
}

/** A folder beside the cached bundles (at their depth) to build or copy one into. */
function stagingFor(cacheDir: string, spec: FunctionBundleSpec): string {
  return join(cacheDir, `.${bundleKey(spec)}-${randomUUID()}`);
}

/** Renames a whole bundle into place, so a reader never sees half of one. */
function moveIntoCache(cacheDir: string, spec: FunctionBundleSpec, staging: string): void {
  const dir = join(cacheDir, bundleKey(spec));
  try {
    renameSync(staging, dir);
  } catch (error) {
    // Another synthesis stored the same bundle meanwhile.
    if (!existsSync(join(dir, 'index.mjs'))) throw error;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** Keeps a copy of a bundle just built into an asset folder. */
export function storeBundle(cacheDir: string, spec: FunctionBundleSpec, from: string): void {
  if (cachedBundle(cacheDir, spec) !== undefined) return;
  mkdirSync(cacheDir, { recursive: true });
  const staging = stagingFor(cacheDir, spec);
  cpSync(from, staging, { recursive: true });
  moveIntoCache(cacheDir, spec, staging);
}

/** Builds, side by side, the bundles of `specs` the cache does not have yet. */
export async function prebundle(
  cacheDir: string,
  specs: readonly FunctionBundleSpec[],
): Promise<void> {
  const { build } = await import('esbuild');
  mkdirSync(cacheDir, { recursive: true });
  await Promise.all(
    specs
      .filter((spec) => cachedBundle(cacheDir, spec) === undefined)
      .map(async (spec) => {
        const staging = stagingFor(cacheDir, spec);
        try {
          await build(
            functionBuildOptions({
              entry: spec.entry,
              outfile: join(staging, 'index.mjs'),
              external: spec.external,
            }),
          );
          if (spec.nodeArgumentsWrapper) writeNodeArgumentsWrapper(staging);
          moveIntoCache(cacheDir, spec, staging);
        } finally {
          rmSync(staging, { recursive: true, force: true });
        }
      }),
  );
}
