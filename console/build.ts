/**
 * Builds the console page (`console/page/`) with esbuild: one minified ES module and its style
 * sheet, in memory. The console function's bundle carries the result (the `consolePageAssets`
 * plugin of `infra/constructs/bundling.ts`), and the benchmark measures it.
 */
import { basename, join } from 'node:path';
import { build } from 'esbuild';
import { PROJECT_ROOT } from '#infra/project-root.ts';

/** A file of the page, as the console function answers it. */
export interface ConsoleAsset {
  readonly contentType: string;
  readonly body: string;
}

export const CONSOLE_ENTRY = join(PROJECT_ROOT, 'console', 'page', 'main.ts');

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

/** The page's files by name (`app.js`, `app.css`). */
export async function buildConsoleAssets(): Promise<Record<string, ConsoleAsset>> {
  const result = await build({
    entryPoints: { app: CONSOLE_ENTRY },
    absWorkingDir: PROJECT_ROOT,
    outdir: join(PROJECT_ROOT, 'console', 'out'),
    write: false,
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    minify: true,
    // The page answers only what the schema and the components use; the licences stay (eof).
    treeShaking: true,
    legalComments: 'eof',
    logLevel: 'warning',
  });
  const assets: Record<string, ConsoleAsset> = {};
  for (const file of result.outputFiles) {
    const name = basename(file.path);
    const type = CONTENT_TYPES[name.slice(name.lastIndexOf('.'))];
    if (type === undefined) throw new Error(`console build: unexpected output ${name}`);
    assets[name] = { contentType: type, body: file.text };
  }
  return assets;
}
