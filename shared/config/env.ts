/**
 * Function configuration comes from environment variables set by the stack (one place:
 * `infra/constructs/pipeline-function.ts` and the constructs that grant access). Each handler
 * declares the part it needs as a zod schema; it is read once, at cold start, and a missing or
 * malformed value fails fast with the variable's name.
 */
import * as z from '../zod.ts';

export class ConfigurationError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ConfigurationError';
  }
}

export function readEnv<Shape extends z.core.$ZodShape>(
  shape: Shape,
  env: NodeJS.ProcessEnv = process.env,
): z.output<z.ZodMiniObject<Shape>> {
  const parsed = z.object(shape).safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues
      .map((issue) => `${issue.path.join('.')}: ${issue.message}`)
      .join('; ');
    throw new ConfigurationError(`Invalid function configuration: ${problems}`, {
      cause: parsed.error,
    });
  }
  return parsed.data;
}

/** Environment values are strings; these read them as the types the code wants. */
export const envInt = (fallback?: number) =>
  fallback === undefined
    ? z.coerce.number().check(z.int())
    : z._default(z.coerce.number().check(z.int()), fallback);
export const envNumber = (fallback: number) => z._default(z.coerce.number(), fallback);
export const envBoolean = (fallback: boolean) =>
  z.pipe(
    z._default(z.enum(['true', 'false', '1', '0']), fallback ? 'true' : 'false'),
    z.transform((value) => value === 'true' || value === '1'),
  );

/** Variables shared by more than one function. */
export const EnvNames = {
  generationsTable: 'GENERATIONS_TABLE',
  imagesBucket: 'IMAGES_BUCKET',
  inputBucket: 'INPUT_BUCKET',
  stateMachineArn: 'STATE_MACHINE_ARN',
  eventBusName: 'EVENT_BUS_NAME',
  sparkBaseUrl: 'SPARK_BASE_URL',
  sparkCreatePath: 'SPARK_CREATE_PATH',
  sparkTaskPath: 'SPARK_TASK_PATH',
  sparkApiKeySecret: 'SPARK_API_KEY_SECRET',
  sparkRequestTimeoutMs: 'SPARK_REQUEST_TIMEOUT_MS',
  /** The provider-wide concurrency cap: its table and its size. */
  slotsTable: 'SLOTS_TABLE',
  maxConcurrentTasks: 'MAX_CONCURRENT_TASKS',
  /** The longest an execution can run (the reconciler's cut-off). */
  maxExecutionSeconds: 'MAX_EXECUTION_SECONDS',
} as const;

/** Polling bounds and intervals, set by the workflow construct from the stack config. */
export const PollingEnv = {
  expectedGenerationSeconds: 'POLL_EXPECTED_GENERATION_SECONDS',
  intervalSeconds: 'POLL_INTERVAL_SECONDS',
  backoffRate: 'POLL_BACKOFF_RATE',
  maxIntervalSeconds: 'POLL_MAX_INTERVAL_SECONDS',
  maxPolls: 'POLL_MAX_POLLS',
  maxElapsedSeconds: 'POLL_MAX_ELAPSED_SECONDS',
  firstPollPercentile: 'POLL_FIRST_POLL_PERCENTILE',
  learnedSamples: 'POLL_LEARNED_SAMPLES',
  /** Seconds; may be fractional (the local runtime scales it with its time scale). */
  recheckSeconds: 'POLL_RECHECK_SECONDS',
  recheckIntervalMs: 'POLL_RECHECK_INTERVAL_MS',
} as const;

/** The image copy's URL policy and limits. */
export const CopyEnv = {
  maxImageBytes: 'MAX_IMAGE_BYTES',
  downloadTimeoutMs: 'IMAGE_DOWNLOAD_TIMEOUT_MS',
  allowedHosts: 'IMAGE_ALLOWED_HOSTS',
  /**
   * Local runtime only: the simulator's origin (`http://127.0.0.1:PORT`), the one place images
   * may come from over plain http on a loopback address. Never set on AWS.
   */
  insecureOrigins: 'IMAGE_INSECURE_ORIGINS',
} as const;
