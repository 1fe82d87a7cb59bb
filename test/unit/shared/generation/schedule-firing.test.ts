/**
 * A schedule's firing names its generation from the scheduled time, the one value Scheduler keeps
 * across every delivery and retry of a firing: a retried delivery meets the generation the first
 * one started instead of starting (and paying for) another.
 */
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  firingGenerationId,
  ScheduleFiringError,
  startScheduleFiring,
} from '#shared/generation/schedule-firing.ts';
import { awsError, STATE_MACHINE_ARN } from '../prompt-files/helpers.ts';

const sfn = new SFNClient({ region: 'us-east-1' });
const sfnMock = mockClient(sfn);
const deps = { sfn, stateMachineArn: STATE_MACHINE_ARN };

const input = {
  request: { prompt: 'a product shot', use_pre_llm: true, seed: -1, width: 1328, height: 1328 },
  source: 'schedule',
  sourceRef: 'schedule:daily-catalogue',
  owner: 'catalogue',
};
const firing = { schedule: 'daily-catalogue', scheduledTime: '2030-01-01T06:00:00Z', input };

describe('startScheduleFiring', () => {
  beforeEach(() => sfnMock.reset());

  it('starts the execution named from the schedule and its scheduled time', async () => {
    sfnMock.on(StartExecutionCommand).resolves({ executionArn: 'arn' });

    await expect(startScheduleFiring(firing, deps)).resolves.toEqual({
      id: 's_daily-catalogue_20300101T060000Z',
      outcome: 'started',
    });
    const [call] = sfnMock.commandCalls(StartExecutionCommand);
    expect(call?.args[0].input).toEqual({
      stateMachineArn: STATE_MACHINE_ARN,
      name: 's_daily-catalogue_20300101T060000Z',
      input: JSON.stringify({
        ...input,
        webhookEvents: [],
        id: 's_daily-catalogue_20300101T060000Z',
      }),
    });
  });

  it('meets the generation of an earlier delivery of the same firing, whatever its attempt', async () => {
    sfnMock
      .on(StartExecutionCommand)
      .resolvesOnce({ executionArn: 'arn' })
      .rejects(awsError('ExecutionAlreadyExists', 400));

    const first = await startScheduleFiring(firing, deps);
    const retried = await startScheduleFiring({ ...firing }, deps);

    expect(retried).toEqual({ id: first.id, outcome: 'existing' });
    const names = sfnMock
      .commandCalls(StartExecutionCommand)
      .map((call) => call.args[0].input.name);
    expect(names).toEqual([first.id, first.id]);
  });

  it('starts another generation at another scheduled time', async () => {
    sfnMock.on(StartExecutionCommand).resolves({ executionArn: 'arn' });

    const today = await startScheduleFiring(firing, deps);
    const tomorrow = await startScheduleFiring(
      { ...firing, scheduledTime: '2030-01-02T06:00:00Z' },
      deps,
    );

    expect(tomorrow.id).not.toBe(today.id);
  });

  it.each([
    ['no scheduled time', { schedule: 'a', input }],
    [
      'an attribute Scheduler left unfilled',
      { ...firing, scheduledTime: '<aws.scheduler.scheduled-time>' },
    ],
    ['a local time', { ...firing, scheduledTime: '2030-01-01T06:00:00' }],
    ['an invalid workflow input', { ...firing, input: { ...input, owner: 'Not An Owner' } }],
  ])('refuses an event with %s, starting nothing', async (_, event) => {
    await expect(startScheduleFiring(event, deps)).rejects.toThrow(ScheduleFiringError);
    expect(sfnMock.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });
});

describe('firingGenerationId', () => {
  it('keeps 40 characters of a long schedule name, and milliseconds of an on-demand firing', () => {
    const name = 'n'.repeat(48);

    const id = firingGenerationId(name, '2030-01-01T06:00:00.123Z');

    expect(id).toBe(`s_${'n'.repeat(40)}_20300101T060000123Z`);
    expect(id.length).toBeLessThanOrEqual(80);
  });
});
