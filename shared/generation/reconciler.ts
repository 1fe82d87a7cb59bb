/**
 * The reconciler: the safety net under the workflow's own Catch paths. Step Functions runs every
 * execution to an end, but an execution can still end without writing its outcome — stopped by
 * hand, past the machine's timeout, or failed in a way no Catch covers — and then its record
 * would stay `queued`/`running` and its provider slot would stay taken, stalling the whole cap.
 *
 * It runs on two triggers: each "Execution Status Change" event of an execution that ended
 * FAILED, TIMED_OUT or ABORTED (prompt), and a periodic sweep (for anything the events missed).
 * Both give back slots held by executions that are no longer running, fail their records with
 * `090003008`, and hand freed slots to waiting generations. The sweep also publishes the events
 * the outbox still owes (outbox.ts); an execution that ended failed gives the record the
 * workflow failed its expiry (the state machine cannot compute epoch seconds).
 */
import { ErrorCodes } from '#shared/errors/codes.ts';
import type { PublishEvent } from './events.ts';
import { type GenerationRecord, isTerminal } from './model.ts';
import { publishOverdue, publishOwed } from './outbox.ts';
import type { GenerationRepository } from './repository.ts';
import { handOverFreeSlots, type SlotDeps } from './slots.ts';

export type ExecutionStatus =
  | 'RUNNING'
  | 'SUCCEEDED'
  | 'FAILED'
  | 'TIMED_OUT'
  | 'ABORTED'
  | 'PENDING_REDRIVE'
  | 'MISSING';

export interface ReconcilerDeps extends SlotDeps {
  readonly store: GenerationRepository;
  /** The status of the execution named after a generation (`MISSING` when there is none). */
  readonly executionStatus: (generationId: string) => Promise<ExecutionStatus>;
  /** Publishes the events records owe ("Generation Failed" for the records it fails). */
  readonly publish: PublishEvent;
  /** The longest an execution can run (the machine's timeout), in seconds. */
  readonly maxExecutionSeconds: number;
}

/** The fields of an EventBridge "Step Functions Execution Status Change" event it reads. */
export interface ExecutionEnded {
  readonly name: string;
  readonly status: string;
}

export interface ReconcileReport {
  /** Slots given back. */
  readonly released: number;
  /** Records ended as failed with `090003008`. */
  readonly failed: number;
  /** Waiting generations handed a slot. */
  readonly woken: number;
}

const ENDED_WITHOUT_OUTCOME = new Set(['FAILED', 'TIMED_OUT', 'ABORTED']);

/** Handles one execution's end: its slot back, its record terminal, the next waiters woken. */
export async function reconcileEndedExecution(
  event: ExecutionEnded,
  deps: ReconcilerDeps,
): Promise<ReconcileReport> {
  if (!ENDED_WITHOUT_OUTCOME.has(event.status)) return { released: 0, failed: 0, woken: 0 };
  await deps.slots.release(event.name);
  const failed = await failIfUnfinished(event.name, event.status, deps);
  if (!failed) await stampExpiry(event.name, deps);
  const { woken } = await handOverFreeSlots(deps);
  return { released: 1, failed: failed ? 1 : 0, woken };
}

/** The periodic sweep. */
export async function sweep(deps: ReconcilerDeps): Promise<ReconcileReport> {
  let released = 0;
  let failed = 0;
  // Slots held by generations that ended, vanished, or whose execution is no longer running.
  for (const id of await deps.slots.holders()) {
    const record = await deps.store.get(id);
    if (record !== undefined && !isTerminal(record.status)) {
      const status = await deps.executionStatus(id);
      if (status === 'RUNNING' || status === 'PENDING_REDRIVE') continue;
      if (await failIfUnfinished(id, status, deps, record)) failed++;
    }
    await deps.slots.release(id);
    released++;
  }
  // Records older than any execution can run, whose execution is gone.
  const now = (deps.now ?? (() => new Date()))();
  const cutoff = new Date(now.getTime() - deps.maxExecutionSeconds * 1000);
  for await (const record of deps.store.unfinishedCreatedBefore(cutoff)) {
    const status = await deps.executionStatus(record.id);
    if (status === 'RUNNING') continue;
    if (await failIfUnfinished(record.id, status, deps, record)) failed++;
    await deps.slots.release(record.id);
  }
  await publishOverdue({ repository: deps.store, publish: deps.publish }, now);
  const { woken } = await handOverFreeSlots(deps);
  return { released, failed, woken };
}

/** A record the workflow ended has no expiry yet: it gets it when its execution has ended. */
async function stampExpiry(id: string, deps: ReconcilerDeps): Promise<void> {
  const record = await deps.store.read(id);
  if (record === undefined || !isTerminal(record.status) || record.expiresAt !== undefined) return;
  await deps.store.stampExpiry(record);
}

async function failIfUnfinished(
  id: string,
  executionStatus: string,
  deps: ReconcilerDeps,
  known?: GenerationRecord,
): Promise<boolean> {
  const record = known ?? (await deps.store.get(id));
  if (record === undefined || isTerminal(record.status)) return false;
  const error = {
    code: ErrorCodes.EXECUTION_DIED,
    message: `The workflow execution ended (${executionStatus}) without recording an outcome`,
  };
  const now = (deps.now ?? (() => new Date()))();
  const failed = await deps.store.recordFailure(record, error, now);
  if (failed === undefined) return false;
  await publishOwed(failed, { repository: deps.store, publish: deps.publish });
  return true;
}
