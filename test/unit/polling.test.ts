import { describe, expect, it } from 'vitest';
import {
  firstWaitSeconds,
  nextWaitSeconds,
  type PollingPolicy,
  pollBudgetExhausted,
} from '#shared/generation/polling.ts';

const policy: PollingPolicy = {
  expectedGenerationSeconds: 10,
  intervalSeconds: 2,
  backoffRate: 1.5,
  maxIntervalSeconds: 30,
  maxPolls: 120,
  maxElapsedSeconds: 1800,
};

describe('adaptive polling', () => {
  it('makes the first poll about when the provider is expected to finish', () => {
    expect(firstWaitSeconds(policy)).toBe(10);
    expect(firstWaitSeconds({ ...policy, expectedGenerationSeconds: 0.2 })).toBe(1);
  });

  it('then polls at short intervals that grow to the cap', () => {
    const waits = [1, 2, 3, 4, 5, 10, 20].map((polls) => nextWaitSeconds(policy, polls));
    expect(waits).toEqual([2, 3, 5, 7, 10, 30, 30]);
  });

  it('never waits less than a second', () => {
    expect(nextWaitSeconds({ ...policy, intervalSeconds: 1, backoffRate: 1 }, 1)).toBe(1);
  });

  it.each([
    [119, 100, false],
    [120, 100, true],
    [5, 1799, false],
    [5, 1800, true],
  ])('after %i polls and %i s the budget is exhausted: %s', (polls, elapsed, exhausted) => {
    expect(pollBudgetExhausted(policy, polls, elapsed)).toBe(exhausted);
  });

  it('keeps the worst-case history far below the 25,000-event limit', () => {
    // Each poll costs a Wait, a Task and a Choice: about 3 x 5 history events.
    expect(policy.maxPolls * 3 * 5).toBeLessThan(25_000 / 4);
  });
});
