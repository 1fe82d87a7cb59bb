import { describe, expect, it, vi } from 'vitest';
import { PollingSettings } from '#shared/contracts/environment.ts';
import { readSettings } from '#shared/contracts/setting.ts';
import { ErrorCodes } from '#shared/errors/codes.ts';
import {
  type CheckResult,
  checkWithRechecks,
  firstWaitSeconds,
  LATE_SAMPLE_FACTOR,
  learnedDuration,
  nextWaitSeconds,
  type PollingPolicy,
  percentile,
  pollBudgetExhausted,
  type RecheckClock,
} from '#shared/generation/polling.ts';
import type { DurationStats } from '#shared/generation/polling-stats.ts';
import { createTaskStep, pollTaskStep, type TaskState } from '#shared/generation/steps.ts';
import type { GenerationStore } from '#shared/generation/store.ts';
import type { SparkClient, TaskSnapshot } from '#shared/spark/client.ts';
import { SparkServerError, SparkThrottledError } from '#shared/spark/errors.ts';

const policy: PollingPolicy = {
  // A setting declared later starts at its default; these are the ones the cases below rely on.
  ...readSettings(PollingSettings, {}),
  expectedGenerationSeconds: 10,
  intervalSeconds: 2,
  backoffRate: 1.5,
  maxIntervalSeconds: 30,
  intervalJitter: 0,
  maxPolls: 120,
  maxElapsedSeconds: 1800,
  firstPollPercentile: 5,
  learnedSamples: 32,
  recheckSeconds: 8,
  recheckIntervalMs: 500,
};
const noRecheck = { ...policy, recheckSeconds: 0 };

/** A clock whose sleeps move time on at once, with a Lambda deadline. */
function fakeClock(startMs = 1_000_000, deadlineInMs = Number.POSITIVE_INFINITY) {
  let now = startMs;
  const deadline = startMs + deadlineInMs;
  const sleeps: number[] = [];
  const clock: RecheckClock = {
    now: () => now,
    sleep: async (ms) => {
      sleeps.push(ms);
      now += ms;
    },
    remainingMs: () => deadline - now,
  };
  return { clock, sleeps, advance: (ms: number) => (now += ms), at: () => now };
}

/** CreateTask's batch lookup, for generations that are no batch's lines. */
const noBatches = async () => undefined;

describe('the first poll', () => {
  it('comes at the expected time without learned durations and without re-checks', () => {
    expect(firstWaitSeconds(noRecheck)).toBe(10);
    expect(firstWaitSeconds({ ...noRecheck, expectedGenerationSeconds: 0.2 })).toBe(1);
  });

  it('comes a little early on a cold start when re-checks can cover the expectation', () => {
    expect(firstWaitSeconds(policy)).toBe(8);
  });

  it('comes at the configured percentile of the learned durations, rounded down', () => {
    const learned = [9.4, 8.7, 10.2, 11.9, 8.2, 9.9, 10.5, 9.1, 10.8, 11.1];
    expect(firstWaitSeconds(policy, learned)).toBe(8);
    expect(firstWaitSeconds({ ...policy, firstPollPercentile: 50 }, learned)).toBe(9);
    expect(firstWaitSeconds({ ...policy, firstPollPercentile: 100 }, learned)).toBe(11);
  });

  it('ignores learned durations until there are five of them', () => {
    expect(firstWaitSeconds(policy, [3, 3, 3, 3])).toBe(8);
    expect(firstWaitSeconds(policy, [3, 3, 3, 3, 3])).toBe(3);
  });

  it('learns from the newest learnedSamples durations only', () => {
    const learned = [
      ...Array.from({ length: 40 }, () => 2),
      ...Array.from({ length: 32 }, () => 6),
    ];
    expect(firstWaitSeconds(policy, learned)).toBe(6);
  });

  it('ignores learned durations when learning is off', () => {
    expect(firstWaitSeconds({ ...noRecheck, learnedSamples: 0 }, [3, 3, 3, 3, 3, 3])).toBe(10);
  });

  it('never comes before one second', () => {
    expect(firstWaitSeconds(policy, [0.2, 0.3, 0.2, 0.25, 0.3])).toBe(1);
  });
});

