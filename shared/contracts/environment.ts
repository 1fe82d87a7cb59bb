/**
 * Every environment variable the stack gives its functions, each declared once (`setting.ts`),
 * grouped by the code that reads it. The stack writes a function's environment from the groups
 * it needs (`environmentOf`), the stack config takes the schema of each key that reaches a
 * function from here (`config`; whole sections by `configShapeOf`), and each function reads its
 * groups once, at cold start (`readSettings`). A new setting is declared here, in its group, and
 * used where it matters; nothing else changes (docs/decisions.md D30).
 */
import * as z from '#shared/zod.ts';
import {
  commaList,
  declare,
  envInt,
  envPositiveInt,
  int,
  list,
  number,
  resource,
  type Settings,
  setting,
} from './setting.ts';

/** Variables the Lambda runtime and Powertools read; the stack sets them on every function. */
export const RuntimeEnv = {
  nodeOptions: 'NODE_OPTIONS',
  powertoolsServiceName: 'POWERTOOLS_SERVICE_NAME',
  powertoolsMetricsNamespace: 'POWERTOOLS_METRICS_NAMESPACE',
  powertoolsLogLevel: 'POWERTOOLS_LOG_LEVEL',
  /** Lambda's variable naming the script it starts the runtime through. */
  execWrapper: 'AWS_LAMBDA_EXEC_WRAPPER',
  /** Node flags the exec wrapper puts after the bootstrap's (`infra/constructs/node-arguments.ts`). */
  nodeArguments: 'NODE_ARGUMENTS',
} as const;

/** The resources functions are given by name or ARN, each to the functions that use it. */
export const Resources = /* @__PURE__ */ declare(() => ({
  generationsTable: resource('GENERATIONS_TABLE'),
  /** Batches: their heads and counter shards (shared/batches/model.ts). */
  batchesTable: resource('BATCHES_TABLE'),
  imagesBucket: resource('IMAGES_BUCKET'),
  inputBucket: resource('INPUT_BUCKET'),
  stateMachineArn: resource('STATE_MACHINE_ARN'),
  eventBusName: resource('EVENT_BUS_NAME'),
  apiKeysTable: resource('API_KEYS_TABLE'),
  idempotencyTable: resource('IDEMPOTENCY_TABLE'),
  /** The Secrets Manager secret (ARN or name) whose random value signs list cursors. */
  cursorSecretId: resource('CURSOR_SECRET_ID'),
}));

/**
 * The Spark client (`shared/spark/from-env.ts`) of CreateTask and PollTask. The stack config's
 * `spark` section sets the endpoint and the timeout; the key's secret is the stack's.
 */
export const SparkSettings = /* @__PURE__ */ declare(() => ({
  baseUrl: setting({
    env: 'SPARK_BASE_URL',
    read: z.url(),
    config: z._default(z.url({ protocol: /^https?$/ }), 'https://api.spark.example.com'),
  }),
  createPath: setting({
    env: 'SPARK_CREATE_PATH',
    read: z.optional(z.string().check(z.startsWith('/'))),
    config: z._default(z.string().check(z.startsWith('/')), '/v1/images/generations'),
  }),
  taskPath: setting({
    env: 'SPARK_TASK_PATH',
    read: z.optional(z.string().check(z.includes('{id}'))),
    config: z._default(z.string().check(z.startsWith('/'), z.includes('{id}')), '/v1/tasks/{id}'),
  }),
  requestTimeoutMs: int(
    'SPARK_REQUEST_TIMEOUT_MS',
    10_000,
    z.int().check(z.gte(1000), z.lte(60_000)),
  ),
  /** The secret holding the provider API key (its ARN); never the key itself. */
  apiKeySecret: resource('SPARK_API_KEY_SECRET'),
}));

/**
 * Adaptive polling (`shared/generation/polling.ts`, docs/polling.md), read by CreateTask and
 * PollTask; each is a key of the stack config's `polling` section, with these bounds and defaults.
 */
