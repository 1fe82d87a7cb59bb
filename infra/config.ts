/**
 * The stack configuration: read once, typed and validated with zod, failing fast with a clear
 * message. Sources, later ones winning: the defaults below, `spark-t2i.config.json` beside
 * `cdk.json` (or the file named by the `configFile` context key), then the `spark-t2i` context
 * key of `cdk.json` / `--context`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import * as z from 'zod';
import {
  ApiSettings,
  ImageCopySettings,
  PollingSettings,
  PromptFileSettings,
  RecordSettings,
  SlotSettings,
  SparkSettings,
} from '#shared/contracts/environment.ts';
import { configShapeOf } from '#shared/contracts/setting.ts';
import { type GenerationRequest, validateGenerationRequest } from '#shared/request/schema.ts';

export { MAX_PRESIGNED_URL_TTL_SECONDS } from '#shared/contracts/environment.ts';

const scheduleSchema = z.strictObject({
  /** Unique, used in resource names and as `sourceRef` (`schedule:<name>`). */
  name: z.string().regex(/^[A-Za-z0-9_-]{1,48}$/, 'letters, digits, - and _ only, 1-48 long'),
  /** An EventBridge Scheduler expression: `cron(...)`, `rate(...)` or `at(...)`. */
  expression: z.string().regex(/^(cron|rate|at)\(.+\)$/, 'must be cron(...), rate(...) or at(...)'),
  /** IANA time zone of a cron expression. */
  timeZone: z.string().default('UTC'),
  description: z.string().max(512).optional(),
  enabled: z.boolean().default(true),
  /** The generation request; validated with the shared request schema at synth time. */
  request: z.unknown(),
});

export const stackConfigSchema = z.strictObject({
  /** The provider's endpoint; each key is a setting of `SparkSettings` (shared/contracts). */
  spark: z
    .strictObject({
      ...configShapeOf(SparkSettings),
      /**
       * Name of the Secrets Manager secret holding the provider API key (a plain string).
       * @default `<stack name>/spark-api-key`, so two stacks of one account never share it
       */
      apiKeySecretName: z.string().min(1).optional(),
    })
    .prefault({}),
  /**
   * Adaptive polling: each key is a setting of `PollingSettings` (shared/contracts), which
   * declares its bounds, its default and the variable that carries it to the functions.
   */
  polling: z.strictObject(configShapeOf(PollingSettings)).prefault({}),
  /** Limits, each a setting of the function that applies it (shared/contracts). */
  limits: z
    .strictObject({
      maxImageBytes: ImageCopySettings.maxImageBytes.config,
      promptFileMaxBytes: PromptFileSettings.maxBytes.config,
      promptFileMaxLines: PromptFileSettings.maxLines.config,
      promptFileStartsPerSecond: PromptFileSettings.startsPerSecond.config,
      metadataMaxBytes: ApiSettings.metadataMaxBytes.config,
    })
    .prefault({}),
  /** Where the provider's image URLs may point. */
  images: z.strictObject({ allowedHosts: ImageCopySettings.allowedHosts.config }).prefault({}),
  /** Spark tasks in flight at once across all triggers. */
  maxConcurrentTasks: SlotSettings.maxConcurrentTasks.config,
  /** The longest a generation may wait for a slot under that cap before it fails (`090003011`). */
  maxQueueSeconds: z
    .int()
    .min(60)
    .max(7 * 86_400)
    .default(86_400),
  /**
   * Concurrency reserved for two functions, taken from the account's Lambda concurrency quota
   * (Lambda keeps 100 of it unreserved, so the defaults need a quota of at least 107); 0 = no
   * reservation, for accounts whose quota is lower (docs/operations.md, §1).
   */
  reservedConcurrency: z
    .strictObject({
      /**
       * Prompt files read at once: bounds their StartExecution rate together, 25 a second each.
       */
      promptFile: z.int().min(0).max(1000).default(5),
      /** Reconciler runs at once: an ended execution need not wait behind a sweep. */
      reconciler: z.int().min(0).max(1000).default(2),
    })
    .prefault({}),
  /** How often the reconciler sweeps for slots and records left behind by dead executions. */
  reconcileEveryMinutes: z.int().min(1).max(1440).default(5),
  /** Owner of schedules and of prompt files directly under `prompts/`. */
  defaultOwner: PromptFileSettings.defaultOwner.config,
  api: z
    .strictObject({
      throttleRateLimit: z.number().positive().default(50),
      throttleBurstLimit: z.int().positive().default(100),
      /**
       * Lifetime of the pre-signed image URLs in answers. They are signed with the API function's
       * role session credentials, and a URL stops working when those expire, whatever it says:
       * capped at the 12 hours such a session lives (docs/decisions.md D27).
       */
      presignedUrlTtlSeconds: ApiSettings.presignedUrlTtlSeconds.config,
      /** How long API Gateway caches an authorizer answer for a key. */
      authorizerCacheSeconds: z.int().min(0).max(3600).default(300),
    })
    .prefault({}),
  retention: z
    .strictObject({
      /** Images move to S3 Infrequent Access after this many days; 0 = never. */
      imagesInfrequentAccessDays: z.int().min(0).default(30),
      /** Reports and processed prompt files expire after this many days; 0 = never. */
      inputDays: z.int().min(0).default(90),
      logDays: z.int().min(1).default(30),
      /** Generation records are deleted (DynamoDB TTL) this many days after their creation. */
      recordDays: RecordSettings.retentionDays.config,
    })
    .prefault({}),
  /** Email to subscribe to the alarm topic, if any. */
  alarmEmail: z.email().optional(),
  schedules: z.array(scheduleSchema).default([]),
});

