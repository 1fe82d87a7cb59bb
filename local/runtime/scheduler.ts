/**
 * EventBridge Scheduler, locally: the template's schedules fire on their expressions (in their
 * time zones) and can be fired on demand (`spark-t2i schedules trigger NAME`).
 */
import { Cron } from 'croner';
import type { CfnTemplate } from '../../infra/asl.ts';

export interface LocalSchedule {
  readonly name: string;
  readonly expression: string;
  readonly timeZone: string;
  readonly enabled: boolean;
  /** The state machine input the schedule sends. */
  readonly input: Record<string, unknown>;
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

/** Each `AWS::Scheduler::Schedule` of the template, named by its input's `schedule:<name>`. */
export function schedulesFromTemplate(template: CfnTemplate): LocalSchedule[] {
  return Object.entries(template.Resources)
    .filter(([, resource]) => resource.Type === 'AWS::Scheduler::Schedule')
    .map(([logicalId, resource]) => {
      const properties = resource.Properties as {
        ScheduleExpression: string;
        ScheduleExpressionTimezone?: string;
        State?: string;
        Target: { Input?: string };
      };
      const input = JSON.parse(properties.Target.Input ?? '{}') as Record<string, unknown>;
      const sourceRef = typeof input.sourceRef === 'string' ? input.sourceRef : '';
      return {
        name: sourceRef.startsWith('schedule:') ? sourceRef.slice('schedule:'.length) : logicalId,
        expression: properties.ScheduleExpression,
        timeZone: properties.ScheduleExpressionTimezone ?? 'UTC',
        enabled: properties.State !== 'DISABLED',
        input,
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
  fire: (schedule: LocalSchedule, firedAt: Date) => Promise<void>,
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

  const run = (schedule: LocalSchedule, firedAt: Date) =>
    fire(schedule, firedAt).catch((error: unknown) => options.onError?.(error, schedule));

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
      await fire(schedule, now());
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
