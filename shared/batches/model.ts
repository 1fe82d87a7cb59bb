/**
 * The batch: one prompt file, whether uploaded through the API or straight to S3, as a resource
 * of its owner with a status and exact counts.
 *
 * A batch is stored as one head item (what the file is, where it stands) and a fixed number of
 * small counter shards. Each generation of a line moves the counters of its line's shard in the
 * same transaction that moves its record, so the counts are exact whatever is retried or
 * delivered twice, and reading them costs the same for 100 lines as for 100,000: the head and
 * `COUNT_SHARDS` shards. No SDK import: the stack reads the table's schema from here.
 */
import { createHash, randomBytes } from 'node:crypto';
import { type FileIdentity, versionOf } from '#shared/prompt-files/ids.ts';
import { PROMPTS_PREFIX, type PromptFileFormat } from '#shared/prompt-files/keys.ts';
import type { StoredWebhook } from '#shared/webhooks/event-types.ts';

export const BATCH_STATUSES = [
  'awaiting_upload',
  'validating',
  'in_progress',
  'completed',
  'cancelled',
  'failed',
] as const;
export type BatchStatus = (typeof BATCH_STATUSES)[number];

/** Statuses a batch does not leave. */
export const FINAL_BATCH_STATUSES: readonly BatchStatus[] = ['completed', 'cancelled', 'failed'];

export function isFinalBatchStatus(status: BatchStatus): boolean {
  return FINAL_BATCH_STATUSES.includes(status);
}

/** Counters kept in the shards, each moved by a line's generation as its record moves. */
export const SHARD_COUNTERS = ['accepted', 'running', 'completed', 'failed', 'cancelled'] as const;
export type ShardCounter = (typeof SHARD_COUNTERS)[number];

/**
 * Counter shards per batch. Lines spread over them by line number, so the starts of a file (ten
 * consecutive lines in flight) and the ends of its generations rarely meet on one item, where
 * DynamoDB would cancel one of two concurrent transactions.
 */
export const COUNT_SHARDS = 16;

/** The shard a line's generation counts in. */
export function shardOf(line: number): number {
  return line % COUNT_SHARDS;
}

/** The key of a batch's counter shard: `<batch id>#<shard>` (`#` never appears in a batch id). */
export function shardKeyOf(batchId: string, shard: number): string {
  return `${batchId}#${shard}`;
}

export interface BatchCounts {
  /** Lines read: accepted + rejected (blank and comment lines are not lines of the batch). */
  readonly lines: number;
  readonly accepted: number;
  readonly rejected: number;
  /** Accepted lines whose generation has not started at the provider yet. */
  readonly queued: number;
  readonly running: number;
  readonly completed: number;
  readonly failed: number;
  readonly cancelled: number;
}

export interface BatchError {
  readonly code: string;
  readonly message: string;
}

export interface BatchSource {
  readonly bucket: string;
  readonly key: string;
  readonly versionId?: string;
  readonly etag?: string;
}

/** The head item of a batch, as stored. */
export interface BatchHead {
  readonly id: string;
  readonly owner: string;
  readonly status: BatchStatus;
  /** `<owner>#<status>`: the owner/status index's partition. */
  readonly ownerStatus: string;
  readonly source: BatchSource;
  /** By the key's extension; `null` for a file that is not a prompt file. */
  readonly format: PromptFileFormat | null;
  /** `api` when created by `POST /batches`, `s3` when the file was put straight in the bucket. */
  readonly origin: 'api' | 's3';
  /** Lines refused, and every line read, as far as the file has been read. */
  readonly rejected: number;
  readonly lines: number;
  /** True once the whole file has been read (or refused): `accepted` can no longer grow. */
  readonly read: boolean;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly completedAt?: string;
  readonly error?: BatchError;
  /** The caller's metadata as JSON text, kept exactly as sent. */
  readonly metadata?: string;
  /** Where the batch's end is announced (`batch.completed`; docs/decisions.md D40). */
  readonly webhook?: StoredWebhook;
  /** For `awaiting_upload`: when the pre-signed upload stops being accepted. */
  readonly uploadExpiresAt?: string;
  /** The event a transition made due and nobody has published yet, and its index partition. */
  readonly pendingEvent?: { readonly detailType: string; readonly at: string };
  readonly outbox?: typeof BATCH_OUTBOX;
  /** `v:<version>` or `e:<etag>` of the file the batch was read from, once pinned. */
  readonly pinned?: string;
  /** When DynamoDB may delete the item (epoch seconds, the table's TTL attribute). */
  readonly expiresAt?: number;
  /** `unfinished` until the batch ends: the sparse index the reconciler's sweep reads. */
  readonly unfinished?: typeof BATCH_UNFINISHED;
}

/** What one shard holds; `countedAt` is the time of its last move. */
export type ShardItem = { readonly id: string } & Partial<Record<ShardCounter, number>> & {
    readonly costUsd?: number;
    readonly countedAt?: string;
  };

