/**
 * The API's operations on generations, always scoped to one owner: submit, get, list and cancel,
 * and the view of a record the answers carry. An owner never learns anything about another
 * owner's generations: a foreign id is answered exactly like a missing one (404).
 */

import { createHash, randomUUID } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { SFNClient } from '@aws-sdk/client-sfn';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import type { LazyClient } from '../aws/lazy.ts';
import { ConfigurationError } from '../config/env.ts';
import { PipelineError } from '../errors/base.ts';
import { ErrorCodes } from '../errors/codes.ts';
import { EVENT_CANCELLED, EVENT_SOURCE } from '../generation/events.ts';
import {
  GENERATION_STATUSES,
  type GenerationError,
  type GenerationRecord,
  type GenerationStatus,
  GenerationsTableSchema,
  generationIdSchema,
  isTerminal,
  ownerStatusKey,
  UNFINISHED,
  type WorkflowInput,
} from '../generation/model.ts';
import { logger } from '../observability/powertools.ts';
import {
  type GenerationRequest,
  type RequestWarning,
  validateGenerationRequest,
} from '../request/schema.ts';
import { CursorCodec, type PageKey } from './cursor.ts';
import { BadRequestError, ConflictError, NotFoundError } from './errors.ts';
import type { IdempotentStart, IdempotentStarts, IdempotentSubmission } from './idempotency.ts';
import { MAX_METADATA_DEPTH, valueNestsDeeperThan } from './json-limits.ts';
import type { Presign } from './presign.ts';
import {
  DEFAULT_METADATA_MAX_BYTES,
  type GenerationView,
  LIST_LIMIT_DEFAULT,
  LIST_LIMIT_MAX,
} from './schemas.ts';

/** The workflow could not be started; the record was marked failed. Answered as a plain 500. */
export class GenerationNotStartedError extends PipelineError {
  override readonly name = 'GenerationNotStartedError';
  readonly code = ErrorCodes.API_INTERNAL_ERROR;
  readonly retryable = true;
}

/** 202 answer of POST /generations. */
export interface GenerationAccepted {
  readonly id: string;
  readonly status: 'queued';
  readonly warnings?: readonly RequestWarning[];
  readonly links: { readonly self: string };
}

export interface GenerationPage {
  readonly items: GenerationView[];
  readonly nextCursor?: string;
}

/** The list query as it arrives (text); {@link GenerationsApi.list} checks it. */
export interface ListQuery {
  readonly status?: string;
  readonly limit?: string;
  readonly cursor?: string;
}

export interface SubmitOptions {
  /** API Gateway's request id; the generation's `sourceRef` is `http:<requestId>`. */
  readonly requestId: string;
  /** The `Idempotency-Key` header, already checked; without it there is no idempotency. */
  readonly idempotencyKey?: string;
  /** Lets idempotency bound an in-progress record by the invocation's remaining time. */
  readonly lambdaContext?: Context;
}

/**
 * What the operations use. Only the generations table is needed by all; each operation checks
 * the rest it needs when called (a function is given only what its route uses).
 */
export interface GenerationsApiDeps {
  readonly dynamoDb: DynamoDBDocumentClient;
  readonly tableName: string;
  /** get, list, cancel: URLs of the images. */
  readonly presign?: Presign;
  /**
   * submit (start), cancel (stop). Clients other routes do not use are made on first use, so a
   * route's cold start does not load them (shared/aws/lazy.ts).
   */
  readonly stepFunctions?: LazyClient<SFNClient>;
  readonly stateMachineArn?: string;
  /** cancel: the "Generation Cancelled" event. */
  readonly eventBridge?: LazyClient<EventBridgeClient>;
  readonly eventBusName?: string;
  /** list: the secret cursors are signed with. */
  readonly cursorSecret?: string;
  /** submit: largest `metadata` in bytes of JSON. @default 2048 */
  readonly metadataMaxBytes?: number;
  /** submit: `Idempotency-Key` support (`idempotentStarts` of idempotency.ts). */
  readonly idempotency?: IdempotentStarts;
  readonly now?: () => Date;
  readonly newId?: () => string;
}

