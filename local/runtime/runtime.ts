/**
 * The embedded default: the whole pipeline on 127.0.0.1 with no AWS account, Docker or network.
 * It runs the state machine synthesized from the CDK stack, the same handler modules with the
 * environment the stack gives them, and real AWS SDK v3 clients pointed at local servers:
 * DynamoDB (dynalite) and S3 (s3rver) on disk in the data dir, Step Functions / EventBridge /
 * Secrets Manager (the control plane), API Gateway (the local gateway), EventBridge Scheduler (the
 * local scheduler) and, unless a real provider is named, the Spark simulator.
 *
 * `startLocalRuntime` is one function on purpose: it starts the services in the order they need
 * one another and closes them in reverse; what each service is lives in the modules it imports.
 */
import { createWriteStream } from 'node:fs';
import { join, resolve } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { type CfnTemplate, resolveIntrinsics } from '#infra/asl.ts';
import { PROJECT_ROOT } from '#infra/project-root.ts';
import type { DeniedAccess } from '#local/aws/access.ts';
import { authorize } from '#local/aws/access.ts';
import { LocalIdentities } from '#local/aws/identities.ts';
import { stateMachineRole, templateRoles } from '#local/aws/template-roles.ts';
import { iamGate } from '#local/iam/gate.ts';
import {
  nodeForRuntime,
  provideRuntimeModules,
  provideRuntimeScript,
} from '#local/lambda/node-runtime.ts';
import { LocalLambda } from '#local/lambda/service.ts';
import { restApiFromTemplate, startApiGateway } from '#local/runtime/api-gateway.ts';
import { provisionApiKeys } from '#local/runtime/api-keys.ts';
import { startControlPlane } from '#local/runtime/control-plane.ts';
import { provideCursorSecret } from '#local/runtime/cursor-secret.ts';
import { localPublisher, localPutEvents } from '#local/runtime/event-bus.ts';
import {
  RULE_DELIVERIES_JOURNAL,
  type RuleDelivery,
  wireEventRules,
} from '#local/runtime/event-rules.ts';
import { ExecutionEngine } from '#local/runtime/executions.ts';
import {
  commonRuntime,
  functionCode,
  hostEnvironment,
  scaledRecheck,
  settingsFor,
  stackVariables,
} from '#local/runtime/function-settings.ts';
import { apiGatewaySource, invokerAs } from '#local/runtime/invoke-access.ts';
import { PendingJournal } from '#local/runtime/journal.ts';
import { makePrivateDirectory } from '#local/runtime/private-files.ts';
import { EXECUTIONS_JOURNAL, resumeGenerations } from '#local/runtime/resume.ts';
import { writeRuntimeFiles } from '#local/runtime/runtime-files.ts';
import {
  DELIVERIES_JOURNAL,
  type S3Delivery,
  wireS3Notifications,
} from '#local/runtime/s3-notifications.ts';
import { scheduleTargets } from '#local/runtime/schedule-targets.ts';
import { startSparkProvider } from '#local/runtime/spark-provider.ts';
import { startLocalSqsService } from '#local/runtime/sqs/service.ts';
import { LOCAL_REGION, type StorageAccess, startLocalStorage } from '#local/runtime/storage.ts';
import { type FunctionsMode, loadSynthesizedApp } from '#local/runtime/synthesis.ts';
import type {
  Endpoints,
  IamMode,
  LocalRuntime,
  LocalRuntimeOptions,
} from '#local/runtime/types.ts';
import { CURSOR_SECRET_ID_VARIABLE } from '#shared/api/cursor.ts';
import { API_KEYS_TABLE_VARIABLE } from '#shared/api/key-table.ts';
import { ApiKeyStore } from '#shared/api/keys.ts';
import { CopyEnv, EnvNames } from '#shared/config/env.ts';
import { Resources } from '#shared/contracts/environment.ts';

export type {
  Endpoints,
  IamMode,
  LocalRuntime,
  LocalRuntimeOptions,
} from '#local/runtime/types.ts';

/** Each cold start costs about a quarter of a CPU-second here; 8 of a function keep up with the cap. */
const DEFAULT_MAX_ENVIRONMENTS = 8;

