/**
 * Scenario 6: the console page's weight. Its files built as the console function's bundle
 * carries them (`console/build.ts`: minified ES module and style sheet), measured as a browser
 * downloads them: gzip at its highest level, as a CDN or API Gateway compression would serve them.
 */
import { gzipSync } from 'node:zlib';
import { buildConsoleAssets } from '#console/build.ts';
import { checkTarget, type Figure } from '../lib/results.ts';
import type { Scenario, ScenarioContext, ScenarioFindings } from '../lib/scenario.ts';
import { round } from '../lib/stats.ts';

const KB = 1024;
const JS_LIMIT_KB = 100;

export const consoleScenario: Scenario = {
  name: 'console',
  title: 'Size of the console page',
  targetNames: [{ name: 'console JavaScript (gzipped)', target: `≤ ${JS_LIMIT_KB} KB` }],
  async run(context: ScenarioContext): Promise<ScenarioFindings> {
    context.log('console: building the page');
    const files = await buildConsoleAssets();
    const sizes = Object.entries(files).map(([name, file]) => ({
      name,
      bytes: Buffer.byteLength(file.body),
      gzipped: gzipSync(file.body, { level: 9 }).length,
    }));
    const figures: Figure[] = sizes.flatMap((file) => [
      { name: 'size (minified)', variant: file.name, value: round(file.bytes / KB, 1), unit: 'KB' },
      {
        name: 'size (gzipped)',
        variant: file.name,
        value: round(file.gzipped / KB, 1),
        unit: 'KB',
      },
    ]);
    const script = sizes.find((file) => file.name.endsWith('.js'));
    return {
      parameters: { files: sizes.map((file) => file.name), gzipLevel: 9 },
      figures,
      targets: [
        checkTarget({
          name: 'console JavaScript (gzipped)',
          value: script ? round(script.gzipped / KB, 1) : null,
          unit: 'KB',
          comparison: '<=',
          limit: JS_LIMIT_KB,
          ifMissed: {
            reason: `The page's script is over ${JS_LIMIT_KB} KB gzipped.`,
            next: 'Look at the esbuild metafile of console/page/main.ts for what does not tree-shake (the shared request schema should bring zod/mini only).',
          },
        }),
      ],
      notes: [
        'Preact and htm render the page; the request schema is the server’s own (shared/request/schema.ts, zod/mini).',
      ],
    };
  },
};
