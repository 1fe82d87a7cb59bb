/**
 * The outbox: no event is lost between a record's transition and its publication. A transition
 * that makes an event due writes it onto the record (`pendingEvent`, and the record into the
 * `outbox` partition of the sparse unfinished index) in the same conditional update; the
 * publisher takes it off once EventBridge accepted it. Should the function die between the two,
 * or PutEvents fail, the reconciler's sweep publishes what is still owed after a short grace.
 * An event can therefore be published twice (a death after PutEvents, before the clear):
 * consumers must tolerate duplicates, as they must anyway with EventBridge.
 */
import { logger } from '#shared/observability/powertools.ts';
import { eventOfRecord, type GenerationEventType, type PublishEvent } from './events.ts';
import type { GenerationRepository, OwingRecord } from './repository.ts';

/** How long an owed event is left to its own publisher before the sweep publishes it. */
export const OUTBOX_GRACE_SECONDS = 120;

export interface OutboxDeps {
  readonly repository: GenerationRepository;
  readonly publish: PublishEvent;
}

/**
 * Publishes the event a record owes and takes it off the record; answers whether it was
 * published. A failure is logged, not thrown: the event stays owed, and the sweep publishes it.
 */
export async function publishOwed(record: OwingRecord, deps: OutboxDeps): Promise<boolean> {
  const event = eventOfRecord(record.pendingEvent.detailType as GenerationEventType, record);
  try {
    await deps.publish(event);
  } catch (error) {
    logger.error('An event was not published; the reconciler will publish it', {
      generationId: record.id,
      detailType: event.detailType,
      error: error as Error,
    });
    return false;
  }
  try {
    await deps.repository.eventPublished(record);
  } catch (error) {
    // Published; a record left owing it is published once more by the sweep (a duplicate).
    logger.warn('A published event could not be taken off its record', {
      generationId: record.id,
      detailType: event.detailType,
      error: error as Error,
    });
  }
  return true;
}

/** The sweep's part: publishes every event owed for longer than the grace; answers how many. */
export async function publishOverdue(deps: OutboxDeps, now: Date): Promise<number> {
  const dueBefore = now.getTime() - OUTBOX_GRACE_SECONDS * 1000;
  let published = 0;
  for await (const record of deps.repository.owingEvents()) {
    if (Date.parse(record.pendingEvent.at) > dueBefore) continue;
    if (await publishOwed(record, deps)) published++;
  }
  return published;
}
