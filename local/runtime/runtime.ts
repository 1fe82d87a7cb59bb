/**
 * The embedded default: the whole pipeline on 127.0.0.1 with no AWS account, Docker or network.
 * It runs the state machine synthesized from the CDK stack, the same handler modules with the
 * environment the stack gives them, and real AWS SDK v3 clients pointed at local servers:
 * DynamoDB (dynalite) and S3 (s3rver) on disk in the data dir, Step Functions / EventBridge /
 * Secrets Manager (the control plane), API Gateway (the local gateway), EventBridge Scheduler (the
 * local scheduler) and, unless a real provider is named, the Spark simulator.
 */
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { join, resolve } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { type CfnTemplate, resolveIntrinsics } from '../../infra/asl.ts';
import { PROJECT_ROOT } from '../../infra/project-root.ts';
import { CURSOR_SECRET_ID_VARIABLE } from '../../shared/api/cursor.ts';
import { API_KEYS_TABLE_VARIABLE } from '../../shared/api/key-table.ts';
import { ApiKeyStore } from '../../shared/api/keys.ts';
import { CopyEnv, EnvNames, PollingEnv } from '../../shared/config/env.ts';
import { ACTIVE_STATUSES, type GenerationRecord } from '../../shared/generation/model.ts';
import { decodeEventKey } from '../../shared/prompt-files/keys.ts';
import type { DeniedAccess } from '../aws/access.ts';
import { authorize } from '../aws/access.ts';
import { LocalIdentities } from '../aws/identities.ts';
import { scheduleRole, stateMachineRole, templateRoles } from '../aws/template-roles.ts';
import { iamGate } from '../iam/gate.ts';
import {
  nodeForRuntime,
  provideRuntimeModules,
  provideRuntimeScript,
} from '../lambda/node-runtime.ts';
import { type FunctionCode, type LocalFunction, LocalLambda } from '../lambda/service.ts';
import { parseFaultSpec } from '../simulator/faults.ts';
import { type RunningSimulator, startSimulator } from '../simulator/server.ts';
import { restApiFromTemplate, startApiGateway } from './api-gateway.ts';
import { LOCAL_KEY_FILE, provisionApiKeys } from './api-keys.ts';
import { startControlPlane } from './control-plane.ts';
import { provideCursorSecret } from './cursor-secret.ts';
import { ExecutionEngine, type ExecutionRecord } from './executions.ts';
import { apiGatewaySource, type Invoker, invokerAs } from './invoke-access.ts';
import { PendingJournal, type PendingWork } from './journal.ts';
import { makePrivateDirectory, writePrivateFile } from './private-files.ts';
import {
  type Firing,
  firingAt,
  firingInput,
  firingNow,
  type LocalSchedule,
  schedulesFromTemplate,
  startScheduler,
} from './scheduler.ts';
import {
  LOCAL_REGION,
  type S3NotificationEvent,
  type StorageAccess,
  startLocalStorage,
} from './storage.ts';
import { type FunctionsMode, loadSynthesizedApp, type SynthesizedApp } from './synthesis.ts';

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

/** What `<data-dir>/endpoints.json` holds (design section 10); outside tools rely on it. */
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

/** Each cold start costs about a quarter of a CPU-second here; 8 of a function keep up with the cap. */
const DEFAULT_MAX_ENVIRONMENTS = 8;

