/**
 * EventBridge's PutEvents in the local runtime, for both of its callers (the state machine's
 * `events:putEvents` tasks and the functions' PutEvents calls to the control plane): each entry
 * becomes the event EventBridge would deliver, is appended to the local event log
 * (`events.jsonl`, one JSON object a line, with the bus it was put on), and is then handed to
 * the rules of its bus (`event-rules.ts`).
 */

import { randomUUID } from 'node:crypto';
import { appendFile } from 'node:fs/promises';
import { LOCAL_REGION } from '#local/runtime/storage.ts';
import type { PublishEvent } from '#shared/generation/events.ts';
import { eventBridgePublisher } from '#shared/generation/publisher.ts';

const ACCOUNT = '000000000000';

/** An event as EventBridge delivers it to a rule's target. */
export interface EventBridgeEvent {
  readonly version: '0';
  readonly id: string;
  readonly 'detail-type': unknown;
  readonly source: unknown;
  readonly account: string;
  readonly time: string;
  readonly region: string;
  readonly resources: unknown;
  readonly detail: unknown;
}

/** An event and the name of the bus it was put on. */
export interface BusEvent {
  readonly bus: string;
  readonly event: EventBridgeEvent;
}

/** PutEvents' entries in, their event ids out (in order), once journaled. */
export type PutEvents = (entries: ReadonlyArray<Record<string, unknown>>) => Promise<string[]>;

/**
 * PutEvents, locally: the entries journaled to `eventsFile`, then passed to `route` (which
 * delivers asynchronously: PutEvents answers once the events are accepted, not delivered).
 */
export function localPutEvents(eventsFile: string, route: (events: BusEvent[]) => void): PutEvents {
  return async (entries) => {
    const events = entries.map((entry) => ({ entry, event: eventOf(entry) }));
    const lines = events.map(({ entry, event }) => {
      const { detail, ...head } = event;
      return `${JSON.stringify({ ...head, 'event-bus': entry.EventBusName ?? 'default', detail })}\n`;
    });
    await appendFile(eventsFile, lines.join(''));
    route(events.map(({ entry, event }) => ({ bus: busName(entry.EventBusName), event })));
    return events.map(({ event }) => event.id);
  };
}

/** The event EventBridge makes of a PutEvents entry (its `Detail` is a JSON string). */
function eventOf(entry: Record<string, unknown>): EventBridgeEvent {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': entry.DetailType,
    source: entry.Source,
    account: ACCOUNT,
    time: new Date().toISOString(),
    region: LOCAL_REGION,
    resources: entry.Resources ?? [],
    detail: typeof entry.Detail === 'string' ? JSON.parse(entry.Detail) : entry.Detail,
  };
}

/**
 * The name of a bus given by name or ARN (`…:event-bus/<name>`), as PutEvents entries and rules
 * may name it; none is the default bus.
 */
export function busName(nameOrArn: unknown): string {
  if (nameOrArn === undefined || nameOrArn === null || nameOrArn === '') return 'default';
  const text = String(nameOrArn);
  const marker = text.indexOf(':event-bus/');
  return text.startsWith('arn:') && marker !== -1
    ? text.slice(marker + ':event-bus/'.length)
    : text;
}

/** The pipeline's event publisher, for the runtime's own events, on the local bus. */
export function localPublisher(putEvents: PutEvents, eventBusName: string): PublishEvent {
  return eventBridgePublisher(async (input) => {
    const ids = await putEvents((input.Entries ?? []) as Array<Record<string, unknown>>);
    return { FailedEntryCount: 0, Entries: ids.map((EventId) => ({ EventId })), $metadata: {} };
  }, eventBusName);
}
