/** Lambda's asynchronous invocation, as S3 notifications and EventBridge rules use it. */
import { randomUUID } from 'node:crypto';
import type { Invoker } from '#local/runtime/invoke-access.ts';
import type { PendingJournal, PendingWork } from '#local/runtime/journal.ts';

/** An asynchronous invocation whose retries ran out: what Lambda hands its `OnFailure` destination. */
export interface ExhaustedInvocation {
  /** The same for every attempt of the invocation. */
  readonly requestId: string;
  readonly functionArn: string;
  readonly event: unknown;
  readonly attempts: number;
  /** The last attempt's error. */
  readonly error: unknown;
}

/**
 * Where an invocation goes when its retries run out (the function's `OnFailure` destination, if
 * it has one). Called before the invocation is over, so a journalled one is not lost between.
 */
export type OnRetriesExhausted = (failed: ExhaustedInvocation) => void;

/**
 * Lambda's asynchronous invocation: two retries, about one and two minutes apart (scaled).
 * Whether the function took the event in the end (false: the retries ran out).
 */
export async function invokeAsync(
  lambda: Invoker,
  functionArn: string,
  event: unknown,
  timeScale: number,
  log: (line: string) => void,
  onRetriesExhausted?: OnRetriesExhausted,
): Promise<boolean> {
  const delays = [60_000, 120_000];
  const requestId = randomUUID();
  for (let attempt = 0; ; attempt++) {
    try {
      await lambda.invoke(functionArn, event);
      return true;
    } catch (error) {
      const delay = delays[attempt];
      if (delay === undefined) {
        log(`asynchronous invocation failed for good: ${(error as Error).name}`);
        try {
          onRetriesExhausted?.({ requestId, functionArn, event, attempts: attempt + 1, error });
        } catch (failure) {
          log(`its failure destination refused it: ${(failure as Error).message}`);
        }
        return false;
      }
      await new Promise((resolve) => setTimeout(resolve, delay * timeScale));
    }
  }
}

/** One asynchronous invocation: which function, with what event, called as whom. */
export interface AsyncInvocation {
  readonly lambda: Invoker;
  readonly functionArn: string;
  readonly event: unknown;
}

/**
 * Asynchronous invocations that survive the process, as Lambda keeps its asynchronous
 * invocations and their retries durably: each delivery (`D`, what the journal holds) is in the
 * journal from before its first attempt until it succeeded or its retries ran out, and `resume`
 * invokes again, under its id, one the last run left pending. `invocationOf` turns a delivery
 * into its invocation, at the first attempt and at a resume alike.
 *
 * After `stop` (the runtime going down, the functions with it) an attempt that fails stays in the
 * journal: it was cut off by the stop, not refused by the function, and the next start delivers
 * it again.
 */
export function journalledInvocations<D>(
  journal: PendingJournal<D>,
  invocationOf: (delivery: D) => AsyncInvocation,
  timeScale: number,
  log: (line: string) => void,
  onRetriesExhausted?: OnRetriesExhausted,
): {
  invoke(delivery: D): void;
  resume(pending: PendingWork<D>): void;
  stop(): void;
} {
  let stopped = false;
  const run = (id: string, delivery: D) => {
    const { lambda, functionArn, event } = invocationOf(delivery);
    journal.started(id, delivery);
    // After a stop, a failure is the stop's doing: no destination, and the next start retries.
    const exhausted: OnRetriesExhausted = (failed) => {
      if (!stopped) onRetriesExhausted?.(failed);
    };
    void invokeAsync(lambda, functionArn, event, timeScale, log, exhausted).then((delivered) => {
      if (delivered || !stopped) journal.ended(id);
    });
  };
  return {
    invoke: (delivery) => run(randomUUID(), delivery),
    resume: (pending) => run(pending.id, pending.value),
    stop() {
      stopped = true;
    },
  };
}
