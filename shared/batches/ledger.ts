/**
 * What the prompt-file trigger and the batch-progress function do to batches: open the batch of
 * a file, record each accepted line (its generation record and its count, in one transaction),
 * record how far the file has been read, count each line's end, and end the batch (publishing
 * its event, or leaving it owed for the reconciler) once the file is read and every line ended.
 */
import { ErrorCodes } from '#shared/errors/codes.ts';
import type { PublishEvent } from '#shared/generation/events.ts';
import { ownerStatusKey, UNFINISHED } from '#shared/generation/model.ts';
import type { GenerationRepository } from '#shared/generation/repository.ts';
import type { WorkflowInput } from '#shared/generation/workflow-input.ts';
import { logger } from '#shared/observability/powertools.ts';
import { type FileIdentity, versionOf } from '#shared/prompt-files/ids.ts';
import type { PromptFileFormat } from '#shared/prompt-files/keys.ts';
import type { CodedError } from '#shared/prompt-files/parser.ts';
import type { GenerationRequest } from '#shared/request/schema.ts';
import { batchCompletedEvent } from './events.ts';
import {
  BATCH_UNFINISHED,
  type BatchHead,
  type BatchStatus,
  batchIdOfFile,
  batchIdOfUploadKey,
  batchOwnerStatusKey,
} from './model.ts';
import type { OwingBatch } from './reads.ts';
import type { BatchRepository, ReadingProgress } from './repository.ts';

export interface OpenFile {
  readonly file: FileIdentity;
  readonly owner: string;
  readonly format: PromptFileFormat | null;
}

export type OpenOutcome =
  | { readonly batchId: string; readonly status: BatchStatus }
  /** The file is not read: another file holds the batch its name points at. */
  | { readonly refused: CodedError };

/** One accepted line, as the workflow will be started with it. */
export type AcceptedLine = Omit<WorkflowInput, 'request'> & {
  readonly id: string;
  /** Validated and normalised (the record keeps the request as the provider gets it). */
  readonly request: GenerationRequest;
  readonly batchId: string;
  readonly line: number;
};

/** The batch operations the prompt-file trigger needs. */
export interface BatchLedger {
  open(file: OpenFile): Promise<OpenOutcome>;
  /** Records the line's generation queued and counts it accepted; false when it existed. */
  lineAccepted(line: AcceptedLine): Promise<boolean>;
  /** Records how far the file has been read; answers the batch's status (a cancel shows here). */
  progress(batchId: string, progress: ReadingProgress): Promise<BatchStatus>;
  /** The file is read (or refused): records the final figures and ends the batch if it is done. */
  finish(batchId: string, progress: Omit<ReadingProgress, 'read'>): Promise<void>;
}

export interface LedgerDeps {
  readonly generations: GenerationRepository;
  readonly batches: BatchRepository;
  readonly publish: PublishEvent;
  readonly now?: () => Date;
}

export function batchLedger(deps: LedgerDeps): BatchLedger {
  const now = deps.now ?? (() => new Date());
  return {
    async open({ file, owner, format }) {
      const source = {
        bucket: file.bucket,
        key: file.key,
        ...(file.versionId !== undefined && { versionId: file.versionId }),
        ...(file.etag !== '' && { etag: file.etag.replace(/^"(.*)"$/, '$1') }),
      };
      const apiBatchId = batchIdOfUploadKey(file.key);
      if (apiBatchId !== undefined) {
        const pinned = await deps.batches.pin(apiBatchId, owner, source, versionOf(file), now());
        if (pinned === 'other-file') {
          return {
            refused: {
              code: ErrorCodes.BATCH_FILE_REPLACED,
              message: `Batch ${apiBatchId} is already being read from another upload of this name; this one is not read`,
            },
          };
        }
        if (pinned !== undefined) return { batchId: apiBatchId, status: pinned.status };
        // No such batch of this owner: the file is a batch of its own, as any other.
      }
      const at = now().toISOString();
      const head: BatchHead = {
        id: batchIdOfFile(file),
        owner,
        status: 'validating',
        ownerStatus: batchOwnerStatusKey(owner, 'validating'),
        source,
        format,
        origin: 's3',
        lines: 0,
        rejected: 0,
        read: false,
        pinned: versionOf(file),
        createdAt: at,
        updatedAt: at,
        expiresAt: deps.generations.expiresAtOf(at),
        unfinished: BATCH_UNFINISHED,
      };
      if (await deps.batches.create(head)) return { batchId: head.id, status: head.status };
      // S3 reported the file again: the batch is the one the first report opened.
      const existing = await deps.batches.getHead(head.id);
      return { batchId: head.id, status: existing?.status ?? head.status };
    },

    async lineAccepted(line) {
      const at = now().toISOString();
      return deps.generations.createBatchLine({
        id: line.id,
        owner: line.owner,
        status: 'queued',
        ownerStatus: ownerStatusKey(line.owner, 'queued'),
        request: line.request,
        source: line.source,
        sourceRef: line.sourceRef,
        polls: 0,
        images: [],
        createdAt: at,
        updatedAt: at,
        unfinished: UNFINISHED,
        expiresAt: deps.generations.expiresAtOf(at),
        batchId: line.batchId,
        batchLine: line.line,
      });
    },

    async progress(batchId, progress) {
      return (await deps.batches.recordReading(batchId, progress, now())).status;
    },

    async finish(batchId, progress) {
      await deps.batches.recordReading(batchId, { ...progress, read: true }, now());
      await endBatchIfDone(batchId, deps);
    },
  };
}

/**
 * Ends the batch if its file is read and every line has ended, and publishes its event. An event
 * EventBridge does not take stays owed on the batch, for the reconciler's sweep to publish.
 */
export async function endBatchIfDone(
  batchId: string,
  deps: Pick<LedgerDeps, 'batches' | 'publish' | 'now'>,
): Promise<OwingBatch | undefined> {
  const ended = await deps.batches.endIfDone(batchId, (deps.now ?? (() => new Date()))());
  if (ended !== undefined) await publishBatchEvent(ended, deps);
  return ended;
}

/** Publishes an ended batch's event and takes it off the batch; on failure, leaves it owed. */
export async function publishBatchEvent(
  batch: OwingBatch,
  deps: Pick<LedgerDeps, 'batches' | 'publish'>,
): Promise<boolean> {
  try {
    await deps.publish(batchCompletedEvent(batch));
  } catch (error) {
    logger.warn('Batch event not published; the reconciler will publish it', {
      batchId: batch.id,
      error,
    });
    return false;
  }
  await deps.batches.eventPublished(batch);
  return true;
}
