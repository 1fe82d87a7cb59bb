/**
 * The generation record: what a generation is and the states it moves through. Records move
 * forward only: queued -> running -> completed | failed | cancelled, and a terminal record is
 * never written again (conditional writes enforce it). The workflow's input is
 * `workflow-input.ts`: it builds the request schema, which most importers of this module (the
 * API routes that read records, the authorizer) never use (docs/decisions.md D36).
 */
import type { generationRequestSchema } from '#shared/request/schema.ts';
import type { StoredWebhook } from '#shared/webhooks/event-types.ts';
import * as z from '#shared/zod.ts';

export const GENERATION_STATUSES = [
  'queued',
  'running',
  'completed',
  'failed',
  'cancelled',
] as const;
export type GenerationStatus = (typeof GENERATION_STATUSES)[number];

export const TERMINAL_STATUSES: readonly GenerationStatus[] = ['completed', 'failed', 'cancelled'];
export const ACTIVE_STATUSES: readonly GenerationStatus[] = ['queued', 'running'];

export function isTerminal(status: GenerationStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

export const GENERATION_SOURCES = ['http', 's3', 'schedule'] as const;
export type GenerationSource = (typeof GENERATION_SOURCES)[number];

/** Owners name folders (`prompts/<owner>/`) and key partitions, so they are kept simple. */
export const ownerSchema = z.string().check(z.regex(/^[a-z0-9][a-z0-9_-]{0,62}$/));

/** Generation ids are Step Functions execution names: at most 80 of [A-Za-z0-9_-]. */
export const generationIdSchema = z.string().check(z.regex(/^[A-Za-z0-9_-]{1,80}$/));

export interface StoredImage {
  readonly bucket: string;
  readonly key: string;
  readonly size: number;
  readonly sha256: string;
  readonly contentType: string;
  readonly width: number;
  readonly height: number;
  /** The provider's job id for this image, when it gave one. */
  readonly jobId?: string;
}

export interface GenerationError {
  readonly code: string;
  readonly message: string;
}

export interface ProviderUsage {
  readonly cost: string | number;
  readonly discount?: number;
  readonly input_tokens?: number;
  readonly output_tokens?: number;
  readonly total_tokens?: number;
}

/** The record as stored in the generations table. */
export interface GenerationRecord {
  readonly id: string;
  readonly owner: string;
  readonly status: GenerationStatus;
  readonly request: z.output<typeof generationRequestSchema> & { width: number; height: number };
  readonly source: GenerationSource;
  readonly sourceRef?: string;
  readonly sparkTaskId?: string;
  readonly polls: number;
  readonly images: readonly StoredImage[];
  readonly usage?: ProviderUsage;
  readonly costUsd?: number;
  readonly error?: GenerationError;
  /** The caller's metadata as JSON text, kept exactly as sent (docs/decisions.md D13). */
  readonly metadata?: string;
  /** Where the generation's end is announced (docs/decisions.md D40); never a secret. */
  readonly webhook?: StoredWebhook;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly completedAt?: string;
  /**
   * The record's partition of the sparse unfinished index: `unfinished` while it is not terminal,
   * `outbox` while it owes an event (`pendingEvent`); absent otherwise.
   */
  readonly unfinished?: typeof UNFINISHED | typeof OUTBOX;
  /** The event a transition made due and nobody has published yet (the outbox). */
  readonly pendingEvent?: { readonly detailType: string; readonly at: string };
  /** When DynamoDB may delete the record (epoch seconds, the table's TTL attribute). */
  readonly expiresAt?: number;
  /** The batch (prompt file) this generation is a line of, and that line's number. */
  readonly batchId?: string;
  readonly batchLine?: number;
  /** The terminal status the batch's counts have taken in (written with them, once). */
  readonly batchCounted?: GenerationStatus;
}

/** The value of `unfinished` on every record not yet terminal (the index's one partition). */
export const UNFINISHED = 'unfinished';

/**
 * The partition of the same index holding terminal records that owe an event: the outbox the
 * reconciler's sweep republishes from (shared/generation/outbox.ts).
 */
export const OUTBOX = 'outbox';

/** The sort key of the owner/status index: one partition per owner and status. */
export function ownerStatusKey(owner: string, status: GenerationStatus): string {
  return `${owner}#${status}`;
}

/** Table and index names shared by the stack, the handlers and the local runtime. */
export const GenerationsTableSchema = {
  partitionKey: 'id',
  byOwnerIndex: { name: 'byOwner', partitionKey: 'owner', sortKey: 'createdAt' },
  byOwnerStatusIndex: { name: 'byOwnerStatus', partitionKey: 'ownerStatus', sortKey: 'createdAt' },
  /**
   * A sparse index of the records not yet terminal, oldest first: only they carry the attribute
   * `unfinished` (set when recorded, removed by every terminal write), so the reconciler reads
   * the few unfinished records rather than scanning the whole table.
   */
  unfinishedIndex: { name: 'unfinished', partitionKey: 'unfinished', sortKey: 'createdAt' },
  /** A batch's records in line order (only lines of a batch carry `batchId`). */
  byBatchIndex: { name: 'byBatch', partitionKey: 'batchId', sortKey: 'batchLine' },
  timeToLiveAttribute: 'expiresAt',
} as const;

/**
 * Every attribute the poll-count write (`GenerationStore.recordPolls`) names: the key, the two it
 * sets and the status its condition reads. PollTask's permission on records is limited to them.
 */
export const POLL_COUNT_ATTRIBUTES = ['id', 'polls', 'updatedAt', 'status'] as const;
