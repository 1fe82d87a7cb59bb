import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import {
  AssetHashType,
  DockerImage,
  Duration,
  type ILocalBundling,
  RemovalPolicy,
} from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import {
  Architecture,
  Code,
  Function as LambdaFunction,
  LoggingFormat,
  Runtime,
  Tracing,
} from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { RuntimeEnv } from '#shared/contracts/environment.ts';
import { bootstrapNodeFlags } from '../lambda-bootstrap.ts';
import { PROJECT_ROOT } from '../project-root.ts';
import {
  BUNDLE_CACHE_CONTEXT,
  cachedBundle,
  copyBundle,
  type FunctionBundleSpec,
  storeBundle,
  writeNodeArgumentsWrapper,
} from './bundle-cache.ts';
import { nodeArgumentsEnvironment } from './node-arguments.ts';

export { PROJECT_ROOT } from '../project-root.ts';

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
  /** Out of the account's concurrency (a quota). @default undefined (unreserved) */
  readonly reservedConcurrentExecutions?: number;
  /**
   * AWS SDK packages the function imports only on first use, on some paths (`shared/aws/lazy.ts`,
   * the API's presigner). They are left to the Lambda runtime's own SDK: bundled, their code
   * would be compiled at every cold start whether the path runs or not.
   * @default [] (every SDK package it imports is bundled)
   */
  readonly sdkOnFirstUse?: readonly string[];
  /**
   * Node and V8 flags for `NODE_OPTIONS`, after `--enable-source-maps`. A flag the runtime's
   * bootstrap also sets (`--max-semi-space-size`, `--max-old-space-size`, `--max-http-header-size`,
   * `--expose-gc`) is refused: its value on node's command line overrides `NODE_OPTIONS`'s, so it
   * belongs in `nodeArguments`. @default none
   */
  readonly nodeOptions?: readonly string[];
  /**
   * Node and V8 flags that must come after the runtime bootstrap's own flags on node's command
   * line: those `NODE_OPTIONS` refuses (such as `--initial-old-space-size`) and those the bootstrap
   * sets (such as `--max-semi-space-size`, where the last value wins). The bundle gets an exec
   * wrapper that Lambda starts the runtime through, which puts them just before the runtime script
   * (`node-arguments.ts`). @default none (no wrapper)
   */
  readonly nodeArguments?: readonly string[];
}

/**
 * The flags the Node runtime's bootstrap gives node on its command line (the memory size changes
 * their values, not their names), spelled as node takes them either way (`_` or `-`, `--no-`).
 */
const BOOTSTRAP_FLAGS = new Set(bootstrapNodeFlags(128).filter(isFlag).map(flagName));

function isFlag(word: string): boolean {
  return word.startsWith('--');
}

function flagName(flag: string): string {
  return (flag.split('=')[0] ?? flag).replaceAll('_', '-').replace(/^--no-/, '--');
}

/**
 * Refuses a `NODE_OPTIONS` flag that would have no effect on Lambda: node reads `NODE_OPTIONS`
 * before its command line, so the bootstrap's value of the same flag is the one that holds.
 */
function checkNodeOptions(id: string, nodeOptions: readonly string[]): void {
  for (const flag of nodeOptions.filter(isFlag)) {
    const name = flagName(flag);
    if (BOOTSTRAP_FLAGS.has(name)) {
      throw new Error(
        `${id}: nodeOptions ${flag}: the Node runtime's bootstrap sets ${name} on node's command line, which overrides NODE_OPTIONS; give it in nodeArguments, which come after the bootstrap's flags`,
      );
    }
  }
}

/**
 * A function's reserved concurrency from a setting where 0 means none: to Lambda, a reservation
 * of 0 is a function that never runs.
 */
export function reservation(reserved: number | undefined): number | undefined {
  return reserved === undefined || reserved === 0 ? undefined : reserved;
}

/** The script that bundles one function (`infra/bundle-function.ts`). */
const BUNDLER = join(PROJECT_ROOT, 'infra', 'bundle-function.ts');

/**
 * Builds a function's asset on this machine, never in Docker: `infra/bundle-function.ts` runs
 * esbuild with the project's options (`bundling.ts`) in a child process, because CDK asks for
 * the bundle synchronously and esbuild's plugins need its asynchronous API.
 */
