/**
 * The workflow's provider steps as plain functions: CreateTask and PollTask (CopyImages is in
 * copy-step.ts, so these do not load the S3 upload code). The handlers in `functions/` only wire
 * them to their clients and configuration.
 *
 * Each step returns the `task` state the next state reads (`$.task` in the state machine).
 * Retryable failures (throttling, 5xx, timeouts) are thrown, so the state machine's Retry can act;
 * outcomes the provider decided (a failed task) are returned as data.
 */

import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { BatchStatus } from '#shared/batches/model.ts';
import { ErrorCodes } from '#shared/errors/codes.ts';
import type { SparkClient, TaskImage, TaskSnapshot } from '#shared/spark/client.ts';
import { SparkThrottledError } from '#shared/spark/errors.ts';
import { GenerationAlreadyFinishedError, GenerationNotFoundError } from './errors.ts';
import { type GenerationError, type GenerationRecord, isTerminal } from './model.ts';
import {
  type CheckResult,
  checkWithRechecks,
  firstWaitSeconds,
  learnedDuration,
  nextWaitSeconds,
  type PollingPolicy,
  pollBudgetExhausted,
  type RecheckClock,
} from './polling.ts';
import type { DurationStats } from './polling-stats.ts';
import { DEFAULT_RECORD_RETENTION_DAYS, expiresAtOf } from './retention.ts';
import type { GenerationStore } from './store.ts';

/** What `$.task` holds between the states of one generation. */
export interface TaskState {
  readonly sparkTaskId: string;
  readonly state: 'pending' | 'completed' | 'failed';
  /** Polls made so far. */
  readonly polls: number;
  /** Seconds the Wait state waits before the next poll. */
  readonly nextWaitSeconds: number;
  /**
   * When this execution created the provider task (ISO time), so the duration can be learned.
   * Absent for a task carried over from an earlier execution, whose creation time is unknown.
   */
  readonly createdAt?: string;
  readonly images?: readonly TaskImage[];
  readonly failure?: GenerationError;
  /** Once completed: the provider's cost in USD, or null when it gave none (for the event). */
  readonly costUsd?: number | null;
  /** Values the DynamoDB success write takes as they are (DynamoDB JSON). */
  readonly attributes?: {
    readonly usage: AttributeValue;
    readonly costUsd: AttributeValue;
    /** The record's expiry, kept only when the record has none (a state machine cannot compute it). */
    readonly expiresAt: AttributeValue;
  };
}

export interface CreateTaskDeps {
  readonly store: GenerationStore;
  readonly spark: SparkClient;
  /**
   * The status of a batch, for the lines of one: a line of a cancelled batch is cancelled here,
   * before its provider task exists, so nothing is paid for a batch after its cancel.
   */
  readonly batchStatus: (batchId: string) => Promise<BatchStatus | undefined>;
  readonly policy: PollingPolicy;
  /** Recent provider durations, for the first poll's timing. */
  readonly stats?: DurationStats;
  readonly now?: () => Date;
  /** Told when the durations could not be read (the configured expectation is used). */
  readonly warn?: (message: string, error: unknown) => void;
}

/**
 * What CreateTask answers when the provider refused to create the task for now and said, with
 * `Retry-After`, when to ask again: the state machine waits that long and runs CreateTask again.
 */
export interface ThrottledCreate {
  readonly state: 'throttled';
  /** Seconds the Wait state waits before CreateTask runs again. */
  readonly nextWaitSeconds: number;
}

export interface CreateTaskInput {
  readonly id: string;
  /**
   * The execution's start (`$$.Execution.StartTime`): a throttled create is asked again only while
   * the generation is within its elapsed-time bound. Without it, throttling is always thrown.
   */
  readonly startedAt?: string;
}

/**
 * Creates the provider task, unless this generation already has one (a retried step, or a
 * restarted workflow): the task id is recorded before this step returns, so nothing is paid twice.
 */
