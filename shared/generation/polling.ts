/**
 * Adaptive polling: the first poll is made about when the provider is expected to finish, then
 * at short intervals that grow to a cap. Polls and elapsed time are bounded, so an execution's
 * history stays far below Step Functions' 25,000-event limit and a stuck task ends as a timeout.
 */
export interface PollingPolicy {
  readonly expectedGenerationSeconds: number;
  readonly intervalSeconds: number;
  readonly backoffRate: number;
  readonly maxIntervalSeconds: number;
  readonly maxPolls: number;
  readonly maxElapsedSeconds: number;
}

/** The wait before the first poll. */
export function firstWaitSeconds(policy: PollingPolicy): number {
  return Math.max(1, Math.round(policy.expectedGenerationSeconds));
}

/** The wait after the `polls`-th poll (1-based) found the task still working. */
export function nextWaitSeconds(policy: PollingPolicy, polls: number): number {
  const grown = policy.intervalSeconds * policy.backoffRate ** Math.max(0, polls - 1);
  return Math.max(1, Math.min(policy.maxIntervalSeconds, Math.round(grown)));
}

/** Whether another poll would go past the bounds. */
export function pollBudgetExhausted(
  policy: PollingPolicy,
  polls: number,
  elapsedSeconds: number,
): boolean {
  return polls >= policy.maxPolls || elapsedSeconds >= policy.maxElapsedSeconds;
}