class LocalEsbuild implements ILocalBundling, FunctionBundleSpec {
  // Public on purpose: CDK keys its in-process bundling cache on the bundling options' JSON, so
  // these fields are what tell one function's bundle from another's.
  readonly entry: string;
  readonly external: readonly string[];
  /** Whether the bundle carries the node-arguments exec wrapper. */
  readonly nodeArgumentsWrapper: boolean;
  /** Where bundles of this code are kept (`bundle-cache.ts`), when the synthesis names a place. */
  readonly cacheDir: string | undefined;

  constructor(spec: FunctionBundleSpec, cacheDir: string | undefined) {
    this.entry = spec.entry;
    this.external = spec.external;
    this.nodeArgumentsWrapper = spec.nodeArgumentsWrapper;
    this.cacheDir = cacheDir;
  }

  tryBundle(outputDir: string): boolean {
    const cached = this.cacheDir === undefined ? undefined : cachedBundle(this.cacheDir, this);
    if (cached !== undefined) {
      copyBundle(cached, outputDir, this);
      return true;
    }
    const result = spawnSync(
      process.execPath,
      [BUNDLER, this.entry, join(outputDir, 'index.mjs'), ...this.external],
      { cwd: PROJECT_ROOT, stdio: ['ignore', 'inherit', 'inherit'] },
    );
    if (result.status !== 0) {
      throw new Error(`esbuild could not bundle ${this.entry} (exit ${result.status})`, {
        cause: result.error,
      });
    }
    if (this.nodeArgumentsWrapper) writeNodeArgumentsWrapper(outputDir);
    if (this.cacheDir !== undefined) storeBundle(this.cacheDir, this, outputDir);
    return true;
  }
}

/**
 * Every function of the pipeline: Node 24 on arm64, bundled by the local esbuild (no Docker) as
 * minified ESM with source maps, JSON logs to a log group with retention, active X-Ray tracing.
 * The AWS SDK v3 packages a function loads at init are bundled with it (one module to compile
 * instead of every package's files from the runtime's node_modules; the version is the lock
 * file's, not the runtime's); those it loads only on first use, and the credential providers
 * Lambda never reaches, are left to the runtime (docs/decisions.md D9, D17).
 */
export class PipelineFunction extends LambdaFunction {
  /** Folder under `functions/` of its handler (the local runtime loads the same module). */
  public readonly entryPoint: string;
  /** The SDK packages its bundle leaves to the runtime, to import on first use. */
  public readonly sdkOnFirstUse: readonly string[];
  /** What its asset is built from (the local runtime builds the bundles ahead, side by side). */
  public readonly bundle: FunctionBundleSpec;

  constructor(scope: Construct, id: string, props: PipelineFunctionProps) {
    checkNodeOptions(id, props.nodeOptions ?? []);
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
    const nodeArguments = props.nodeArguments ?? [];
    const bundle: FunctionBundleSpec = {
      entry: join(PROJECT_ROOT, 'functions', props.entryPoint, 'handler.ts'),
      external: props.sdkOnFirstUse ?? [],
      nodeArgumentsWrapper: nodeArguments.length > 0,
    };
    const cacheDir: unknown = scope.node.tryGetContext(BUNDLE_CACHE_CONTEXT);
    super(scope, id, {
      role,
      code: Code.fromAsset(PROJECT_ROOT, {
        // The asset is named by the bundle's bytes, not by the project's files.
        assetHashType: AssetHashType.OUTPUT,
        bundling: {
          local: new LocalEsbuild(bundle, typeof cacheDir === 'string' ? cacheDir : undefined),
          // Required by the type; never pulled, since the local bundling always runs.
          image: DockerImage.fromRegistry('spark-t2i-bundles-locally'),
        },
      }),
      handler: 'index.handler',
      description: props.description,
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? 256,
      timeout: props.timeout ?? Duration.seconds(30),
      tracing: Tracing.ACTIVE,
      logGroup,
      loggingFormat: LoggingFormat.JSON,
      ...(props.reservedConcurrentExecutions !== undefined && {
        reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      }),
      environment: {
        [RuntimeEnv.nodeOptions]: ['--enable-source-maps', ...(props.nodeOptions ?? [])].join(' '),
        [RuntimeEnv.powertoolsServiceName]: 'spark-t2i',
        [RuntimeEnv.powertoolsMetricsNamespace]: 'SparkT2I',
        [RuntimeEnv.powertoolsLogLevel]: 'INFO',
        ...(nodeArguments.length > 0 && nodeArgumentsEnvironment(nodeArguments)),
        ...props.environment,
      },
    });
    this.entryPoint = props.entryPoint;
    this.bundle = bundle;
    this.sdkOnFirstUse = props.sdkOnFirstUse ?? [];
  }
}
