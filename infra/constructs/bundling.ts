/**
 * What PipelineFunction's esbuild bundling substitutes and leaves out, beside the construct (and
 * without CDK) so the benchmark and the tests read the same lists.
 */

/** Builtins the bundles read through CommonJS (`builtins/`): see BUNDLE_ALIASES. */
const BUILTINS_READ_AS_COMMONJS = ['http', 'fs', 'process'];

/**
 * Import paths the bundler substitutes (esbuild `--alias`, paths from the project root):
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
