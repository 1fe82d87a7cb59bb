/**
 * The console page's files, for the console function. Run from source (`--from-source`, unit
 * tests) this builds them on first use; in the function's bundle this module is replaced by the
 * files themselves, built when the bundle is (`consolePageAssets`, infra/constructs/bundling.ts),
 * so what deploys carries no build step and no esbuild.
 */
import type { ConsoleAsset } from './build.ts';

export type { ConsoleAsset } from './build.ts';

let built: Promise<Readonly<Record<string, ConsoleAsset>>> | undefined;

export function consoleAssets(): Promise<Readonly<Record<string, ConsoleAsset>>> {
  built ??= import('./build.ts').then(({ buildConsoleAssets }) => buildConsoleAssets());
  return built;
}