export const PollingSettings = /* @__PURE__ */ declare(() => ({
  /** Expected provider generation time: the first poll is made about then, until durations are learned. */
  expectedGenerationSeconds: int(
    'POLL_EXPECTED_GENERATION_SECONDS',
    10,
    z.int().check(z.gte(1), z.lte(3600)),
  ),
  /** Interval between polls after the first. */
  intervalSeconds: int('POLL_INTERVAL_SECONDS', 2, z.int().check(z.gte(1), z.lte(300))),
  /** The interval grows by this factor each poll, up to maxIntervalSeconds. */
  backoffRate: number('POLL_BACKOFF_RATE', 1.5, z.number().check(z.gte(1), z.lte(4))),
  maxIntervalSeconds: int('POLL_MAX_INTERVAL_SECONDS', 30, z.int().check(z.gte(1), z.lte(900))),
  /**
   * Each later interval is moved at random by up to this share of it, either way, so that the
   * generations of one batch, started together, do not poll the provider in step; 0 = none.
   */
  intervalJitter: number('POLL_INTERVAL_JITTER', 0.2, z.number().check(z.gte(0), z.lte(0.5))),
  /** Past this many polls, or this much time, the generation fails with a timeout code. */
  maxPolls: int('POLL_MAX_POLLS', 120, z.int().check(z.gte(1), z.lte(2000))),
  maxElapsedSeconds: int('POLL_MAX_ELAPSED_SECONDS', 1800, z.int().check(z.gte(10), z.lte(86_400))),
  /** The first poll is made at this percentile of the provider durations learned recently. */
  firstPollPercentile: number(
    'POLL_FIRST_POLL_PERCENTILE',
    5,
    z.number().check(z.gte(0), z.lte(100)),
  ),
  /** Recent provider durations kept to learn from; 0 turns learning off. */
  learnedSamples: int('POLL_LEARNED_SAMPLES', 32, z.int().check(z.gte(0), z.lte(200))),
  /**
   * How long the first poll keeps re-checking in-process before handing back to the Wait state;
   * 0 = one check per poll. Bounded well below the poll function's timeout, which also stops
   * re-checks while one more provider request still fits. Read as a fraction: the local runtime
   * scales it by its time scale.
   */
  recheckSeconds: number('POLL_RECHECK_SECONDS', 8, z.number().check(z.gte(0), z.lte(10))),
  /** Pause between those re-checks (read as a fraction, like recheckSeconds). */
  recheckIntervalMs: number(
    'POLL_RECHECK_INTERVAL_MS',
    500,
    z.int().check(z.gte(100), z.lte(5000)),
  ),
}));

/** The polling settings' values: the policy CreateTask and PollTask follow. */
export type PollingValues = Settings<typeof PollingSettings>;

/** The provider-wide concurrency cap (`shared/generation/slots.ts`): its table and its size. */
export const SlotSettings = /* @__PURE__ */ declare(() => ({
  slotsTable: resource('SLOTS_TABLE'),
  /** Spark tasks in flight at once across all triggers (the stack config's `maxConcurrentTasks`). */
  maxConcurrentTasks: setting({
    env: 'MAX_CONCURRENT_TASKS',
    read: envInt(),
    config: z._default(z.int().check(z.gte(1), z.lte(1000)), 10),
  }),
}));

/** The image copy's limits and URL policy (CopyImages; its bucket is `Resources.imagesBucket`). */
export const ImageCopySettings = /* @__PURE__ */ declare(() => ({
  /** Largest image copied (the stack config's `limits.maxImageBytes`). */
  maxImageBytes: int('MAX_IMAGE_BYTES', 50 * 1024 * 1024, z.int().check(z.gte(1024))),
  downloadTimeoutMs: int('IMAGE_DOWNLOAD_TIMEOUT_MS', 60_000),
  /**
   * Host names the provider's image URLs may point at (their subdomains too), e.g. the
   * provider's CDN (the stack config's `images.allowedHosts`). Empty: any public host (the
   * address checks apply either way).
   */
  allowedHosts: setting({
    env: 'IMAGE_ALLOWED_HOSTS',
    read: commaList,
    write: (hosts: string[]) => hosts.join(','),
    config: z._default(
      z.array(
        z
          .string()
          .check(
            z.regex(
              /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i,
              'must be a host name such as cdn.example.com',
            ),
          ),
      ),
      [],
    ),
  }),
}));