export async function createTaskStep(
  input: CreateTaskInput,
  deps: CreateTaskDeps,
): Promise<TaskState | ThrottledCreate> {
  const record = await deps.store.get(input.id);
  if (record === undefined) {
    throw new GenerationNotFoundError(`Generation ${input.id} has no record`);
  }
  if (isTerminal(record.status)) {
    throw new GenerationAlreadyFinishedError(`Generation ${input.id} is already ${record.status}`);
  }
  // Read while the task is created: the first wait is needed only once it exists.
  const learned = learnedDurations(deps);
  const pending = async (sparkTaskId: string, createdAt?: Date): Promise<TaskState> => ({
    sparkTaskId,
    state: 'pending',
    polls: record.polls ?? 0,
    nextWaitSeconds: firstWaitSeconds(deps.policy, await learned),
    ...(createdAt && { createdAt: createdAt.toISOString() }),
  });
  if (record.sparkTaskId) return pending(record.sparkTaskId);
  if (record.batchId !== undefined && (await deps.batchStatus(record.batchId)) === 'cancelled') {
    await cancelBatchLine(record, deps);
    throw new GenerationAlreadyFinishedError(
      `Generation ${input.id} is a line of batch ${record.batchId}, which was cancelled`,
    );
  }
  let task: Awaited<ReturnType<SparkClient['createTask']>>;
  try {
    task = await deps.spark.createTask(record.request);
  } catch (error) {
    const throttled = throttledCreate(error, input, deps);
    if (throttled === undefined) throw error;
    return throttled;
  }
  const createdAt = (deps.now ?? (() => new Date()))();
  await deps.store.recordTaskCreated(record, task.taskId, createdAt);
  return pending(task.taskId, createdAt);
}

/**
 * Ends a line of a cancelled batch as cancelled and counts it in its batch at once (the batch is
 * ended already; the line's event goes through the outbox).
 */
async function cancelBatchLine(record: GenerationRecord, deps: CreateTaskDeps): Promise<void> {
  const now = (deps.now ?? (() => new Date()))();
  const error = {
    code: ErrorCodes.GENERATION_CANCELLED,
    message: `Cancelled with its batch ${record.batchId} before its provider task was created`,
  };
  await deps.store.cancel(record.owner, record, error, now);
  await deps.store.countBatchLineEnd(record.id);
}

/**
 * A create the provider throttled with `Retry-After`, answered as a wait of at least that long
 * (and of the polling interval, so the loop stays far below the history limit), or undefined —
 * then the error is thrown for the workflow's Retry — for any other error, a 429 without
 * `Retry-After`, or a wait that would end past the generation's elapsed-time bound.
 */
function throttledCreate(
  error: unknown,
  input: CreateTaskInput,
  deps: CreateTaskDeps,
): ThrottledCreate | undefined {
  const retryAfterSeconds = throttledFor(error);
  if (retryAfterSeconds === undefined || input.startedAt === undefined) return undefined;
  const wait = Math.max(retryAfterSeconds, deps.policy.intervalSeconds, 1);
  const now = (deps.now ?? (() => new Date()))();
  const elapsedSeconds = (now.getTime() - Date.parse(input.startedAt)) / 1000;
  if (!(elapsedSeconds + wait < deps.policy.maxElapsedSeconds)) return undefined;
  return { state: 'throttled', nextWaitSeconds: Math.ceil(wait) };
}

/** The learned durations, or none when learning is off or they cannot be read. */
async function learnedDurations(deps: CreateTaskDeps): Promise<readonly number[]> {
  if (!deps.stats || deps.policy.learnedSamples === 0) return [];
  try {
    return await deps.stats.recent();
  } catch (error) {
    // Timing is an optimisation: a generation never fails for it.
    deps.warn?.('Could not read the learned provider durations', error);
    return [];
  }
}

export interface PollTaskInput {
  readonly id: string;
  readonly task: TaskState | ThrottledCreate;
  /** The execution's start (`$$.Execution.StartTime`), for the elapsed-time bound. */
  readonly startedAt: string;
}

