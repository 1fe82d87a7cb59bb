/**
 * A schedule's firing, named from its scheduled time. EventBridge Scheduler delivers a firing at
 * least once and retries a failed delivery; what stays the same across every delivery and retry
 * of one firing is its scheduled time (`<aws.scheduler.scheduled-time>`), while its
 * `<aws.scheduler.execution-id>` is documented as unique per attempted invocation. A time holds
 * `:`, which an execution name may not, so Scheduler cannot name the execution itself: it hands
 * the time to the schedule-firing function, which derives the generation id (the execution name)
 * from it here. Step Functions starts a name once, so every delivery of one firing meets the
 * same generation and a retry never starts (or pays for) a second one (docs/decisions.md D27).
 */
import type { SFNClient } from '@aws-sdk/client-sfn';
import { PipelineError } from '#shared/errors/base.ts';
import { ErrorCodes } from '#shared/errors/codes.ts';
import { type StartOutcome, startGeneration } from '#shared/prompt-files/starter.ts';
import * as z from '#shared/zod.ts';
import { generationIdSchema } from './model.ts';
import { type WorkflowInput, workflowInputSchema } from './workflow-input.ts';

/** Characters of a schedule's name kept in the generation ids of its firings. */
export const SCHEDULE_NAME_IN_ID = 40;

/**
 * A scheduled time as Scheduler writes it (`2022-03-22T18:59:43Z`), or with milliseconds (a
 * firing on demand in the local runtime, so two in one second are two firings).
 */
const scheduledTimeSchema = z
  .string()
  .check(
    z.regex(
      /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/,
      'must be a UTC time such as 2022-03-22T18:59:43Z',
    ),
  );

/** What a schedule's target hands the function: fixed at synth, but for the scheduled time. */
export const scheduleFiringSchema = z.strictObject({
  /** The schedule's name (`schedule:<name>` is the generations' `sourceRef`). */
  schedule: z.string().check(z.regex(/^[A-Za-z0-9_-]{1,64}$/)),
  scheduledTime: scheduledTimeSchema,
  /** The workflow input of every firing of the schedule. */
  input: workflowInputSchema,
});
export type ScheduleFiring = z.output<typeof scheduleFiringSchema>;

/** The event is not a schedule firing (a target changed by hand, or a bug): retrying cannot help. */
export class ScheduleFiringError extends PipelineError {
  override readonly name = 'ScheduleFiringError';
  readonly code = ErrorCodes.INTERNAL_ERROR;
  readonly retryable = false;
}

/**
 * The generation id, and so the execution name, of a schedule's firing at a scheduled time:
 * `s_<schedule>_<time without separators>`, e.g. `s_daily-catalogue_20300101T090000Z`.
 */
export function firingGenerationId(schedule: string, scheduledTime: string): string {
  const time = scheduledTimeSchema.safeParse(scheduledTime);
  if (!time.success) {
    throw new ScheduleFiringError(`Not a scheduled time: ${JSON.stringify(scheduledTime)}`);
  }
  const id = `s_${schedule.slice(0, SCHEDULE_NAME_IN_ID)}_${time.data.replace(/[-:.]/g, '')}`;
  if (!generationIdSchema.safeParse(id).success) {
    throw new ScheduleFiringError(`Schedule "${schedule}" cannot name its firings (${id})`);
  }
  return id;
}

export interface ScheduleFiringDeps {
  readonly sfn: SFNClient;
  readonly stateMachineArn: string;
  /** How `StartExecution` is made (retries, pacing): the prompt files' starter by default. */
  readonly start?: typeof startGeneration;
}

/**
 * Starts the generation of a firing, or meets the one an earlier delivery of it started
 * (`existing`). Throttling is retried here; what still fails is thrown, for Lambda's and then
 * Scheduler's own retries, which carry the same scheduled time.
 */
export async function startScheduleFiring(
  event: unknown,
  deps: ScheduleFiringDeps,
): Promise<{ id: string; outcome: StartOutcome }> {
  const parsed = scheduleFiringSchema.safeParse(event);
  if (!parsed.success) {
    const problems = parsed.error.issues
      .map((issue) => `${issue.path.join('.') || '(event)'}: ${issue.message}`)
      .join('; ');
    throw new ScheduleFiringError(`Not a schedule firing: ${problems}`, { cause: parsed.error });
  }
  const firing = parsed.data;
  const id = firingGenerationId(firing.schedule, firing.scheduledTime);
  const input: WorkflowInput & { id: string } = { ...firing.input, id };
  const outcome = await (deps.start ?? startGeneration)(input, {
    sfn: deps.sfn,
    stateMachineArn: deps.stateMachineArn,
  });
  return { id, outcome };
}