interface Submission {
  readonly request: GenerationRequest;
  readonly warnings: readonly RequestWarning[];
  /** The caller's `metadata` as JSON text: what the record stores. */
  readonly metadataJson?: string;
}

/**
 * A record as DynamoDB gives it back: `usage` and `costUsd` may be NULL, and `metadata` is the
 * JSON text of the caller's object (a map in records written before it was stored as text).
 */
export type StoredRecord = Omit<GenerationRecord, 'usage' | 'costUsd' | 'error' | 'metadata'> & {
  readonly ownerStatus?: string;
  readonly usage?: GenerationRecord['usage'] | null;
  readonly costUsd?: number | null;
  readonly error?: GenerationError | null;
  readonly metadata?: string | Record<string, unknown>;
};

const CANCELLED_MESSAGE = 'The generation was cancelled by its owner';
const NOT_STARTED_MESSAGE = 'The generation could not be started; please submit it again';

function accepted(id: string, submission: Submission): GenerationAccepted {
  return {
    id,
    status: 'queued',
    ...(submission.warnings.length > 0 && { warnings: submission.warnings }),
    links: { self: `/generations/${id}` },
  };
}

/**
 * The id of a generation submitted with an Idempotency-Key: `k_` and 40 hex of SHA-256 over the
 * owner, the key and the validated request, so the same submission always names the same
 * generation, and another request under a reused key (after its 24 h) names another.
 */
export function keyedGenerationId(key: IdempotentSubmission, submission: Submission): string {
  const hash = createHash('sha256');
  for (const part of [
    key.owner,
    key.idempotencyKey,
    JSON.stringify(submission.request),
    submission.metadataJson ?? '',
  ]) {
    hash.update(part).update('\0');
  }
  return `k_${hash.digest('hex').slice(0, 40)}`;
}

export class GenerationsApi {
  readonly #deps: GenerationsApiDeps;
  readonly #now: () => Date;
  readonly #newId: () => string;
  readonly #metadataMaxBytes: number;
  readonly #startOnce?: IdempotentStart<Submission, GenerationAccepted>;