export interface PollTaskDeps {
  readonly spark: SparkClient;
  readonly policy: PollingPolicy;
  /** Where completed tasks' durations are learned. */
  readonly stats?: DurationStats;
  readonly now?: () => Date;
  /** Time and sleep of the in-process re-checks. @default the real clock, no deadline */
  readonly clock?: RecheckClock;
  /** Time kept in hand for one more provider request before the function's deadline. */
  readonly reserveMs?: number;
  /**
   * Days the record is kept: a completed task gives it the expiry a record the workflow created
   * has none of yet, counted from the task's creation. @default 90 days
   */
  readonly retentionDays?: number;
  /** Where each poll's count is written, so the record shows it while the task runs. */
  readonly recordPolls?: (id: string, polls: number, now: Date) => Promise<void>;
  /** Told when a duration could not be recorded (the generation carries on). */
  readonly warn?: (message: string, error: unknown) => void;
}

type FinishedSnapshot = Exclude<TaskSnapshot, { state: 'pending' }>;

const realClock: RecheckClock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  remainingMs: () => Number.POSITIVE_INFINITY,
};

/**
 * Polls the provider task and says what to do next. The first poll keeps re-checking in-process
 * for up to `recheckSeconds` (it is timed to come just before the task is likely to finish);
 * later polls check once.
 */
export async function pollTaskStep(
  input: PollTaskInput,
  deps: PollTaskDeps,
): Promise<TaskState | ThrottledCreate> {
  // A create the provider throttled comes here through the Wait state that honoured its
  // Retry-After, and goes back to CreateTask as it is, with no provider call (IsTaskDone routes
  // it). A Choice of its own after CreateTask would cost every generation a state transition.
  if (input.task.state === 'throttled') return input.task;
  return pollCreatedTask({ ...input, task: input.task }, deps);
}

async function pollCreatedTask(
  input: PollTaskInput & { readonly task: TaskState },
  deps: PollTaskDeps,
): Promise<TaskState> {
  const polls = input.task.polls + 1;
  const base = {
    sparkTaskId: input.task.sparkTaskId,
    polls,
    ...(input.task.createdAt && { createdAt: input.task.createdAt }),
  };
  const clock = deps.clock ?? realClock;
  const firstPoll = input.task.polls === 0;
  let lastStatus = 'pending';
  const check = async (): Promise<CheckResult<FinishedSnapshot>> => {
    const snapshot = await deps.spark.getTask(input.task.sparkTaskId);
    lastStatus = snapshot.status;
    return snapshot.state === 'pending' ? { done: false } : { done: true, value: snapshot };
  };
  let checked: { value?: FinishedSnapshot; checks: number };
  try {
    checked = await checkWithRechecks(
      check,
      {
        windowMs: firstPoll ? deps.policy.recheckSeconds * 1000 : 0,
        intervalMs: deps.policy.recheckIntervalMs,
        reserveMs: deps.reserveMs ?? 0,
      },
      clock,
    );
  } catch (error) {
    const retryAfterSeconds = throttledFor(error);
    if (retryAfterSeconds === undefined) throw error;
    // The provider said when to ask again: the Wait state waits that long (it costs nothing),
    // rather than the workflow's Retry asking again sooner and being refused again.
    return throttledPoll(input, base, retryAfterSeconds, deps);
  }
  const { value: snapshot, checks } = checked;
  const now = (deps.now ?? (() => new Date()))();
  if (snapshot?.state !== 'completed') await recordPolls(input.id, polls, now, deps);
  if (snapshot?.state === 'failed') {
    return { ...base, state: 'failed', nextWaitSeconds: 0, failure: snapshot.error };
  }
  if (snapshot?.state === 'completed') {
    // Written now too (not only with the images): a copy that fails after it still shows the polls.
    await Promise.all([
      learn(input.task, now, firstPoll && checks === 1, deps),
      recordPolls(input.id, polls, now, deps),
    ]);
    return {
      ...base,
      state: 'completed',
      nextWaitSeconds: 0,
      images: snapshot.images,
      costUsd: snapshot.costUsd ?? null,
      attributes: {
        usage: snapshot.usage
          ? { M: marshall(snapshot.usage, { removeUndefinedValues: true }) }
          : { NULL: true },
        costUsd: snapshot.costUsd === undefined ? { NULL: true } : { N: String(snapshot.costUsd) },
        expiresAt: {
          N: String(
            expiresAtOf(
              input.task.createdAt ?? now.toISOString(),
              deps.retentionDays ?? DEFAULT_RECORD_RETENTION_DAYS,
            ),
          ),
        },
      },
    };
  }
  const elapsedSeconds = (now.getTime() - Date.parse(input.startedAt)) / 1000;
  if (pollBudgetExhausted(deps.policy, polls, elapsedSeconds)) {
    return timedOut(base, lastStatus, elapsedSeconds);
  }
  return { ...base, state: 'pending', nextWaitSeconds: nextWaitSeconds(deps.policy, polls) };
}

