/** Publishing the catalogue's events (events.ts) on the pipeline's EventBridge bus. */
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { LazyClient } from '#shared/aws/lazy.ts';
import { PipelineError } from '#shared/errors/base.ts';
import { ErrorCodes } from '#shared/errors/codes.ts';
import type { PublishEvent } from './events.ts';

/** EventBridge answered that it did not take the event. */
export class EventNotAcceptedError extends PipelineError {
  override readonly name = 'EventNotAcceptedError';
  readonly code = ErrorCodes.INTERNAL_ERROR;
  readonly retryable = true;
}

/** A publisher on `eventBusName`; it throws unless EventBridge accepted the event. */
export function eventBridgePublisher(
  eventBridge: LazyClient<EventBridgeClient>,
  eventBusName: string,
): PublishEvent {
  return async (event) => {
    const [client, { PutEventsCommand }] = await Promise.all([
      eventBridge(),
      import('@aws-sdk/client-eventbridge'),
    ]);
    const answer = await client.send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: eventBusName,
            Source: event.source,
            DetailType: event.detailType,
            Detail: JSON.stringify(event.detail),
          },
        ],
      }),
    );
    if ((answer.FailedEntryCount ?? 0) > 0) {
      const entry = answer.Entries?.[0];
      throw new EventNotAcceptedError(
        `EventBridge did not accept "${event.detailType}": ${entry?.ErrorCode ?? 'unknown'} ${entry?.ErrorMessage ?? ''}`.trim(),
      );
    }
  };
}
