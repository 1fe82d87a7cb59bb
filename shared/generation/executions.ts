/**
 * The executions of the generation workflow, named after their generations: starting one,
 * stopping one, and the ARN one is known by. Step Functions is loaded on first use, so a function
 * whose route never calls it does not load it at its cold start (shared/aws/lazy.ts).
 */
import type { SFNClient } from '@aws-sdk/client-sfn';
import type { LazyClient } from '#shared/aws/lazy.ts';
import { ConfigurationError } from '#shared/contracts/setting.ts';
import type { WorkflowInput } from './workflow-input.ts';

/** `arn:…:stateMachine:<name>` -> `arn:…:execution:<name>:<execution name>`. */
export function executionArnOf(stateMachineArn: string, executionName: string): string {
  const match = /^(arn:[^:]+:states:[^:]*:[^:]*):stateMachine:([^:]+)$/.exec(stateMachineArn);
  if (match === null) {
    throw new ConfigurationError(`Not a state machine ARN: ${stateMachineArn}`);
  }
  return `${match[1]}:execution:${match[2]}:${executionName}`;
}

/**
 * The execution's input as StartExecution takes it: every field the workflow's states read is
 * present (a JSONPath to a missing field fails the state), `webhookEvents` empty when none. Here,
 * away from the input's schema, so that a route that only stops executions does not build the
 * request schema at import.
 */
export function executionInputText(input: WorkflowInput & { readonly id: string }): string {
  return JSON.stringify({ ...input, webhookEvents: input.webhookEvents ?? [] });
}

export interface WorkflowExecutions {
  /** Starts the execution named `input.id`; one of that name already there counts as started. */
  start(input: WorkflowInput & { readonly id: string }): Promise<void>;
  /**
   * Stops the execution named `id` with an error and a cause; one that does not exist (not
   * started yet, or ended) counts as stopped.
   */
  stop(id: string, error: string, cause: string): Promise<void>;
}

export function stepFunctionsExecutions(
  stepFunctions: LazyClient<SFNClient>,
  stateMachineArn: string,
): WorkflowExecutions {
  return {
    async start(input) {
      const [client, { StartExecutionCommand }] = await Promise.all([
        stepFunctions(),
        import('@aws-sdk/client-sfn'),
      ]);
      try {
        await client.send(
          new StartExecutionCommand({
            stateMachineArn,
            name: input.id,
            input: executionInputText(input),
          }),
        );
      } catch (error) {
        if ((error as Error).name !== 'ExecutionAlreadyExists') throw error;
      }
    },
    async stop(id, error, cause) {
      const [client, { StopExecutionCommand }] = await Promise.all([
        stepFunctions(),
        import('@aws-sdk/client-sfn'),
      ]);
      try {
        await client.send(
          new StopExecutionCommand({
            executionArn: executionArnOf(stateMachineArn, id),
            error,
            cause,
          }),
        );
      } catch (caught) {
        if ((caught as Error).name !== 'ExecutionDoesNotExist') throw caught;
      }
    },
  };
}
