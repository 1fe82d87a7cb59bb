/** Publishing the catalogue's events (events.ts) on the pipeline's EventBridge bus. */
import type { PutEventsCommandInput, PutEventsCommandOutput } from '@aws-sdk/client-eventbridge';
import { PipelineError } from '#shared/errors/base.ts';
import { ErrorCodes } from '#shared/errors/codes.ts';
import type { PublishEvent } from './events.ts';

/** EventBridge answered that it did not take the event. */
export class EventNotAcceptedError extends PipelineError {
  override readonly name = 'EventNotAcceptedError';
  readonly code = ErrorCodes.INTERNAL_ERROR;
  readonly retryable = true;
}

/**
 * Sends one PutEvents request. The caller builds the command: a function that publishes at
 * every invocation imports `PutEventsCommand` statically, so its bundle keeps that operation's
 * schema only; one that rarely publishes loads the client on first use.
 */
export type PutEvents = (input: PutEventsCommandInput) => Promise<PutEventsCommandOutput>;

/** A publisher on `eventBusName`; it throws unless EventBridge accepted the event. */
export function eventBridgePublisher(putEvents: PutEvents, eventBusName: string): PublishEvent {
  return async (event) => {
    const answer = await putEvents({
      Entries: [
        {
          EventBusName: eventBusName,
          Source: event.source,
          DetailType: event.detailType,
          Detail: JSON.stringify(event.detail),
        },
      ],
    });
    if ((answer.FailedEntryCount ?? 0) > 0) {
      const entry = answer.Entries?.[0];
      throw new EventNotAcceptedError(
        `EventBridge did not accept "${event.detailType}": ${entry?.ErrorCode ?? 'unknown'} ${entry?.ErrorMessage ?? ''}`.trim(),
      );
    }
  };
}
