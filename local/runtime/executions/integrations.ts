/**
 * The service integrations of the local state machine: what a Task state's `Resource` does,
 * against the local servers. Lambda (`arn:aws:lambda:…` and `lambda:invoke.waitForTaskToken`),
 * the DynamoDB item calls, and EventBridge's PutEvents, each failing as Step Functions names its
 * errors (`DynamoDB.<exception>`, `EventBridge.AccessDeniedException`, `States.Timeout`).
 */
import {
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { AslState, ExecutionScope } from '#local/runtime/executions/scope.ts';
import { TaskFailure, type TaskTokens } from '#local/runtime/executions/task-tokens.ts';
import type { EngineOptions } from '#local/runtime/executions.ts';

/** What a Task state runs: its input in, its result out, or an error Step Functions would name. */
export type TaskHandler = (input: unknown, scope: ExecutionScope) => Promise<unknown>;

/** The DynamoDB integrations of Step Functions, as SDK commands taking the state's raw request. */
const DYNAMODB_COMMANDS: Record<string, (client: DynamoDBClient, input: never) => Promise<object>> =
  {
    updateItem: (client, input) => client.send(new UpdateItemCommand(input)),
    putItem: (client, input) => client.send(new PutItemCommand(input)),
    getItem: (client, input) => client.send(new GetItemCommand(input)),
    deleteItem: (client, input) => client.send(new DeleteItemCommand(input)),
  };

/** What the integrations call: the local servers, signed and authorised as the state machine's role. */
export type IntegrationDeps = Pick<
  EngineOptions,
  'lambda' | 'dynamodb' | 'authorizeIntegration' | 'putEvents'
> & {
  /** The engine's task tokens, which `waitForTaskToken` states wait on. */
  readonly tokens: TaskTokens;
};

/** The service integration a Task's Resource names, executed against the local servers. */
export function serviceIntegration(
  resource: string,
  state: AslState,
  deps: IntegrationDeps,
): TaskHandler {
  if (resource.startsWith('arn:aws:lambda:')) {
    return (input) => deps.lambda.invoke(resource, input);
  }
  if (resource === 'arn:aws:states:::lambda:invoke.waitForTaskToken') {
    // The function is invoked with the token in its payload; the state then waits, without
    // polling, until someone answers the token (SendTaskSuccess/Failure) or it times out.
    return async (input, scope) => {
      const { FunctionName, Payload } = input as { FunctionName: string; Payload: unknown };
      const token = scope.takeHandedOutToken();
      if (token === undefined) throw new Error(`${resource} needs $$.Task.Token in its payload`);
      const answered = deps.tokens.expect(token, scope.executionName);
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<never>((_resolve, reject) => {
        if (state.TimeoutSeconds === undefined) return;
        timer = setTimeout(() => {
          deps.tokens.close(token);
          reject(new TaskFailure('States.Timeout', 'The task timed out waiting for its token'));
        }, state.TimeoutSeconds * 1000);
      });
      try {
        await deps.lambda.invoke(FunctionName, Payload);
        return await Promise.race([answered, timedOut]);
      } catch (error) {
        deps.tokens.close(token);
        throw error;
      } finally {
        clearTimeout(timer);
      }
    };
  }
  const dynamodb = /^arn:aws:states:::dynamodb:(\w+)$/.exec(resource)?.[1];
  if (dynamodb !== undefined) {
    const command = DYNAMODB_COMMANDS[dynamodb];
    if (!command) throw new Error(`Unsupported DynamoDB integration ${resource}`);
    return async (input) => {
      try {
        const { $metadata: _, ...answer } = (await command(deps.dynamodb, input as never)) as {
          $metadata?: unknown;
        };
        return JSON.parse(JSON.stringify(answer));
      } catch (error) {
        // Step Functions names service errors "DynamoDB.<exception>".
        const failure = new Error((error as Error).message);
        failure.name = `DynamoDB.${(error as Error).name}`;
        throw failure;
      }
    };
  }
  if (resource === 'arn:aws:states:::events:putEvents') {
    return async (input) => {
      const entries = (input as { Entries: Array<Record<string, unknown>> }).Entries;
      for (const bus of new Set(entries.map((entry) => String(entry.EventBusName ?? 'default')))) {
        const refusal = deps.authorizeIntegration?.({
          action: 'events:PutEvents',
          resource: bus.startsWith('arn:')
            ? bus
            : `arn:aws:events:us-east-1:000000000000:event-bus/${bus}`,
        });
        if (refusal) throw new TaskFailure('EventBridge.AccessDeniedException', refusal.message);
      }
      const ids = await deps.putEvents(entries);
      return { Entries: ids.map((EventId) => ({ EventId })), FailedEntryCount: 0 };
    };
  }
  throw new Error(`The local runtime has no integration for ${resource}`);
}
