/**
 * Scenario 5: cold start and size. Each function's bundle as `cdk synth` builds it (minified
 * ESM with the AWS SDK packages it loads at init; those it loads on first use left to the
 * runtime), its size, and its module import time in a fresh process,
 * against importing an empty module the same way in the same run, with the function's own
 * environment and NODE_OPTIONS.
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CREDENTIAL_PROVIDERS_FROM_RUNTIME } from '#infra/constructs/bundling.ts';
import { PROJECT_ROOT, runChild } from '../lib/child.ts';
import { checkTarget, type Figure, type Target } from '../lib/results.ts';
import type { Scenario, ScenarioContext, ScenarioFindings } from '../lib/scenario.ts';
import { median, round } from '../lib/stats.ts';
import type { BundleInfo, BundleListInput } from './bundle-child.ts';

const run = promisify(execFile);
const CHILD = join(import.meta.dirname, 'bundle-child.ts');
const IMPORTER = join(import.meta.dirname, 'import-child.mjs');
const OUT_DIR = join(PROJECT_ROOT, 'cdk.out', 'bench-bundles');
const KB = 1024;

export const bundlesScenario: Scenario = {
  name: 'bundles',
  title: 'Cold start and size of each function bundle',
  targetNames: [
    { name: 'largest bundle (minified)', target: '≤ 400 KB' },
    { name: 'slowest module import above an empty module', target: '≤ 100 ms' },
  ],
  async run(context: ScenarioContext): Promise<ScenarioFindings> {
    const repetitions = context.quick ? 2 : 7;
    const bundles = await runChild<BundleInfo[]>(
      CHILD,
      { outDir: OUT_DIR } satisfies BundleListInput,
      {
        timeoutMs: 10 * 60_000,
        log: context.log,
      },
    );
    const empty = join(OUT_DIR, 'empty.mjs');
    await writeFile(empty, '');
    const measured: Measured[] = [];
    for (const bundle of bundles.sort((a, b) => a.entryPoint.localeCompare(b.entryPoint))) {
      context.log(`bundles: importing ${bundle.entryPoint} (${repetitions}×, and an empty module)`);
      const env = {
        ...process.env,
        ...bundle.environment,
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'bench',
        AWS_SECRET_ACCESS_KEY: 'bench',
        // As in Lambda: libraries that behave differently there (the SDK's trace header) see it.
        AWS_LAMBDA_FUNCTION_NAME: bundle.entryPoint,
        POWERTOOLS_METRICS_DISABLED: 'true',
        // Every referenced resource needs a value at import; the stack's are resolved above.
        SPARK_BASE_URL: bundle.environment.SPARK_BASE_URL ?? 'https://api.spark.example.com',
      };
      const source = await readFile(bundle.file, 'utf8');
      const externals = externalImports(source);
      const lazyExternals = lazyExternalImports(source);
      const bundleTimes: number[] = [];
      const emptyTimes: number[] = [];
      const sdkTimes: number[] = [];
      for (let repetition = 0; repetition < repetitions; repetition++) {
        // Alternate, so a noisy moment on this shared machine hits each alike.
        emptyTimes.push(await importMs([empty], env));
        bundleTimes.push(await importMs([bundle.file], env));
        if (externals.length > 0) sdkTimes.push(await importMs(externals, env));
      }
      measured.push({
        ...bundle,
        importMs: median(bundleTimes) as number,
        emptyMs: median(emptyTimes) as number,
        sdkMs: median(sdkTimes),
        externals,
        lazyExternals,
      });
    }
    return findings(measured, repetitions);
  },
};

type Measured = BundleInfo & {
  importMs: number;
  emptyMs: number;
  /** Importing only the AWS SDK packages the bundle leaves to the runtime. */
  sdkMs: number | null;
  externals: readonly string[];
  /** SDK packages it imports only on first use. */
  lazyExternals: readonly string[];
};

/** An SDK package name as a bundle's import statement names it (its own or Smithy's). */
const SDK_PACKAGE = String.raw`(@(?:aws-sdk|smithy)\/[^"']+)`;

/**
 * The SDK packages a bundle imports statically but does not contain (left to the Lambda
 * runtime): what its cold start loads besides the bundle. Only import statements count (at the
 * start of a statement), not the same words inside a string, such as an SDK error message that
 * tells how to install an optional package. Packages it imports dynamically load on first use.
 */
export function externalImports(source: string): string[] {
  const statement = new RegExp(
    String.raw`(?:^|[;}\n])\s*import\s*(?:[\w$*{}\s,]+?\s*from\s*)?["']${SDK_PACKAGE}["']`,
    'g',
  );
  const names = new Set<string>();
  for (const match of source.matchAll(statement)) names.add(match[1] as string);
  return [...names].sort();
}

