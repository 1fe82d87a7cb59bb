/**
 * The reconciler: on a Step Functions "Execution Status Change" event it settles that one
 * execution; on its schedule ("Scheduled Event") it sweeps. See shared/generation/reconciler.ts.
 */
import { DescribeExecutionCommand, ExecutionDoesNotExist } from '@aws-sdk/client-sfn';
import type { EventBridgeEvent } from 'aws-lambda';
import { dynamoDb } from '#shared/aws/dynamodb.ts';
import { eventBridge } from '#shared/aws/event-bridge.ts';
import { stepFunctions } from '#shared/aws/step-functions.ts';
import { EnvNames, envInt, readEnv } from '#shared/config/env.ts';
import { providerSlotsFromEnv } from '#shared/config/slots-env.ts';
import { executionArnOf } from '#shared/generation/executions.ts';
import { eventBridgePublisher } from '#shared/generation/publisher.ts';
import {
  type ExecutionEnded,
  type ExecutionStatus,
  reconcileEndedExecution,
  sweep,
} from '#shared/generation/reconciler.ts';
import { GenerationRepository } from '#shared/generation/repository.ts';
import {
  DEFAULT_RECORD_RETENTION_DAYS,
  RECORD_RETENTION_DAYS_VARIABLE,
} from '#shared/generation/retention.ts';
import { stepFunctionsWaker } from '#shared/generation/slots.ts';
import { lambdaHandler } from '#shared/observability/handler.ts';
import { logger } from '#shared/observability/powertools.ts';
import * as z from '#shared/zod.ts';

const env = readEnv({
  [EnvNames.generationsTable]: z.string().check(z.minLength(1)),
  [EnvNames.stateMachineArn]: z.string().check(z.startsWith('arn:')),
  [EnvNames.eventBusName]: z.string().check(z.minLength(1)),
  [EnvNames.maxExecutionSeconds]: envInt(),
  [RECORD_RETENTION_DAYS_VARIABLE]: envInt(DEFAULT_RECORD_RETENTION_DAYS),
});
const deps = {
  store: new GenerationRepository(dynamoDb(), env[EnvNames.generationsTable], {
    retentionDays: env[RECORD_RETENTION_DAYS_VARIABLE],
  }),
  slots: providerSlotsFromEnv(dynamoDb()),
  wake: stepFunctionsWaker(async () => stepFunctions()),
  maxExecutionSeconds: env[EnvNames.maxExecutionSeconds],
  executionStatus: async (id: string): Promise<ExecutionStatus> => {
    try {
      const { status } = await stepFunctions().send(
        new DescribeExecutionCommand({
          executionArn: executionArnOf(env[EnvNames.stateMachineArn], id),
        }),
      );
      return (status ?? 'MISSING') as ExecutionStatus;
    } catch (error) {
      if (error instanceof ExecutionDoesNotExist) return 'MISSING';
      throw error;
    }
  },
  publish: eventBridgePublisher(async () => eventBridge(), env[EnvNames.eventBusName]),
};

type ReconcilerEvent =
  | EventBridgeEvent<'Step Functions Execution Status Change', ExecutionEnded>
  | EventBridgeEvent<'Scheduled Event', unknown>;

export const handler = lambdaHandler(async (event: ReconcilerEvent) => {
  const report =
    event['detail-type'] === 'Step Functions Execution Status Change'
      ? await reconcileEndedExecution(event.detail as ExecutionEnded, deps)
      : await sweep(deps);
  if (report.released + report.failed + report.woken > 0) logger.info('Reconciled', { ...report });
  return report;
});