describe('later polls and bounds', () => {
  it('come at short intervals that grow to the cap', () => {
    const waits = [1, 2, 3, 4, 5, 10, 20].map((polls) => nextWaitSeconds(policy, polls));
    expect(waits).toEqual([2, 3, 5, 7, 10, 30, 30]);
  });

  it('never wait less than a second', () => {
    expect(nextWaitSeconds({ ...policy, intervalSeconds: 1, backoffRate: 1 }, 1)).toBe(1);
  });

  it('are spread by the jitter either way, within a second and the cap', () => {
    const jittered = { ...policy, intervalSeconds: 10, backoffRate: 1, intervalJitter: 0.2 };

    expect(nextWaitSeconds(jittered, 1, () => 0)).toBe(8);
    expect(nextWaitSeconds(jittered, 1, () => 0.5)).toBe(10);
    expect(nextWaitSeconds(jittered, 1, () => 0.9999)).toBe(12);
    expect(nextWaitSeconds({ ...jittered, maxIntervalSeconds: 10 }, 1, () => 0.9999)).toBe(10);
    expect(nextWaitSeconds({ ...jittered, intervalSeconds: 1 }, 1, () => 0)).toBe(1);
  });

  it('of generations started together do not all come at the same second', () => {
    const jittered = { ...policy, intervalJitter: 0.2 };
    const waits = new Set(Array.from({ length: 200 }, () => nextWaitSeconds(jittered, 5)));

    expect(waits.size).toBeGreaterThan(1);
    for (const wait of waits) expect(wait).toBeGreaterThanOrEqual(8);
    for (const wait of waits) expect(wait).toBeLessThanOrEqual(12);
  });

  it('are spread by default, as the stack config and the functions read it', () => {
    expect(readSettings(PollingSettings, {}).intervalJitter).toBe(0.2);
  });

  it.each([
    [119, 100, false],
    [120, 100, true],
    [5, 1799, false],
    [5, 1800, true],
  ])('after %i polls and %i s the budget is exhausted: %s', (polls, elapsed, exhausted) => {
    expect(pollBudgetExhausted(policy, polls, elapsed)).toBe(exhausted);
  });

  it('keep the worst-case history far below the 25,000-event limit', () => {
    // Each poll costs a Wait, a Task and a Choice: about 3 x 5 history events.
    expect(policy.maxPolls * 3 * 5).toBeLessThan(25_000 / 4);
  });
});

describe('learning durations', () => {
  it.each([
    [[5], 5, 5],
    [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 5, 1],
    [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50, 5],
    [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 95, 10],
    [[10, 1, 9, 2, 8, 3], 0, 1],
    [[10, 1, 9, 2, 8, 3], 100, 10],
  ])('the nearest-rank percentile of %j at %i is %d', (values, p, expected) => {
    expect(percentile(values, p)).toBe(expected);
  });

  it('refuses the percentile of nothing', () => {
    expect(() => percentile([], 50)).toThrow(RangeError);
  });

  it('keeps an observed duration when the task was seen still working first', () => {
    expect(learnedDuration(9.8765, false)).toBe(9.877);
  });

  it('shrinks a duration seen by the first check, which only says "done by now"', () => {
    expect(learnedDuration(10, true)).toBe(10 * LATE_SAMPLE_FACTOR);
  });

  it('steps the first poll down until it comes early again when the provider got faster', () => {
    // The provider now takes 4 s; the learned durations still say 10.
    let learned = Array.from({ length: 32 }, () => 10);
    const waits: number[] = [];
    for (let generation = 0; generation < 12; generation++) {
      const wait = firstWaitSeconds(policy, learned);
      waits.push(wait);
      const late = wait >= 4;
      learned = [...learned, learnedDuration(late ? wait : 4, late)];
    }
    expect(waits[0]).toBe(10);
    expect(waits.at(-1)).toBeLessThanOrEqual(4);
  });
});

