/** What the local runtime is started with, and what it gives back (`runtime.ts`). */
import type { LocalLambda } from '#local/lambda/service.ts';
import type { ExecutionEngine } from '#local/runtime/executions.ts';
import type { FunctionsMode, SynthesizedApp } from '#local/runtime/synthesis.ts';
import type { RunningSimulator } from '#local/simulator/server.ts';

export interface LocalRuntimeOptions {
  /** Where everything persists. @default '.spark-t2i' */
  readonly dataDir?: string;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** Port of the HTTP API; 0 = any free port. @default 3000 */
  readonly port?: number;
  /** Every Wait and retry interval lasts this many times as long. @default 1 */
  readonly timeScale?: number;
  /** Simulator latency. @default 3000 */
  readonly simLatencyMs?: number;
  readonly simJitterMs?: number;
  /** Simulator fault spec (`kind=rate,…`). */
  readonly simFaults?: string;
  readonly simFaultSeed?: number;
  readonly simMaxConcurrent?: number;
  /** A real provider instead of the simulator (its key from env `SPARK_API_KEY`). */
  readonly sparkBaseUrl?: string;
  /** `owner:key,owner2:key2`; without it one key is made for owner `local` and kept in the data dir. */
  readonly apiKeys?: string;
  /** A stack config file instead of the project's `spark-t2i.config.json`. */
  readonly configFile?: string;
  /** Where the synthesized app is cached. @default '<data-dir>/cache' */
  readonly cacheDir?: string;
  /** Log level of the functions (Powertools). @default 'ERROR' */
  readonly functionLogLevel?: string;
  /**
   * Run the functions from their sources instead of the bundles `cdk synth` builds: a quicker
   * start after an edit, not what deploys (docs/local-runtime.md). @default false
   */
  readonly fromSource?: boolean;
  /**
   * Environments (processes) of one function at most, unless its reserved concurrency says
   * fewer: this machine's stand-in for the account's concurrency, which Lambda scales into and
   * one laptop cannot. Beyond it an invocation waits for a free environment. @default 8
   */
  readonly maxEnvironments?: number;
  /**
   * `enforced`: every AWS call made locally is authorised against the synthesized policies, as
   * on AWS; `off` only for debugging (not deploy-faithful). @default 'enforced'
   */
  readonly iam?: IamMode;
  /**
   * A file to which every IAM decision is appended as a JSON line (principal, action, resource,
   * context, allowed): what the stack's grants are used for, and the grant-removal test's input.
   * @default none
   */
  readonly iamAuditFile?: string;
  /** Progress lines for a person. @default none */
  readonly log?: (line: string) => void;
}

export type IamMode = 'enforced' | 'off';

/** What `<data-dir>/endpoints.json` holds (docs/local-runtime.md); outside tools rely on it. */
export interface Endpoints {
  readonly api: string;
  readonly s3: {
    readonly endpoint: string;
    readonly region: string;
    readonly accessKeyId: string;
    readonly secretAccessKey: string;
    readonly inputBucket: string;
    readonly outputBucket: string;
  };
  readonly dynamodb: {
    readonly endpoint: string;
    readonly region: string;
    readonly tableName: string;
  };
  /** The local SQS: its endpoint, and each queue's URL by name. */
  readonly sqs: {
    readonly endpoint: string;
    readonly region: string;
    readonly queues: Readonly<Record<string, string>>;
  };
  readonly spark: { readonly baseUrl: string; readonly simulated: boolean };
  /** How the functions run: their synthesized assets (in `assets`), or their sources. */
  readonly functions: { readonly mode: FunctionsMode; readonly assets: string };
  /** Whether the local AWS endpoints authorise calls against the stack's IAM policies. */
  readonly iam: IamMode;
}

export interface LocalRuntime {
  readonly endpoints: Endpoints;
  /** The key of the local owner (or the first configured key). */
  readonly apiKey: string;
  readonly apiKeyOwner: string;
  /** True when the key was made by this start (it is printed once). */
  readonly apiKeyCreated: boolean;
  readonly engine: ExecutionEngine;
  readonly lambda: LocalLambda;
  /** Requests the local DynamoDB has served, by operation (the benchmarks' cost model). */
  dynamodbRequests(): Promise<Record<string, number>>;
  readonly simulator: RunningSimulator | undefined;
  readonly app: SynthesizedApp;
  readonly dataDir: string;
  /** Generations found unfinished at start and carried on. */
  readonly resumed: readonly string[];
  /** Fires a schedule now: a new firing, so a new generation, every call. */
  triggerSchedule(name: string): Promise<{ id: string }>;
  /**
   * Delivers the firing of a schedule at a scheduled time, as Scheduler does (at least once):
   * delivering the same firing again answers the same generation and starts nothing.
   */
  fireScheduleAt(name: string, scheduledTime: Date): Promise<{ id: string }>;
  /** Stops everything; unfinished generations are carried on by the next start. */
  close(): Promise<void>;
}
