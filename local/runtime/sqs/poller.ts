/**
 * An SQS event source mapping, as Lambda's pollers run it: batches gathered from the queue (up to
 * `BatchSize`, waiting at most `MaximumBatchingWindowInSeconds` for a batch to fill), the function
 * invoked synchronously with SQS's event, at most `MaximumConcurrency` batches at a time, and the
 * outcome applied as Lambda applies it: a success deletes the batch; with
 * `ReportBatchItemFailures`, a response listing `batchItemFailures` deletes all but those (a
 * response that names an item not in the batch, or none, fails the whole batch); an error or a
 * timeout deletes nothing, so the messages come back when their visibility timeout ends, and a
 * redrive policy moves them to the dead-letter queue once received `maxReceiveCount` times.
 *
 * Lambda polls, deletes and reads the queue with the function's execution role: each receive and
 * delete is authorised as that role (`sqs:ReceiveMessage`, `sqs:DeleteMessage`), and a mapping
 * whose role lacks one polls nothing (as AWS refuses to create it), which is logged.
 */
import type { LocalSqs } from '#local/runtime/sqs/local-sqs.ts';
import type { QueueModel, ReceivedMessage } from '#local/runtime/sqs/queue.ts';
import { sqsEventRecord } from '#local/runtime/sqs/sqs-event.ts';
import type { QueueMapping } from '#local/runtime/sqs/template-queues.ts';

/** Concurrent batches of a mapping without `ScalingConfig.MaximumConcurrency` (Lambda starts with five pollers). */
const DEFAULT_CONCURRENCY = 5;
/** How long one receive waits for messages (SQS's longest long poll), scaled. */
const POLL_WAIT_SECONDS = 20;

export interface PollerDeps {
  readonly sqs: LocalSqs;
  /** Invokes the mapping's function synchronously (as the Lambda service: no resource policy). */
  invoke(functionName: string, event: unknown): Promise<unknown>;
  /** Whether the function's role may do `action` (`sqs:ReceiveMessage` …) on the queue; logs a refusal. */
  allowed(action: string, queueArn: string): boolean;
  readonly timeScale: number;
  readonly log: (line: string) => void;
}

export interface RunningPoller {
  /** Stops polling; what the batches being processed do not delete comes back. */
  stop(): Promise<void>;
}

export function startPoller(mapping: QueueMapping, deps: PollerDeps): RunningPoller {
  const queue = deps.sqs.byArn(mapping.queueArn);
  const concurrency = mapping.maximumConcurrency ?? DEFAULT_CONCURRENCY;
  let stopped = !mapping.enabled;
  const stopping = new AbortController();
  if (stopped) return { stop: async () => undefined };
  const permitted = ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes'].every(
    (action) => deps.allowed(action, mapping.queueArn),
  );
  if (!permitted) {
    deps.log(
      `event source mapping ${mapping.logicalId} polls nothing: its function's role may not read ${mapping.queueArn}`,
    );
    return { stop: async () => undefined };
  }

  const gather = async (): Promise<ReceivedMessage[]> => {
    const batch: ReceivedMessage[] = [];
    let windowEndsAt: number | undefined;
    while (!stopped && batch.length < mapping.batchSize) {
      const waitSeconds =
        windowEndsAt === undefined
          ? POLL_WAIT_SECONDS
          : Math.max(0, (windowEndsAt - Date.now()) / 1000 / deps.timeScale);
      if (!deps.allowed('sqs:ReceiveMessage', mapping.queueArn)) return batch;
      const received = await deps.sqs.receive(
        queue,
        {
          maxNumberOfMessages: Math.min(10, mapping.batchSize - batch.length),
          waitTimeSeconds: Math.min(POLL_WAIT_SECONDS, waitSeconds),
        },
        stopping.signal,
      );
      batch.push(...received);
      if (batch.length === 0) continue;
      windowEndsAt ??= Date.now() + mapping.maximumBatchingWindowInSeconds * 1000 * deps.timeScale;
      if (Date.now() >= windowEndsAt) break;
    }
    return batch;
  };

  const processBatch = async (batch: ReceivedMessage[]) => {
    const event = {
      Records: batch.map((received) => sqsEventRecord(received, mapping.queueArn)),
    };
    let response: unknown;
    try {
      response = await deps.invoke(mapping.functionName, event);
    } catch (error) {
      deps.log(
        `event source mapping ${mapping.logicalId}: the function failed (${(error as Error).name}: ${(error as { errorMessage?: string }).errorMessage ?? (error as Error).message}); ${batch.length} message(s) back after their visibility timeout`,
      );
      return;
    }
    const failed = failedItems(response, batch, mapping.reportBatchItemFailures);
    if (failed === 'all') {
      deps.log(
        `event source mapping ${mapping.logicalId}: an invalid batch response fails the whole batch`,
      );
      return;
    }
    deleteAllBut(queue, batch, failed, deps, mapping.queueArn);
  };

  // One loop per concurrent batch: each gathers a batch, runs it, and gathers again.
  for (let slot = 0; slot < concurrency; slot++) {
    void (async () => {
      while (!stopped) {
        try {
          const batch = await gather();
          // Taken as the stop came: not invoked, it comes back after its visibility timeout.
          if (batch.length === 0 || stopped) continue;
          await processBatch(batch);
        } catch (error) {
          deps.log(`event source mapping ${mapping.logicalId}: ${(error as Error).message}`);
          await new Promise((resolve) => setTimeout(resolve, 1_000 * deps.timeScale));
        }
      }
    })();
  }

  return {
    /** Ends the long polls at once; a batch being processed runs on (the runtime's stop cuts it). */
    async stop() {
      stopped = true;
      stopping.abort();
    },
  };
}

/**
 * The message ids a response reports as failed (`ReportBatchItemFailures`), or `all` when the
 * response is not a valid batch response: an item failure with an empty identifier, or one that
 * names no message of the batch, fails the whole batch, as Lambda treats it.
 */
export function failedItems(
  response: unknown,
  batch: readonly ReceivedMessage[],
  reportBatchItemFailures: boolean,
): ReadonlySet<string> | 'all' {
  if (!reportBatchItemFailures) return new Set();
  const failures = (response as { batchItemFailures?: unknown } | null | undefined)
    ?.batchItemFailures;
  if (failures === undefined || failures === null) return new Set();
  if (!Array.isArray(failures)) return 'all';
  const ids = new Set(batch.map((received) => received.message.id));
  const failed = new Set<string>();
  for (const failure of failures) {
    const id = (failure as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    if (typeof id !== 'string' || !ids.has(id)) return 'all';
    failed.add(id);
  }
  return failed;
}

function deleteAllBut(
  queue: QueueModel,
  batch: readonly ReceivedMessage[],
  failed: ReadonlySet<string>,
  deps: PollerDeps,
  queueArn: string,
): void {
  if (!deps.allowed('sqs:DeleteMessage', queueArn)) return;
  for (const received of batch) {
    if (failed.has(received.message.id)) continue;
    queue.delete(received.receiptHandle);
  }
}
