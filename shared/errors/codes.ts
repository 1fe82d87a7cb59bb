/**
 * Every error code the product can answer with, in one table.
 *
 * Codes are 9-digit strings. `003001xxx` are the provider's own codes (Spark Text to Image 3.0);
 * the pipeline reuses the provider's seed codes 003001095–003001099 where they fit and keeps
 * its own errors in the `090` block so they can never be confused with a provider answer.
 * `docs/error-codes.md` is generated from this table by a test that keeps them in step.
 */
export const ErrorCodes = {
  // Provider validation codes (in the order shared/request/schema.ts checks the rules).
  MISSING_PROMPT: '003001001',
  INVALID_PROMPT_LENGTH: '003001002',
  INVALID_USE_PRE_LLM: '003001003',
  INVALID_SEED: '003001004',
  INVALID_SIZE: '003001005',
  INVALID_ASPECT_RATIO: '003001006',
  SIZE_PAIR_REQUIRED: '003001007',
  SIZE_NOT_INTEGER: '003001008',
  SIZE_OUT_OF_RANGE: '003001009',
  // Provider seed codes, also used by the pipeline for the matching failures.
  INTERNAL_GENERATION_ERROR: '003001095',
  RESULT_PARSING_ERROR: '003001096',
  HTTP_ERROR_RESPONSE: '003001097',
  STATUS_CHECK_ERROR: '003001098',
  TASK_CREATION_ERROR: '003001099',
  // Pipeline: request shape.
  REQUEST_NOT_OBJECT: '090001001',
  UNKNOWN_FIELD: '090001002',
  // Pipeline: provider calls.
  PROVIDER_THROTTLED: '090002001',
  PROVIDER_TIMEOUT: '090002002',
  PROVIDER_UNAUTHORIZED: '090002003',
  PROVIDER_UNREACHABLE: '090002004',
  // Pipeline: the generation workflow.
  GENERATION_TIMED_OUT: '090003001',
  IMAGE_DOWNLOAD_FAILED: '090003002',
  IMAGE_TRUNCATED: '090003003',
  IMAGE_URL_REFUSED: '090003004',
  IMAGE_TOO_LARGE: '090003005',
  IMAGE_NOT_AN_IMAGE: '090003006',
  GENERATION_CANCELLED: '090003007',
  EXECUTION_DIED: '090003008',
  INTERNAL_ERROR: '090003009',
  IMAGE_URL_EXPIRED: '090003010',
  SLOT_WAIT_EXCEEDED: '090003011',
  // Pipeline: the HTTP API.
  API_UNAUTHORIZED: '090004001',
  API_NOT_FOUND: '090004002',
  API_METHOD_NOT_ALLOWED: '090004003',
  API_BODY_NOT_JSON: '090004004',
  API_BODY_TOO_LARGE: '090004005',
  API_UNSUPPORTED_MEDIA_TYPE: '090004006',
  API_IDEMPOTENCY_CONFLICT: '090004007',
  API_INVALID_QUERY: '090004008',
  API_NOT_CANCELLABLE: '090004009',
  API_INVALID_METADATA: '090004010',
  API_THROTTLED: '090004011',
  API_INVALID_IDEMPOTENCY_KEY: '090004012',
  API_REQUEST_REFUSED: '090004013',
  API_BODY_NOT_UTF8: '090004014',
  API_BODY_TOO_DEEP: '090004015',
  API_BODY_NOT_GZIP: '090004016',
  API_INTERNAL_ERROR: '090004099',
  // Pipeline: prompt files.
  PROMPT_FILE_TOO_LARGE: '090005001',
  PROMPT_FILE_TOO_MANY_LINES: '090005002',
  PROMPT_FILE_UNSUPPORTED_TYPE: '090005003',
  PROMPT_FILE_NOT_TEXT: '090005004',
  PROMPT_FILE_EMPTY: '090005005',
  PROMPT_LINE_NOT_JSON: '090005006',
  PROMPT_FILE_INVALID_JSON: '090005007',
  PROMPT_LINE_TOO_LONG: '090005008',
  PROMPT_FILE_BAD_OWNER: '090005009',
  PROMPT_FILE_UNREADABLE: '090005010',
  // Pipeline: batches.
  BATCH_CANCELLED: '090006001',
  BATCH_FILE_REPLACED: '090006002',
  BATCH_INVALID_UPLOAD: '090006003',
  BATCH_EMPTY_BODY: '090006004',
  BATCH_NOT_CANCELLABLE: '090006005',
  BATCH_UPLOAD_NOT_RECEIVED: '090006006',
  BATCH_READING_ABANDONED: '090006007',
  // Pipeline: webhooks.
  WEBHOOK_INVALID: '090007001',
  WEBHOOK_URL_REFUSED: '090007002',
  WEBHOOK_DELIVERY_FAILED: '090007003',
  // Simulator-only codes (the simulator's answers for what the provider page does not cover).
  SIM_UNSUPPORTED_MODEL: '090009001',
  SIM_BODY_NOT_JSON: '090009002',
  SIM_UNAUTHORIZED: '090009003',
  SIM_TASK_NOT_FOUND: '090009004',
  SIM_NOT_FOUND: '090009005',
  SIM_TOO_MANY_TASKS: '090009006',
  SIM_METHOD_NOT_ALLOWED: '090009007',
  SIM_IMAGE_URL_EXPIRED: '090009008',
} as const;

