import './env.ts';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { ExecutionDoesNotExist, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import {
  ACCOUNT,
  apiEvent,
  bodyOf,
  documentedBodyOf,
  EVENT_BUS_NAME,
  EXPECTED_HEADERS,
  errorOf,
  lambdaContext,
  loadApiFunction,
  REGION,
  storedRecord,
  TABLES,
} from './support.ts';
import 'aws-sdk-client-mock-vitest/extend';
import { beforeEach, describe, expect, it } from 'vitest';
import { generationViewSchema } from '#shared/api/schemas.ts';
import { ErrorCodes } from '#shared/errors/codes.ts';

const { handler, documents, stepFunctions, events } = await loadApiFunction('cancel-generation');

const cancelEvent = (id: string, owner: string | null = 'alice') =>
  apiEvent({ method: 'DELETE', path: `/generations/${id}`, pathParameters: { id }, owner });

const running = storedRecord({
  status: 'running',
  ownerStatus: 'alice#running',
  sparkTaskId: 'task-9',
});
const cancelledError = { code: '090003007', message: 'The generation was cancelled by its owner' };

function answerUpdateWithCancelled(): void {
  documents.on(UpdateCommand).callsFake((input: UpdateCommand['input']) => {
    const values = input.ExpressionAttributeValues ?? {};
    return {
      Attributes: {
        ...running,
        status: 'cancelled',
        ownerStatus: values[':ownerStatus'],
        error: values[':error'],
        updatedAt: values[':now'],
        completedAt: values[':now'],
      },
    };
  });
}

beforeEach(() => {
  documents.on(GetCommand).resolves({ Item: running });
  answerUpdateWithCancelled();
  stepFunctions.on(StopExecutionCommand).resolves({ stopDate: new Date() });
  events.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] });
});