  constructor(deps: GenerationsApiDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? (() => new Date());
    this.#newId = deps.newId ?? randomUUID;
    this.#metadataMaxBytes = deps.metadataMaxBytes ?? DEFAULT_METADATA_MAX_BYTES;
    this.#startOnce = deps.idempotency?.(
      (key: IdempotentSubmission, submission: Submission, requestId: string) =>
        this.#start(key.owner, submission, requestId, keyedGenerationId(key, submission)),
    );
  }

  /**
   * Validates the body, records the generation `queued` and starts its workflow. The record is
   * written first, so a GET right after the 202 finds it; if the workflow cannot be started the
   * record is marked failed rather than left queued, and the error goes on (a 500).
   */
  async submit(owner: string, body: unknown, options: SubmitOptions): Promise<GenerationAccepted> {
    const submission = this.#validateSubmission(body);
    if (options.idempotencyKey === undefined) {
      return this.#start(owner, submission, options.requestId);
    }
    if (this.#startOnce === undefined) {
      throw new ConfigurationError('Idempotency-Key support is not configured (IDEMPOTENCY_TABLE)');
    }
    return this.#startOnce(
      { owner, idempotencyKey: options.idempotencyKey, body },
      submission,
      options.requestId,
      options.lambdaContext,
    );
  }

  /** The owner's generation; 404 for a missing id and for another owner's. */
  async get(owner: string, id: string): Promise<GenerationView> {
    const record = await this.#readOwned(owner, id);
    return toApiView(record, this.#presign());
  }

  /**
   * A page of the owner's generations, newest first, optionally of one status: a Query on the
   * owner (or owner#status) index, never a Scan.
   */
  async list(owner: string, query: ListQuery = {}): Promise<GenerationPage> {
    const status = parseStatus(query.status);
    const limit = parseLimit(query.limit);
    const cursors = this.#cursors();
    const scope = status ?? '*';
    const index =
      status === undefined
        ? GenerationsTableSchema.byOwnerIndex
        : GenerationsTableSchema.byOwnerStatusIndex;
    const partition = status === undefined ? owner : ownerStatusKey(owner, status);
    let startKey: PageKey | undefined;
    if (query.cursor !== undefined) {
      startKey = cursors.decode(owner, scope, query.cursor);
      // A cursor that verifies may still not be a position of this index (one signed with a
      // leaked secret, or by an older version): DynamoDB answers a start key of another shape
      // with a ValidationException, which would be a 500.
      const keyNames = [GenerationsTableSchema.partitionKey, index.partitionKey, index.sortKey];
      if (
        startKey === undefined ||
        startKey[index.partitionKey] !== partition ||
        !isStartKeyOf(startKey, keyNames)
      ) {
        throw new BadRequestError(
          ErrorCodes.API_INVALID_QUERY,
          'cursor is not valid for this query; use the nextCursor of the previous page unchanged',
          {
            details: [
              { code: ErrorCodes.API_INVALID_QUERY, message: 'invalid cursor', field: 'cursor' },
            ],
          },
        );
      }
    }
    // One item more than asked tells whether another page exists, so the last page has no cursor.
    const { Items = [], LastEvaluatedKey } = await this.#deps.dynamoDb.send(
      new QueryCommand({
        TableName: this.#deps.tableName,
        IndexName: index.name,
        KeyConditionExpression: '#pk = :pk',
        ExpressionAttributeNames: { '#pk': index.partitionKey },
        ExpressionAttributeValues: { ':pk': partition },
        ScanIndexForward: false,
        Limit: limit + 1,
        ...(startKey && { ExclusiveStartKey: startKey }),
      }),
    );
    const records = Items.slice(0, limit) as StoredRecord[];
    let nextKey: PageKey | undefined;
    const last = records.at(-1);
    if (Items.length > limit && last !== undefined) {
      nextKey = {
        [GenerationsTableSchema.partitionKey]: last.id,
        [index.partitionKey]: partition,
        [index.sortKey]: last.createdAt,
      };
    } else if (LastEvaluatedKey !== undefined) {
      // DynamoDB stopped early (1 MB read): continue from where it stopped.
      nextKey = LastEvaluatedKey as PageKey;
    }
    const presign = this.#presign();
    const items = await Promise.all(records.map((record) => toApiView(record, presign)));
    return {
      items,
      ...(nextKey !== undefined && { nextCursor: cursors.encode(owner, scope, nextKey) }),
    };
  }

  /**
   * Cancels a generation that has not ended: records it `cancelled` (a conditional write, so a
   * generation that completes meanwhile stays completed), stops its execution and publishes
   * "Generation Cancelled". 409 once it has ended.
   */
  async cancel(owner: string, id: string): Promise<GenerationView> {
    const record = await this.#readOwned(owner, id);
    if (isTerminal(record.status)) throw notCancellable(record.status);
    const error: GenerationError = {
      code: ErrorCodes.GENERATION_CANCELLED,
      message: CANCELLED_MESSAGE,
    };
    const now = this.#now().toISOString();
    let cancelled: StoredRecord;
    try {
      const { Attributes } = await this.#deps.dynamoDb.send(
        new UpdateCommand({
          TableName: this.#deps.tableName,
          Key: { id },
          UpdateExpression:
            'SET #status = :cancelled, ownerStatus = :ownerStatus, #error = :error, updatedAt = :now, completedAt = :now REMOVE unfinished',
          ConditionExpression: '#owner = :owner AND #status IN (:queued, :running)',
          ExpressionAttributeNames: { '#status': 'status', '#error': 'error', '#owner': 'owner' },
          ExpressionAttributeValues: {
            ':cancelled': 'cancelled',
            ':queued': 'queued',
            ':running': 'running',
            ':owner': owner,
            ':ownerStatus': ownerStatusKey(owner, 'cancelled'),
            ':error': error,
            ':now': now,
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      cancelled = Attributes as StoredRecord;
    } catch (cause) {
      if (cause instanceof ConditionalCheckFailedException) {
        const current = await this.#read(id);
        throw notCancellable(current?.status ?? 'completed', cause);
      }
      throw cause;
    }
    await this.#stopExecution(id);
    await this.#publishCancelled(id, owner, error);
    return toApiView(cancelled, this.#presign());
  }

  #validateSubmission(body: unknown): Submission {
    if (!isPlainObject(body)) {
      const result = validateGenerationRequest(body);
      if (!result.ok) throw validationError(result.error);
      throw new BadRequestError(ErrorCodes.REQUEST_NOT_OBJECT, 'The request must be a JSON object');
    }
    const { metadata, ...fields } = body;
    const result = validateGenerationRequest(fields);
    if (!result.ok) throw validationError(result.error);
    if (!Object.hasOwn(body, 'metadata')) {
      return { request: result.request, warnings: result.warnings };
    }
    const max = this.#metadataMaxBytes;
    const invalid = (message: string) =>
      new BadRequestError(ErrorCodes.API_INVALID_METADATA, message, {
        details: [{ code: ErrorCodes.API_INVALID_METADATA, message, field: 'metadata' }],
      });
    if (!isPlainObject(metadata)) throw invalid('metadata must be a JSON object');
    // Before it is serialised: JSON.stringify recurses, and throws RangeError thousands deep.
    if (valueNestsDeeperThan(metadata, MAX_METADATA_DEPTH)) {
      throw invalid(`metadata nests objects and arrays deeper than ${MAX_METADATA_DEPTH} levels`);
    }
    // Stored as this text, not as a DynamoDB map: any JSON object round-trips unchanged, whatever
    // its numbers (a map refuses integers past 2^53 and magnitudes outside 1e-130..1e126), its
    // depth (a map nests 32 levels at most) or its keys.
    const metadataJson = JSON.stringify(metadata);
    const bytes = Buffer.byteLength(metadataJson, 'utf8');
    if (bytes > max) {
      throw invalid(`metadata is ${bytes} bytes of JSON; at most ${max} are accepted`);
    }
    return { request: result.request, warnings: result.warnings, metadataJson };
  }

  /**
   * Records the generation and starts its workflow. With an Idempotency-Key the id is derived
   * from the owner, the key and the request (`keyedId`): should the idempotency record not have
   * been completed (the function stopped between recording and answering, and a retry came after
   * the in-progress record's expiry), the retry meets the same generation and starts it if it was
   * not, rather than paying for a second one.
   */
  async #start(
    owner: string,
    submission: Submission,
    requestId: string,
    keyedId?: string,
  ): Promise<GenerationAccepted> {
    const id = keyedId ?? this.#newId();
    const now = this.#now().toISOString();
    const sourceRef = `http:${requestId || id}`;
    const record: StoredRecord = {
      id,
      owner,
      status: 'queued',
      ownerStatus: ownerStatusKey(owner, 'queued'),
      request: submission.request,
      source: 'http',
      sourceRef,
      polls: 0,
      images: [],
      ...(submission.metadataJson !== undefined && { metadata: submission.metadataJson }),
      createdAt: now,
      updatedAt: now,
      unfinished: UNFINISHED,
    };
    try {
      await this.#deps.dynamoDb.send(
        new PutCommand({
          TableName: this.#deps.tableName,
          Item: record,
          // A keyed generation whose workflow never started (marked so) is recorded afresh.
          ConditionExpression:
            keyedId === undefined
              ? 'attribute_not_exists(id)'
              : 'attribute_not_exists(id) OR (#status = :failed AND #error.#message = :notStarted)',
          ...(keyedId !== undefined && {
            ExpressionAttributeNames: {
              '#status': 'status',
              '#error': 'error',
              '#message': 'message',
            },
            ExpressionAttributeValues: { ':failed': 'failed', ':notStarted': NOT_STARTED_MESSAGE },
          }),
        }),
      );
    } catch (error) {
      if (keyedId === undefined || !(error instanceof ConditionalCheckFailedException)) throw error;
      return this.#carryOn(keyedId, submission);
    }
    await this.#startWorkflow(record);
    return accepted(id, submission);
  }

  /** A keyed generation recorded by an earlier attempt: started if it still waits to be. */
  async #carryOn(id: string, submission: Submission): Promise<GenerationAccepted> {
    const { Item } = await this.#deps.dynamoDb.send(
      new GetCommand({ TableName: this.#deps.tableName, Key: { id }, ConsistentRead: true }),
    );
    const record = Item as StoredRecord | undefined;
    if (record === undefined) {
      throw new GenerationNotStartedError(`Generation ${id} was neither new nor found`);
    }
    logger.warn('An Idempotency-Key retry met the generation of an earlier attempt', {
      generationId: id,
      status: record.status,
    });
    if (record.status === 'queued') await this.#startWorkflow(record);
    return accepted(id, submission);
  }

  /**
   * Starts the workflow of a recorded generation; an execution of that name already there (an
   * earlier attempt started it) counts as started.
   */
  async #startWorkflow(record: StoredRecord): Promise<void> {
    const { stepFunctions, stateMachineArn } = this.#workflow();
    const { id } = record;
    const input: WorkflowInput = {
      id,
      request: record.request,
      source: record.source,
      sourceRef: record.sourceRef ?? `http:${id}`,
      owner: record.owner,
    };
    try {
      const [client, { StartExecutionCommand }] = await Promise.all([
        stepFunctions(),
        import('@aws-sdk/client-sfn'),
      ]);
      await client.send(
        new StartExecutionCommand({ stateMachineArn, name: id, input: JSON.stringify(input) }),
      );
    } catch (cause) {
      if ((cause as Error).name === 'ExecutionAlreadyExists') return;
      await this.#markNotStarted(record, cause);
      throw new GenerationNotStartedError(`The workflow of generation ${id} could not be started`, {
        cause,
      });
    }
  }

  /** Never leaves a generation queued with no workflow behind it. */
  async #markNotStarted(record: StoredRecord, cause: unknown): Promise<void> {
    const now = this.#now().toISOString();
    try {
      await this.#deps.dynamoDb.send(
        new UpdateCommand({
          TableName: this.#deps.tableName,
          Key: { id: record.id },
          UpdateExpression:
            'SET #status = :failed, ownerStatus = :ownerStatus, #error = :error, updatedAt = :now, completedAt = :now REMOVE unfinished',
          ConditionExpression: '#status = :queued',
          ExpressionAttributeNames: { '#status': 'status', '#error': 'error' },
          ExpressionAttributeValues: {
            ':failed': 'failed',
            ':queued': 'queued',
            ':ownerStatus': ownerStatusKey(record.owner, 'failed'),
            ':error': { code: ErrorCodes.API_INTERNAL_ERROR, message: NOT_STARTED_MESSAGE },
            ':now': now,
          },
        }),
      );
    } catch (error) {
      logger.error('Could not mark a generation whose workflow did not start as failed', {
        generationId: record.id,
        error: error as Error,
        startError: cause as Error,
      });
    }
  }

  async #stopExecution(id: string): Promise<void> {
    const { stepFunctions, stateMachineArn } = this.#workflow();
    try {
      const [client, { StopExecutionCommand }] = await Promise.all([
        stepFunctions(),
        import('@aws-sdk/client-sfn'),
      ]);
      await client.send(
        new StopExecutionCommand({
          executionArn: executionArnOf(stateMachineArn, id),
          error: ErrorCodes.GENERATION_CANCELLED,
          cause: CANCELLED_MESSAGE,
        }),
      );
    } catch (error) {
      // Not started yet, or already ended: nothing to stop. Anything else is logged, not answered:
      // the record is cancelled, and the workflow's conditional writes will not overwrite it.
      if ((error as Error).name === 'ExecutionDoesNotExist') return;
      logger.error('Could not stop the execution of a cancelled generation', {
        generationId: id,
        error: error as Error,
      });
    }
  }

  async #publishCancelled(id: string, owner: string, error: GenerationError): Promise<void> {
    const { eventBridge, eventBusName } = this.#deps;
    if (eventBridge === undefined || eventBusName === undefined) {
      throw new ConfigurationError('Cancelling needs an event bus (EVENT_BUS_NAME)');
    }
    try {
      const [client, { PutEventsCommand }] = await Promise.all([
        eventBridge(),
        import('@aws-sdk/client-eventbridge'),
      ]);
      const answer = await client.send(
        new PutEventsCommand({
          Entries: [
            {
              EventBusName: eventBusName,
              Source: EVENT_SOURCE,
              DetailType: EVENT_CANCELLED,
              Detail: JSON.stringify({ id, owner, status: 'cancelled', error }),
            },
          ],
        }),
      );
      if ((answer.FailedEntryCount ?? 0) > 0) {
        logger.error('The "Generation Cancelled" event was not accepted', {
          generationId: id,
          entries: answer.Entries,
        });
      }
    } catch (cause) {
      logger.error('Could not publish the "Generation Cancelled" event', {
        generationId: id,
        error: cause as Error,
      });
    }
  }

  async #readOwned(owner: string, id: string): Promise<StoredRecord> {
    if (!generationIdSchema.safeParse(id).success) throw new NotFoundError();
    const record = await this.#read(id);
    if (record === undefined || record.owner !== owner) throw new NotFoundError();
    return record;
  }

  async #read(id: string): Promise<StoredRecord | undefined> {
    const { Item } = await this.#deps.dynamoDb.send(
      new GetCommand({ TableName: this.#deps.tableName, Key: { id }, ConsistentRead: true }),
    );
    return Item as StoredRecord | undefined;
  }

  #workflow(): { stepFunctions: LazyClient<SFNClient>; stateMachineArn: string } {
    const { stepFunctions, stateMachineArn } = this.#deps;
    if (stepFunctions === undefined || stateMachineArn === undefined) {
      throw new ConfigurationError('This operation needs the state machine (STATE_MACHINE_ARN)');
    }
    return { stepFunctions, stateMachineArn };
  }

  #presign(): Presign {
    const { presign } = this.#deps;
    if (presign === undefined) throw new ConfigurationError('This operation needs an S3 presigner');
    return presign;
  }

  #cursors(): CursorCodec {
    const { cursorSecret } = this.#deps;
    if (cursorSecret === undefined) throw new ConfigurationError('Listing needs a cursor secret');
    return new CursorCodec(cursorSecret);
  }
}