/**
 * Local runtime only, never set by the stack: the simulator's origin (`http://127.0.0.1:PORT`),
 * the one place images may come from over plain http on a loopback address.
 */
export const imageInsecureOrigins = /* @__PURE__ */ list('IMAGE_INSECURE_ORIGINS');

/**
 * Local runtime only, never set by the stack: origins (`http://127.0.0.1:PORT`) webhooks may be
 * sent to over plain http on a loopback address, where the local receivers run. Read by the routes
 * that take a `webhook` and by the delivery function; empty (nothing exempt) when unset.
 */
export const webhookInsecureOrigins = /* @__PURE__ */ list('WEBHOOK_INSECURE_ORIGINS');

/**
 * The owner of schedules and of prompt files directly under `prompts/`: the rule of
 * `ownerSchema` (`shared/generation/model.ts`), which this module does not import (it would carry
 * the request schema into every bundle that reads a setting).
 */
export const ownerName = /* @__PURE__ */ declare(() =>
  z.string().check(z.regex(/^[a-z0-9][a-z0-9_-]{0,62}$/)),
);

/** Days a generation record is kept when the config says nothing. */
export const DEFAULT_RECORD_RETENTION_DAYS = 90;

/**
 * How long a generation record is kept (`shared/generation/retention.ts`): its `expiresAt`, the
 * table's TTL attribute, is this many days after its creation. Read by every function that writes
 * `expiresAt`; the stack config's `retention.recordDays`.
 */
export const RecordSettings = /* @__PURE__ */ declare(() => ({
  retentionDays: int(
    'RECORD_RETENTION_DAYS',
    DEFAULT_RECORD_RETENTION_DAYS,
    z.int().check(z.gte(1), z.lte(36_500)),
  ),
}));

export const DEFAULT_PROMPT_FILE_MAX_BYTES = 50 * 1024 * 1024;
export const DEFAULT_PROMPT_FILE_MAX_LINES = 50_000;
/** Generations a prompt file starts a second unless the time left needs more. */
export const DEFAULT_PROMPT_FILE_STARTS_PER_SECOND = 25;

/** The prompt-file trigger (`functions/prompt-file`). */
export const PromptFileSettings = /* @__PURE__ */ declare(() => ({
  stateMachineArn: Resources.stateMachineArn,
  /**
   * Owner of files directly under `prompts/`, and of schedules (the stack config's
   * `defaultOwner`; `local` in the local runtime). Required.
   */
  defaultOwner: setting({
    env: 'DEFAULT_OWNER',
    read: ownerName,
    config: z._default(ownerName, 'default'),
  }),
  /** File size limit in bytes (the stack config's `limits.promptFileMaxBytes`). */
  maxBytes: setting({
    env: 'PROMPT_FILE_MAX_BYTES',
    read: envPositiveInt(DEFAULT_PROMPT_FILE_MAX_BYTES),
    config: z._default(z.int().check(z.gte(1024)), DEFAULT_PROMPT_FILE_MAX_BYTES),
  }),
  /** Line limit (the stack config's `limits.promptFileMaxLines`). */
  maxLines: setting({
    env: 'PROMPT_FILE_MAX_LINES',
    read: envPositiveInt(DEFAULT_PROMPT_FILE_MAX_LINES),
    config: z._default(z.int().check(z.gte(1)), DEFAULT_PROMPT_FILE_MAX_LINES),
  }),
  /**
   * Generations a file starts a second (each file, faster only when its invocation's time runs
   * short): a share of the account's StartExecution quota (`limits.promptFileStartsPerSecond`).
   */
  startsPerSecond: setting({
    env: 'PROMPT_FILE_STARTS_PER_SECOND',
    read: envPositiveInt(DEFAULT_PROMPT_FILE_STARTS_PER_SECOND),
    config: z._default(z.int().check(z.gte(1), z.lte(1000)), DEFAULT_PROMPT_FILE_STARTS_PER_SECOND),
  }),
  /** The API keys table, to check that a folder's owner has a key. */
  apiKeysTable: Resources.apiKeysTable,
  /** Each file is a batch: its lines' records are written here, with the batch's counts. */
  generationsTable: Resources.generationsTable,
  batchesTable: Resources.batchesTable,
  /** Where a batch that ends as its file is read announces it. */
  eventBusName: Resources.eventBusName,
  recordRetentionDays: RecordSettings.retentionDays,
}));

