/**
 * Batch progress: on each "Generation Completed | Failed | Cancelled" event of a batch line (the
 * event bus delivers at least once), counts the line's end in its batch (once, however often the
 * event comes) and ends the batch when its file is read and every line has ended.
 */
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { EventBridgeEvent } from 'aws-lambda';
import { dynamoDb } from '#shared/aws/dynamodb.ts';
import { eventBridge } from '#shared/aws/event-bridge.ts';
import { countBatchLineEnd } from '#shared/batches/progress.ts';
import { BatchRepository } from '#shared/batches/repository.ts';
import { BatchProgressSettings } from '#shared/contracts/environment.ts';
import { readSettings } from '#shared/contracts/setting.ts';
import { eventBridgePublisher } from '#shared/generation/publisher.ts';
import { GenerationRepository } from '#shared/generation/repository.ts';
import { lambdaHandler } from '#shared/observability/handler.ts';

const { generationsTable, batchesTable, eventBusName } = readSettings(BatchProgressSettings);
const deps = {
  generations: new GenerationRepository(dynamoDb(), generationsTable, { batchesTable }),
  batches: new BatchRepository(dynamoDb(), batchesTable),
  publish: eventBridgePublisher(
    (input) => eventBridge().send(new PutEventsCommand(input)),
    eventBusName,
  ),
};

export const handler = lambdaHandler(
  async (event: EventBridgeEvent<string, { readonly id?: unknown }>) =>
    countBatchLineEnd(event.detail, deps),
);
