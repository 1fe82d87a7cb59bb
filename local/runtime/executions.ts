/**
 * Runs executions of the synthesized state machine with the aws-local-stepfunctions interpreter.
 * Every Task state is executed for real (`executions/integrations.ts`): Lambda tasks invoke the
 * local Lambda service, DynamoDB tasks send their request to the local DynamoDB with the SDK,
 * EventBridge tasks put their events on the local bus. Names are unique as in Step Functions:
 * starting a name that runs already is a no-op, starting one that ended is refused.
 *
 * `timeScale` shortens Wait states and retry intervals (computed as Step Functions would, then
 * scaled; `executions/scope.ts`); the provider's own latency is not scaled. Task tokens are in
 * `executions/task-tokens.ts`.
 */

import { randomUUID } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  ExecutionAbortedError,
  type ExecutionError,
  ExecutionTimeoutError,
  StateMachine,
} from 'aws-local-stepfunctions';
import type { RequestedAccess } from '#local/aws/access.ts';
import type { PutEvents } from '#local/runtime/event-bus.ts';
import { serviceIntegration, type TaskHandler } from '#local/runtime/executions/integrations.ts';
import { type AslState, ExecutionScope } from '#local/runtime/executions/scope.ts';
import { TaskTokens } from '#local/runtime/executions/task-tokens.ts';
import type { Invoker } from '#local/runtime/invoke-access.ts';
import { executionArnOf } from '#shared/generation/executions.ts';

export { TaskTokenError } from '#local/runtime/executions/task-tokens.ts';

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

export interface ExecutionRecord {
  readonly name: string;
  readonly executionArn: string;
  readonly input: string;
  readonly startDate: Date;
  status: ExecutionStatus;
  stopDate?: Date;
  error?: string;
  cause?: string;
  /** States entered (the billed state transitions of a Standard workflow). */
  transitions: number;
  /** Retries made, by state name. */
  retries: Record<string, number>;
  /** The state it entered last (where a running execution stands). */
  currentState?: string;
  /**
   * Aborted because the runtime shut down, not stopped by anyone: on AWS the execution would go
   * on, so it is carried on at the next start and no status-change event is emitted for it.
   */
  interrupted?: boolean;
  readonly done: Promise<void>;
}

export class ExecutionAlreadyExistsError extends Error {
  constructor(name: string) {
    super(`Execution already exists: ${name}`);
    this.name = 'ExecutionAlreadyExists';
  }
}

export class ExecutionDoesNotExistError extends Error {
  constructor(arn: string) {
    super(`Execution does not exist: ${arn}`);
    this.name = 'ExecutionDoesNotExist';
  }
}

export interface EngineOptions {
  readonly asl: Record<string, unknown>;
  readonly stateMachineArn: string;
  /** Invokes the state machine's functions (as its role). */
  readonly lambda: Invoker;
  /** Calls its direct DynamoDB integrations (signed as its role). */
  readonly dynamodb: DynamoDBClient;
  /**
   * Authorises an integration served in-process (EventBridge PutEvents) for the state machine's
   * role: the refusal to raise, or undefined when allowed.
   */
  readonly authorizeIntegration?: (access: RequestedAccess) => Error | undefined;
  /** EventBridge's PutEvents (journaled and routed to the rules of each bus: `event-bus.ts`). */
  readonly putEvents: PutEvents;
  /** Every Wait and retry interval lasts this many times as long. @default 1 */
  readonly timeScale?: number;
  /**
   * Told of each execution started (its name and input) and of each that ended, so executions
   * cut off by a stop or a kill can be carried on at the next start. An execution interrupted
   * by the runtime's own shutdown has not ended. @default none
   */
  readonly journal?: ExecutionJournal;
}

export interface ExecutionJournal {
  started(name: string, input: string): void;
  ended(name: string): void;
}

export class ExecutionEngine {
  readonly #options: EngineOptions;
  readonly #states: Record<string, AslState>;
  readonly #machine: StateMachine;
  readonly #executions = new Map<string, ExecutionRecord & { abort: () => void }>();
  readonly #listeners: Array<(execution: ExecutionRecord) => void> = [];
  readonly #tokens = new TaskTokens();

