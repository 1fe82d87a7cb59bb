/**
 * EventBridge Scheduler, locally: the template's schedules fire on their expressions (in their
 * time zones) and can be fired on demand (`spark-t2i schedules trigger NAME`). Each schedule's
 * target is the schedule-firing function with the input the template gives it, context
 * attributes and all; a firing fills them in as Scheduler does, and the function names the
 * execution from the scheduled time, as on AWS (shared/generation/schedule-firing.ts).
 */
import { randomBytes } from 'node:crypto';
import { Cron } from 'croner';
import { type CfnTemplate, resolveIntrinsics } from '#infra/asl.ts';

export interface LocalSchedule {
  readonly name: string;
  readonly expression: string;
  readonly timeZone: string;
  readonly enabled: boolean;
  /** The function the schedule invokes (the schedule-firing function). */
  readonly functionArn: string;
  /** The invocation's input (a JSON string), context attributes still in it. */
  readonly input: string;
  readonly arn: string;
}

/** One firing of a schedule: what Scheduler's context attributes stand for. */
export interface Firing {
  /**
   * `<aws.scheduler.scheduled-time>`: the same for every delivery and retry of the firing, and
   * what its generation is named from.
   */
  readonly scheduledTime: Date;
  /** Whole seconds, as Scheduler writes a scheduled time; a firing on demand keeps milliseconds. */
  readonly wholeSeconds: boolean;
}

/** The firing of a schedule at a scheduled time (its expression's), delivered however often. */
export function firingAt(scheduledTime: Date): Firing {
  return { scheduledTime, wholeSeconds: true };
}

/**
 * A firing on demand: now, to the millisecond, so triggering twice in one second is two firings
 * (Scheduler has no such thing; a one-off `at()` schedule is its nearest).
 */
export function firingNow(now: Date = new Date()): Firing {
  return { scheduledTime: now, wholeSeconds: false };
}

/**
 * The input of a firing's invocation, context attributes replaced as Scheduler does:
 * `<aws.scheduler.execution-id>` is new at each attempted invocation (AWS documents it so), and
 * so nothing may be named from it.
 */
export function firingInput(schedule: LocalSchedule, firing: Firing): unknown {
  const values: Record<string, string> = {
    '<aws.scheduler.schedule-arn>': schedule.arn,
    '<aws.scheduler.scheduled-time>': firing.wholeSeconds
      ? schedulerTime(firing.scheduledTime)
      : firing.scheduledTime.toISOString(),
    '<aws.scheduler.execution-id>': randomBytes(8).toString('hex'),
    '<aws.scheduler.attempt-number>': '1',
  };
  return JSON.parse(
    schedule.input.replace(
      /<aws\.scheduler\.[a-z-]+>/g,
      (attribute) => values[attribute] ?? attribute,
    ),
  );
}

/** Scheduler's time format: `2022-03-22T18:59:43Z`, whole seconds. */
function schedulerTime(time: Date): string {
  return time.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export class ScheduleExpressionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScheduleExpressionError';
  }
}

const RATE_UNITS: Record<string, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };

/** The next fire time of an EventBridge Scheduler expression strictly after `after`. */
export function nextFireTime(
  expression: string,
  timeZone: string,
  after: Date,
  startedAt: Date = after,
): Date | undefined {
  const rate = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(expression);
  if (rate) {
    const value = Number(rate[1]);
    const unit = (rate[2] as string).replace(/s$/, '');
    if (value < 1 || (value === 1) !== !(rate[2] as string).endsWith('s')) {
      throw new ScheduleExpressionError(`Invalid rate expression ${expression}`);
    }
    const period = value * (RATE_UNITS[unit] as number);
    const elapsed = after.getTime() - startedAt.getTime();
    return new Date(startedAt.getTime() + (Math.floor(elapsed / period) + 1) * period);
  }
  const cron = /^cron\((\S+ \S+ \S+ \S+ \S+ \S+)\)$/.exec(expression);
  if (cron) {
    // EventBridge cron: minutes hours day-of-month month day-of-week year, days numbered 1-7
    // from Sunday (croner's "alternative weekdays"), with a seconds field added in front.
    const job = new Cron(`0 ${cron[1]}`, {
      timezone: timeZone,
      alternativeWeekdays: true,
      paused: true,
    });
    return job.nextRun(after) ?? undefined;
  }
  const at = /^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$/.exec(expression);
  if (at) {
    const job = new Cron(at[1] as string, { timezone: timeZone, paused: true });
    const next = job.nextRun(after);
    return next ?? undefined;
  }
  throw new ScheduleExpressionError(`Not an EventBridge Scheduler expression: ${expression}`);
}

