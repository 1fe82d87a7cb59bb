/**
 * Starting one generation per accepted line: `StartExecution` named by the generation id, so a
 * second delivery of the same S3 event meets the existing execution (`ExecutionAlreadyExists`
 * counts as started), with throttling retried under exponential backoff and full jitter, and a
 * pool that keeps a bounded number of calls in flight.
 */
import { type SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { executionInputText } from '#shared/generation/executions.ts';
import type { WorkflowInput } from '#shared/generation/workflow-input.ts';
import { GenerationStartError } from './errors.ts';

export interface StartRetryPolicy {
  /** Calls per execution, the first included (each is also retried inside the SDK). */
  readonly attempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

export const DEFAULT_START_RETRY: StartRetryPolicy = {
  attempts: 8,
  baseDelayMs: 200,
  maxDelayMs: 10_000,
};

export interface StarterOptions {
  readonly sfn: SFNClient;
  readonly stateMachineArn: string;
  readonly retry?: StartRetryPolicy;
  readonly sleep?: (ms: number) => Promise<void>;
  /** A number in [0, 1), for the jitter. */
  readonly random?: () => number;
}

/** `started` when this call started it, `existing` when an execution of that name already existed. */
export type StartOutcome = 'started' | 'existing';

/** Errors a later call can get past: throttling, service-side failures, the network. */
const RETRYABLE_NAMES = new Set([
  'ThrottlingException',
  'Throttling',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'ExecutionLimitExceeded',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'InternalServerError',
  'InternalFailure',
]);

export async function startGeneration(
  input: WorkflowInput & { id: string },
  options: StarterOptions,
): Promise<StartOutcome> {
  const retry = options.retry ?? DEFAULT_START_RETRY;
  const sleep = options.sleep ?? delay;
  const random = options.random ?? Math.random;
  for (let attempt = 1; ; attempt++) {
    try {
      await options.sfn.send(
        new StartExecutionCommand({
          stateMachineArn: options.stateMachineArn,
          name: input.id,
          input: executionInputText(input),
        }),
      );
      return 'started';
    } catch (error) {
      if (errorName(error) === 'ExecutionAlreadyExists') return 'existing';
      const retryable = isRetryable(error);
      if (!retryable || attempt >= retry.attempts) {
        throw new GenerationStartError(
          `StartExecution of ${input.id} failed after ${attempt} attempt(s): ${errorName(error) ?? 'unknown error'}`,
          { cause: error, retryable },
        );
      }
      const ceiling = Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** (attempt - 1));
      await sleep(Math.floor(random() * ceiling));
    }
  }
}

function isRetryable(error: unknown): boolean {
  const name = errorName(error);
  if (name !== undefined && RETRYABLE_NAMES.has(name)) return true;
  const candidate = error as { $retryable?: unknown; $metadata?: { httpStatusCode?: number } };
  if (candidate?.$retryable) return true;
  const status = candidate?.$metadata?.httpStatusCode;
  // No HTTP status at all: the request never got an answer (reset, timeout).
  return status === undefined || status === 429 || status >= 500;
}

function errorName(error: unknown): string | undefined {
  return typeof error === 'object' &&
    error !== null &&
    'name' in error &&
    typeof error.name === 'string'
    ? error.name
    : undefined;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Runs tasks with at most `limit` in flight. `add` waits for a free slot, so a producer that
 * awaits it is held back (the file is read no faster than generations start). The first failure
 * is kept; `failed` tells the producer to stop, and `drain` waits for the rest and throws it.
 */
export class TaskPool {
  readonly #limit: number;
  readonly #running = new Set<Promise<void>>();
  #failure: { readonly error: unknown } | undefined;

  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1)
      throw new RangeError('limit must be a positive integer');
    this.#limit = limit;
  }

  get failed(): boolean {
    return this.#failure !== undefined;
  }

  async add(task: () => Promise<unknown>): Promise<void> {
    while (this.#running.size >= this.#limit) await Promise.race(this.#running);
    // A task that throws before its first await is a failure like any other.
    const running: Promise<void> = new Promise<unknown>((resolve) => resolve(task()))
      .then(
        () => undefined,
        (error: unknown) => {
          this.#failure ??= { error };
        },
      )
      .finally(() => this.#running.delete(running));
    this.#running.add(running);
  }

  /** Waits for every task; throws the first failure, if any. */
  async drain(): Promise<void> {
    await this.settle();
    if (this.#failure) throw this.#failure.error;
  }

  /** Waits for every task, whatever happened. */
  async settle(): Promise<void> {
    while (this.#running.size > 0) await Promise.all(this.#running);
  }
}

export interface PacerOptions {
  /** Starts a second at most, unless time runs short (see `turn`). */
  readonly perSecond: number;
  /** Starts that may go at once after a pause (at least 1). @default perSecond */
  readonly burst?: number;
  /** A monotonic clock in ms. @default performance.now */
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

/**
 * Spaces out the starts of one file: a cell-rate limiter (each turn is given a time, at least one
 * interval after the last; a quiet spell earns up to `burst` turns at once), one sleep per turn.
 *
 * A file needs no faster start than its generations can get slots, and every start spends the
 * account's StartExecution quota, which the API and the schedules share; a file that takes all
 * of it throttles them.
 */
export class StartPacer {
  readonly #perSecond: number;
  readonly #burst: number;
  readonly #now: () => number;
  readonly #sleep: (ms: number) => Promise<void>;
  #nextAt = Number.NEGATIVE_INFINITY;

  constructor(options: PacerOptions) {
    if (!(options.perSecond > 0)) throw new RangeError('perSecond must be positive');
    this.#perSecond = options.perSecond;
    this.#burst = Math.max(1, options.burst ?? options.perSecond);
    this.#now = options.now ?? (() => performance.now());
    this.#sleep = options.sleep ?? delay;
  }

  /**
   * Waits for the next start's turn. `atLeastPerSecond` raises the pace for this turn: the rate
   * at which the rest of the file must start to finish in the time left.
   */
  async turn(atLeastPerSecond = 0): Promise<void> {
    const intervalMs = 1000 / Math.max(this.#perSecond, atLeastPerSecond);
    const now = this.#now();
    const at = Math.max(this.#nextAt, now - (this.#burst - 1) * intervalMs);
    this.#nextAt = at + intervalMs;
    if (at > now) await this.#sleep(at - now);
  }
}
