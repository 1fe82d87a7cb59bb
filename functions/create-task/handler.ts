/** Workflow step CreateTask: creates the Spark task (once), records its id, times the first poll. */
import { dynamoDb } from '#shared/aws/dynamodb.ts';
import { BatchRepository } from '#shared/batches/repository.ts';
import { pollingPolicyFromEnv } from '#shared/config/pipeline-env.ts';
import { RecordSettings, Resources } from '#shared/contracts/environment.ts';
import { readSettings } from '#shared/contracts/setting.ts';
import { PollingStatsStore } from '#shared/generation/polling-stats.ts';
import { type CreateTaskInput, createTaskStep } from '#shared/generation/steps.ts';
import { GenerationStore } from '#shared/generation/store.ts';
import { lambdaHandler } from '#shared/observability/handler.ts';
import { logger } from '#shared/observability/powertools.ts';
import { sparkClientFromEnv } from '#shared/spark/from-env.ts';

const { generationsTable, batchesTable, retentionDays } = readSettings({
  generationsTable: Resources.generationsTable,
  batchesTable: Resources.batchesTable,
  retentionDays: RecordSettings.retentionDays,
});
const policy = pollingPolicyFromEnv();
const batches = new BatchRepository(dynamoDb(), batchesTable);
const deps = {
  store: new GenerationStore(dynamoDb(), generationsTable, { batchesTable, retentionDays }),
  batchStatus: async (batchId: string) => (await batches.getHead(batchId))?.status,
  spark: sparkClientFromEnv(),
  policy,
  stats: new PollingStatsStore(dynamoDb(), generationsTable, policy.learnedSamples),
  warn: (message: string, error: unknown) => logger.warn(message, { error }),
};

export const handler = lambdaHandler(async (event: CreateTaskInput) => createTaskStep(event, deps));
