/**
 * The parts of the managed Node.js runtime that are not the function's: the Node binary of the
 * runtime's major version, and the modules the runtime carries (the AWS SDK v3), which a bundle
 * leaves out on purpose and imports from the runtime (`sdkOnFirstUse`, the credential providers).
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** The scopes of the SDK packages the managed runtime provides. */
const RUNTIME_PACKAGE_SCOPES = ['@aws-sdk', '@smithy'];

/**
 * A Node binary whose major version is the template's runtime's (`nodejs24.x` → 24): this
 * process's own when it is one, else the `node` package's the project installs. A function never
 * runs on another major than the one it deploys to.
 */
export function nodeForRuntime(runtime: string, projectRoot: string): string {
  const major = /^nodejs(\d+)\.x$/.exec(runtime)?.[1];
  if (major === undefined)
    throw new Error(`The local Lambda runs Node.js functions, not ${runtime}`);
  if (process.versions.node.split('.')[0] === major) return process.execPath;
  const installed = join(projectRoot, 'node_modules', 'node', 'bin', 'node');
  if (existsSync(installed)) {
    const version = execFileSync(installed, ['--version'], { encoding: 'utf8' }).trim();
    if (version.startsWith(`v${major}.`)) return installed;
  }
  throw new Error(
    `The functions deploy to ${runtime}: the local Lambda needs Node ${major} (run "npm ci")`,
  );
}

/**
 * Makes `<dir>/node_modules` hold the runtime's packages (links to the project's SDK scopes) and
 * answers it. A bundle's left-out imports resolve there, as on Lambda from the runtime's own
 * SDK, and nothing else of the project's dependencies does.
 */
export async function provideRuntimeModules(dir: string, projectRoot: string): Promise<string> {
  const modules = join(dir, 'node_modules');
  await mkdir(modules, { recursive: true });
  for (const scope of RUNTIME_PACKAGE_SCOPES) {
    const link = join(modules, scope);
    if (existsSync(link)) continue;
    await symlink(join(projectRoot, 'node_modules', scope), link, 'dir').catch(
      (error: NodeJS.ErrnoException) => {
        if (error.code !== 'EEXIST') throw error;
      },
    );
  }
  return modules;
}

/** The runtime's own script, as the local Lambda starts it (`/var/runtime/index.mjs` on Lambda). */
export interface LocalRuntimeFiles {
  /** The folder of the runtime (`LAMBDA_RUNTIME_DIR`). */
  readonly runtimeDir: string;
  readonly runtimeScript: string;
}

/**
 * Writes the runtime interface (`runtime-interface.ts`) as plain JavaScript into `<dir>/runtime`:
 * node would otherwise load its TypeScript stripper into every function's process, about 0.1 s of
 * each cold start that Lambda's runtime does not spend.
 */
export async function provideRuntimeScript(dir: string): Promise<LocalRuntimeFiles> {
  const { transform } = await import('esbuild');
  const source = await readFile(join(import.meta.dirname, 'runtime-interface.ts'), 'utf8');
  const { code } = await transform(source, { loader: 'ts', format: 'esm', target: 'node24' });
  const runtimeDir = join(dir, 'runtime');
  const runtimeScript = join(runtimeDir, 'index.mjs');
  await mkdir(runtimeDir, { recursive: true });
  const current = await readFile(runtimeScript, 'utf8').catch(() => undefined);
  if (current !== code) {
    // Written aside and renamed: runtimes sharing the cache may be starting functions from it.
    const staging = `${runtimeScript}.${randomUUID()}`;
    await writeFile(staging, code);
    await rename(staging, runtimeScript);
  }
  return { runtimeDir, runtimeScript };
}