  constructor(options: EngineOptions) {
    this.#options = options;
    this.#states = (options.asl as { States: Record<string, AslState> }).States;
    this.#machine = new StateMachine(options.asl as never, {
      validationOptions: { checkArn: false },
    });
  }

  get stateMachineArn(): string {
    return this.#options.stateMachineArn;
  }

  executionArn(name: string): string {
    return executionArnOf(this.#options.stateMachineArn, name);
  }

  /** Called when an execution ends, whatever the outcome. */
  onExecutionEnd(listener: (execution: ExecutionRecord) => void): void {
    this.#listeners.push(listener);
  }

  /** Starts an execution; the same name and input while it runs answers the running one. */
  start(name: string | undefined, input: string): ExecutionRecord {
    const executionName = name ?? randomUUID();
    const existing = this.#executions.get(executionName);
    if (existing) {
      if (existing.status === 'RUNNING' && existing.input === input) return existing;
      throw new ExecutionAlreadyExistsError(executionName);
    }
    const parsedInput = JSON.parse(input) as unknown;
    this.#options.journal?.started(executionName, input);
    return this.#run(executionName, input, parsedInput);
  }

  stop(executionArn: string, error?: string, cause?: string): ExecutionRecord {
    const name = executionArn.split(':').pop() ?? '';
    const execution = this.#executions.get(name);
    if (!execution) throw new ExecutionDoesNotExistError(executionArn);
    if (execution.status === 'RUNNING') {
      execution.error = error;
      execution.cause = cause;
      execution.abort();
    }
    return execution;
  }

  /** SendTaskSuccess: the waiting state ends with `output` (a JSON string) as its result. */
  sendTaskSuccess(token: string, output: string): void {
    this.#tokens.succeed(token, JSON.parse(output));
  }

  /** SendTaskFailure: the waiting state fails with this error name and cause. */
  sendTaskFailure(token: string, error = 'States.TaskFailed', cause = ''): void {
    this.#tokens.fail(token, error, cause);
  }

  sendTaskHeartbeat(token: string): void {
    this.#tokens.heartbeat(token);
  }

  describe(executionArn: string): ExecutionRecord {
    const name = executionArn.split(':').pop() ?? '';
    const execution = this.#executions.get(name);
    if (!execution) throw new ExecutionDoesNotExistError(executionArn);
    return execution;
  }

  list(): ExecutionRecord[] {
    return [...this.#executions.values()];
  }

  /** Resolves when every execution started so far has ended. */
  async idle(): Promise<void> {
    await Promise.all([...this.#executions.values()].map((execution) => execution.done));
  }

  /** Stops every running execution (the runtime is shutting down). */
  abortAll(): void {
    for (const execution of this.#executions.values()) {
      if (execution.status === 'RUNNING') {
        execution.interrupted = true;
        execution.abort();
      }
    }
  }

  #run(name: string, input: string, parsedInput: unknown): ExecutionRecord & { abort: () => void } {
    const executionArn = this.executionArn(name);
    const perExecution = new ExecutionScope(name, this.#states, this.#options.timeScale ?? 1);
    const handlers = this.#taskHandlers(perExecution);
    const tokens = this.#tokens;
    const startDate = new Date();
    const run = this.#machine.run(parsedInput as never, {
      noThrowOnAbort: false,
      context: {
        Execution: {
          Id: executionArn,
          Name: name,
          StartTime: startDate.toISOString(),
          RoleArn: 'arn:aws:iam::000000000000:role/local',
        },
        StateMachine: {
          Id: this.#options.stateMachineArn,
          Name: this.#options.stateMachineArn.split(':').pop(),
        },
        // The interpreter does not fill $$.State; the getter answers the time it is read, which is
        // when the state reads it.
        State: {
          get EnteredTime() {
            return new Date().toISOString();
          },
        },
        // A fresh token each time a state reads it (a `.waitForTaskToken` state's Parameters).
        Task: {
          get Token() {
            return perExecution.handOutToken(tokens.mint(name));
          },
        },
      } as never,
      overrides: {
        taskResourceLocalHandlers: handlers as never,
        waitTimeOverrides: perExecution.waitOverrides() as never,
        retryIntervalOverrides: perExecution.retryOverrides() as never,
      },
    });
    let settle: () => void = () => undefined;
    const done = new Promise<void>((resolve) => {
      settle = resolve;
    });
    const record: ExecutionRecord & { abort: () => void } = {
      name,
      executionArn,
      input,
      startDate,
      status: 'RUNNING',
      transitions: 0,
      retries: {},
      done,
      abort: run.abort,
    };
    this.#executions.set(name, record);
    void this.#follow(run.eventLogs, record);
    run.result
      .then(
        () => {
          record.status = 'SUCCEEDED';
        },
        (error: unknown) => {
          if (error instanceof ExecutionAbortedError) record.status = 'ABORTED';
          else if (error instanceof ExecutionTimeoutError) record.status = 'TIMED_OUT';
          else {
            record.status = 'FAILED';
            const cause = (
              error as ExecutionError & { cause?: { name?: string; message?: string } }
            ).cause;
            record.error ??= cause?.name ?? (error as Error).name;
            record.cause ??= cause?.message ?? (error as Error).message;
          }
        },
      )
      .finally(() => {
        this.#tokens.closeExecution(name);
        if (!record.interrupted) this.#options.journal?.ended(name);
        record.stopDate = new Date();
        for (const listener of this.#listeners) listener(record);
        settle();
      });
    return record;
  }

  /** Counts transitions and retries from the interpreter's event log. */
  async #follow(
    events: AsyncGenerator<{ type: string; state?: { name: string } }>,
    record: ExecutionRecord,
  ) {
    for await (const event of events) {
      if (event.type === 'StateEntered') {
        record.transitions++;
        record.currentState = event.state?.name;
      } else if (event.type === 'StateRetried' && event.state) {
        record.retries[event.state.name] = (record.retries[event.state.name] ?? 0) + 1;
      } else if (
        ['ExecutionSucceeded', 'ExecutionFailed', 'ExecutionAborted', 'ExecutionTimeout'].includes(
          event.type,
        )
      ) {
        return;
      }
    }
  }

  #taskHandlers(scope: ExecutionScope): Record<string, TaskHandler> {
    const handlers: Record<string, TaskHandler> = {};
    for (const [stateName, state] of Object.entries(this.#states)) {
      if (state.Type !== 'Task' || state.Resource === undefined) continue;
      const execute = serviceIntegration(state.Resource, state, {
        ...this.#options,
        tokens: this.#tokens,
      });
      handlers[stateName] = async (input) => {
        try {
          const result = await execute(input, scope);
          scope.succeeded(stateName, state, result);
          return result;
        } catch (error) {
          scope.failed(stateName);
          throw error;
        }
      };
    }
    return handlers;
  }
}
