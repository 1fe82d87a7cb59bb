/**
 * When a failed delivery is tried again: exponential steps (5 s, 1 min, 10 min, 1 h, 4 h, then
 * every 6 h), each drawn with full jitter (uniformly up to the step, so receivers that failed
 * together do not come back together), for 24 h from the event. The draw starts at a fifth of its
 * step rather than at 0, so unlucky draws cannot crowd a day with attempts: whatever the draws, a
 * day holds at most {@link MAX_ATTEMPTS}. A retry that would fall
 * past the window is brought to its end, so the last attempt is made at 24 h and none after.
 */

/** The steps of the schedule, in seconds; past the last, the last repeats. */
export const RETRY_STEPS_SECONDS = [5, 60, 600, 3600, 14_400, 21_600] as const;
/** The largest wait between two attempts (6 h; SQS can hide a message for up to 12 h). */
export const RETRY_CAP_SECONDS = 21_600;
/** How long after the event deliveries are tried. */
export const RETRY_WINDOW_SECONDS = 86_400;
/** Each wait is at least this share of its step. */
const FLOOR_SHARE = 0.2;
/**
 * The most attempts an event can have: the steps' floors (1, 12, 120, 720, 2880 s, then 4320 s)
 * fill 24 h in 25 waits, plus the first attempt and the last one at the window's end.
 */
export const MAX_ATTEMPTS = 27;

export interface RetryClock {
  /** Uniform in [0, 1), as `Math.random`. */
  readonly random: () => number;
  /**
   * Multiplies every wait and the window: 1 on AWS; the local runtime's time scale, so a day of
   * retries can be watched in a test. @default 1
   */
  readonly scale?: number;
}

/**
 * The seconds to wait before the next attempt, after `failedAttempts` failures (1 after the
 * first) and `elapsedSeconds` since the event; undefined when the window is over (give up).
 */
export function retryDelaySeconds(
  failedAttempts: number,
  elapsedSeconds: number,
  clock: RetryClock,
): number | undefined {
  const scale = clock.scale ?? 1;
  const window = RETRY_WINDOW_SECONDS * scale;
  if (elapsedSeconds >= window) return undefined;
  const index = Math.min(Math.max(failedAttempts, 1), RETRY_STEPS_SECONDS.length) - 1;
  const step = (RETRY_STEPS_SECONDS[index] ?? RETRY_CAP_SECONDS) * scale;
  const floor = step * FLOOR_SHARE;
  const jittered = floor + clock.random() * (step - floor);
  return Math.min(jittered, window - elapsedSeconds);
}
