/**
 * The local EventBridge Scheduler: reading the template's universal sfn:startExecution targets
 * and filling Scheduler's context attributes per firing, so one firing always names one
 * execution and an on-demand trigger is a new firing each time.
 */
import { describe, expect, it } from 'vitest';
import {
  firingAt,
  firingNow,
  type LocalSchedule,
  schedulesFromTemplate,
  startExecutionOf,
  startScheduler,
} from '#local/runtime/scheduler.ts';
import type { CfnTemplate } from '../../../infra/asl.ts';

const workflowInput = {
  request: { prompt: 'a sky', use_pre_llm: true, seed: -1, width: 1328, height: 1328 },
  source: 'schedule',
  sourceRef: 'schedule:nightly',
  owner: 'local',
};

/** A schedule resource as the Triggers construct synthesizes it. */
const template = {
  Resources: {
    WorkflowStateMachine8F1B1C15: { Type: 'AWS::StepFunctions::StateMachine', Properties: {} },
    TriggersSchedulenightlyABC: {
      Type: 'AWS::Scheduler::Schedule',
      Properties: {
        ScheduleExpression: 'cron(0 2 * * ? *)',
        ScheduleExpressionTimezone: 'Europe/Paris',
        State: 'ENABLED',
        Target: {
          Arn: {
            'Fn::Join': [
              '',
              ['arn:', { Ref: 'AWS::Partition' }, ':scheduler:::aws-sdk:sfn:startExecution'],
            ],
          },
          Input: {
            'Fn::Join': [
              '',
              [
                '{"StateMachineArn":"',
                { Ref: 'WorkflowStateMachine8F1B1C15' },
                `","Name":"s_nightly_<aws.scheduler.execution-id>","Input":${JSON.stringify(JSON.stringify(workflowInput))}}`,
              ],
            ],
          },
        },
      },
    },
  },
} as unknown as CfnTemplate;

describe('schedulesFromTemplate', () => {
  it('reads the StartExecution request of each schedule, context attributes left in', () => {
    const [schedule] = schedulesFromTemplate(template);

    expect(schedule).toMatchObject({
      name: 'nightly',
      expression: 'cron(0 2 * * ? *)',
      timeZone: 'Europe/Paris',
      enabled: true,
      executionName: 's_nightly_<aws.scheduler.execution-id>',
    });
    expect(JSON.parse(schedule?.input as string)).toEqual(workflowInput);
  });
});

describe('a firing', () => {
  const [schedule] = schedulesFromTemplate(template) as [LocalSchedule];
  const at = new Date('2030-01-01T01:00:00.000Z');

  it('names the same execution, with the same input, however often it is delivered', () => {
    const first = startExecutionOf(schedule, firingAt(schedule, at));
    const again = startExecutionOf(schedule, firingAt(schedule, new Date(at)));

    expect(again).toEqual(first);
    expect(first.name).toMatch(/^s_nightly_[0-9a-f]{16}$/);
    expect(JSON.parse(first.input)).toEqual(workflowInput);
  });

  it('names another execution at another scheduled time, or for another schedule', () => {
    const name = startExecutionOf(schedule, firingAt(schedule, at)).name;

    expect(
      startExecutionOf(schedule, firingAt(schedule, new Date('2030-01-02T01:00:00Z'))).name,
    ).not.toBe(name);
    expect(firingAt({ name: 'other' }, at).executionId).not.toBe(
      firingAt(schedule, at).executionId,
    );
  });

  it('fills every context attribute as Scheduler does', () => {
    const withAll = {
      ...schedule,
      input:
        '{"t":"<aws.scheduler.scheduled-time>","a":"<aws.scheduler.attempt-number>","s":"<aws.scheduler.schedule-arn>"}',
    };

    const { input } = startExecutionOf(withAll, firingAt(schedule, at));

    expect(JSON.parse(input)).toEqual({
      t: '2030-01-01T01:00:00Z',
      a: '1',
      s: 'arn:aws:scheduler:us-east-1:000000000000:schedule/default/TriggersSchedulenightlyABC',
    });
  });

  it('on demand is a new firing every time', () => {
    const now = new Date();
    expect(firingNow(now).executionId).not.toBe(firingNow(now).executionId);
  });
});

describe('startScheduler', () => {
  it('fires on demand with a new firing each call', async () => {
    const [schedule] = schedulesFromTemplate(template) as [LocalSchedule];
    const fired: string[] = [];
    const scheduler = startScheduler([{ ...schedule, enabled: false }], async (target, firing) => {
      fired.push(startExecutionOf(target, firing).name);
    });

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
          fired.push(startExecutionOf(target, firing).name);
          scheduler.stop();
          resolve();
        },
        // Start and arming read the start time; by the timer's check, a minute has passed.
        { now: () => new Date(started.getTime() + (++calls > 2 ? 60_000 : 0)) },
      );
    });
    await done;

    expect(fired).toEqual([
      startExecutionOf(rate, firingAt(rate, new Date(started.getTime() + 60_000))).name,
    ]);
  });
});