/**
 * A record as the API shows it (design section 5): pre-signed image URLs, and no empty `usage`
 * or `costUsd` (the workflow stores them as NULL when the provider gave none).
 */
export async function toApiView(record: StoredRecord, presign: Presign): Promise<GenerationView> {
  const images = await Promise.all(
    (record.images ?? []).map(async (image) => ({
      url: await presign({ bucket: image.bucket, key: image.key }),
      bucket: image.bucket,
      key: image.key,
      size: Number(image.size),
      sha256: image.sha256,
      contentType: image.contentType,
      width: Number(image.width),
      height: Number(image.height),
    })),
  );
  const { request } = record;
  const usage = record.usage;
  const costUsd = record.costUsd;
  const metadata = metadataOf(record);
  return {
    id: record.id,
    status: record.status,
    request: {
      prompt: request.prompt,
      use_pre_llm: request.use_pre_llm,
      seed: Number(request.seed),
      width: Number(request.width),
      height: Number(request.height),
    },
    source: record.source,
    ...(record.sourceRef !== undefined && { sourceRef: record.sourceRef }),
    ...(record.sparkTaskId !== undefined && { sparkTaskId: record.sparkTaskId }),
    polls: Number(record.polls ?? 0),
    images,
    ...(isPlainObject(usage) &&
      Object.keys(usage).length > 0 && { usage: usage as GenerationView['usage'] }),
    ...(costUsd !== undefined &&
      costUsd !== null &&
      Number.isFinite(Number(costUsd)) && {
        costUsd: Number(costUsd),
      }),
    ...(record.error !== undefined &&
      record.error !== null && {
        error: { code: record.error.code, message: record.error.message },
      }),
    ...(metadata !== undefined && { metadata }),
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
    ...(record.completedAt !== undefined && { completedAt: record.completedAt }),
  };
}

