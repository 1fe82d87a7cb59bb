import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MAX_ATTEMPTS,
  RETRY_CAP_SECONDS,
  RETRY_WINDOW_SECONDS,
  retryDelaySeconds,
} from '#shared/webhooks/backoff.ts';

const randomness = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });

describe('the retry schedule', () => {
  it('waits between 0 and the cap, and never past the window', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1000 }),
        fc.double({ min: 0, max: RETRY_WINDOW_SECONDS * 2, noNaN: true }),
        randomness,
        (failures, elapsed, draw) => {
          const delay = retryDelaySeconds(failures, elapsed, { random: () => draw });
          if (elapsed >= RETRY_WINDOW_SECONDS) return delay === undefined;
          return (
            delay !== undefined &&
            delay >= 0 &&
            delay <= RETRY_CAP_SECONDS &&
            elapsed + delay <= RETRY_WINDOW_SECONDS
          );
        },
      ),
    );
  });

  it('stops: every sequence of attempts ends within 24 h, in a bounded number of attempts', () => {
    fc.assert(
      fc.property(fc.array(randomness, { minLength: 1, maxLength: 64 }), (draws) => {
        let elapsed = 0;
        let attempts = 1;
        for (;;) {
          const delay = retryDelaySeconds(attempts, elapsed, {
            random: () => draws[attempts % draws.length] ?? 0,
          });
          if (delay === undefined) break;
          elapsed += delay;
          attempts += 1;
          if (elapsed > RETRY_WINDOW_SECONDS || attempts > MAX_ATTEMPTS) return false;
        }
        return elapsed === RETRY_WINDOW_SECONDS;
      }),
    );
  });

  it.each([
    [1, 5],
    [2, 60],
    [3, 600],
    [4, 3600],
    [5, 14_400],
    [6, 21_600],
    [40, 21_600],
  ])(
    'after %i failures, waits at most %i s (the top of its jitter), at least a fifth of it',
    (failures, step) => {
      expect(retryDelaySeconds(failures, 0, { random: () => 0.999_999_9 })).toBeCloseTo(step, 2);
      expect(retryDelaySeconds(failures, 0, { random: () => 0 })).toBeCloseTo(step / 5, 5);
    },
  );

  it('scales the waits and the window by the time scale', () => {
    const clock = { random: () => 0.999_999_9, scale: 0.001 };
    expect(retryDelaySeconds(1, 0, clock)).toBeCloseTo(0.005, 5);
    expect(retryDelaySeconds(6, 86.3, clock)).toBeCloseTo(0.1, 5);
    expect(retryDelaySeconds(6, 86.4, clock)).toBeUndefined();
  });
});
