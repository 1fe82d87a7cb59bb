/**
 * POST /generations: validates the body, records the generation `queued` and starts its workflow.
 * The record is written first, so a GET right after the 202 finds it; if the workflow cannot be
 * started the record is marked failed rather than left queued, and the error goes on (a 500).
 */
import { createHash } from 'node:crypto';
import type { Context } from 'aws-lambda';
import { BadRequestError } from '#shared/api/errors.ts';
import type { IdempotentStarts, IdempotentSubmission } from '#shared/api/idempotency.ts';
import { validateMetadata } from '#shared/api/metadata.ts';
import { PipelineError } from '#shared/errors/base.ts';
import { ErrorCodes } from '#shared/errors/codes.ts';
import type { WorkflowExecutions } from '#shared/generation/executions.ts';
import { ownerStatusKey, UNFINISHED } from '#shared/generation/model.ts';
import type { GenerationRepository, StoredRecord } from '#shared/generation/repository.ts';
import { isPlainObject } from '#shared/json.ts';
import { logger } from '#shared/observability/powertools.ts';
import {
  type GenerationRequest,
  type RequestWarning,
  validateGenerationRequest,
} from '#shared/request/schema.ts';
import type { GenerationWebhookEvent, StoredWebhook } from '#shared/webhooks/event-types.ts';
import type { WebhookTargetPolicy } from '#shared/webhooks/target.ts';
import { webhookOf } from '../webhook-field.ts';

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

export interface SubmitOptions {
  /** API Gateway's request id; the generation's `sourceRef` is `http:<requestId>`. */
  readonly requestId: string;
  /** The `Idempotency-Key` header, already checked; without it there is no idempotency. */
  readonly idempotencyKey?: string;
  /** Lets idempotency bound an in-progress record by the invocation's remaining time. */
  readonly lambdaContext?: Context;
}

export interface SubmitGenerationDeps {
  readonly repository: GenerationRepository;
  readonly executions: Pick<WorkflowExecutions, 'start'>;
  /** Largest `metadata` in bytes of JSON. */
  readonly metadataMaxBytes: number;
  /** Where a `webhook` may point (docs/decisions.md D40). */
  readonly webhookPolicy: WebhookTargetPolicy;
  /** `Idempotency-Key` support (`idempotentStarts` of idempotency.ts). */
  readonly idempotency: IdempotentStarts;
  readonly now: () => Date;
  readonly newId: () => string;
}

export type SubmitGeneration = (
  owner: string,
  body: unknown,
  options: SubmitOptions,
) => Promise<GenerationAccepted>;

interface Submission {
  readonly request: GenerationRequest;
  readonly warnings: readonly RequestWarning[];
  /** The caller's `metadata` as JSON text: what the record stores. */
  readonly metadataJson?: string;
  readonly webhook?: StoredWebhook;
}

export function submitGeneration(deps: SubmitGenerationDeps): SubmitGeneration {
  const startOnce = deps.idempotency(
    (key: IdempotentSubmission, submission: Submission, requestId: string) =>
      start(deps, key.owner, submission, requestId, keyedGenerationId(key, submission)),
  );
  return async (owner, body, options) => {
    const submission = validateSubmission(body, deps);
    if (options.idempotencyKey === undefined) {
      return start(deps, owner, submission, options.requestId);
    }
    return startOnce(
      { owner, idempotencyKey: options.idempotencyKey, body },
      submission,
      options.requestId,
      options.lambdaContext,
    );
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
    submission.webhook === undefined ? '' : JSON.stringify(submission.webhook),
  ]) {
    hash.update(part).update('\0');
  }
  return `k_${hash.digest('hex').slice(0, 40)}`;
}