/** The batch-progress function (`functions/batch-progress`): counts line ends, ends batches. */
export const BatchProgressSettings = /* @__PURE__ */ declare(() => ({
  generationsTable: Resources.generationsTable,
  batchesTable: Resources.batchesTable,
  eventBusName: Resources.eventBusName,
}));

/** The schedule-firing function. */
export const ScheduleFiringSettings = /* @__PURE__ */ declare(() => ({
  stateMachineArn: Resources.stateMachineArn,
}));

/**
 * The longest a pre-signed image URL can be promised to work: it is signed with the credentials of
 * a Lambda role's session, which live 12 hours at most, and a URL dies with the credentials that
 * signed it (S3 checks the session, not only the URL's own expiry).
 */
export const MAX_PRESIGNED_URL_TTL_SECONDS = 12 * 60 * 60;

/** The API's own settings (`shared/api/config.ts` reads them), besides its resources. */
export const ApiSettings = /* @__PURE__ */ declare(() => ({
  /**
   * Lifetime of the pre-signed image URLs in answers (the stack config's
   * `api.presignedUrlTtlSeconds`). Capped at the 12 hours a signing session lives
   * (docs/decisions.md D27); a function takes up to S3's 7 days.
   */
  presignedUrlTtlSeconds: setting({
    env: 'PRESIGNED_URL_TTL_SECONDS',
    read: z.pipe(envInt(3600), z.int().check(z.gte(1), z.lte(604_800))),
    config: z._default(
      z
        .int()
        .check(
          z.gte(1),
          z.lte(
            MAX_PRESIGNED_URL_TTL_SECONDS,
            `at most ${MAX_PRESIGNED_URL_TTL_SECONDS} (12 h): image URLs are signed with a Lambda role's session credentials, and die when they expire`,
          ),
        ),
      3600,
    ),
  }),
  /** Largest `metadata` object of a submitted generation, in bytes of JSON (`limits.metadataMaxBytes`). */
  metadataMaxBytes: setting({
    env: 'METADATA_MAX_BYTES',
    read: z.pipe(envInt(2048), z.int().check(z.gte(0))),
    config: z._default(z.int().check(z.gte(0), z.lte(16_384)), 2048),
  }),
}));

/**
 * The authorizer's group (`shared/api/authorizer-config.ts` reads it): a group of its own, so its
 * bundle does not build the other routes' settings and the zod checks only they use.
 */
export const AuthorizerSettings = /* @__PURE__ */ declare(() => ({
  apiKeysTable: Resources.apiKeysTable,
}));

/** What each API route's function is given (the routes' readers are in `shared/api/`). */
export const ApiRouteSettings = /* @__PURE__ */ declare(() => ({
  authorizer: AuthorizerSettings,
  submit: {
    generationsTable: Resources.generationsTable,
    stateMachineArn: Resources.stateMachineArn,
    idempotencyTable: Resources.idempotencyTable,
    metadataMaxBytes: ApiSettings.metadataMaxBytes,
    recordRetentionDays: RecordSettings.retentionDays,
  },
  get: {
    generationsTable: Resources.generationsTable,
    presignedUrlTtlSeconds: ApiSettings.presignedUrlTtlSeconds,
  },
  list: {
    generationsTable: Resources.generationsTable,
    presignedUrlTtlSeconds: ApiSettings.presignedUrlTtlSeconds,
    cursorSecretId: Resources.cursorSecretId,
  },
  cancel: {
    generationsTable: Resources.generationsTable,
    presignedUrlTtlSeconds: ApiSettings.presignedUrlTtlSeconds,
    stateMachineArn: Resources.stateMachineArn,
    eventBusName: Resources.eventBusName,
    recordRetentionDays: RecordSettings.retentionDays,
  },
}));