describe('re-checking in-process', () => {
  const window = { windowMs: 3000, intervalMs: 500, reserveMs: 1000 };
  const doneAt = (clock: () => number, at: number) =>
    vi.fn(
      async (): Promise<CheckResult<string>> =>
        clock() >= at ? { done: true, value: 'done' } : { done: false },
    );

  it('answers at once when the first check finds the task done', async () => {
    const { clock, sleeps, at } = fakeClock();
    const check = doneAt(at, 0);

    const outcome = await checkWithRechecks(check, window, clock);

    expect(outcome).toEqual({ value: 'done', checks: 1 });
    expect(sleeps).toEqual([]);
  });

  it('re-checks at the interval until the task is done', async () => {
    const { clock, sleeps, at } = fakeClock();
    const start = at();
    const check = doneAt(at, start + 1200);

    const outcome = await checkWithRechecks(check, window, clock);

    expect(outcome).toEqual({ value: 'done', checks: 4 });
    expect(sleeps).toEqual([500, 500, 500]);
    expect(at() - start).toBe(1500);
  });

  it('hands back "still working" once the window is over', async () => {
    const { clock, sleeps, at } = fakeClock();
    const check = doneAt(at, Number.POSITIVE_INFINITY);

    const outcome = await checkWithRechecks(check, window, clock);

    expect(outcome).toEqual({ value: undefined, checks: 7 });
    expect(sleeps.reduce((sum, ms) => sum + ms, 0)).toBe(3000);
  });

  it('stops re-checking while one more request would not fit before the deadline', async () => {
    const { clock, sleeps, at } = fakeClock(0, 2100);
    const check = doneAt(at, Number.POSITIVE_INFINITY);

    const outcome = await checkWithRechecks(check, window, clock);

    // At 1000 ms, 1100 ms are left: after one more pause only 600 would be, under the 1000 kept.
    expect(outcome.checks).toBe(3);
    expect(sleeps).toEqual([500, 500]);
  });

  it('checks once when the window is zero', async () => {
    const { clock, at } = fakeClock();
    const check = doneAt(at, Number.POSITIVE_INFINITY);

    expect(await checkWithRechecks(check, { ...window, windowMs: 0 }, clock)).toEqual({
      value: undefined,
      checks: 1,
    });
  });

  it('throws an error of the first check, for the workflow to retry', async () => {
    const { clock } = fakeClock();
    const check = vi.fn().mockRejectedValue(new SparkServerError('down', { operation: 'poll' }));

    await expect(checkWithRechecks(check, window, clock)).rejects.toBeInstanceOf(SparkServerError);
  });

  it('ends the loop as "still working" on an error of a re-check', async () => {
    const { clock } = fakeClock();
    const check = vi
      .fn<() => Promise<CheckResult<string>>>()
      .mockResolvedValueOnce({ done: false })
      .mockRejectedValueOnce(new SparkServerError('down', { operation: 'poll' }));

    expect(await checkWithRechecks(check, window, clock)).toEqual({
      value: undefined,
      checks: 2,
    });
    expect(check).toHaveBeenCalledTimes(2);
  });
});

/** A provider whose task completes at `doneAtMs` on the fake clock. */
function fakeSpark(at: () => number, doneAtMs: number) {
  const getTask = vi.fn(
    async (taskId: string): Promise<TaskSnapshot> =>
      at() >= doneAtMs
        ? {
            taskId,
            status: 'completed',
            state: 'completed',
            images: [{ url: 'https://images.example/1.png' }],
            costUsd: 0.03,
          }
        : { taskId, status: 'running', state: 'pending' },
  );
  return { spark: { getTask } as unknown as SparkClient, getTask };
}

function fakeStats(samples: number[] = []) {
  const recorded: number[] = [];
  const stats: DurationStats = {
    recent: async () => samples,
    record: async (seconds) => {
      recorded.push(seconds);
    },
  };
  return { stats, recorded };
}

