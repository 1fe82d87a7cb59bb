import { join } from 'node:path';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, LoggingFormat, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { BUNDLE_ALIASES, CREDENTIAL_PROVIDERS_FROM_RUNTIME } from './bundling.ts';

/** The project root: entry points and the lock file are found from here. */
export const PROJECT_ROOT = join(import.meta.dirname, '..', '..');

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
  /** Node and V8 flags for `NODE_OPTIONS`, after `--enable-source-maps`. @default none */
  readonly nodeOptions?: readonly string[];
}

/**
 * Every function of the pipeline: Node 24 on arm64, bundled by the local esbuild (no Docker) as
 * minified ESM with source maps, JSON logs to a log group with retention, active X-Ray tracing.
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
        NODE_OPTIONS: ['--enable-source-maps', ...(props.nodeOptions ?? [])].join(' '),
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