export type ErrorCodeName = keyof typeof ErrorCodes;
export type ErrorCode = (typeof ErrorCodes)[ErrorCodeName];

/** What each code means, for callers and for `docs/error-codes.md`. */
export const ErrorCodeDescriptions: Record<ErrorCode, string> = {
  '003001001': 'Missing prompt',
  '003001002': 'Invalid prompt length (1-800 characters)',
  '003001003': 'Invalid use_pre_llm parameter',
  '003001004': 'Invalid seed parameter (must be -1 or positive integer)',
  '003001005': 'Invalid size parameter',
  '003001006': 'Invalid aspect ratio (must be between 1:3 and 3:1)',
  '003001007': 'Width and height must both be provided',
  '003001008': 'Width and height must be integers',
  '003001009': 'Width and height must be in 512-2048 range',
  '003001095': 'Internal generation error',
  '003001096': 'Result parsing error',
  '003001097': 'HTTP error response',
  '003001098': 'Status check error',
  '003001099': 'Task creation error',
  '090001001': 'The request must be a JSON object',
  '090001002': 'The request has a field that is not part of the schema',
  '090002001': 'The provider throttled the request (HTTP 429)',
  '090002002': 'The provider did not answer within the request timeout',
  '090002003': 'The provider rejected the API key (HTTP 401/403)',
  '090002004': 'The provider could not be reached (network error)',
  '090003001': 'The provider task did not finish within the polling bounds (polls or time)',
  '090003002': 'An image could not be downloaded from the provider (after retries)',
  '090003003': 'An image download ended before its Content-Length (truncated)',
  '090003004':
    'An image URL was refused: not https, not allowed, resolving or connecting to a non-public address, or more than 3 redirects',
  '090003005': 'An image is larger than the configured limit',
  '090003006': 'An image URL did not serve a PNG, JPEG or WebP image',
  '090003007': 'The generation was cancelled',
  '090003008':
    'The workflow execution ended without recording an outcome (found by the reconciler)',
  '090003009': 'Internal pipeline error',
  '090003010': 'An image URL had expired (HTTP 403) before it was copied',
  '090003011':
    'No provider slot became free within the queueing bound (maxQueueSeconds); nothing was paid',
  '090004001': 'Missing, unknown or revoked API key (HTTP 401)',
  '090004002': 'No such generation or route (HTTP 404)',
  '090004003': 'Method not allowed on this route (HTTP 405)',
  '090004004': 'The request body is not valid JSON (HTTP 400)',
  '090004005': 'The request body is too large (HTTP 413)',
  '090004006':
    'The request body is not declared as UTF-8 JSON (Content-Type application/json or a +json type, charset utf-8 if any): no type, text/plain, a form, another charset (HTTP 415)',
  '090004007': 'The Idempotency-Key was used with a different body (HTTP 409)',
  '090004008': 'Invalid query parameter: status, limit or cursor (HTTP 400)',
  '090004009': 'The generation has already ended and cannot be cancelled (HTTP 409)',
  '090004010':
    'metadata must be a JSON object of at most 2 KB, nested at most 63 levels (HTTP 400)',
  '090004011': 'Too many requests (HTTP 429)',
  '090004012': 'The Idempotency-Key header is malformed (HTTP 400)',
  '090004013':
    'The API gateway refused the request for a reason no other code names (its HTTP 4xx status)',
  '090004014':
    'The request body is not valid UTF-8, or a JSON string in it escapes half of a surrogate pair (HTTP 400)',
  '090004015': 'The request body nests JSON objects and arrays deeper than 64 levels (HTTP 400)',
  '090004016':
    'The request body is sent with Content-Encoding: gzip but is not a valid gzip stream: not gzip, truncated or corrupt (HTTP 400)',
  '090004099': 'Internal error (HTTP 500); nothing about it is shown to callers',
  '090005001': 'The prompt file is larger than the configured limit',
  '090005002':
    'The prompt file has more lines than the configured limit; lines past it are not started',
  '090005003': 'Not a prompt file: the name must end in .txt, .jsonl or .json',
  '090005004': 'The prompt file is not UTF-8 text',
  '090005005': 'The prompt file is empty (no prompt in it)',
  '090005006': 'A .jsonl line is not valid JSON',
  '090005007': 'The .json prompt file is not valid JSON of the expected shape',
  '090005008': 'A line of the prompt file is longer than the line limit',
  '090005009':
    'The prompt file is in a folder that does not name a valid owner, or one without an API key',
  '090005010': 'The prompt file could not be read from S3',
  '090006001':
    'The batch was cancelled: no line that had not started by then was started (in the report of its file)',
  '090006002':
    'Another file was uploaded for a batch that already has one; only the first is read (in the report of the second)',
  '090006003':
    'Invalid upload request: upload.format must be jsonl, txt or json and upload.bytes an integer from 1 to the prompt-file limit (HTTP 400)',
  '090006004': 'The batch file in the request body is empty (HTTP 400)',
  '090006005': 'The batch has already ended and cannot be cancelled (HTTP 409)',
  '090006006':
    'No file was uploaded for the batch before its pre-signed upload URL expired (the batch failed)',
  '090006007':
    "Every attempt at reading the batch's file failed (its event is in the dead-letter queue): the batch ends with the lines read before counted",
  '090007001':
    'Invalid webhook: an object {url, events?} with url a string of at most 2048 characters and events a non-empty list of the event types this resource sends, each once (HTTP 400)',
  '090007002':
    'Webhook URL refused: not a URL, not https, with credentials, or a host that is not a public address (HTTP 400); at delivery, a host that resolves or connects to a non-public address',
  '090007003':
    'A webhook delivery was given up: no 2xx answer within 10 s on any attempt during 24 h (on the record and in the dead-letter queue)',
  '090009001': 'Simulator: model must be spark_t2i_3_0',
  '090009002': 'Simulator: request body is not valid JSON',
  '090009003': 'Simulator: missing or wrong Bearer API key',
  '090009004': 'Simulator: no task with this id',
  '090009005': 'Simulator: no such route',
  '090009006':
    'Simulator: too many requests: more unfinished tasks than --max-concurrent, or an injected 429 (Retry-After)',
  '090009007': 'Simulator: method not allowed on this route',
  '090009008': 'Simulator: the image URL has expired or its signature is wrong (HTTP 403)',
};

/**
 * Normalises a provider error code to the 9-digit string the provider's table prints:
 * the provider sends codes as integers (`3001006`) or strings (`"003001006"`).
 * Returns `undefined` for anything that is not a non-negative whole number.
 */
export function normaliseErrorCode(code: unknown): string | undefined {
  let digits: string;
  if (typeof code === 'number') {
    if (!Number.isSafeInteger(code) || code < 0) return undefined;
    digits = String(code);
  } else if (typeof code === 'string' && /^\d{1,9}$/.test(code.trim())) {
    digits = code.trim();
  } else {
    return undefined;
  }
  return digits.length > 9 ? undefined : digits.padStart(9, '0');
}

/** The code table as Markdown rows; `docs/error-codes.md` embeds it and a test keeps it current. */
export function renderErrorCodeTable(): string {
  const rows = Object.entries(ErrorCodes).map(
    ([name, code]) => `| \`${code}\` | \`${name}\` | ${ErrorCodeDescriptions[code]} |`,
  );
  return ['| code | name | meaning |', '| --- | --- | --- |', ...rows].join('\n');
}