/** The SDK packages a bundle imports dynamically, on first use (not at cold start). */
export function lazyExternalImports(source: string): string[] {
  const names = new Set<string>();
  for (const match of source.matchAll(
    new RegExp(String.raw`import\(\s*["']${SDK_PACKAGE}["']\s*\)`, 'g'),
  )) {
    names.add(match[1] as string);
  }
  const statics = externalImports(source);
  return [...names].filter((name) => !statics.includes(name)).sort();
}

/** The SDK packages a bundle imports on first use, less the credential providers every bundle leaves to the runtime. */
function firstUse(bundle: Measured): string[] {
  return bundle.lazyExternals.filter((name) => !CREDENTIAL_PROVIDERS_FROM_RUNTIME.includes(name));
}

async function importMs(modules: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { stdout } = await run(process.execPath, [IMPORTER, ...modules], {
    env,
    cwd: PROJECT_ROOT,
    timeout: 60_000,
  });
  return (JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as { importMs: number }).importMs;
}

export function findings(measured: readonly Measured[], repetitions: number): ScenarioFindings {
  const figures: Figure[] = measured.flatMap((bundle) => [
    {
      name: 'bundle size (minified)',
      variant: bundle.entryPoint,
      value: round(bundle.bytes / KB, 1),
      unit: 'KB',
    },
    {
      name: 'module import, median',
      variant: bundle.entryPoint,
      value: round(bundle.importMs, 1),
      unit: 'ms',
      note: `empty module ${round(bundle.emptyMs, 2)} ms; ${round(bundle.importMs / bundle.emptyMs, 0)}×`,
    },
    {
      name: 'module import above an empty module',
      variant: bundle.entryPoint,
      value: round(bundle.importMs - bundle.emptyMs, 1),
      unit: 'ms',
    },
    {
      name: 'importing only its external AWS SDK packages, median',
      variant: bundle.entryPoint,
      value: round(bundle.sdkMs, 1),
      unit: 'ms',
      note: `${bundle.externals.join(', ') || 'none'}${firstUse(bundle).length > 0 ? `; imported on first use only (where a path needs it): ${firstUse(bundle).join(', ')}` : ''}`,
    },
  ]);
  const sdkAlone = Math.max(0, ...measured.map((b) => b.sdkMs ?? 0));
  const largest = [...measured].sort((a, b) => b.bytes - a.bytes)[0];
  const slowest = [...measured].sort(
    (a, b) => b.importMs - b.emptyMs - (a.importMs - a.emptyMs),
  )[0];
  const overLimit = measured.filter((bundle) => bundle.bytes > 400 * KB).map((b) => b.entryPoint);
  const slow = measured
    .filter((bundle) => bundle.importMs - bundle.emptyMs > 100)
    .map((b) => `${b.entryPoint} ${round(b.importMs - b.emptyMs, 0)} ms`);
  const targets: Target[] = [
    checkTarget({
      name: 'largest bundle (minified)',
      value: largest ? round(largest.bytes / KB, 1) : null,
      unit: 'KB',
      comparison: '<=',
      limit: 400,
      ifMissed: {
        reason: `Over 400 KB: ${overLimit.join(', ')}.`,
        next: 'Look at the esbuild metafile of those bundles for dependencies that do not tree-shake (the SDK clients’ schema modules are read through the bundler’s literal-keys rewrite so they shake; zod/mini is 22–39 KB of a bundle: docs/decisions.md D17).',
      },
    }),
    checkTarget({
      name: 'slowest module import above an empty module',
      value: slowest ? round(slowest.importMs - slowest.emptyMs, 1) : null,
      unit: 'ms',
      comparison: '<=',
      limit: 100,
      ifMissed: {
        reason: `Slow imports: ${slow.join(', ')}. What a bundle does at import is compiling itself and running its modules: the SDK's modules and clients, Powertools logger and metrics, zod's schemas, middy (docs/decisions.md D17)${sdkAlone > 0 ? `; the SDK packages bundles leave to the runtime and import at init take up to ${round(sdkAlone, 0)} ms on their own` : ''}.`,
        next: 'Profile the slow bundles’ import (`node --cpu-prof bench/scenarios/import-child.mjs <bundle>` with the function’s environment), and measure on arm64 at the configured memory, whose init CPU differs from this machine (and on a quiet machine: the figure is CPU time at init).',
      },
    }),
  ];
  return {
    parameters: {
      bundling:
        'the stack’s own (PipelineFunction: esbuild, minified ESM, node24, the SDK clients’ schema modules with literal keys; the SDK packages a function loads at init bundled, those it loads on first use and the credential providers Lambda never reaches left to the runtime)',
      repetitions,
      functions: measured.length,
    },
    figures,
    targets,
    notes: [
      'Import time is measured inside a fresh `node` process around `await import(bundle)`, with the function’s environment (NODE_OPTIONS=--enable-source-maps included); the empty module is imported the same way, alternating, and each figure is the median of the repetitions. The packages a bundle leaves to the runtime load from the project’s node_modules, as the Lambda runtime loads its own; with the credentials in the environment (as in Lambda) none of the credential providers left to the runtime is imported.',
    ],
  };
}