export async function startLocalRuntime(options: LocalRuntimeOptions = {}): Promise<LocalRuntime> {
  const dataDir = resolve(options.dataDir ?? '.spark-t2i');
  const host = options.host ?? '127.0.0.1';
  const log = options.log ?? (() => undefined);
  const environment = hostEnvironment();
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
    // of the stack as its own role (docs/local-runtime.md, "Signatures and IAM").
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
    // SQS: the template's queues, kept in the data dir; Lambda sends a failed asynchronous
    // invocation to its function's OnFailure queue as the function's role.
    const queues = await startLocalSqsService({
      template,
      dataDir,
      timeScale: options.timeScale ?? 1,
      access,
      host,
      functions: app.functions,
      roleCaller: (role) => identities.caller(role),
      log,
    });
    closers.push(() => queues.close());

    const spark = await startSparkProvider(options, {
      dataDir,
      host,
      apiKey: environment.sparkApiKey,
    });
    const { simulator, key: sparkKey, baseUrl: sparkBaseUrl } = spark;
    if (simulator) closers.push(() => simulator.close());

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
        return {
          ...localEnvironment,
          ...settingsFor(fn, localSettings),
          ...queues.localQueueUrls(fn.environment),
        };
      },
      log: (_functionLogicalId, chunk) => process.stdout.write(chunk),
    });
    closers.push(() => lambda.close());
    // EventBridge: the rules of the template, and PutEvents (from the state machine and the
    // functions) journaled to the event log and routed to them. Their deliveries the last run
    // left in flight are carried on below, with the other work in flight.
    const ruleDeliveriesInFlight = PendingJournal.open<RuleDelivery>(
      join(dataDir, RULE_DELIVERIES_JOURNAL),
    );
    const rules = wireEventRules(
      template,
      (ruleArn) =>
        invokerAs(
          lambda,
          access,
          { kind: 'service', service: 'events.amazonaws.com' },
          () => ruleArn,
        ),
      ruleDeliveriesInFlight.journal,
      options.timeScale ?? 1,
      log,
      queues.onRetriesExhausted,
      queues.sendForRule,
    );
    const putEvents = localPutEvents(join(dataDir, 'events.jsonl'), rules.route);
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
      putEvents,
      timeScale,
      journal: {
        started: (name, input) => executionsInFlight.journal.started(name, input),
        ended: (name) => executionsInFlight.journal.ended(name),
      },
    });
    closers.push(() => engine.abortAll());

    // Scheduler -> the schedule-firing function, as each schedule's role.
    const schedules = scheduleTargets({ template, lambda, access, identities });
    let s3Notifications: ReturnType<typeof wireS3Notifications> = {
      redeliver: () => ({ delivered: 0 }),
      resume: () => undefined,
      stop: () => undefined,
    };
    const secretArn = functionEnvironment[EnvNames.sparkApiKeySecret];
    const cursorSecretArn = functionEnvironment[CURSOR_SECRET_ID_VARIABLE];
    const secrets = new Map<string, string>();
    if (secretArn) secrets.set(secretArn, sparkKey);
    if (cursorSecretArn) secrets.set(cursorSecretArn, await provideCursorSecret(dataDir));
    const control = await startControlPlane({
      engine,
      putEvents,
      secrets,
      access,
      host,
      admin: {
        listSchedules: () => scheduler.list(),
        triggerSchedule: (name) => schedules.trigger(name),
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
      AWS_ENDPOINT_URL_SQS: queues.endpoint,
      S3_FORCE_PATH_STYLE: 'true',
      POWERTOOLS_METRICS_DISABLED: 'true',
      POWERTOOLS_DEV: 'true',
      // Debugging: every function logs the event it was invoked with (Powertools' own switch).
      ...(environment.logFunctionEvents && {
        POWERTOOLS_LOGGER_LOG_EVENT: 'true',
      }),
    };
    localSettings = {
      ...scaledRecheck(functionEnvironment, timeScale),
      [EnvNames.sparkBaseUrl]: sparkBaseUrl,
      POWERTOOLS_LOG_LEVEL: options.functionLogLevel ?? environment.functionLogLevel ?? 'ERROR',
      // The simulator serves its images over plain http on 127.0.0.1: that origin, and only it,
      // is exempt from the copy's https and public-address rules. A real provider gets none.
      [CopyEnv.insecureOrigins]: simulator ? new URL(simulator.url).origin : '',
    };

    const scheduler = schedules.start(log);
    closers.push(() => scheduler.stop());

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
      queues.onRetriesExhausted,
    );
    rules.watch(engine);
    // Stopped before the engine, the control plane and the functions: nothing is delivered to
    // functions on their way down, and what the stop cuts off stays in the journals.
    closers.push(() => rules.stop());
    closers.push(() => s3Notifications.stop());

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
    const resumed = await resumeGenerations(
      documents,
      generationsTable,
      engine,
      executionsInFlight,
      localPublisher(putEvents, functionEnvironment[Resources.eventBusName.env] as string),
    );
    if (resumed.length > 0) log(`carrying on ${resumed.length} unfinished generation(s)`);
    // Prompt files whose processing was cut off are delivered again (their lines' generations
    // are named by line, so what had started is met again, not doubled).
    for (const delivery of deliveriesInFlight.pending) s3Notifications.resume(delivery);
    // Events cut off on their way to a rule's target are delivered again (with the same event id:
    // EventBridge delivers at least once, and the targets are written for that).
    for (const delivery of ruleDeliveriesInFlight.pending) rules.resume(delivery);
    // Scheduled rules (the reconciler's sweep) start once the unfinished are running again, so
    // a sweep never mistakes a generation being carried on for a dead one.
    rules.startSchedules();
    // Event source mappings poll their queues once the functions can run.
    queues.startPollers(lambda);
    closers.push(() => queues.stopPollers());

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
      sqs: queues.endpoints(),
      spark: { baseUrl: sparkBaseUrl, simulated: simulator !== undefined },
      functions: {
        mode: app.mode,
        assets: app.assemblyDir ?? join(PROJECT_ROOT, 'functions'),
      },
      iam,
    };
    await writeRuntimeFiles(dataDir, endpoints, {
      control: control.url,
      tables: {
        generations: generationsTable,
        apiKeys: apiKeysTable,
        idempotency: functionEnvironment.IDEMPOTENCY_TABLE,
        batches: functionEnvironment.BATCHES_TABLE,
      },
    });

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
      triggerSchedule: schedules.trigger,
      fireScheduleAt: schedules.fireAt,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

function bucketOf(template: CfnTemplate, prefix: string): string {
  const id = Object.keys(template.Resources).find(
    (logicalId) =>
      logicalId.startsWith(prefix) && template.Resources[logicalId]?.Type === 'AWS::S3::Bucket',
  );
  return (id ?? prefix).toLowerCase();
}