/**
 * What each batch route's function is given (`shared/api/batch-config.ts`,
 * `shared/api/submit-batch-config.ts` read them). Kept apart from the generation routes', so a
 * route reads only its own group.
 */
export const BatchRouteSettings = /* @__PURE__ */ declare(() => ({
  submitBatch: {
    batchesTable: Resources.batchesTable,
    inputBucket: Resources.inputBucket,
    idempotencyTable: Resources.idempotencyTable,
    metadataMaxBytes: ApiSettings.metadataMaxBytes,
    recordRetentionDays: RecordSettings.retentionDays,
    /** An upload request may announce a file up to the prompt-file trigger's own limit. */
    promptFileMaxBytes: PromptFileSettings.maxBytes,
  },
  readBatches: {
    batchesTable: Resources.batchesTable,
    generationsTable: Resources.generationsTable,
    inputBucket: Resources.inputBucket,
    presignedUrlTtlSeconds: ApiSettings.presignedUrlTtlSeconds,
    cursorSecretId: Resources.cursorSecretId,
  },
  cancelBatch: {
    batchesTable: Resources.batchesTable,
    generationsTable: Resources.generationsTable,
    stateMachineArn: Resources.stateMachineArn,
    eventBusName: Resources.eventBusName,
    recordRetentionDays: RecordSettings.retentionDays,
  },
}));

/**
 * What the webhook routes' functions are given (`shared/api/webhook-config.ts`): the owner's
 * signing secret lives in the API keys table, the attempts on the generation record.
 */
export const WebhookRouteSettings = /* @__PURE__ */ declare(() => ({
  secret: { apiKeysTable: Resources.apiKeysTable },
  deliveries: { generationsTable: Resources.generationsTable },
}));

/** The webhook delivery function (`functions/deliver-webhooks`; docs/decisions.md D40). */
export const WebhookDeliverySettings = /* @__PURE__ */ declare(() => ({
  generationsTable: Resources.generationsTable,
  batchesTable: Resources.batchesTable,
  /** The owners' signing secrets. */
  apiKeysTable: Resources.apiKeysTable,
  /** The body's images carry pre-signed URLs, as GET answers them. */
  presignedUrlTtlSeconds: ApiSettings.presignedUrlTtlSeconds,
  /** The queue whose messages it hides for their retry's wait. */
  queueUrl: resource('WEBHOOK_QUEUE_URL'),
  /** Where a delivery given up on is kept. */
  deadLetterQueueUrl: resource('WEBHOOK_DEAD_LETTER_QUEUE_URL'),
}));

/** The reconciler (`functions/reconciler`), besides the slots. */
export const ReconcilerSettings = /* @__PURE__ */ declare(() => ({
  generationsTable: Resources.generationsTable,
  /** Batch events owed, and batches whose counts stand still (shared/batches/sweep.ts). */
  batchesTable: Resources.batchesTable,
  stateMachineArn: Resources.stateMachineArn,
  eventBusName: Resources.eventBusName,
  /** The longest an execution can run (the machine's timeout): the reconciler's cut-off. */
  maxExecutionSeconds: int('MAX_EXECUTION_SECONDS'),
  recordRetentionDays: RecordSettings.retentionDays,
}));

/** The S3 clients (`shared/aws/s3-config.ts`): path-style addressing, for a local S3 server. */
export const S3ClientSettings = /* @__PURE__ */ declare(() => ({
  forcePathStyle: setting({
    env: 'S3_FORCE_PATH_STYLE',
    read: z.pipe(
      z.optional(z.string()),
      z.transform((value) => value === 'true'),
    ),
  }),
}));

/**
 * The console function (`shared/console/config.ts`): the images bucket, whose pre-signed URLs the
 * page shows, so its content security policy can allow exactly that origin.
 */
export const ConsoleSettings = /* @__PURE__ */ declare(() => ({
  imagesBucket: Resources.imagesBucket,
}));
