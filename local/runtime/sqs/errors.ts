/**
 * SQS's refusals, as its JSON protocol answers them: `__type` names the error (the SDK's
 * `error.name`), and `x-amzn-query-error` carries the older query API's code, which the SDK
 * puts in `error.Code` for callers written against it.
 */

export class SqsError extends Error {
  override readonly name: string;
  /** The query API's code (`AWS.SimpleQueueService.NonExistentQueue` …). */
  readonly queryCode: string;
  readonly status: number;
  constructor(name: string, message: string, queryCode = name, status = 400) {
    super(message);
    this.name = name;
    this.queryCode = queryCode;
    this.status = status;
  }
}

export const queueDoesNotExist = () =>
  new SqsError(
    'QueueDoesNotExist',
    'The specified queue does not exist.',
    'AWS.SimpleQueueService.NonExistentQueue',
  );

export const invalidParameter = (message: string) => new SqsError('InvalidParameterValue', message);

export const missingParameter = (name: string) =>
  new SqsError('MissingParameter', `The request must contain the parameter ${name}.`);

export const receiptHandleIsInvalid = (handle: string) =>
  new SqsError(
    'ReceiptHandleIsInvalid',
    `The input receipt handle "${handle}" is not a valid receipt handle.`,
  );

/** A well-formed handle of a message that is gone, or whose receive is over. */
export const receiptHandleNotUsable = (handle: string, reason: string) =>
  invalidParameter(`Value ${handle} for parameter ReceiptHandle is invalid. Reason: ${reason}`);

export const messageNotInflight = () =>
  new SqsError(
    'MessageNotInflight',
    'The message referred to is not in flight.',
    'AWS.SimpleQueueService.MessageNotInflight',
  );

export const invalidAttributeName = (name: string) =>
  new SqsError('InvalidAttributeName', `Unknown Attribute ${name}.`);

export const emptyBatchRequest = () =>
  new SqsError(
    'EmptyBatchRequest',
    'There should be at least one SendMessageBatchRequestEntry in the request.',
    'AWS.SimpleQueueService.EmptyBatchRequest',
  );

export const tooManyEntries = (count: number) =>
  new SqsError(
    'TooManyEntriesInBatchRequest',
    `Maximum number of entries per request are 10. You have sent ${count}.`,
    'AWS.SimpleQueueService.TooManyEntriesInBatchRequest',
  );

export const batchEntryIdsNotDistinct = (id: string) =>
  new SqsError(
    'BatchEntryIdsNotDistinct',
    `Id ${id} repeated.`,
    'AWS.SimpleQueueService.BatchEntryIdsNotDistinct',
  );

export const invalidBatchEntryId = () =>
  new SqsError(
    'InvalidBatchEntryId',
    'A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.',
    'AWS.SimpleQueueService.InvalidBatchEntryId',
  );

export const batchRequestTooLong = (size: number, limit: number) =>
  new SqsError(
    'BatchRequestTooLong',
    `Batch requests cannot be longer than ${limit} bytes. You have sent ${size} bytes.`,
    'AWS.SimpleQueueService.BatchRequestTooLong',
  );

export const invalidMessageContents = () =>
  new SqsError(
    'InvalidMessageContents',
    'Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF',
  );
