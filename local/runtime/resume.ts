/**
 * Carrying on what the last run left unfinished (stopped or killed): generations not yet
 * terminal, executions started before their generation had a record, the events of executions
 * cut off between their generation's end and its publication, and S3 deliveries cut off.
 */
import { type DynamoDBDocumentClient, GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { ExecutionEngine } from '#local/runtime/executions.ts';
import type { PendingJournal, PendingWork } from '#local/runtime/journal.ts';
import {
  EVENT_CANCELLED,
  EVENT_COMPLETED,
  EVENT_FAILED,
  eventOfRecord,
  type PublishEvent,
} from '#shared/generation/events.ts';
import { ACTIVE_STATUSES, type GenerationRecord, isTerminal } from '#shared/generation/model.ts';

/** In the data dir: executions started and not ended. */
export const EXECUTIONS_JOURNAL = 'executions-in-flight.jsonl';

/**
 * Every unfinished generation carried on: those with a record first, then the executions cut off
 * before their generation had one. The names of the generations started again.
 */
export async function resumeGenerations(
  documents: DynamoDBDocumentClient,
  generationsTable: string,
  engine: ExecutionEngine,
  executionsInFlight: {
    readonly pending: readonly PendingWork<string>[];
    readonly journal: PendingJournal<string>;
  },
  publish: PublishEvent,
): Promise<string[]> {
  const resumed = await resumeUnfinished(documents, generationsTable, engine);
  resumed.push(
    ...(await resumeUnrecorded(
      executionsInFlight.pending,
      documents,
      generationsTable,
      engine,
      executionsInFlight.journal,
      publish,
    )),
  );
  return resumed;
}

/**
 * Executions that were running when the last run stopped and whose generation has no record yet
 * (a prompt file's or a schedule's, cut off before its first state wrote it) are started again
 * with the same name and input. Those with a record are the record's to carry on (`resumeUnfinished`); a
 * terminal one is done.
 */
async function resumeUnrecorded(
  pending: readonly PendingWork<string>[],
  documents: DynamoDBDocumentClient,
  tableName: string,
  engine: ExecutionEngine,
  journal: PendingJournal<string>,
  publish: PublishEvent,
): Promise<string[]> {
  const running = new Set(
    engine
      .list()
      .filter((execution) => execution.status === 'RUNNING')
      .map((execution) => execution.name),
  );
  const resumed: string[] = [];
  for (const { id: name, value: input } of pending) {
    if (running.has(name)) continue;
    const { Item } = await documents.send(
      new GetCommand({ TableName: tableName, Key: { id: name }, ConsistentRead: true }),
    );
    if (Item) {
      await publishWhatTheExecutionOwed(Item as GenerationRecord, publish);
      journal.ended(name);
      continue;
    }
    engine.start(name, input);
    resumed.push(name);
  }
  return resumed;
}

/**
 * Executions live in memory; on start, every generation not yet terminal is carried on by a new
 * execution under its own name. CreateTask finds a recorded Spark task and polls it rather than
 * creating another; one whose creation answer was lost is created again.
 */
async function resumeUnfinished(
  documents: DynamoDBDocumentClient,
  tableName: string,
  engine: ExecutionEngine,
): Promise<string[]> {
  const resumed: string[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await documents.send(
      new ScanCommand({
        TableName: tableName,
        FilterExpression: '#status IN (:queued, :running)',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: {
          ':queued': ACTIVE_STATUSES[0],
          ':running': ACTIVE_STATUSES[1],
        },
        ExclusiveStartKey: startKey,
      }),
    );
    for (const item of (page.Items ?? []) as GenerationRecord[]) {
      const input = {
        id: item.id,
        request: item.request,
        source: item.source,
        sourceRef: item.sourceRef ?? `resume:${item.id}`,
        owner: item.owner,
        // Every field the workflow reads: its end's events name what the webhook asked for.
        webhookEvents: item.webhook?.events ?? [],
      };
      engine.start(item.id, JSON.stringify(input));
      resumed.push(item.id);
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return resumed;
}

/**
 * An execution cut off after it recorded its generation's end and before it published the event
 * (PublishCompleted, PublishFailed) would carry on to it on AWS; locally executions live in
 * memory, so the event is published here, from the record (at least once: it may have been
 * published already). A record that owes its event keeps it for the outbox instead.
 */
async function publishWhatTheExecutionOwed(
  record: GenerationRecord,
  publish: PublishEvent,
): Promise<void> {
  if (!isTerminal(record.status) || record.pendingEvent !== undefined) return;
  const type = EVENT_BY_STATUS[record.status as 'completed' | 'failed' | 'cancelled'];
  await publish(eventOfRecord(type, record));
}

const EVENT_BY_STATUS = {
  completed: EVENT_COMPLETED,
  failed: EVENT_FAILED,
  cancelled: EVENT_CANCELLED,
} as const;
