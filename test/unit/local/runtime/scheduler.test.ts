/**
 * The local EventBridge Scheduler: reading the template's schedules (each invokes the
 * schedule-firing function) and filling Scheduler's context attributes per firing, so every
 * delivery of one firing names one generation, from its scheduled time, as on AWS, while an
 * on-demand trigger is a new firing each time.
 */
import { describe, expect, it } from 'vitest';
import {
  type Firing,
  firingAt,
  firingInput,
  firingNow,
  type LocalSchedule,
  schedulesFromTemplate,
  startScheduler,
} from '#local/runtime/scheduler.ts';
import type { CfnTemplate } from '../../../../infra/asl.ts';
import {
  firingGenerationId,
  type ScheduleFiring,
} from '../../../../shared/generation/schedule-firing.ts';

const workflowInput = {
  request: { prompt: 'a sky', use_pre_llm: true, seed: -1, width: 1328, height: 1328 },
  source: 'schedule',
  sourceRef: 'schedule:nightly',
  owner: 'local',
};

/** A schedule resource as the Triggers construct synthesizes it. */
const template = {
  Resources: {
    TriggersScheduleFiring0A1B2C3D: { Type: 'AWS::Lambda::Function', Properties: {} },
    TriggersSchedulenightlyABC: {
      Type: 'AWS::Scheduler::Schedule',
      Properties: {
        ScheduleExpression: 'cron(0 2 * * ? *)',
        ScheduleExpressionTimezone: 'Europe/Paris',
        State: 'ENABLED',
        Target: {
          Arn: { 'Fn::GetAtt': ['TriggersScheduleFiring0A1B2C3D', 'Arn'] },
          Input: JSON.stringify({
            schedule: 'nightly',
            scheduledTime: '<aws.scheduler.scheduled-time>',
            input: workflowInput,
          }),
        },
      },
    },
  },
} as unknown as CfnTemplate;

/** The generation a firing's invocation starts, as the schedule-firing function names it. */
const generationOf = (schedule: LocalSchedule, firing: Firing) => {
  const event = firingInput(schedule, firing) as ScheduleFiring;
  return firingGenerationId(event.schedule, event.scheduledTime);
};

describe('schedulesFromTemplate', () => {
  it('reads the function each schedule invokes and its input, context attributes left in', () => {
    const [schedule] = schedulesFromTemplate(template);

    expect(schedule).toMatchObject({
      name: 'nightly',
      expression: 'cron(0 2 * * ? *)',
      timeZone: 'Europe/Paris',
      enabled: true,
      functionArn: expect.stringMatching(/:function:TriggersScheduleFiring0A1B2C3D$/),
    });
    expect(JSON.parse(schedule?.input as string)).toEqual({
      schedule: 'nightly',
      scheduledTime: '<aws.scheduler.scheduled-time>',
      input: workflowInput,
    });
  });
});

describe('a firing', () => {
  const [schedule] = schedulesFromTemplate(template) as [LocalSchedule];
  const at = new Date('2030-01-01T01:00:00.000Z');

  it('names the same generation, with the same input, however often it is delivered', () => {
    const first = firingInput(schedule, firingAt(at));
    const again = firingInput(schedule, firingAt(new Date(at)));

    expect(again).toEqual(first);
    expect(first).toEqual({
      schedule: 'nightly',
      scheduledTime: '2030-01-01T01:00:00Z',
      input: workflowInput,
    });
    expect(generationOf(schedule, firingAt(at))).toBe('s_nightly_20300101T010000Z');
  });

  it('never names anything from the execution id, which is new at every attempt', () => {
    const withId = {
      ...schedule,
      input: '{"id":"<aws.scheduler.execution-id>","t":"<aws.scheduler.scheduled-time>"}',
    };

    const [one, two] = [firingInput(withId, firingAt(at)), firingInput(withId, firingAt(at))] as [
      { id: string; t: string },
      { id: string; t: string },
    ];

    expect(one.id).not.toBe(two.id);
    expect(one.t).toBe(two.t);
  });

  it('names another generation at another scheduled time', () => {
    expect(generationOf(schedule, firingAt(new Date('2030-01-02T01:00:00Z')))).not.toBe(
      generationOf(schedule, firingAt(at)),
    );
  });

  it('fills every context attribute as Scheduler does', () => {
    const withAll = {
      ...schedule,
      input:
        '{"t":"<aws.scheduler.scheduled-time>","a":"<aws.scheduler.attempt-number>","s":"<aws.scheduler.schedule-arn>","e":"<aws.scheduler.execution-id>"}',
    };

    expect(firingInput(withAll, firingAt(at))).toEqual({
      t: '2030-01-01T01:00:00Z',
      a: '1',
      s: 'arn:aws:scheduler:us-east-1:000000000000:schedule/default/TriggersSchedulenightlyABC',
      e: expect.stringMatching(/^[0-9a-f]{16}$/),
    });
  });

  it('on demand is a new firing at each millisecond', () => {
    const now = new Date('2030-01-01T01:00:00.123Z');

    expect(generationOf(schedule, firingNow(now))).toBe('s_nightly_20300101T010000123Z');
    expect(generationOf(schedule, firingNow(new Date(now.getTime() + 1)))).not.toBe(
      generationOf(schedule, firingNow(now)),
    );
  });
});

describe('startScheduler', () => {
  it('fires on demand with a new firing each call', async () => {
    // Two triggers in one millisecond would be one firing; real ones are further apart.
    let clock = Date.parse('2030-01-01T00:00:00.000Z');
    const [schedule] = schedulesFromTemplate(template) as [LocalSchedule];
    const fired: string[] = [];
    const scheduler = startScheduler(
      [{ ...schedule, enabled: false }],
      async (target, firing) => {
        fired.push(generationOf(target, firing));
      },
      { now: () => new Date(clock++) },
    );

    await scheduler.trigger('nightly');
    await scheduler.trigger('nightly');
    scheduler.stop();

    expect(fired).toHaveLength(2);
    expect(new Set(fired).size).toBe(2);
  });

  it('fires a scheduled time as the firing of that time', async () => {
    const [schedule] = schedulesFromTemplate(template) as [LocalSchedule];
    const rate = { ...schedule, expression: 'rate(1 minute)', timeZone: 'UTC' };
    const started = new Date('2030-01-01T00:00:00.000Z');
    let calls = 0;
    const fired: string[] = [];
    const done = new Promise<void>((resolve) => {
      const scheduler = startScheduler(
        [rate],
        async (target, firing) => {
          fired.push(generationOf(target, firing));
          scheduler.stop();
          resolve();
        },
        // Start and arming read the start time; by the timer's check, a minute has passed.
        { now: () => new Date(started.getTime() + (++calls > 2 ? 60_000 : 0)) },
      );
    });
    await done;

    expect(fired).toEqual([generationOf(rate, firingAt(new Date(started.getTime() + 60_000)))]);
    expect(fired).toEqual(['s_nightly_20300101T000100Z']);
  });
});