/** The caller's `metadata` back from its stored JSON text (or a map, in older records). */
function metadataOf(record: StoredRecord): Record<string, unknown> | undefined {
  const stored = record.metadata;
  if (typeof stored !== 'string') return isPlainObject(stored) ? stored : undefined;
  try {
    const parsed: unknown = JSON.parse(stored);
    if (isPlainObject(parsed)) return parsed;
  } catch (error) {
    logger.error('A generation holds metadata that is not JSON', {
      generationId: record.id,
      error: error as Error,
    });
    return undefined;
  }
  logger.error('A generation holds metadata that is not a JSON object', {
    generationId: record.id,
  });
  return undefined;
}

/** `arn:…:stateMachine:<name>` -> `arn:…:execution:<name>:<execution name>`. */
export function executionArnOf(stateMachineArn: string, executionName: string): string {
  const match = /^(arn:[^:]+:states:[^:]*:[^:]*):stateMachine:([^:]+)$/.exec(stateMachineArn);
  if (match === null) {
    throw new ConfigurationError(`Not a state machine ARN: ${stateMachineArn}`);
  }
  return `${match[1]}:execution:${match[2]}:${executionName}`;
}

function parseStatus(status: string | undefined): GenerationStatus | undefined {
  if (status === undefined) return undefined;
  if ((GENERATION_STATUSES as readonly string[]).includes(status))
    return status as GenerationStatus;
  const message = `status must be one of ${GENERATION_STATUSES.join(', ')}`;
  throw new BadRequestError(ErrorCodes.API_INVALID_QUERY, message, {
    details: [{ code: ErrorCodes.API_INVALID_QUERY, message, field: 'status' }],
  });
}