describe('the poll step', () => {
  const createdAtMs = Date.parse('2026-11-24T10:00:00.000Z');
  const task: TaskState = {
    sparkTaskId: 'task-1',
    state: 'pending',
    polls: 0,
    nextWaitSeconds: 8,
    createdAt: new Date(createdAtMs).toISOString(),
  };
  const input = { id: 'gen-1', task, startedAt: new Date(createdAtMs - 100).toISOString() };

  /** The first poll, made `fromMs` after creation on the fake clock, of a task done at `doneMs`. */
  async function firstPoll(fromMs: number, doneMs: number) {
    const { clock, at } = fakeClock(createdAtMs + fromMs);
    const { spark, getTask } = fakeSpark(at, createdAtMs + doneMs);
    const { stats, recorded } = fakeStats();
    const answer = await pollTaskStep(input, {
      spark,
      policy,
      stats,
      clock,
      now: () => new Date(at()),
    });
    return { answer, getTask, recorded };
  }

  it('re-checks in-process on the first poll and learns the duration it saw', async () => {
    // First poll 8 s after creation; the task completes at 9.3 s.
    const { answer, getTask, recorded } = await firstPoll(8000, 9300);

    expect(answer).toMatchObject({ state: 'completed', polls: 1, createdAt: task.createdAt });
    expect(getTask).toHaveBeenCalledTimes(4);
    expect(recorded).toEqual([9.5]);
  });

  it("gives a completed record the expiry the workflow cannot compute: the task's creation plus the retention", async () => {
    const { clock, at } = fakeClock(createdAtMs + 8000);
    const { spark } = fakeSpark(at, createdAtMs);

    const kept = (retentionDays?: number) =>
      pollTaskStep(input, {
        spark,
        policy,
        clock,
        now: () => new Date(at()),
        ...(retentionDays && { retentionDays }),
      });

    const createdAtSeconds = createdAtMs / 1000;
    expect(((await kept()) as TaskState).attributes?.expiresAt).toEqual({
      N: String(createdAtSeconds + 90 * 86_400),
    });
    expect(((await kept(7)) as TaskState).attributes?.expiresAt).toEqual({
      N: String(createdAtSeconds + 7 * 86_400),
    });
  });

  it('hands back to the Wait state with the next interval when the window ends first', async () => {
    const { answer, getTask, recorded } = await firstPoll(8000, 60_000);

    expect(answer).toMatchObject({ state: 'pending', polls: 1, nextWaitSeconds: 2 });
    expect(getTask).toHaveBeenCalledTimes(17);
    expect(recorded).toEqual([]);
  });

  it('checks once on later polls', async () => {
    const { clock, at } = fakeClock(createdAtMs + 20_000);
    const { spark, getTask } = fakeSpark(at, createdAtMs + 60_000);

    const answer = await pollTaskStep(
      { ...input, task: { ...task, polls: 2 } },
      { spark, policy, clock, now: () => new Date(at()) },
    );

    expect(answer).toMatchObject({ state: 'pending', polls: 3, nextWaitSeconds: 5 });
    expect(getTask).toHaveBeenCalledTimes(1);
  });

  it('learns a shrunk duration when its first check already finds the task done', async () => {
    const { clock, at } = fakeClock(createdAtMs + 8000);
    const { spark } = fakeSpark(at, createdAtMs + 5000);
    const { stats, recorded } = fakeStats();

    await pollTaskStep(input, { spark, policy, stats, clock, now: () => new Date(at()) });

    expect(recorded).toEqual([8 * LATE_SAMPLE_FACTOR]);
  });

  it('learns nothing for a task created by an earlier execution', async () => {
    const { clock, at } = fakeClock(createdAtMs + 8000);
    const { spark } = fakeSpark(at, createdAtMs);
    const { stats, recorded } = fakeStats();
    const { createdAt: _, ...carried } = task;

    await pollTaskStep(
      { ...input, task: carried },
      { spark, policy, stats, clock, now: () => new Date(at()) },
    );

    expect(recorded).toEqual([]);
  });

  it('completes the generation even when the duration cannot be recorded', async () => {
    const { clock, at } = fakeClock(createdAtMs + 8000);
    const { spark } = fakeSpark(at, createdAtMs);
    const warn = vi.fn();
    const stats: DurationStats = {
      recent: async () => [],
      record: () => Promise.reject(new Error('throttled')),
    };

    const answer = await pollTaskStep(input, {
      spark,
      policy,
      stats,
      warn,
      clock,
      now: () => new Date(at()),
    });

    expect(answer.state).toBe('completed');
    expect(warn).toHaveBeenCalledWith('Could not record the provider duration', expect.any(Error));
  });
});