export async function startLocalRuntime(options: LocalRuntimeOptions = {}): Promise<LocalRuntime> {
  const dataDir = resolve(options.dataDir ?? '.spark-t2i');
  const host = options.host ?? '127.0.0.1';
  const log = options.log ?? (() => undefined);
  // It holds the local credentials and keys: the user's alone when the runtime makes it.
  await makePrivateDirectory(dataDir);
  const closers: Array<() => Promise<unknown> | unknown> = [];
  const close = async () => {
    for (const closer of closers.reverse()) await Promise.resolve(closer()).catch(() => undefined);
  };
  try {
    const cacheDir = options.cacheDir ?? join(dataDir, 'cache');
    const mode: FunctionsMode = options.fromSource ? 'source' : 'bundles';
    const app = await loadSynthesizedApp(cacheDir, {
      ...(options.configFile && { configFile: resolve(options.configFile) }),
      mode,
    });
    const { template } = app;
    // Every AWS call made locally is signed: people and tools as the administrator, each part
    // of the stack as its own role (design section 11).
    const identities = await LocalIdentities.open(dataDir, templateRoles(template));
    const onDenied = (denied: DeniedAccess) =>
      log(
        `AccessDenied: ${denied.caller} may not ${denied.action} on ${denied.resource} (${denied.reason})`,
      );
    const iam: IamMode = options.iam ?? 'enforced';
    const audit = options.iamAuditFile
      ? createWriteStream(options.iamAuditFile, { flags: 'a' })
      : undefined;
    if (audit) closers.push(() => new Promise((done) => audit.end(done)));
    const access: StorageAccess = {
      identities,
      onDenied,
      onDecision: audit && ((decided) => audit.write(`${JSON.stringify(decided)}\n`)),
      ...(iam === 'enforced' && { gate: iamGate(template), iam: { template } }),
    };
    const stateMachineCaller = identities.caller(
      stateMachineRole(template, app.stateMachineLogicalId),
    );
    const storage = await startLocalStorage({ dataDir, template, host, access });
    closers.push(() => storage.close());

    const simulated = options.sparkBaseUrl === undefined;
    // The simulator checks the key as the provider would: SPARK_API_KEY when given, else a local one.
    const sparkKey = process.env.SPARK_API_KEY || (simulated ? 'local-simulator-key' : undefined);
    if (!sparkKey) throw new Error('SPARK_API_KEY must be set to use --spark-base-url');
    let simulator: RunningSimulator | undefined;
    if (simulated) {
      simulator = await startSimulator({
        host,
        port: 0,
        latencyMs: options.simLatencyMs ?? 3000,
        jitterMs: options.simJitterMs ?? 0,
        maxConcurrent: options.simMaxConcurrent ?? 0,
        ...(options.simFaults && { faults: parseFaultSpec(options.simFaults) }),
        ...(options.simFaultSeed !== undefined && { faultSeed: options.simFaultSeed }),
        apiKey: sparkKey,
        // The simulator keeps its tasks across restarts, as a remote provider would.
        dataDir: join(dataDir, 'simulator'),
      });
      closers.push(() => simulator?.close());
    }
    const sparkBaseUrl = simulator?.url ?? (options.sparkBaseUrl as string);

    const functionEnvironment = stackVariables(app.functions);
    // Set once the control plane is up, before any function can be invoked: the endpoints every
    // function gets, and the settings that replace the template's where a function has them.
    let localEnvironment: Record<string, string> | undefined;
    let localSettings: Record<string, string> = {};
    const { runtimeDir, runtimeScript } = await provideRuntimeScript(cacheDir);
    const lambda = new LocalLambda({
      functions: app.functions,
      code: (fn) => functionCode(app, fn),
      node: nodeForRuntime(commonRuntime(app.functions), PROJECT_ROOT),
      runtimeScript,
      runtimeDir,
      runtimeModules: await provideRuntimeModules(cacheDir, PROJECT_ROOT),
      region: LOCAL_REGION,
      credentials: (fn) => {
        if (!fn.roleLogicalId) throw new Error(`The function ${fn.logicalId} names no role`);
        return identities.forRole(fn.roleLogicalId);
      },
      maxEnvironments: options.maxEnvironments ?? DEFAULT_MAX_ENVIRONMENTS,
      localEnvironment: (fn) => {
        if (localEnvironment === undefined) throw new Error('The local endpoints are not up yet');
        return { ...localEnvironment, ...settingsFor(fn, localSettings) };
      },
      log: (_functionLogicalId, chunk) => process.stdout.write(chunk),
    });
    closers.push(() => lambda.close());
    const eventsFile = join(dataDir, 'events.jsonl');
    // The state machine's direct DynamoDB integrations call as its role.
    const dynamodb = new DynamoDBClient({
      endpoint: storage.dynamodbEndpoint,
      region: LOCAL_REGION,
      credentials: identities.forRole(stateMachineCaller.logicalId),
    });
    closers.push(() => dynamodb.destroy());
    // The runtime's own reads and writes (API keys, carrying on the unfinished) are a person's.
    const adminDynamodb = new DynamoDBClient({
      endpoint: storage.dynamodbEndpoint,
      region: LOCAL_REGION,
      credentials: storage.credentials,
    });
    closers.push(() => adminDynamodb.destroy());
    const stateMachineArn = String(
      resolveIntrinsics({ 'Fn::GetAtt': [app.stateMachineLogicalId, 'Arn'] }, template),
    );
    const timeScale = options.timeScale ?? 1;
    // What was in flight when the last run stopped (or was killed), carried on below.
    const executionsInFlight = PendingJournal.open<string>(join(dataDir, EXECUTIONS_JOURNAL));
    const deliveriesInFlight = PendingJournal.open<S3Delivery>(join(dataDir, DELIVERIES_JOURNAL));
    const engine = new ExecutionEngine({
      asl: app.asl,
      stateMachineArn,
      lambda: invokerAs(lambda, access, stateMachineCaller),
      dynamodb,
      authorizeIntegration: (integration) =>
        authorize(access, stateMachineCaller, [integration], 'json'),
      eventsFile,
      timeScale,
      journal: {
        started: (name, input) => executionsInFlight.journal.started(name, input),
        ended: (name) => executionsInFlight.journal.ended(name),
      },
    });
    closers.push(() => engine.abortAll());

    const schedules = schedulesFromTemplate(template);
    // Scheduler -> the schedule-firing function, which starts the execution named from the
    // firing's scheduled time: a repeated delivery meets the same generation.
    const fireSchedule = async (schedule: LocalSchedule, firing: Firing) => {
      // Scheduler invokes its target as the schedule's role (its `Target.RoleArn`).
      const role = scheduleRole(template, schedule.arn.split('/').pop() as string);
      const invoker = role ? invokerAs(lambda, access, identities.caller(role)) : lambda;
      const answer = await invoker.invoke(schedule.functionArn, firingInput(schedule, firing));
      return { id: (answer as { id: string }).id };
    };
    let s3Notifications: ReturnType<typeof wireS3Notifications> = {
      redeliver: () => ({ delivered: 0 }),
      resume: () => undefined,
    };
    const secretArn = functionEnvironment[EnvNames.sparkApiKeySecret];
    const cursorSecretArn = functionEnvironment[CURSOR_SECRET_ID_VARIABLE];
    const secrets = new Map<string, string>();
    if (secretArn) secrets.set(secretArn, sparkKey);
    if (cursorSecretArn) secrets.set(cursorSecretArn, await provideCursorSecret(dataDir));
    const control = await startControlPlane({
      engine,
      eventsFile,
      secrets,
      access,
      host,
      admin: {
        listSchedules: () => scheduler.list(),
        triggerSchedule: (name) => triggerSchedule(name),
        redeliverS3Event: (bucket, key) => s3Notifications.redeliver(bucket, key),
      },
    });
    closers.push(() => control.close());

    localEnvironment = {
      AWS_ENDPOINT_URL_DYNAMODB: storage.dynamodbEndpoint,
      AWS_ENDPOINT_URL_S3: storage.s3Endpoint,
      AWS_ENDPOINT_URL_SFN: control.url,
      AWS_ENDPOINT_URL_EVENTBRIDGE: control.url,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: control.url,
      S3_FORCE_PATH_STYLE: 'true',
      POWERTOOLS_METRICS_DISABLED: 'true',
      POWERTOOLS_DEV: 'true',
      // Debugging: every function logs the event it was invoked with (Powertools' own switch).
      ...(process.env.SPARK_T2I_FUNCTION_LOG_EVENT === 'true' && {
        POWERTOOLS_LOGGER_LOG_EVENT: 'true',
      }),
    };
    localSettings = {
      ...scaledRecheck(functionEnvironment, timeScale),
      [EnvNames.sparkBaseUrl]: sparkBaseUrl,
      POWERTOOLS_LOG_LEVEL:
        options.functionLogLevel ?? process.env.SPARK_T2I_FUNCTION_LOG_LEVEL ?? 'ERROR',
      // The simulator serves its images over plain http on 127.0.0.1: that origin, and only it,
      // is exempt from the copy's https and public-address rules. A real provider gets none.
      [CopyEnv.insecureOrigins]: simulator ? new URL(simulator.url).origin : '',
    };

    const scheduler = startScheduler(
      schedules,
      async (schedule, firing) => {
        const { id } = await fireSchedule(schedule, firing);
        log(`schedule ${schedule.name} fired: generation ${id}`);
      },
      { onError: (error: unknown) => log(`schedule failed: ${(error as Error).message}`) } as never,
    );
    closers.push(() => scheduler.stop());
    const scheduleNamed = (name: string) => {
      const schedule = schedules.find((candidate) => candidate.name === name);
      if (!schedule) {
        throw new Error(
          `No schedule "${name}"; configured: ${schedules.map((s) => s.name).join(', ') || 'none'}`,
        );
      }
      return schedule;
    };
    const triggerSchedule = async (name: string) => fireSchedule(scheduleNamed(name), firingNow());
    const fireScheduleAt = async (name: string, scheduledTime: Date) => {
      const schedule = scheduleNamed(name);
      return fireSchedule(schedule, firingAt(scheduledTime));
    };

    const apiKeysTable = functionEnvironment[API_KEYS_TABLE_VARIABLE] as string;
    const documents = DynamoDBDocumentClient.from(adminDynamodb);
    const key = await provisionApiKeys(
      new ApiKeyStore(documents, apiKeysTable),
      dataDir,
      options.apiKeys,
      log,
    );

    s3Notifications = wireS3Notifications(
      template,
      storage,
      invokerAs(lambda, access, { kind: 'service', service: 's3.amazonaws.com' }, (event) => {
        const bucket = (event as { Records?: Array<{ s3?: { bucket?: { name?: string } } }> })
          .Records?.[0]?.s3?.bucket?.name;
        return bucket && `arn:aws:s3:::${bucket}`;
      }),
      deliveriesInFlight.journal,
      options.timeScale ?? 1,
      log,
    );
    const rules = wireEventRules(
      template,
      engine,
      (ruleArn) =>
        invokerAs(
          lambda,
          access,
          { kind: 'service', service: 'events.amazonaws.com' },
          () => ruleArn,
        ),
      options.timeScale ?? 1,
      log,
    );
    closers.push(() => rules.stop());

    const apiGateway = invokerAs(
      lambda,
      access,
      { kind: 'service', service: 'apigateway.amazonaws.com' },
      apiGatewaySource(template),
    );
    const gateway = await startApiGateway({
      model: restApiFromTemplate(template),
      invoke: (functionLogicalId, event) => apiGateway.invoke(functionLogicalId, event),
      host,
      port: options.port ?? 3000,
    });
    closers.push(() => gateway.close());

    const generationsTable = functionEnvironment[EnvNames.generationsTable] as string;
    const resumed = await resumeUnfinished(documents, generationsTable, engine);
    resumed.push(
      ...(await resumeUnrecorded(
        executionsInFlight.pending,
        documents,
        generationsTable,
        engine,
        executionsInFlight.journal,
      )),
    );
    if (resumed.length > 0) log(`carrying on ${resumed.length} unfinished generation(s)`);
    // Prompt files whose processing was cut off are delivered again (their lines' generations
    // are named by line, so what had started is met again, not doubled).
    for (const delivery of deliveriesInFlight.pending) s3Notifications.resume(delivery);
    // Scheduled rules (the reconciler's sweep) start once the unfinished are running again, so
    // a sweep never mistakes a generation being carried on for a dead one.
    rules.startSchedules();

    const credentials = storage.credentials;
    const endpoints: Endpoints = {
      api: gateway.url,
      s3: {
        endpoint: storage.s3Endpoint,
        region: LOCAL_REGION,
        accessKeyId: credentials.accessKeyId,
        secretAccessKey: credentials.secretAccessKey,
        inputBucket: bucketOf(template, 'StorageInput'),
        outputBucket: functionEnvironment[EnvNames.imagesBucket] as string,
      },
      dynamodb: {
        endpoint: storage.dynamodbEndpoint,
        region: LOCAL_REGION,
        tableName: generationsTable,
      },
      spark: { baseUrl: sparkBaseUrl, simulated },
      functions: {
        mode: app.mode,
        assets: app.assemblyDir ?? join(PROJECT_ROOT, 'functions'),
      },
      iam,
    };
    // Both are the user's alone: the one holds the S3 credentials, the other the URL of the
    // control plane, which starts generations for any owner.
    await writePrivateFile(
      join(dataDir, 'endpoints.json'),
      `${JSON.stringify(endpoints, null, 2)}\n`,
    );
    await writePrivateFile(
      join(dataDir, 'runtime.json'),
      `${JSON.stringify(
        {
          pid: process.pid,
          control: control.url,
          apiKeyFile: join(dataDir, LOCAL_KEY_FILE),
          tables: {
            generations: generationsTable,
            apiKeys: apiKeysTable,
            idempotency: functionEnvironment.IDEMPOTENCY_TABLE,
          },
        },
        null,
        2,
      )}\n`,
    );

    return {
      endpoints,
      apiKey: key.key,
      apiKeyOwner: key.owner,
      apiKeyCreated: key.created,
      engine,
      lambda,
      dynamodbRequests: () => storage.dynamodbRequests(),
      simulator,
      app,
      dataDir,
      resumed,
      triggerSchedule,
      fireScheduleAt,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * The stack's variables, for the names the runtime itself needs (tables, buckets, the secret):
 * the first function's value of each.
 */
function stackVariables(
  functions: Readonly<Record<string, LocalFunction>>,
): Readonly<Record<string, string>> {
  const variables: Record<string, string> = {};
  for (const fn of Object.values(functions)) {
    for (const [name, value] of Object.entries(fn.environment)) variables[name] ??= value;
  }
  return variables;
}

/**
 * The local settings a function gets: those replacing a variable the template gives it (the
 * provider's URL, the poll step's re-check timing, the log level), and the copy's exempt origin
 * for the function that copies images (the one with the copy's host rule).
 */
function settingsFor(
  fn: LocalFunction,
  settings: Readonly<Record<string, string>>,
): Record<string, string> {
  const applies = (name: string) =>
    name in fn.environment ||
    (name === CopyEnv.insecureOrigins && CopyEnv.allowedHosts in fn.environment);
  return Object.fromEntries(Object.entries(settings).filter(([name]) => applies(name)));
}

/** The one runtime every function of the stack deploys to (`nodejs24.x`). */
function commonRuntime(functions: Readonly<Record<string, LocalFunction>>): string {
  const runtimes = new Set(Object.values(functions).map((fn) => fn.runtime));
  if (runtimes.size !== 1) throw new Error(`The functions use several runtimes: ${[...runtimes]}`);
  return [...runtimes][0] as string;
}

/** Where a function's code is: its asset as synthesized, or (from source) its handler module. */
function functionCode(app: SynthesizedApp, fn: LocalFunction): FunctionCode {
  if (app.mode === 'bundles' && app.assemblyDir !== undefined && fn.asset !== undefined) {
    return { taskRoot: join(app.assemblyDir, fn.asset), handler: fn.handler, faithful: true };
  }
  return {
    taskRoot: join(PROJECT_ROOT, 'functions', fn.entryPoint),
    handler: 'handler.handler',
    faithful: false,
  };
}

/**
 * The poll step's in-process re-checks are waits too: at another time scale they last as much
 * shorter as the Wait states do. Only their configuration changes; the handler is the same.
 */
function scaledRecheck(
  environment: Readonly<Record<string, string>>,
  timeScale: number,
): Record<string, string> {
  const scaled: Record<string, string> = {};
  if (timeScale === 1) return scaled;
  for (const name of [PollingEnv.recheckSeconds, PollingEnv.recheckIntervalMs]) {
    const value = environment[name];
    if (value !== undefined) scaled[name] = String(Number(value) * timeScale);
  }
  return scaled;
}

function bucketOf(template: CfnTemplate, prefix: string): string {
  const id = Object.keys(template.Resources).find(
    (logicalId) =>
      logicalId.startsWith(prefix) && template.Resources[logicalId]?.Type === 'AWS::S3::Bucket',
  );
  return (id ?? prefix).toLowerCase();
}

/**
 * S3 -> Lambda as the template configures it: each object event whose key matches a
 * notification's prefix invokes its function asynchronously, with Lambda's two retries.
 */
function wireS3Notifications(
  template: CfnTemplate,
  storage: { onS3Event(listener: (event: S3NotificationEvent) => void): void },
  lambda: Invoker,
  journal: PendingJournal<S3Delivery>,
  timeScale: number,
  log: (line: string) => void,
): {
  redeliver(bucket: string, key: string): { delivered: number };
  resume(delivery: PendingWork<S3Delivery>): void;
} {
  const notifications = Object.values(template.Resources)
    .filter((resource) => resource.Type === 'Custom::S3BucketNotifications')
    .map((resource) => resolveIntrinsics(resource.Properties, template) as S3NotificationConfig);
  // The latest event record of each object, so a test can have it delivered again.
  const latest = new Map<string, S3NotificationEvent['Records'][number]>();
  // Each delivery is in the journal from before its invocation until it succeeded or its
  // retries ran out, as Lambda keeps an asynchronous invocation until then.
  const invoke = (id: string, delivery: S3Delivery) => {
    journal.started(id, delivery);
    void invokeAsync(
      lambda,
      delivery.functionArn,
      { Records: [delivery.record] },
      timeScale,
      log,
    ).finally(() => journal.ended(id));
  };
  const deliver = (record: S3NotificationEvent['Records'][number]): number => {
    const s3 = record.s3 as { bucket: { name: string }; object: { key: string } };
    const eventName = `s3:${String(record.eventName)}`;
    // Decoded once, as S3 encoded it, for the filter rules (which name keys as they are).
    const key = decodeEventKey(s3.object.key);
    latest.set(`${s3.bucket.name}/${key}`, record);
    let delivered = 0;
    for (const notification of notifications) {
      if (notification.BucketName !== s3.bucket.name) continue;
      for (const target of notification.NotificationConfiguration.LambdaFunctionConfigurations ??
        []) {
        if (!matches(target, eventName, key)) continue;
        delivered++;
        invoke(randomUUID(), { functionArn: target.LambdaFunctionArn, record });
      }
    }
    return delivered;
  };
  storage.onS3Event((event) => {
    for (const record of event.Records) deliver(record);
  });
  return {
    redeliver(bucket, key) {
      const record = latest.get(`${bucket}/${key}`);
      return { delivered: record ? deliver(record) : 0 };
    },
    resume(delivery) {
      invoke(delivery.id, delivery.value);
    },
  };
}

/** One S3 event record on its way to one function (a journal entry while in flight). */
interface S3Delivery {
  readonly functionArn: string;
  readonly record: S3NotificationEvent['Records'][number];
}

/** In the data dir: executions started and not ended, S3 deliveries not yet done. */
const EXECUTIONS_JOURNAL = 'executions-in-flight.jsonl';
const DELIVERIES_JOURNAL = 's3-deliveries-in-flight.jsonl';

interface S3NotificationConfig {
  readonly BucketName: string;
  readonly NotificationConfiguration: {
    readonly LambdaFunctionConfigurations?: ReadonlyArray<{
      readonly Events: readonly string[];
      readonly LambdaFunctionArn: string;
      readonly Filter?: {
        readonly Key?: { readonly FilterRules?: ReadonlyArray<{ Name: string; Value: string }> };
      };
    }>;
  };
}

function matches(
  target: NonNullable<
    S3NotificationConfig['NotificationConfiguration']['LambdaFunctionConfigurations']
  >[number],
  eventName: string,
  key: string,
): boolean {
  const eventMatches = target.Events.some((pattern) =>
    pattern.endsWith('*') ? eventName.startsWith(pattern.slice(0, -1)) : pattern === eventName,
  );
  const rules = target.Filter?.Key?.FilterRules ?? [];
  return (
    eventMatches &&
    rules.every((rule) =>
      rule.Name.toLowerCase() === 'prefix' ? key.startsWith(rule.Value) : key.endsWith(rule.Value),
    )
  );
}

/** Lambda's asynchronous invocation: two retries, about one and two minutes apart (scaled). */
async function invokeAsync(
  lambda: Invoker,
  functionArn: string,
  event: unknown,
  timeScale: number,
  log: (line: string) => void,
): Promise<void> {
  const delays = [60_000, 120_000];
  for (let attempt = 0; ; attempt++) {
    try {
      await lambda.invoke(functionArn, event);
      return;
    } catch (error) {
      const delay = delays[attempt];
      if (delay === undefined) {
        log(`asynchronous invocation failed for good: ${(error as Error).name}`);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, delay * timeScale));
    }
  }
}

/**
 * EventBridge rules as the template configures them, for Lambda targets: a rule on Step
 * Functions "Execution Status Change" events invokes its function (asynchronously, with retries)
 * for every execution end that matches its pattern; a `rate(...)` rule invokes it on that rate
 * (scaled by the time scale). Executions interrupted by a shutdown emit nothing: on AWS they would
 * still be running.
 */
function wireEventRules(
  template: CfnTemplate,
  engine: ExecutionEngine,
  invokerFor: (ruleArn: string) => Invoker,
  timeScale: number,
  log: (line: string) => void,
): { startSchedules(): void; stop(): void } {
  const rules = Object.entries(template.Resources)
    .filter(([, resource]) => resource.Type === 'AWS::Events::Rule')
    .map(([logicalId, resource]) => {
      const rule = resolveIntrinsics(resource.Properties, template) as EventRule;
      const arn = String(resolveIntrinsics({ 'Fn::GetAtt': [logicalId, 'Arn'] }, template));
      return { ...rule, lambda: invokerFor(arn) };
    })
    .filter((rule) => rule.State !== 'DISABLED');
  const lambdaTargets = (rule: EventRule) =>
    (rule.Targets ?? [])
      .map((target) => target.Arn)
      .filter((arn) => arn.startsWith('arn:aws:lambda:'));
  let stopped = false;
  engine.onExecutionEnd((execution) => {
    if (stopped || execution.interrupted) return;
    const event = executionStatusChangeEvent(execution, engine.stateMachineArn);
    for (const rule of rules) {
      if (rule.EventPattern === undefined || !matchesPattern(rule.EventPattern, event)) continue;
      for (const arn of lambdaTargets(rule)) {
        void invokeAsync(rule.lambda, arn, event, timeScale, log);
      }
    }
  });
  const timers: NodeJS.Timeout[] = [];
  return {
    startSchedules() {
      for (const rule of rules) {
        if (rule.ScheduleExpression === undefined) continue;
        const everyMs = rateMs(rule.ScheduleExpression) * timeScale;
        for (const arn of lambdaTargets(rule)) {
          const timer = setInterval(() => {
            const event = {
              version: '0',
              id: randomUUID(),
              'detail-type': 'Scheduled Event',
              source: 'aws.events',
              account: '000000000000',
              time: new Date().toISOString(),
              region: LOCAL_REGION,
              resources: [],
              detail: {},
            };
            void invokeAsync(rule.lambda, arn, event, timeScale, log);
          }, everyMs);
          timer.unref();
          timers.push(timer);
        }
      }
    },
    stop() {
      stopped = true;
      for (const timer of timers) clearInterval(timer);
    },
  };
}

interface EventRule {
  readonly State?: string;
  readonly EventPattern?: Record<string, unknown>;
  readonly ScheduleExpression?: string;
  readonly Targets?: ReadonlyArray<{ readonly Arn: string }>;
}

/** The event Step Functions sends to EventBridge when an execution's status changes. */
function executionStatusChangeEvent(execution: ExecutionRecord, stateMachineArn: string) {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Step Functions Execution Status Change',
    source: 'aws.states',
    account: '000000000000',
    time: (execution.stopDate ?? new Date()).toISOString(),
    region: LOCAL_REGION,
    resources: [execution.executionArn],
    detail: {
      executionArn: execution.executionArn,
      stateMachineArn,
      name: execution.name,
      status: execution.status,
      startDate: execution.startDate.getTime(),
      stopDate: (execution.stopDate ?? new Date()).getTime(),
      input: execution.input,
      error: execution.error ?? null,
      cause: execution.cause ?? null,
    },
  };
}

/** EventBridge pattern matching for what the stack's rules use: value lists and nesting. */
export function matchesPattern(pattern: Record<string, unknown>, event: unknown): boolean {
  return Object.entries(pattern).every(([key, expected]) => {
    const actual = (event as Record<string, unknown> | undefined)?.[key];
    if (Array.isArray(expected)) {
      const values = Array.isArray(actual) ? actual : [actual];
      return values.some((value) => expected.includes(value));
    }
    if (typeof expected === 'object' && expected !== null) {
      return matchesPattern(expected as Record<string, unknown>, actual);
    }
    return actual === expected;
  });
}

/** Milliseconds of an EventBridge `rate(N unit)` expression. */
export function rateMs(expression: string): number {
  const match = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(expression);
  if (!match) throw new Error(`The local runtime runs rate(...) rules only, not ${expression}`);
  const unit = { minute: 60_000, hour: 3_600_000, day: 86_400_000 }[
    (match[2] as string).replace(/s$/, '') as 'minute' | 'hour' | 'day'
  ];
  return Number(match[1]) * unit;
}

/**
 * Executions that were running when the last run stopped and whose generation has no record yet
 * (a prompt file's or a schedule's, cut off before its first state wrote it) are started again
 * with the same name and input. Those with a record are the record's to carry on (above); a
 * terminal one is done.
 */
async function resumeUnrecorded(
  pending: readonly PendingWork<string>[],
  documents: DynamoDBDocumentClient,
  tableName: string,
  engine: ExecutionEngine,
  journal: PendingJournal<string>,
): Promise<string[]> {
  const running = new Set(
    engine
      .list()
      .filter((execution) => execution.status === 'RUNNING')
      .map((execution) => execution.name),
  );
  const resumed: string[] = [];
  for (const { id: name, value: input } of pending) {
    if (running.has(name)) continue;
    const { Item } = await documents.send(
      new GetCommand({ TableName: tableName, Key: { id: name }, ConsistentRead: true }),
    );
    if (Item) {
      journal.ended(name);
      continue;
    }
    engine.start(name, input);
    resumed.push(name);
  }
  return resumed;
}

/**
 * Executions live in memory; on start, every generation not yet terminal is carried on by a new
 * execution under its own name. CreateTask finds a recorded Spark task and polls it rather than
 * creating another; one whose creation answer was lost is created again.
 */
async function resumeUnfinished(
  documents: DynamoDBDocumentClient,
  tableName: string,
  engine: ExecutionEngine,
): Promise<string[]> {
  const resumed: string[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await documents.send(
      new ScanCommand({
        TableName: tableName,
        FilterExpression: '#status IN (:queued, :running)',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: {
          ':queued': ACTIVE_STATUSES[0],
          ':running': ACTIVE_STATUSES[1],
        },
        ExclusiveStartKey: startKey,
      }),
    );
    for (const item of (page.Items ?? []) as GenerationRecord[]) {
      const input = {
        id: item.id,
        request: item.request,
        source: item.source,
        sourceRef: item.sourceRef ?? `resume:${item.id}`,
        owner: item.owner,
      };
      engine.start(item.id, JSON.stringify(input));
      resumed.push(item.id);
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return resumed;
}
