/**
 * Adaptive polling (docs/polling.md). The first poll is made just before the provider is likely
 * to finish — learned from the durations of recent generations, or the configured expectation
 * while there are too few of them — and that poll keeps re-checking in-process for a few seconds,
 * because a second of a waiting Lambda costs far less than the three state transitions of
 * another Wait-Poll-Choice round. Later polls come at short intervals that grow to a cap. Polls
 * and elapsed time are bounded, so an execution's history stays far below Step Functions'
 * 25,000-event limit and a stuck task ends as a timeout.
 */
import type { PollingValues } from '#shared/contracts/environment.ts';

/**
 * The polling settings, as the stack config and the functions' environment give them: each is
 * declared, with its bounds, default and variable, in `PollingSettings`
 * (`shared/contracts/environment.ts`).
 */
export type PollingPolicy = PollingValues;

/** Learned durations needed before they replace `expectedGenerationSeconds`. */
export const MIN_LEARNED_SAMPLES = 5;
/**
 * Without learned durations and with in-process re-checks, the first poll comes at this share of
 * the expected time, so the re-check window spans the expectation on both sides.
 */
export const COLD_START_SHARE = 0.8;
/**
 * A first poll that finds the task already done learns only "done by now": the duration it
 * records is shrunk by this factor, so the learned low percentile steps down until first polls
 * come early again (an early poll costs Lambda seconds; a late one costs latency).
 */
export const LATE_SAMPLE_FACTOR = 0.8;

/**
 * The wait before the first poll, in whole seconds (a Wait state's unit), at least 1. `learned`
 * are recent provider durations in seconds, oldest first.
 */
export function firstWaitSeconds(policy: PollingPolicy, learned: readonly number[] = []): number {
  const usable = policy.learnedSamples > 0 ? learned.slice(-policy.learnedSamples) : [];
  const seconds =
    usable.length >= MIN_LEARNED_SAMPLES
      ? percentile(usable, policy.firstPollPercentile)
      : policy.expectedGenerationSeconds * (policy.recheckSeconds > 0 ? COLD_START_SHARE : 1);
  // Rounded down: being a fraction of a second early costs a re-check, being late costs latency.
  return Math.max(1, Math.floor(seconds));
}

/**
 * The wait after the `polls`-th poll (1-based) found the task still working: the grown interval,
 * moved by up to `intervalJitter` of it either way (`random` in [0, 1)), within 1 s and the cap.
 */
export function nextWaitSeconds(
  policy: PollingPolicy,
  polls: number,
  random: () => number = Math.random,
): number {
  const grown = policy.intervalSeconds * policy.backoffRate ** Math.max(0, polls - 1);
  const jittered = grown * (1 + policy.intervalJitter * (2 * random() - 1));
  return Math.max(1, Math.min(policy.maxIntervalSeconds, Math.round(jittered)));
}

/** Whether another poll would go past the bounds. */
export function pollBudgetExhausted(
  policy: PollingPolicy,
  polls: number,
  elapsedSeconds: number,
): boolean {
  return polls >= policy.maxPolls || elapsedSeconds >= policy.maxElapsedSeconds;
}

/**
 * The duration to learn from a completed task, seen `observedSeconds` after its creation. When
 * the completion was seen by the very first check of the first poll, the task ended some time
 * before it: see {@link LATE_SAMPLE_FACTOR}.
 */
export function learnedDuration(observedSeconds: number, seenByFirstCheck: boolean): number {
  const seconds = seenByFirstCheck ? observedSeconds * LATE_SAMPLE_FACTOR : observedSeconds;
  return Math.round(Math.max(0, seconds) * 1000) / 1000;
}

/** Nearest-rank percentile (`p` in 0..100) of a non-empty list. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new RangeError('percentile of an empty list');
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((Math.min(100, Math.max(0, p)) / 100) * sorted.length);
  return sorted[Math.max(0, rank - 1)] as number;
}

/** What the in-process re-check loop needs from its surroundings (a fake in tests). */
export interface RecheckClock {
  /** Milliseconds, monotonic enough for intervals. */
  now(): number;
  sleep(ms: number): Promise<void>;
  /** Time left before the function is stopped (Lambda's `getRemainingTimeInMillis`). */
  remainingMs(): number;
}

/** One look at the provider task: still working, or an answer to hand back. */
export type CheckResult<Done> =
  | { readonly done: false }
  | { readonly done: true; readonly value: Done };

export interface RecheckOutcome<Done> {
  /** The answer that ended the loop, or undefined when the task was still working. */
  readonly value: Done | undefined;
  /** Checks made, the first included. */
  readonly checks: number;
}

/**
 * Checks once, then — while the task is still working, the window lasts, and enough of the
 * function's time is left for one more request (`reserveMs`) — pauses and checks again. An error
 * of the first check is thrown (the workflow's Retry handles it); an error of a re-check ends the
 * loop as "still working", since the next poll checks again under the same Retry.
 */
export async function checkWithRechecks<Done>(
  check: () => Promise<CheckResult<Done>>,
  window: { readonly windowMs: number; readonly intervalMs: number; readonly reserveMs: number },
  clock: RecheckClock,
): Promise<RecheckOutcome<Done>> {
  const until = clock.now() + window.windowMs;
  let result = await check();
  let checks = 1;
  const interval = Math.max(1, window.intervalMs);
  while (
    !result.done &&
    clock.now() + interval <= until &&
    clock.remainingMs() - interval > window.reserveMs
  ) {
    await clock.sleep(interval);
    try {
      result = await check();
    } catch {
      checks++;
      break;
    }
    checks++;
  }
  return { value: result.done ? result.value : undefined, checks };
}