describe('a poll the provider throttles', () => {
  const startedAtMs = Date.parse('2026-11-24T10:00:00.000Z');
  const task: TaskState = { sparkTaskId: 'task-1', state: 'pending', polls: 2, nextWaitSeconds: 2 };
  const input = { id: 'gen-1', task, startedAt: new Date(startedAtMs).toISOString() };
  const throttling = (retryAfterSeconds?: number) => {
    const getTask = vi.fn(async (): Promise<TaskSnapshot> => {
      throw new SparkThrottledError('Spark poll answered HTTP 429', {
        operation: 'poll',
        httpStatus: 429,
        ...(retryAfterSeconds !== undefined && { retryAfterSeconds }),
      });
    });
    return { getTask } as unknown as SparkClient;
  };
  const at = (elapsedMs: number) => () => new Date(startedAtMs + elapsedMs);

  it('waits as long as its Retry-After asks before the next poll, counting the poll', async () => {
    const written: number[] = [];
    const answer = await pollTaskStep(input, {
      spark: throttling(17),
      policy,
      now: at(20_000),
      recordPolls: async (_id, polls) => {
        written.push(polls);
      },
    });

    expect(answer).toEqual({
      sparkTaskId: 'task-1',
      state: 'pending',
      polls: 3,
      nextWaitSeconds: 17,
    });
    expect(written).toEqual([3]);
  });

  it('never polls sooner than the usual interval when Retry-After is shorter', async () => {
    const answer = await pollTaskStep(input, { spark: throttling(0), policy, now: at(20_000) });

    expect(answer).toMatchObject({ state: 'pending', nextWaitSeconds: nextWaitSeconds(policy, 3) });
  });

  it('cuts a wait past the poll budget to what is left of it', async () => {
    const elapsedMs = (policy.maxElapsedSeconds - 40) * 1000;
    const answer = await pollTaskStep(input, {
      spark: throttling(3600),
      policy,
      now: at(elapsedMs),
    });

    expect(answer).toMatchObject({ state: 'pending', nextWaitSeconds: 40 });
  });

  it('fails the generation with the timeout code once the poll budget is spent', async () => {
    const answer = await pollTaskStep(
      { ...input, task: { ...task, polls: policy.maxPolls - 1 } },
      { spark: throttling(5), policy, now: at(20_000) },
    );

    expect(answer).toMatchObject({
      state: 'failed',
      polls: policy.maxPolls,
      failure: { code: ErrorCodes.GENERATION_TIMED_OUT },
    });
  });

  it('hands a throttled create back untouched, without asking the provider, for CreateTask to run again', async () => {
    const getTask = vi.fn();
    const throttled = { state: 'throttled', nextWaitSeconds: 12 } as const;

    const answer = await pollTaskStep(
      { ...input, task: throttled },
      { spark: { getTask } as unknown as SparkClient, policy, now: at(20_000) },
    );

    expect(answer).toBe(throttled);
    expect(getTask).not.toHaveBeenCalled();
  });

  it('throws a 429 without Retry-After, for the workflow to retry with backoff', async () => {
    await expect(
      pollTaskStep(input, { spark: throttling(), policy, now: at(20_000) }),
    ).rejects.toBeInstanceOf(SparkThrottledError);
  });
});

describe('the poll count in the record', () => {
  const createdAtMs = Date.parse('2026-11-24T10:00:00.000Z');
  const task: TaskState = { sparkTaskId: 'task-1', state: 'pending', polls: 2, nextWaitSeconds: 2 };
  const input = { id: 'gen-1', task, startedAt: new Date(createdAtMs).toISOString() };

  function recorder() {
    const written: Array<[string, number]> = [];
    const recordPolls = async (id: string, polls: number) => {
      written.push([id, polls]);
    };
    return { written, recordPolls };
  }

  it.each([
    ['finds the task still running', createdAtMs + 60_000, 'pending'],
    ['sees the task complete, as it learns the duration', createdAtMs, 'completed'],
  ])('is written by a poll that %s', async (_, doneAtMs, state) => {
    const { clock, at } = fakeClock(createdAtMs + 20_000);
    const { spark } = fakeSpark(at, doneAtMs);
    const { written, recordPolls } = recorder();

    const answer = await pollTaskStep(input, {
      spark,
      policy,
      clock,
      now: () => new Date(at()),
      recordPolls,
    });

    expect(answer).toMatchObject({ state, polls: 3 });
    expect(written).toEqual([['gen-1', 3]]);
  });

  it('is written before a generation fails for its poll budget, so the failure shows it', async () => {
    const { clock, at } = fakeClock(createdAtMs + 20_000);
    const { spark } = fakeSpark(at, createdAtMs + 60_000);
    const { written, recordPolls } = recorder();

    const answer = await pollTaskStep(
      { ...input, task: { ...task, polls: policy.maxPolls - 1 } },
      { spark, policy, clock, now: () => new Date(at()), recordPolls },
    );

    expect(answer).toMatchObject({ state: 'failed', polls: policy.maxPolls });
    expect(written).toEqual([['gen-1', policy.maxPolls]]);
  });

  it('never fails the generation when it cannot be written', async () => {
    const { clock, at } = fakeClock(createdAtMs + 20_000);
    const { spark } = fakeSpark(at, createdAtMs + 60_000);
    const warn = vi.fn();

    const answer = await pollTaskStep(input, {
      spark,
      policy,
      clock,
      now: () => new Date(at()),
      warn,
      recordPolls: () => Promise.reject(new Error('throttled')),
    });

    expect(answer).toMatchObject({ state: 'pending', polls: 3 });
    expect(warn).toHaveBeenCalledWith('Could not record the poll count', expect.any(Error));
  });
});