/** Each `AWS::Scheduler::Schedule` of the template, named as its target's input names it. */
export function schedulesFromTemplate(template: CfnTemplate): LocalSchedule[] {
  return Object.entries(template.Resources)
    .filter(([, resource]) => resource.Type === 'AWS::Scheduler::Schedule')
    .map(([logicalId, resource]) => {
      const properties = resource.Properties as {
        ScheduleExpression: string;
        ScheduleExpressionTimezone?: string;
        State?: string;
        Target: { Arn: unknown; Input?: unknown };
      };
      // Only the target's ARN and input matter here (its role and queue have no local meaning).
      const functionArn = String(resolveIntrinsics(properties.Target.Arn, template));
      if (!/^arn:aws:lambda:[^:]*:[^:]*:function:/.test(functionArn)) {
        throw new Error(`Schedule ${logicalId} does not target a function (${functionArn})`);
      }
      const input = String(resolveIntrinsics(properties.Target.Input ?? '{}', template));
      const schedule = (JSON.parse(input) as { schedule?: unknown }).schedule;
      return {
        name: typeof schedule === 'string' ? schedule : logicalId,
        expression: properties.ScheduleExpression,
        timeZone: properties.ScheduleExpressionTimezone ?? 'UTC',
        enabled: properties.State !== 'DISABLED',
        functionArn,
        input,
        arn: `arn:aws:scheduler:us-east-1:000000000000:schedule/default/${logicalId}`,
      };
    });
}

export interface Scheduler {
  /** Fires a schedule now, enabled or not. */
  trigger(name: string): Promise<void>;
  list(): Array<{
    name: string;
    expression: string;
    timeZone: string;
    enabled: boolean;
    next: string | null;
  }>;
  stop(): void;
}

/** Longest single timer Node accepts; longer waits are chained. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export function startScheduler(
  schedules: readonly LocalSchedule[],
  fire: (schedule: LocalSchedule, firing: Firing) => Promise<void>,
  options: {
    readonly onError?: (error: unknown, schedule: LocalSchedule) => void;
    readonly now?: () => Date;
  } = {},
): Scheduler {
  const now = options.now ?? (() => new Date());
  const startedAt = now();
  const timers = new Map<string, NodeJS.Timeout>();
  const nextRuns = new Map<string, Date | undefined>();
  let stopped = false;

  const run = (schedule: LocalSchedule, scheduledTime: Date) =>
    fire(schedule, firingAt(scheduledTime)).catch((error: unknown) =>
      options.onError?.(error, schedule),
    );

  const arm = (schedule: LocalSchedule) => {
    if (stopped) return;
    const next = nextFireTime(schedule.expression, schedule.timeZone, now(), startedAt);
    nextRuns.set(schedule.name, next);
    if (next === undefined) return;
    const wait = () => {
      const remaining = next.getTime() - now().getTime();
      const timer = setTimeout(
        () => {
          if (remaining > MAX_TIMER_MS) return wait();
          void run(schedule, next).finally(() => arm(schedule));
        },
        Math.min(Math.max(0, remaining), MAX_TIMER_MS),
      );
      timer.unref();
      timers.set(schedule.name, timer);
    };
    wait();
  };

  for (const schedule of schedules) {
    nextFireTime(schedule.expression, schedule.timeZone, startedAt); // fails fast on a bad one
    if (schedule.enabled) arm(schedule);
  }

  return {
    async trigger(name) {
      const schedule = schedules.find((candidate) => candidate.name === name);
      if (!schedule) {
        const known = schedules.map((candidate) => candidate.name).join(', ') || 'none';
        throw new Error(`No schedule "${name}"; configured: ${known}`);
      }
      await fire(schedule, firingNow(now()));
    },
    list: () =>
      schedules.map((schedule) => ({
        name: schedule.name,
        expression: schedule.expression,
        timeZone: schedule.timeZone,
        enabled: schedule.enabled,
        next: schedule.enabled ? (nextRuns.get(schedule.name)?.toISOString() ?? null) : null,
      })),
    stop() {
      stopped = true;
      for (const timer of timers.values()) clearTimeout(timer);
      timers.clear();
    },
  };
}
