import { join } from 'node:path';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, LoggingFormat, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';

/** The project root: entry points and the lock file are found from here. */
export const PROJECT_ROOT = join(import.meta.dirname, '..', '..');

/** Builtins the bundles read through CommonJS (`builtins/`): see BUNDLE_ALIASES. */
const BUILTINS_READ_AS_COMMONJS = ['http', 'fs', 'process'];

/**
 * Import paths the bundler substitutes (esbuild `--alias`, paths from the project root).
 * - zod's package entry re-exports every locale as a value, which esbuild cannot shake (about
 *   260 KB); its module of the same API can be, and sets the English locale itself.
 * - `node:http`, `node:fs` and `node:process` (and their subpaths) are read as CommonJS
 *   (`builtins/`): an ESM import of a builtin makes Node read every export, and these have lazy
 *   getters that load more at each cold start (undici for `http.WebSocket`: docs/decisions.md
 *   D17).
 */
export const BUNDLE_ALIASES: Readonly<Record<string, string>> = {
  zod: './node_modules/zod/v4/classic/external.js',
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

export interface PipelineFunctionProps {
  /** Folder under `functions/` holding `handler.ts`. */
  readonly entryPoint: string;
  readonly description: string;
  /** @default Duration.seconds(30) */
  readonly timeout?: Duration;
  /** @default 256 */
  readonly memorySize?: number;
  readonly environment?: Record<string, string>;
  /** @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
  /** @default undefined (unreserved) */
  readonly reservedConcurrentExecutions?: number;
  /**
   * AWS SDK packages the function imports only on first use, on some paths (`shared/aws/lazy.ts`,
   * the API's presigner). They are left to the Lambda runtime's own SDK: bundled, their code
   * would be compiled at every cold start whether the path runs or not.
   * @default [] (every SDK package it imports is bundled)
   */
  readonly sdkOnFirstUse?: readonly string[];
}

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

/**
 * Every function of the pipeline: Node 24 on arm64, bundled by the local esbuild (no Docker) as
 * minified ESM with source maps, JSON logs to a log group with retention, X-Ray tracing.
 * The AWS SDK v3 packages a function loads at init are bundled with it (one module to compile
 * instead of every package's files from the runtime's node_modules; the version is the lock
 * file's, not the runtime's); those it loads only on first use, and the credential providers
 * Lambda never reaches, are left to the runtime (docs/decisions.md D17).
 */
export class PipelineFunction extends NodejsFunction {
  /** Folder under `functions/` of its handler (the local runtime loads the same module). */
  public readonly entryPoint: string;
  /** The SDK packages its bundle leaves to the runtime, to import on first use. */
  public readonly sdkOnFirstUse: readonly string[];

  constructor(scope: Construct, id: string, props: PipelineFunctionProps) {
    const logGroup = new LogGroup(scope, `${id}Logs`, {
      retention: props.logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // Its own role, allowed to write to its own log group only (instead of the managed
    // AWSLambdaBasicExecutionRole, which allows every log group).
    const role = new Role(scope, `${id}Role`, {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `spark-t2i ${props.entryPoint} function`,
    });
    logGroup.grantWrite(role);
    super(scope, id, {
      role,
      entry: join(PROJECT_ROOT, 'functions', props.entryPoint, 'handler.ts'),
      handler: 'handler',
      description: props.description,
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? 256,
      timeout: props.timeout ?? Duration.seconds(30),
      tracing: Tracing.ACTIVE,
      logGroup,
      loggingFormat: LoggingFormat.JSON,
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: join(PROJECT_ROOT, 'package-lock.json'),
      ...(props.reservedConcurrentExecutions !== undefined && {
        reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      }),
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: 'spark-t2i',
        POWERTOOLS_METRICS_NAMESPACE: 'SparkT2I',
        POWERTOOLS_LOG_LEVEL: 'INFO',
        ...props.environment,
      },
      bundling: {
        forceDockerBundling: false,
        format: OutputFormat.ESM,
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        target: 'node24',
        mainFields: ['module', 'main'],
        externalModules: [...CREDENTIAL_PROVIDERS_FROM_RUNTIME, ...(props.sdkOnFirstUse ?? [])],
        esbuildArgs: Object.fromEntries(
          Object.entries(BUNDLE_ALIASES).map(([from, to]) => [`--alias:${from}`, to]),
        ),
        // Some CommonJS dependencies call require(); give the ESM bundle one.
        banner:
          "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
      },
    });
    this.entryPoint = props.entryPoint;
    this.sdkOnFirstUse = props.sdkOnFirstUse ?? [];
  }
}