describe('DELETE /generations/{id}', () => {
  it('records the generation cancelled, stops its execution, publishes the event and answers the record', async () => {
    // Act
    const result = await handler(cancelEvent('gen-1'), lambdaContext());

    // Assess
    const body = documentedBodyOf(result, 200, generationViewSchema);
    expect(body).toMatchObject({ id: 'gen-1', status: 'cancelled', error: cancelledError });
    expect(body.completedAt).toEqual(expect.any(String));
    expect(documents).toHaveReceivedCommandWith(UpdateCommand, {
      TableName: TABLES.generations,
      Key: { id: 'gen-1' },
      ConditionExpression: '#owner = :owner AND #status IN (:queued, :running)',
      ExpressionAttributeValues: expect.objectContaining({
        ':cancelled': 'cancelled',
        ':owner': 'alice',
        ':ownerStatus': 'alice#cancelled',
        ':error': cancelledError,
      }),
    });
    expect(stepFunctions).toHaveReceivedCommandWith(StopExecutionCommand, {
      executionArn: `arn:aws:states:${REGION}:${ACCOUNT}:execution:generation:gen-1`,
    });
    const entry = events.commandCalls(PutEventsCommand)[0]?.args[0].input.Entries?.[0];
    expect(entry).toMatchObject({
      EventBusName: EVENT_BUS_NAME,
      Source: 'spark-t2i',
      DetailType: 'Generation Cancelled',
    });
    expect(JSON.parse(entry?.Detail ?? '{}')).toEqual({
      id: 'gen-1',
      owner: 'alice',
      status: 'cancelled',
      error: cancelledError,
      webhookEvents: [],
    });
  });

  it('cancels a queued generation whose execution has not started yet', async () => {
    // Prepare
    documents.on(GetCommand).resolves({ Item: storedRecord() });
    stepFunctions
      .on(StopExecutionCommand)
      .rejects(new ExecutionDoesNotExist({ message: 'Execution does not exist', $metadata: {} }));

    // Act
    const result = await handler(cancelEvent('gen-1'), lambdaContext());

    // Assess
    expect(result.statusCode).toBe(200);
    expect(bodyOf(result).status).toBe('cancelled');
    expect(events).toHaveReceivedCommandTimes(PutEventsCommand, 1);
  });

  it('still answers the cancelled record when the execution cannot be stopped or the event not sent', async () => {
    // Prepare
    stepFunctions.on(StopExecutionCommand).rejects(new Error('ThrottlingException'));
    events.on(PutEventsCommand).rejects(new Error('InternalException'));

    // Act
    const result = await handler(cancelEvent('gen-1'), lambdaContext());

    // Assess
    expect(result.statusCode).toBe(200);
    expect(bodyOf(result).status).toBe('cancelled');
  });

  it.each(['completed', 'failed', 'cancelled'])(
    'answers 409 090004009 for a %s generation and writes nothing',
    async (status) => {
      // Prepare
      documents.on(GetCommand).resolves({ Item: storedRecord({ status }) });

      // Act
      const result = await handler(cancelEvent('gen-1'), lambdaContext());

      // Assess
      expect(result.statusCode).toBe(409);
      expect(result.headers).toEqual(EXPECTED_HEADERS);
      expect(errorOf(result)).toEqual({
        code: ErrorCodes.API_NOT_CANCELLABLE,
        message: `The generation is already ${status} and cannot be cancelled`,
      });
      expect(documents).not.toHaveReceivedCommand(UpdateCommand);
      expect(stepFunctions).not.toHaveReceivedAnyCommand();
      expect(events).not.toHaveReceivedAnyCommand();
    },
  );

  it('answers 409 when the generation ends between the read and the write', async () => {
    // Prepare
    documents
      .on(GetCommand)
      .resolvesOnce({ Item: running })
      .resolves({ Item: storedRecord({ status: 'completed' }) });
    documents.on(UpdateCommand).rejects(
      new ConditionalCheckFailedException({
        message: 'The conditional request failed',
        $metadata: {},
      }),
    );

    // Act
    const result = await handler(cancelEvent('gen-1'), lambdaContext());

    // Assess
    expect(result.statusCode).toBe(409);
    expect(errorOf(result).message).toContain('already completed');
    expect(stepFunctions).not.toHaveReceivedAnyCommand();
  });

  it("answers 404 090004002 for another owner's generation and for a missing one", async () => {
    // Prepare
    documents.on(GetCommand).resolves({ Item: storedRecord({ owner: 'bob', status: 'running' }) });
    const foreign = await handler(cancelEvent('gen-1'), lambdaContext());
    documents.on(GetCommand).resolves({});

    // Act
    const missing = await handler(cancelEvent('gen-2'), lambdaContext());

    // Assess
    expect(foreign.statusCode).toBe(404);
    expect(missing.statusCode).toBe(404);
    expect(errorOf(foreign)).toEqual(errorOf(missing));
    expect(errorOf(foreign).code).toBe(ErrorCodes.API_NOT_FOUND);
    expect(documents).not.toHaveReceivedCommand(UpdateCommand);
    expect(stepFunctions).not.toHaveReceivedAnyCommand();
  });

  it('answers 401 090004001 when the authorizer gave no owner', async () => {
    // Act
    const result = await handler(cancelEvent('gen-1', null), lambdaContext());

    // Assess
    expect(result.statusCode).toBe(401);
    expect(documents).not.toHaveReceivedAnyCommand();
  });

  it('answers a generic 500 when the write fails for another reason', async () => {
    // Prepare
    documents.on(UpdateCommand).rejects(new Error('InternalServerError: partition p-17'));

    // Act
    const result = await handler(cancelEvent('gen-1'), lambdaContext());

    // Assess
    expect(result.statusCode).toBe(500);
    expect(errorOf(result).code).toBe(ErrorCodes.API_INTERNAL_ERROR);
    expect(result.body).not.toContain('p-17');
    expect(stepFunctions).not.toHaveReceivedAnyCommand();
  });
});