/** The generation fails with the timeout code: the poll budget is spent. */
function timedOut(
  base: Pick<TaskState, 'sparkTaskId' | 'polls' | 'createdAt'>,
  lastStatus: string,
  elapsedSeconds: number,
): TaskState {
  const failure = {
    code: ErrorCodes.GENERATION_TIMED_OUT,
    message: `The provider task was still ${lastStatus} after ${base.polls} polls and ${Math.round(elapsedSeconds)} s`,
  };
  return { ...base, state: 'failed', nextWaitSeconds: 0, failure };
}

/** The provider's `Retry-After` of a throttled request, or undefined for any other error. */
function throttledFor(error: unknown): number | undefined {
  return error instanceof SparkThrottledError ? error.retryAfterSeconds : undefined;
}

/**
 * A poll the provider throttled with `Retry-After`: still pending, with the next poll no sooner
 * than the provider asked (nor sooner than the usual interval), and never past the poll budget —
 * a wait beyond it is cut to what is left, and the next poll then ends the generation.
 */
async function throttledPoll(
  input: PollTaskInput,
  base: Pick<TaskState, 'sparkTaskId' | 'polls' | 'createdAt'>,
  retryAfterSeconds: number,
  deps: PollTaskDeps,
): Promise<TaskState> {
  const now = (deps.now ?? (() => new Date()))();
  await recordPolls(input.id, base.polls, now, deps);
  const elapsedSeconds = (now.getTime() - Date.parse(input.startedAt)) / 1000;
  if (pollBudgetExhausted(deps.policy, base.polls, elapsedSeconds)) {
    return timedOut(base, 'throttled', elapsedSeconds);
  }
  const left = Math.max(1, Math.ceil(deps.policy.maxElapsedSeconds - elapsedSeconds));
  const wanted = Math.max(retryAfterSeconds, nextWaitSeconds(deps.policy, base.polls));
  return { ...base, state: 'pending', nextWaitSeconds: Math.min(wanted, left) };
}

/** Writes the poll count to the record; progress shown to readers never fails a generation. */
async function recordPolls(
  id: string,
  polls: number,
  now: Date,
  deps: PollTaskDeps,
): Promise<void> {
  try {
    await deps.recordPolls?.(id, polls, now);
  } catch (error) {
    deps.warn?.('Could not record the poll count', error);
  }
}

/** Records how long the provider took, when this execution knows when it created the task. */
async function learn(
  task: TaskState,
  now: Date,
  seenByFirstCheck: boolean,
  deps: PollTaskDeps,
): Promise<void> {
  const createdAt = task.createdAt ? Date.parse(task.createdAt) : Number.NaN;
  if (!deps.stats || deps.policy.learnedSamples === 0 || Number.isNaN(createdAt)) return;
  const observed = (now.getTime() - createdAt) / 1000;
  try {
    await deps.stats.record(learnedDuration(observed, seenByFirstCheck), now);
  } catch (error) {
    deps.warn?.('Could not record the provider duration', error);
  }
}