/** The request's own checks first, then `metadata`, then `webhook`; the first failure answers. */
function validateSubmission(
  body: unknown,
  deps: Pick<SubmitGenerationDeps, 'metadataMaxBytes' | 'webhookPolicy'>,
): Submission {
  if (!isPlainObject(body)) {
    const result = validateGenerationRequest(body);
    if (!result.ok) throw validationError(result.error);
    throw new BadRequestError(ErrorCodes.REQUEST_NOT_OBJECT, 'The request must be a JSON object');
  }
  const { metadata, webhook, ...fields } = body;
  const result = validateGenerationRequest(fields);
  if (!result.ok) throw validationError(result.error);
  const metadataJson = Object.hasOwn(body, 'metadata')
    ? validateMetadata(metadata, deps.metadataMaxBytes)
    : undefined;
  return {
    request: result.request,
    warnings: result.warnings,
    ...(metadataJson !== undefined && { metadataJson }),
    ...(Object.hasOwn(body, 'webhook') && {
      webhook: webhookOf(webhook, 'generation', deps.webhookPolicy),
    }),
  };
}

/**
 * Records the generation and starts its workflow. With an Idempotency-Key the id is derived
 * from the owner, the key and the request (`keyedId`): should the idempotency record not have
 * been completed (the function stopped between recording and answering, and a retry came after
 * the in-progress record's expiry), the retry meets the same generation and starts it if it was
 * not, rather than paying for a second one.
 */
async function start(
  deps: SubmitGenerationDeps,
  owner: string,
  submission: Submission,
  requestId: string,
  keyedId?: string,
): Promise<GenerationAccepted> {
  const id = keyedId ?? deps.newId();
  const now = deps.now().toISOString();
  const record: StoredRecord = {
    id,
    owner,
    status: 'queued',
    ownerStatus: ownerStatusKey(owner, 'queued'),
    request: submission.request,
    source: 'http',
    sourceRef: `http:${requestId || id}`,
    polls: 0,
    images: [],
    ...(submission.metadataJson !== undefined && { metadata: submission.metadataJson }),
    ...(submission.webhook !== undefined && { webhook: submission.webhook }),
    createdAt: now,
    updatedAt: now,
    unfinished: UNFINISHED,
    expiresAt: deps.repository.expiresAtOf(now),
  };
  // A keyed generation whose workflow never started (marked so) is recorded afresh.
  const created = await deps.repository.create(record, {
    replaceNotStarted: keyedId !== undefined,
  });
  if (!created) return carryOn(deps, id, submission);
  await startWorkflow(deps, record);
  return accepted(id, submission);
}

/** A keyed generation recorded by an earlier attempt: started if it still waits to be. */
async function carryOn(
  deps: SubmitGenerationDeps,
  id: string,
  submission: Submission,
): Promise<GenerationAccepted> {
  const record = await deps.repository.read(id);
  if (record === undefined) {
    throw new GenerationNotStartedError(`Generation ${id} was neither new nor found`);
  }
  logger.warn('An Idempotency-Key retry met the generation of an earlier attempt', {
    generationId: id,
    status: record.status,
  });
  if (record.status === 'queued') await startWorkflow(deps, record);
  return accepted(id, submission);
}

/**
 * Starts the workflow of a recorded generation; an execution of that name already there (an
 * earlier attempt started it) counts as started. Never leaves a generation queued with no
 * workflow behind it.
 */
async function startWorkflow(deps: SubmitGenerationDeps, record: StoredRecord): Promise<void> {
  const { id } = record;
  try {
    await deps.executions.start({
      id,
      request: record.request,
      source: record.source,
      sourceRef: record.sourceRef ?? `http:${id}`,
      owner: record.owner,
      webhookEvents: (record.webhook?.events ?? []) as GenerationWebhookEvent[],
    });
  } catch (cause) {
    try {
      await deps.repository.markNotStarted(record, deps.now());
    } catch (error) {
      logger.error('Could not mark a generation whose workflow did not start as failed', {
        generationId: id,
        error: error as Error,
        startError: cause as Error,
      });
    }
    throw new GenerationNotStartedError(`The workflow of generation ${id} could not be started`, {
      cause,
    });
  }
}

function accepted(id: string, submission: Submission): GenerationAccepted {
  return {
    id,
    status: 'queued',
    ...(submission.warnings.length > 0 && { warnings: submission.warnings }),
    links: { self: `/generations/${id}` },
  };
}

function validationError(error: {
  code: (typeof ErrorCodes)[keyof typeof ErrorCodes];
  message: string;
  details: readonly unknown[];
}): BadRequestError {
  return new BadRequestError(error.code, error.message, { details: error.details });
}
