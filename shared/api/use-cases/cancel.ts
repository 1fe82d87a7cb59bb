/**
 * DELETE /generations/{id}: cancels a generation that has not ended. The record is cancelled by a
 * conditional write (a generation that completes meanwhile stays completed) that also makes the
 * "Generation Cancelled" event due (the outbox); then the execution is stopped and the event
 * published. 409 once the generation has ended.
 */

import { ConflictError } from '#shared/api/errors.ts';
import type { Presign } from '#shared/api/presign.ts';
import type { GenerationView } from '#shared/api/schemas.ts';
import { ErrorCodes } from '#shared/errors/codes.ts';
import type { PublishEvent } from '#shared/generation/events.ts';
import type { WorkflowExecutions } from '#shared/generation/executions.ts';
import {
  type GenerationError,
  type GenerationStatus,
  isTerminal,
} from '#shared/generation/model.ts';
import { publishOwed } from '#shared/generation/outbox.ts';
import type {
  GenerationRepository,
  OwingRecord,
  StoredRecord,
} from '#shared/generation/repository.ts';
import { logger } from '#shared/observability/powertools.ts';
import { readOwned } from './get.ts';
import { toApiView } from './view.ts';

export interface CancelGenerationDeps {
  readonly repository: GenerationRepository;
  readonly presign: Presign;
  readonly executions: Pick<WorkflowExecutions, 'stop'>;
  readonly publish: PublishEvent;
  readonly now: () => Date;
}

export type CancelGeneration = (owner: string, id: string) => Promise<GenerationView>;

const CANCELLED: GenerationError = {
  code: ErrorCodes.GENERATION_CANCELLED,
  message: 'The generation was cancelled by its owner',
};

export function cancelGeneration(deps: CancelGenerationDeps): CancelGeneration {
  return async (owner, id) => {
    const record = await readOwned(deps.repository, owner, id);
    if (isTerminal(record.status)) throw notCancellable(record.status);
    const cancelled = await cancelRecord(deps, owner, record);
    if (cancelled === undefined) {
      const current = await deps.repository.read(id);
      throw notCancellable(current?.status ?? 'completed');
    }
    return toApiView(cancelled, deps.presign);
  };
}

/** What cancelling one record takes (a batch's cancel uses it for each of its lines). */
export type CancelRecordDeps = Omit<CancelGenerationDeps, 'presign'>;

/**
 * Cancels an owner's record that has not ended: the conditional write (owing its event), then
 * the execution stopped and the event published. Answers the cancelled record, or undefined
 * when it ended meanwhile.
 */
export async function cancelRecord(
  deps: CancelRecordDeps,
  owner: string,
  record: Pick<StoredRecord, 'id' | 'createdAt'>,
): Promise<OwingRecord | undefined> {
  const cancelled = await deps.repository.cancel(owner, record, CANCELLED, deps.now());
  if (cancelled === undefined) return undefined;
  await stopExecution(deps, record.id);
  await publishOwed(cancelled, deps);
  return cancelled;
}

async function stopExecution(deps: CancelRecordDeps, id: string): Promise<void> {
  try {
    await deps.executions.stop(id, CANCELLED.code, CANCELLED.message);
  } catch (error) {
    // Logged, not answered: the record is cancelled, and the workflow's conditional writes will
    // not overwrite it.
    logger.error('Could not stop the execution of a cancelled generation', {
      generationId: id,
      error: error as Error,
    });
  }
}

function notCancellable(status: GenerationStatus): ConflictError {
  return new ConflictError(
    ErrorCodes.API_NOT_CANCELLABLE,
    `The generation is already ${status} and cannot be cancelled`,
  );
}