function parseLimit(limit: string | undefined): number {
  if (limit === undefined) return LIST_LIMIT_DEFAULT;
  const value = /^\d{1,3}$/.test(limit) ? Number(limit) : Number.NaN;
  if (value >= 1 && value <= LIST_LIMIT_MAX) return value;
  const message = `limit must be an integer from 1 to ${LIST_LIMIT_MAX}`;
  throw new BadRequestError(ErrorCodes.API_INVALID_QUERY, message, {
    details: [{ code: ErrorCodes.API_INVALID_QUERY, message, field: 'limit' }],
  });
}

function notCancellable(status: GenerationStatus, cause?: unknown): ConflictError {
  return new ConflictError(
    ErrorCodes.API_NOT_CANCELLABLE,
    `The generation is already ${status} and cannot be cancelled`,
    cause === undefined ? {} : { cause },
  );
}

function validationError(error: {
  code: (typeof ErrorCodes)[keyof typeof ErrorCodes];
  message: string;
  details: readonly unknown[];
}): BadRequestError {
  return new BadRequestError(error.code, error.message, { details: error.details });
}

/** Exactly the key attributes of the index (table key, index keys), each a non-empty string. */
function isStartKeyOf(key: PageKey, names: readonly string[]): boolean {
  const given = Object.keys(key);
  return (
    given.length === new Set(names).size &&
    names.every((name) => typeof key[name] === 'string' && key[name] !== '')
  );
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
