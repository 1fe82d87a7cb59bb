/**
 * The reconciler: on a Step Functions "Execution Status Change" event it settles that one
 * execution; on its schedule ("Scheduled Event") it sweeps. See shared/generation/reconciler.ts.
 */

import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { DescribeExecutionCommand, ExecutionDoesNotExist } from '@aws-sdk/client-sfn';
import type { EventBridgeEvent } from 'aws-lambda';
import { dynamoDb } from '#shared/aws/dynamodb.ts';
import { eventBridge } from '#shared/aws/event-bridge.ts';
import { stepFunctions } from '#shared/aws/step-functions.ts';
import { BatchRepository } from '#shared/batches/repository.ts';
import { sweepBatches } from '#shared/batches/sweep.ts';
import { providerSlotsFromEnv } from '#shared/config/slots-env.ts';
import { ReconcilerSettings } from '#shared/contracts/environment.ts';
import { readSettings } from '#shared/contracts/setting.ts';
import { executionArnOf } from '#shared/generation/executions.ts';
import { eventBridgePublisher } from '#shared/generation/publisher.ts';
import {
  type ExecutionEnded,
  type ExecutionStatus,
  reconcileEndedExecution,
  sweep,
} from '#shared/generation/reconciler.ts';
import { GenerationRepository } from '#shared/generation/repository.ts';
import { stepFunctionsWaker } from '#shared/generation/slots.ts';
import { lambdaHandler } from '#shared/observability/handler.ts';
import { logger } from '#shared/observability/powertools.ts';

const settings = readSettings(ReconcilerSettings);
const deps = {
  store: new GenerationRepository(dynamoDb(), settings.generationsTable, {
    retentionDays: settings.recordRetentionDays,
  }),
  slots: providerSlotsFromEnv(dynamoDb()),
  wake: stepFunctionsWaker(async () => stepFunctions()),
  maxExecutionSeconds: settings.maxExecutionSeconds,
  executionStatus: async (id: string): Promise<ExecutionStatus> => {
    try {
      const { status } = await stepFunctions().send(
        new DescribeExecutionCommand({
          executionArn: executionArnOf(settings.stateMachineArn, id),
        }),
      );
      return (status ?? 'MISSING') as ExecutionStatus;
    } catch (error) {
      if (error instanceof ExecutionDoesNotExist) return 'MISSING';
      throw error;
    }
  },
  publish: eventBridgePublisher(
    (input) => eventBridge().send(new PutEventsCommand(input)),
    settings.eventBusName,
  ),
};

type ReconcilerEvent =
  | EventBridgeEvent<'Step Functions Execution Status Change', ExecutionEnded>
  | EventBridgeEvent<'Scheduled Event', unknown>;

const batchDeps = {
  generations: new GenerationRepository(dynamoDb(), settings.generationsTable, {
    retentionDays: settings.recordRetentionDays,
    batchesTable: settings.batchesTable,
  }),
  batches: new BatchRepository(dynamoDb(), settings.batchesTable),
  publish: deps.publish,
};

export const handler = lambdaHandler(async (event: ReconcilerEvent) => {
  if (event['detail-type'] === 'Step Functions Execution Status Change') {
    const report = await reconcileEndedExecution(event.detail as ExecutionEnded, deps);
    if (report.released + report.failed + report.woken > 0)
      logger.info('Reconciled', { ...report });
    return report;
  }
  const report = { ...(await sweep(deps)), batches: await sweepBatches(batchDeps) };
  const { published, recounted, ended } = report.batches;
  if (report.released + report.failed + report.woken + published + recounted + ended > 0) {
    logger.info('Reconciled', { ...report });
  }
  return report;
});
