/**
 * Journalled asynchronous invocations (S3 notifications and EventBridge rules alike): a delivery
 * is in the journal from before its first attempt until it succeeded or its retries ran out, so
 * what a killed run left in flight is delivered again by the next one, and nothing else is.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { journalledInvocations } from '#local/runtime/async-invocation.ts';
import type { Invoker } from '#local/runtime/invoke-access.ts';
import { PendingJournal } from '#local/runtime/journal.ts';

interface Delivery {
  readonly functionArn: string;
  readonly n: number;
}

const fresh = () => join(mkdtempSync(join(tmpdir(), 'spark-t2i-invocations-')), 'in-flight.jsonl');
const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

/**
 * A function that answers the events whose `n` is in `answered`, fails the ones in `failing` and
 * never answers the others (a slow function, or a run killed while it worked); every call noted.
 */
function fakeLambda(options: { answered?: number[]; failing?: number[] } = {}) {
  const calls: Array<{ functionArn: string; event: unknown }> = [];
  const lambda: Invoker = {
    invoke(functionArn, event) {
      calls.push({ functionArn, event });
      const { n } = event as { n: number };
      if (options.answered?.includes(n)) return Promise.resolve(null);
      if (options.failing?.includes(n)) return Promise.reject(new Error('Sandbox.Timedout'));
      return new Promise(() => undefined);
    },
  };
  return { lambda, calls };
}

/** A run of the runtime: the journal at `file` opened, and what it left pending. */
function run(file: string, lambda: Invoker, timeScale = 0.00001) {
  const { journal, pending } = PendingJournal.open<Delivery>(file);
  const lines: string[] = [];
  const invocations = journalledInvocations(
    journal,
    (delivery: Delivery) => ({
      lambda,
      functionArn: delivery.functionArn,
      event: { n: delivery.n },
    }),
    timeScale,
    (line) => lines.push(line),
  );
  return { invocations, pending, lines };
}

describe('journalled asynchronous invocations', () => {
  it('delivers again, in a new run, what was started and not done; not what was done', async () => {
    const file = fresh();
    const first = fakeLambda({ answered: [1] });
    const { invocations } = run(file, first.lambda);
    invocations.invoke({ functionArn: 'fn-a', n: 1 });
    invocations.invoke({ functionArn: 'fn-b', n: 2 }); // never answered: the run is killed
    await settle();
    expect(first.calls.map((call) => call.event)).toEqual([{ n: 1 }, { n: 2 }]);

    // The next run, on the same journal, as after a SIGKILL of the first.
    const second = fakeLambda({ answered: [2] });
    const next = run(file, second.lambda);
    expect(next.pending).toEqual([
      { id: expect.any(String), value: { functionArn: 'fn-b', n: 2 } },
    ]);
    for (const pending of next.pending) next.invocations.resume(pending);
    await settle();
    expect(second.calls).toEqual([{ functionArn: 'fn-b', event: { n: 2 } }]);

    // Delivered now: a third run has nothing left to carry on.
    expect(run(file, fakeLambda().lambda).pending).toEqual([]);
  });

  it('keeps a resumed delivery under its id until it is done', async () => {
    const file = fresh();
    run(file, fakeLambda().lambda).invocations.invoke({ functionArn: 'fn', n: 1 });
    const second = run(file, fakeLambda().lambda); // resumed, and killed again before an answer
    const [pending] = second.pending;
    second.invocations.resume(pending as never);
    await settle();
    expect(run(file, fakeLambda().lambda).pending).toEqual([pending]);
  });

  it('counts a delivery whose retries ran out as done', async () => {
    const file = fresh();
    const failing = fakeLambda({ failing: [1] });
    const { invocations, lines } = run(file, failing.lambda);
    invocations.invoke({ functionArn: 'fn', n: 1 });
    await settle();
    expect(failing.calls).toHaveLength(3); // the first attempt and Lambda's two retries
    expect(lines).toEqual(['asynchronous invocation failed for good: Error']);
    expect(run(file, fakeLambda().lambda).pending).toEqual([]);
  });

  it('keeps a delivery the stop cut off, and ends one that succeeded during the stop', async () => {
    const file = fresh();
    // Failing as the functions fail once the runtime stops them.
    const stopping = fakeLambda({ answered: [2], failing: [1] });
    const { invocations } = run(file, stopping.lambda);
    invocations.invoke({ functionArn: 'fn', n: 1 });
    invocations.invoke({ functionArn: 'fn', n: 2 });
    invocations.stop(); // while the first waits for its retries
    await settle();
    expect(stopping.calls).toHaveLength(4);
    expect(run(file, fakeLambda().lambda).pending).toEqual([
      { id: expect.any(String), value: { functionArn: 'fn', n: 1 } },
    ]);
  });
});
