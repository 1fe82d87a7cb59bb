/**
 * EventBridge Scheduler, locally: the template's schedules fire on their expressions (in their
 * time zones) and can be fired on demand (`spark-t2i schedules trigger NAME`). Each schedule's
 * target is the `sfn:StartExecution` request the template gives it, context attributes and all;
 * a firing fills them in as Scheduler does, so it names its execution the same way.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Cron } from 'croner';
import { type CfnTemplate, resolveIntrinsics } from '../../infra/asl.ts';

export interface LocalSchedule {
  readonly name: string;
  readonly expression: string;
  readonly timeZone: string;
  readonly enabled: boolean;
  /** StartExecution's `Name`, Scheduler's context attributes still in it. */
  readonly executionName: string;
  /** StartExecution's `Input` (a JSON string), context attributes still in it. */
  readonly input: string;
  readonly arn: string;
}

/** One firing of a schedule: what Scheduler's context attributes stand for. */
export interface Firing {
  readonly scheduledTime: Date;
  /** `<aws.scheduler.execution-id>`: the same for every delivery of this firing. */
  readonly executionId: string;
}

/**
 * The firing of a schedule at a scheduled time. Its id is derived from the schedule's name and
 * that time, so the same firing delivered twice names the same execution (Scheduler's own id is
 * likewise the same across its retries of one firing).
 */
export function firingAt(schedule: Pick<LocalSchedule, 'name'>, scheduledTime: Date): Firing {
  const executionId = createHash('sha256')
    .update(`${schedule.name}\n${schedulerTime(scheduledTime)}`)
    .digest('hex')
    .slice(0, 16);
  return { scheduledTime, executionId };
}

/** A firing on demand: now, and a new firing every time. */
export function firingNow(now: Date = new Date()): Firing {
  return { scheduledTime: now, executionId: randomBytes(8).toString('hex') };
}

/** The StartExecution request of a firing, context attributes replaced as Scheduler does. */
export function startExecutionOf(
  schedule: LocalSchedule,
  firing: Firing,
): { name: string; input: string } {
  const values: Record<string, string> = {
    '<aws.scheduler.schedule-arn>': schedule.arn,
    '<aws.scheduler.scheduled-time>': schedulerTime(firing.scheduledTime),
    '<aws.scheduler.execution-id>': firing.executionId,
    '<aws.scheduler.attempt-number>': '1',
  };
  const fill = (text: string) =>
    text.replace(/<aws\.scheduler\.[a-z-]+>/g, (attribute) => values[attribute] ?? attribute);
  return { name: fill(schedule.executionName), input: fill(schedule.input) };
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

/**
 * Each `AWS::Scheduler::Schedule` of the template whose target starts an execution, named by
 * its workflow input's `schedule:<name>`.
 */
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
      const targetArn = String(resolveIntrinsics(properties.Target.Arn, template));
      if (!targetArn.endsWith(':scheduler:::aws-sdk:sfn:startExecution')) {
        throw new Error(`Schedule ${logicalId} does not target sfn:startExecution`);
      }
      const request = JSON.parse(
        String(resolveIntrinsics(properties.Target.Input ?? '{}', template)),
      ) as { Name?: string; Input?: string };
      const input = request.Input ?? '{}';
      const sourceRef = (JSON.parse(input) as { sourceRef?: unknown }).sourceRef;
      const name =
        typeof sourceRef === 'string' && sourceRef.startsWith('schedule:')
          ? sourceRef.slice('schedule:'.length)
          : logicalId;
      return {
        name,
        expression: properties.ScheduleExpression,
        timeZone: properties.ScheduleExpressionTimezone ?? 'UTC',
        enabled: properties.State !== 'DISABLED',
        executionName: request.Name ?? '<aws.scheduler.execution-id>',
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
    fire(schedule, firingAt(schedule, scheduledTime)).catch((error: unknown) =>
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
