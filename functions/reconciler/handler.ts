/**
 * The reconciler: on a Step Functions "Execution Status Change" event it settles that one
 * execution; on its schedule ("Scheduled Event") it sweeps. See shared/generation/reconciler.ts.
 */
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { DescribeExecutionCommand, ExecutionDoesNotExist } from '@aws-sdk/client-sfn';
import type { EventBridgeEvent } from 'aws-lambda';
import { dynamoDb } from '../../shared/aws/dynamodb.ts';
import { eventBridge } from '../../shared/aws/event-bridge.ts';
import { stepFunctions } from '../../shared/aws/step-functions.ts';
import { EnvNames, envInt, readEnv } from '../../shared/config/env.ts';
import { providerSlotsFromEnv } from '../../shared/config/slots-env.ts';
import { EVENT_FAILED, EVENT_SOURCE } from '../../shared/generation/events.ts';
import {
  type ExecutionEnded,
  type ExecutionStatus,
  reconcileEndedExecution,
  sweep,
} from '../../shared/generation/reconciler.ts';
import { stepFunctionsWaker } from '../../shared/generation/slots.ts';
import { GenerationStore } from '../../shared/generation/store.ts';
import { lambdaHandler } from '../../shared/observability/handler.ts';
import { logger } from '../../shared/observability/powertools.ts';
import * as z from '../../shared/zod.ts';

const env = readEnv({
  [EnvNames.generationsTable]: z.string().check(z.minLength(1)),
  [EnvNames.stateMachineArn]: z.string().check(z.startsWith('arn:')),
  [EnvNames.eventBusName]: z.string().check(z.minLength(1)),
  [EnvNames.maxExecutionSeconds]: envInt(),
});
const executionArnPrefix = `${env[EnvNames.stateMachineArn].replace(':stateMachine:', ':execution:')}:`;

const deps = {
  store: new GenerationStore(dynamoDb(), env[EnvNames.generationsTable]),
  slots: providerSlotsFromEnv(dynamoDb()),
  wake: stepFunctionsWaker(async () => stepFunctions()),
  maxExecutionSeconds: env[EnvNames.maxExecutionSeconds],
  executionStatus: async (id: string): Promise<ExecutionStatus> => {
    try {
      const { status } = await stepFunctions().send(
        new DescribeExecutionCommand({ executionArn: `${executionArnPrefix}${id}` }),
      );
      return (status ?? 'MISSING') as ExecutionStatus;
    } catch (error) {
      if (error instanceof ExecutionDoesNotExist) return 'MISSING';
      throw error;
    }
  },
  publishFailed: async (
    record: { id: string; owner: string; source: string; sourceRef?: string },
    error: object,
  ) => {
    await eventBridge().send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: env[EnvNames.eventBusName],
            Source: EVENT_SOURCE,
            DetailType: EVENT_FAILED,
            Detail: JSON.stringify({
              id: record.id,
              owner: record.owner,
              status: 'failed',
              source: record.source,
              sourceRef: record.sourceRef,
              error,
            }),
          },
        ],
      }),
    );
  },
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
