/**
 * The template's schedules wired to their target: a firing invokes the schedule-firing function
 * as the schedule's role (its `Target.RoleArn`), and that function starts the execution named
 * from the firing's scheduled time, so a repeated delivery meets the same generation. Schedules
 * fire on their expressions (scheduler.ts) once started, and on demand by name.
 */
import type { CfnTemplate } from '#infra/asl.ts';
import type { LocalIdentities } from '#local/aws/identities.ts';
import { scheduleRole } from '#local/aws/template-roles.ts';
import { type Invoker, invokerAs } from '#local/runtime/invoke-access.ts';
import {
  type Firing,
  firingAt,
  firingInput,
  firingNow,
  type LocalSchedule,
  type Scheduler,
  schedulesFromTemplate,
  startScheduler,
} from '#local/runtime/scheduler.ts';

export interface ScheduleTargets {
  /** Fires the enabled schedules on their expressions from now on. */
  start(log: (line: string) => void): Scheduler;
  /** Fires a schedule now (`spark-t2i schedules trigger NAME`); answers the generation's id. */
  trigger(name: string): Promise<{ id: string }>;
  /** Fires a schedule as Scheduler does at `scheduledTime` (a delivery of that firing). */
  fireAt(name: string, scheduledTime: Date): Promise<{ id: string }>;
}

export function scheduleTargets(deps: {
  readonly template: CfnTemplate;
  readonly lambda: Invoker;
  readonly access: Parameters<typeof invokerAs>[1];
  readonly identities: LocalIdentities;
}): ScheduleTargets {
  const { template, lambda, access, identities } = deps;
  const schedules = schedulesFromTemplate(template);
  const fire = async (schedule: LocalSchedule, firing: Firing) => {
    const role = scheduleRole(template, schedule.arn.split('/').pop() as string);
    const invoker = role ? invokerAs(lambda, access, identities.caller(role)) : lambda;
    const answer = await invoker.invoke(schedule.functionArn, firingInput(schedule, firing));
    return { id: (answer as { id: string }).id };
  };
  const named = (name: string) => {
    const schedule = schedules.find((candidate) => candidate.name === name);
    if (!schedule) {
      throw new Error(
        `No schedule "${name}"; configured: ${schedules.map((s) => s.name).join(', ') || 'none'}`,
      );
    }
    return schedule;
  };
  return {
    start: (log) =>
      startScheduler(
        schedules,
        async (schedule, firing) => {
          const { id } = await fire(schedule, firing);
          log(`schedule ${schedule.name} fired: generation ${id}`);
        },
        { onError: (error: unknown) => log(`schedule failed: ${(error as Error).message}`) },
      ),
    trigger: async (name) => fire(named(name), firingNow()),
    fireAt: async (name, scheduledTime) => fire(named(name), firingAt(scheduledTime)),
  };
}