export type StackConfigInput = z.input<typeof stackConfigSchema>;
type ParsedStackConfig = z.output<typeof stackConfigSchema>;

export interface ScheduleConfig extends Omit<ParsedStackConfig['schedules'][number], 'request'> {
  readonly request: GenerationRequest;
}

export interface StackConfig extends Omit<ParsedStackConfig, 'schedules'> {
  readonly schedules: readonly ScheduleConfig[];
}

/** The configuration is wrong; the message says where and why. */
export class StackConfigError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StackConfigError';
  }
}

/** Validates a configuration object, including every schedule's request. */
export function parseStackConfig(input: unknown): StackConfig {
  const parsed = stackConfigSchema.safeParse(input ?? {});
  if (!parsed.success) {
    const problems = parsed.error.issues
      .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`)
      .join('; ');
    throw new StackConfigError(`Invalid spark-t2i configuration: ${problems}`, {
      cause: parsed.error,
    });
  }
  const names = new Set<string>();
  const schedules = parsed.data.schedules.map((schedule) => {
    if (names.has(schedule.name)) {
      throw new StackConfigError(`Schedule "${schedule.name}" is declared twice`);
    }
    names.add(schedule.name);
    const result = validateGenerationRequest(schedule.request);
    if (!result.ok) {
      throw new StackConfigError(
        `Schedule "${schedule.name}": invalid request, ${result.error.code} ${result.error.message}`,
      );
    }
    return { ...schedule, request: result.request };
  });
  return { ...parsed.data, schedules };
}

/** The stack's name when the `stackName` context key gives none. */
export const DEFAULT_STACK_NAME = 'SparkT2i';

/**
 * The stack's name: the `stackName` context key (`cdk deploy -c stackName=SparkT2i-staging`), or
 * `SparkT2i`. Every physical name the stack sets is derived from it, so stacks of other names
 * can live in the same account and region. A CloudFormation stack name, short enough that the
 * state machine's name (`<stack>-generation`) stays within Step Functions' 80 characters.
 */
export function loadStackName(readContext: (key: string) => unknown): string {
  const value = readContext('stackName') ?? DEFAULT_STACK_NAME;
  if (typeof value !== 'string' || !/^[A-Za-z][A-Za-z0-9-]{0,68}$/.test(value)) {
    throw new StackConfigError(
      `Invalid stackName ${JSON.stringify(value)}: a letter, then letters, digits and -, 69 characters at most`,
    );
  }
  return value;
}

/**
 * Reads the configuration of a CDK app: the config file, then the `spark-t2i` context value.
 * `readContext` is `app.node.tryGetContext`.
 */
export function loadStackConfig(
  readContext: (key: string) => unknown,
  cwd = process.cwd(),
): StackConfig {
  const fileName = (readContext('configFile') as string | undefined) ?? 'spark-t2i.config.json';
  const path = resolve(cwd, fileName);
  let fromFile: Record<string, unknown> = {};
  if (existsSync(path)) {
    try {
      fromFile = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    } catch (error) {
      throw new StackConfigError(`${fileName} is not valid JSON`, { cause: error });
    }
  }
  return parseStackConfig(mergeDeep(fromFile, contextConfig(readContext('spark-t2i'))));
}

/**
 * The `spark-t2i` context value: an object when it comes from `cdk.json`, but a JSON string when
 * it is passed as `cdk deploy -c 'spark-t2i={...}'` (the CLI does not parse context values).
 */
function contextConfig(value: unknown): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  let parsed = value;
  if (typeof value === 'string') {
    try {
      parsed = JSON.parse(value);
    } catch (error) {
      throw new StackConfigError('The spark-t2i context value is not valid JSON', {
        cause: error,
      });
    }
  }
  if (!isRecord(parsed)) {
    throw new StackConfigError('The spark-t2i context value must be a JSON object');
  }
  return parsed;
}

function mergeDeep(base: Record<string, unknown>, override: Record<string, unknown>) {
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(override)) {
    const current = merged[key];
    merged[key] = isRecord(current) && isRecord(value) ? mergeDeep(current, value) : value;
  }
  return merged;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