/** A batch as read: its head and the counts summed over its shards. */
export interface Batch extends BatchHead {
  readonly counts: BatchCounts;
  /** The provider's cost of the batch's completed generations so far. */
  readonly costUsd: number;
  /** When a line last moved the counts. */
  readonly countedAt?: string;
}

/** Sums the shards into the batch's counts; `queued` is what is accepted and not yet moved. */
export function countsOf(head: Pick<BatchHead, 'rejected'>, shards: readonly ShardItem[]) {
  const total = (name: ShardCounter) =>
    shards.reduce((sum, shard) => sum + (Number(shard[name]) || 0), 0);
  const accepted = total('accepted');
  const running = total('running');
  const completed = total('completed');
  const failed = total('failed');
  const cancelled = total('cancelled');
  const counts: BatchCounts = {
    lines: accepted + head.rejected,
    accepted,
    rejected: head.rejected,
    queued: Math.max(0, accepted - running - completed - failed - cancelled),
    running,
    completed,
    failed,
    cancelled,
  };
  const countedAt = shards.reduce<string | undefined>(
    (latest, shard) =>
      shard.countedAt !== undefined && (latest === undefined || shard.countedAt > latest)
        ? shard.countedAt
        : latest,
    undefined,
  );
  // Cents are summed as numbers; rounding to the provider's precision keeps float noise out.
  const costUsd =
    Math.round(shards.reduce((sum, s) => sum + (Number(s.costUsd) || 0), 0) * 1e6) / 1e6;
  return { counts, costUsd, ...(countedAt !== undefined && { countedAt }) };
}

/** Every accepted line has reached a terminal state. */
export function allLinesEnded(counts: BatchCounts): boolean {
  return counts.completed + counts.failed + counts.cancelled >= counts.accepted;
}

/** The one partition of the outbox index. */
export const BATCH_OUTBOX = 'outbox';

/** The one partition of the index of batches not ended. */
export const BATCH_UNFINISHED = 'unfinished';

export function batchOwnerStatusKey(owner: string, status: BatchStatus): string {
  return `${owner}#${status}`;
}

/** Table and index names shared by the stack, the handlers and the local runtime. */
export const BatchesTableSchema = {
  partitionKey: 'id',
  /** Heads only (shards carry no `owner`): an owner's batches, newest first. */
  byOwnerIndex: { name: 'byOwner', partitionKey: 'owner', sortKey: 'createdAt' },
  byOwnerStatusIndex: { name: 'byOwnerStatus', partitionKey: 'ownerStatus', sortKey: 'createdAt' },
  /** Heads that owe an event: the reconciler's sweep republishes them. */
  outboxIndex: { name: 'outbox', partitionKey: 'outbox', sortKey: 'updatedAt' },
  /** Heads of batches not ended, oldest first: the reconciler's sweep settles stalled ones. */
  unfinishedIndex: { name: 'unfinished', partitionKey: 'unfinished', sortKey: 'createdAt' },
  timeToLiveAttribute: 'expiresAt',
} as const;

/** Prefix of batch ids, so their kind shows at a glance. */
export const BATCH_ID_PREFIX = 'b_';

/** Batch ids: the prefix and 40 lower-case hex digits. */
export const BATCH_ID_PATTERN = /^b_[0-9a-f]{40}$/;

/**
 * The id of a file put straight in the bucket: a pure function of (bucket, key, version or ETag),
 * as the ids of its lines are, so a file S3 reports twice is one batch.
 */
export function batchIdOfFile(file: FileIdentity): string {
  const digest = createHash('sha256')
    .update(JSON.stringify(['batch', file.bucket, file.key, versionOf(file)]), 'utf8')
    .digest('hex');
  return `${BATCH_ID_PREFIX}${digest.slice(0, 40)}`;
}

/** A new id for a batch created through the API (before its file exists). */
export function newBatchId(): string {
  return `${BATCH_ID_PREFIX}${randomBytes(20).toString('hex')}`;
}

/** Folder of the files uploaded through the API, under the owner's prompts folder. */
const API_UPLOADS_FOLDER = 'batches';

/** Where the API puts (or has the caller put) the file of a batch it created. */
export function apiUploadKeyOf(owner: string, batchId: string, format: PromptFileFormat): string {
  return `${PROMPTS_PREFIX}${owner}/${API_UPLOADS_FOLDER}/${batchId}.${format}`;
}

/** The batch id an API upload key names, if the key has that shape. */
export function batchIdOfUploadKey(key: string): string | undefined {
  const match =
    /^prompts\/[a-z0-9][a-z0-9_-]{0,62}\/batches\/(b_[0-9a-f]{40})\.(?:txt|jsonl|json)$/.exec(key);
  return match?.[1];
}

/** The detail type of the event a batch publishes when it ends, whatever the end. */
export const EVENT_BATCH_COMPLETED = 'Batch Completed';
