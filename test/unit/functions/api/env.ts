/**
 * The environment every API function reads at cold start, quiet Powertools and fixed AWS
 * credentials. Imported first by each test file (a side-effect import), so it is in place before
 * any handler or Powertools module is loaded.
 */
export const REGION = 'eu-west-1';
export const ACCOUNT = '123456789012';
export const TABLES = {
  generations: 'generations-table',
  apiKeys: 'api-keys-table',
  idempotency: 'idempotency-table',
  batches: 'batches-table',
} as const;
export const STATE_MACHINE_ARN = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:generation`;
export const EVENT_BUS_NAME = 'spark-t2i-bus';
export const IMAGES_BUCKET = 'images-bucket';
export const INPUT_BUCKET = 'input-bucket';
/** The prompt-file limit the batch routes are given: the largest upload request. */
export const PROMPT_FILE_MAX_BYTES = 50 * 1024 * 1024;
/** The cursor secret's id, and the random value a mocked Secrets Manager answers for it. */
export const CURSOR_SECRET_ID = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:cursor-AbCdEf`;
export const CURSOR_SECRET = 'Yq3vN8tR2wK7mP4sX9zB6cH1jL5dF0gA';

/** Everything any API function reads, plus quiet Powertools and fixed AWS credentials. */
export const API_ENV: Record<string, string> = {
  POWERTOOLS_DEV: 'true',
  POWERTOOLS_LOG_LEVEL: 'SILENT',
  POWERTOOLS_METRICS_DISABLED: 'true',
  POWERTOOLS_SERVICE_NAME: 'spark-t2i-test',
  AWS_REGION: REGION,
  AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
  AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  GENERATIONS_TABLE: TABLES.generations,
  API_KEYS_TABLE: TABLES.apiKeys,
  IDEMPOTENCY_TABLE: TABLES.idempotency,
  STATE_MACHINE_ARN,
  EVENT_BUS_NAME,
  METADATA_MAX_BYTES: '2048',
  PRESIGNED_URL_TTL_SECONDS: '900',
  CURSOR_SECRET_ID,
  BATCHES_TABLE: TABLES.batches,
  INPUT_BUCKET,
  IMAGES_BUCKET,
  PROMPT_FILE_MAX_BYTES: String(PROMPT_FILE_MAX_BYTES),
  RECORD_RETENTION_DAYS: '90',
};

Object.assign(process.env, API_ENV);
delete process.env.CURSOR_SECRET;
delete process.env.AWS_LAMBDA_FUNCTION_NAME;

// Powertools metrics warns on every invocation that emitted no metric; only that line is dropped.
const warn = console.warn.bind(console);
console.warn = (...args: unknown[]) => {
  if (typeof args[0] === 'string' && args[0].startsWith('No application metrics to publish'))
    return;
  warn(...args);
};
