import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { GenerationStartError } from '#shared/prompt-files/errors.ts';
import { StartPacer, startGeneration, TaskPool } from '#shared/prompt-files/starter.ts';
import { awsError, STATE_MACHINE_ARN, virtualClock } from './helpers.ts';

const sfn = new SFNClient({ region: 'us-east-1' });
const sfnMock = mockClient(sfn);

const input = {
  id: 'f_0123456789abcdef0123456789abcdef01234567',
  request: { prompt: 'a cat', use_pre_llm: true, seed: -1, width: 1328, height: 1328 },
  source: 's3' as const,
  sourceRef: 's3://b/prompts/x.txt#1',
  owner: 'alice',
};

describe('startGeneration', () => {
  const delays: number[] = [];
  const options = {
    sfn,
    stateMachineArn: STATE_MACHINE_ARN,
    retry: { attempts: 4, baseDelayMs: 100, maxDelayMs: 250 },
    sleep: async (ms: number) => {
      delays.push(ms);
    },
    random: () => 0.999,
  };

  beforeEach(() => {
    sfnMock.reset();
    delays.length = 0;
  });

  it('starts an execution named by the generation id with the workflow input', async () => {
    sfnMock.on(StartExecutionCommand).resolves({ executionArn: 'arn' });

    await expect(startGeneration(input, options)).resolves.toBe('started');

    const call = sfnMock.commandCalls(StartExecutionCommand)[0]?.args[0].input;
    expect(call).toEqual({
      stateMachineArn: STATE_MACHINE_ARN,
      name: input.id,
      // Every trigger's input names the webhook's events; a line of a file has none.
      input: JSON.stringify({ ...input, webhookEvents: [] }),
    });
  });

  it('counts an execution that already exists as started', async () => {
    sfnMock.on(StartExecutionCommand).rejects(awsError('ExecutionAlreadyExists', 400));

    await expect(startGeneration(input, options)).resolves.toBe('existing');
  });

  it('retries throttling with capped exponential backoff and full jitter', async () => {
    sfnMock
      .on(StartExecutionCommand)
      .rejectsOnce(awsError('ThrottlingException', 400))
      .rejectsOnce(awsError('ThrottlingException', 400))
      .rejectsOnce(awsError('ServiceUnavailable', 503))
      .resolves({ executionArn: 'arn' });

    await expect(startGeneration(input, options)).resolves.toBe('started');

    expect(sfnMock.commandCalls(StartExecutionCommand)).toHaveLength(4);
    expect(delays).toEqual([99, 199, 249]);
  });

  it('gives up after the last attempt with a retryable error', async () => {
    sfnMock.on(StartExecutionCommand).rejects(awsError('ThrottlingException', 400));

    const error = await startGeneration(input, options).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(GenerationStartError);
    expect(error).toMatchObject({ name: 'GenerationStartError', retryable: true });
    expect((error as Error).cause).toMatchObject({ name: 'ThrottlingException' });
    expect(sfnMock.commandCalls(StartExecutionCommand)).toHaveLength(4);
  });

  it('does not retry a refusal such as a missing permission', async () => {
    sfnMock.on(StartExecutionCommand).rejects(awsError('AccessDeniedException', 400));

    await expect(startGeneration(input, options)).rejects.toMatchObject({
      name: 'GenerationStartError',
      retryable: false,
    });
    expect(sfnMock.commandCalls(StartExecutionCommand)).toHaveLength(1);
  });
});

describe('TaskPool', () => {
  it('keeps at most its limit of tasks in flight', async () => {
    const pool = new TaskPool(3);
    let inFlight = 0;
    let peak = 0;
    const task = async () => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 1));
      inFlight--;
    };

    for (let i = 0; i < 20; i++) await pool.add(task);
    await pool.drain();

    expect(peak).toBe(3);
    expect(inFlight).toBe(0);
  });

  it('keeps the first failure, lets the others finish, and throws it from drain', async () => {
    const pool = new TaskPool(2);
    const finished: number[] = [];
    await pool.add(async () => {
      throw new Error('first');
    });
    await pool.add(async () => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      finished.push(2);
    });
    await pool.add(() => {
      throw new Error('synchronous');
    });

    await expect(pool.drain()).rejects.toThrow('first');
    expect(pool.failed).toBe(true);
    expect(finished).toEqual([2]);
  });
});

describe('StartPacer', () => {
  /** The clock's time at each of `count` turns. */
  async function turnTimes(
    pacer: StartPacer,
    clock: { now(): number },
    count: number,
    atLeast = 0,
  ) {
    const times: number[] = [];
    for (let index = 0; index < count; index++) {
      await pacer.turn(atLeast);
      times.push(clock.now());
    }
    return times;
  }

  it('lets a burst go at once, then spaces the turns by the rate', async () => {
    const clock = virtualClock();
    const pacer = new StartPacer({ perSecond: 10, burst: 5, ...clock });
    const times = await turnTimes(pacer, clock, 8);
    expect(times).toEqual([0, 0, 0, 0, 0, 100, 200, 300]);
  });

  it('earns a burst back after a quiet spell, and no more than one', async () => {
    const clock = virtualClock();
    const pacer = new StartPacer({ perSecond: 10, burst: 3, ...clock });
    await turnTimes(pacer, clock, 3);
    await clock.sleep(10_000);
    const times = await turnTimes(pacer, clock, 5);
    expect(times).toEqual([10_000, 10_000, 10_000, 10_100, 10_200]);
  });

  it('defaults the burst to a second of turns', async () => {
    const clock = virtualClock();
    const pacer = new StartPacer({ perSecond: 25, ...clock });
    const times = await turnTimes(pacer, clock, 50);
    expect(times.filter((time) => time === 0)).toHaveLength(25);
    expect(times.at(-1)).toBe(1000);
  });

  it('goes faster when a turn asks for more than the rate, never slower when it asks for less', async () => {
    const clock = virtualClock();
    const pacer = new StartPacer({ perSecond: 10, burst: 1, ...clock });
    expect(await turnTimes(pacer, clock, 3, 100)).toEqual([0, 10, 20]);
    expect(await turnTimes(pacer, clock, 2, 1)).toEqual([30, 130]);
    expect(await turnTimes(pacer, clock, 3, Number.POSITIVE_INFINITY)).toEqual([230, 230, 230]);
  });

  it('refuses a rate that is not positive', () => {
    expect(() => new StartPacer({ perSecond: 0 })).toThrow(RangeError);
    expect(() => new StartPacer({ perSecond: Number.NaN })).toThrow(RangeError);
  });
});
