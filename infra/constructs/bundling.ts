/**
 * How a pipeline function is bundled: esbuild's options and the one plugin they use, beside the
 * construct (and without CDK) so `cdk synth`, the benchmark and the tests build the same bundles.
 * `infra/bundle-function.ts` runs them for PipelineFunction's asset (docs/decisions.md D9, D17).
 */
import { readFile } from 'node:fs/promises';
import type { BuildOptions, Plugin } from 'esbuild';
import { PROJECT_ROOT } from '../project-root.ts';

/** Builtins the bundles read through CommonJS (`builtins/`): see BUNDLE_ALIASES. */
const BUILTINS_READ_AS_COMMONJS = ['http', 'fs', 'process'];

/**
 * Import paths the bundler substitutes (esbuild `alias`, paths from the project root):
 * `node:http`, `node:fs` and `node:process` (and their subpaths) are read as CommonJS
 * (`builtins/`): an ESM import of a builtin makes Node read every export, and these have lazy
 * getters that load more at each cold start (undici for `http.WebSocket`: docs/decisions.md D17).
 *
 * zod needs no substitute: the functions' code imports `zod/mini` (`shared/zod.ts`), which
 * esbuild shakes to the parts used, and its English locale by its own path. (An alias applies to
 * a package's subpaths too, so one for `zod` would redirect `zod/mini`.)
 */
export const BUNDLE_ALIASES: Readonly<Record<string, string>> = {
  ...Object.fromEntries(
    BUILTINS_READ_AS_COMMONJS.flatMap((name) => {
      const substitute = `./infra/constructs/builtins/${name}`;
      return [
        [name, substitute],
        [`node:${name}`, substitute],
      ];
    }),
  ),
};

/**
 * Credential providers of the SDK's default chain that a Lambda function never reaches (the
 * runtime sets the role's credentials in the environment, the chain's first link). The chain
 * imports them dynamically; they stay out of the bundles and would come from the runtime's SDK.
 */
export const CREDENTIAL_PROVIDERS_FROM_RUNTIME: readonly string[] = [
  '@aws-sdk/credential-provider-ini',
  '@aws-sdk/credential-provider-sso',
  '@aws-sdk/credential-provider-process',
  '@aws-sdk/credential-provider-web-identity',
  '@aws-sdk/credential-provider-http',
  '@smithy/credential-provider-imds',
];

/** The schema modules of the SDK's service clients (`dist-es/schemas/schemas_0.js`). */
export const SDK_SCHEMA_MODULE =
  /[\\/]@aws-sdk[\\/]client-[^\\/]+[\\/]dist-es[\\/]schemas[\\/]schemas_\d+\.js$/;

/** `const _hH = "httpHeader";`: the generated modules' string constants, one a line. */
const STRING_CONSTANT = /^const (_\w+) = ("(?:[^"\\\n]|\\.)*");$/gm;
/** A computed property key naming one identifier: `[_hH]:`. */
const COMPUTED_IDENTIFIER_KEY = /\[(_\w+)\]:/g;

/**
 * Writes each computed property key of a generated SDK schema module that names one of the
 * module's string constants as that string: `{ [_hH]: _xaa }` becomes `{ "httpHeader": _xaa }`,
 * the same object. The generator writes trait keys as computed keys, and esbuild must assume a
 * computed key can run code (a `toString`), so it keeps every schema of the module, whichever
 * operations a function calls: about 58 KB of each bundle with the S3 client
 * (aws/aws-sdk-js-v3#7607). With literal keys the schemas are plain data and shake like any other.
 * A key it cannot resolve to a string constant stays as it is; `__proto__` too, which as a
 * literal key would set the prototype instead of a property.
 */
export function literalSchemaKeys(source: string): string {
  const constants = new Map<string, string>();
  for (const [, name, literal] of source.matchAll(STRING_CONSTANT)) {
    if (name !== undefined && literal !== undefined) constants.set(name, literal);
  }
  return source.replace(COMPUTED_IDENTIFIER_KEY, (key, name: string) => {
    const literal = constants.get(name);
    return literal === undefined || JSON.parse(literal) === '__proto__' ? key : `${literal}:`;
  });
}

/** esbuild plugin: reads the SDK's schema modules through literalSchemaKeys. */
export const sdkSchemaLiteralKeys: Plugin = {
  name: 'sdk-schema-literal-keys',
  setup(build) {
    build.onLoad({ filter: SDK_SCHEMA_MODULE }, async ({ path }) => ({
      contents: literalSchemaKeys(await readFile(path, 'utf8')),
      loader: 'js',
    }));
  },
};

/** `console/assets.ts`, the module the console function reads the page's files from. */
export const CONSOLE_ASSETS_MODULE = /[\\/]console[\\/]assets\.ts$/;

/**
 * esbuild plugin: the console function's bundle carries the page's files. `console/assets.ts`
 * (which builds them at run time from source) is replaced by the files themselves, built now with
 * the page's own options (`console/build.ts`), so the deployed function has no build step.
 */
export const consolePageAssets: Plugin = {
  name: 'console-page-assets',
  setup(build) {
    build.onLoad({ filter: CONSOLE_ASSETS_MODULE }, async () => {
      // Loaded here: most bundles never import the page, and a cached start builds none.
      const { buildConsoleAssets } = await import('#console/build.ts');
      const files = await buildConsoleAssets();
      return {
        contents: `const files = ${JSON.stringify(files)};\nexport function consoleAssets() { return Promise.resolve(files); }\n`,
        loader: 'js',
      };
    });
  },
};

/**
 * An ESM bundle of the code it imports, CommonJS included: some CommonJS dependencies call
 * `require()`, so the bundle gets one.
 */
const REQUIRE_BANNER =
  "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);";

export interface FunctionBundle {
  /** The handler module, `functions/<name>/handler.ts`. */
  readonly entry: string;
  /** Where to write it (`index.mjs`, with `index.mjs.map` beside it). */
  readonly outfile: string;
  /** Packages left out of the bundle (to the Lambda runtime's SDK), beyond the credential providers. */
  readonly external?: readonly string[];
}

/**
 * esbuild's options for one function: minified ESM for Node 24 with a source map (no sources),
 * the package's `module` entries first (the SDK's ES modules, which shake), the aliases and the
 * schema plugin above.
 */
export function functionBuildOptions(bundle: FunctionBundle): BuildOptions {
  return {
    entryPoints: [bundle.entry],
    outfile: bundle.outfile,
    absWorkingDir: PROJECT_ROOT,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    minify: true,
    sourcemap: true,
    sourcesContent: false,
    mainFields: ['module', 'main'],
    external: [...CREDENTIAL_PROVIDERS_FROM_RUNTIME, ...(bundle.external ?? [])],
    alias: { ...BUNDLE_ALIASES },
    banner: { js: REQUIRE_BANNER },
    plugins: [sdkSchemaLiteralKeys, consolePageAssets],
    logLevel: 'warning',
  };
}