describe('the create step', () => {
  const record = {
    id: 'gen-1',
    owner: 'alice',
    status: 'queued',
    request: { prompt: 'p', use_pre_llm: true, seed: 1, width: 512, height: 512 },
    source: 'http',
    polls: 0,
    images: [],
    createdAt: '2026-11-24T10:00:00.000Z',
    updatedAt: '2026-11-24T10:00:00.000Z',
  };
  const store = {
    get: async () => record,
    recordTaskCreated: async () => undefined,
  } as unknown as GenerationStore;
  const spark = { createTask: async () => ({ taskId: 'task-1' }) } as unknown as SparkClient;
  const now = () => new Date('2026-11-24T10:00:01.000Z');

  it('times the first poll from the learned durations and says when the task was created', async () => {
    const { stats } = fakeStats([6.2, 7.4, 6.9, 8.1, 7.7, 6.6]);

    const answer = await createTaskStep(
      { id: 'gen-1' },
      { store, spark, policy, stats, now, batchStatus: noBatches },
    );

    expect(answer).toEqual({
      sparkTaskId: 'task-1',
      state: 'pending',
      polls: 0,
      nextWaitSeconds: 6,
      createdAt: '2026-11-24T10:00:01.000Z',
    });
  });

  it('falls back to the expected time when the durations cannot be read', async () => {
    const warn = vi.fn();
    const stats: DurationStats = {
      recent: () => Promise.reject(new Error('throttled')),
      record: async () => undefined,
    };

    const answer = await createTaskStep(
      { id: 'gen-1' },
      { store, spark, policy, stats, now, warn, batchStatus: noBatches },
    );

    expect(answer.nextWaitSeconds).toBe(8);
    expect(warn).toHaveBeenCalledOnce();
  });

  describe('when the provider throttles the create', () => {
    const throttling = (retryAfterSeconds?: number) =>
      ({
        createTask: async () => {
          throw new SparkThrottledError('Spark create answered HTTP 429', {
            operation: 'create',
            httpStatus: 429,
            ...(retryAfterSeconds !== undefined && { retryAfterSeconds }),
          });
        },
      }) as unknown as SparkClient;
    const startedAt = '2026-11-24T10:00:00.000Z';

    it('asks the state machine to wait as long as Retry-After says, recording nothing', async () => {
      const recordTaskCreated = vi.fn();
      const answer = await createTaskStep(
        { id: 'gen-1', startedAt },
        {
          store: { get: async () => record, recordTaskCreated } as unknown as GenerationStore,
          spark: throttling(12),
          policy,
          now,
          batchStatus: noBatches,
        },
      );

      expect(answer).toEqual({ state: 'throttled', nextWaitSeconds: 12 });
      expect(recordTaskCreated).not.toHaveBeenCalled();
    });

    it('waits at least the polling interval, however short Retry-After is', async () => {
      const answer = await createTaskStep(
        { id: 'gen-1', startedAt },
        { store, spark: throttling(0), policy, now, batchStatus: noBatches },
      );

      expect(answer).toEqual({ state: 'throttled', nextWaitSeconds: policy.intervalSeconds });
    });

    it.each([
      ['without Retry-After', throttling(), startedAt],
      ['with a wait past the elapsed-time bound', throttling(policy.maxElapsedSeconds), startedAt],
      ['without the execution start', throttling(5), undefined],
    ])('throws the 429 %s, for the workflow to retry with backoff', async (_, spark, at) => {
      await expect(
        createTaskStep(
          { id: 'gen-1', ...(at && { startedAt: at }) },
          { store, spark, policy, now, batchStatus: noBatches },
        ),
      ).rejects.toBeInstanceOf(SparkThrottledError);
    });
  });
});
