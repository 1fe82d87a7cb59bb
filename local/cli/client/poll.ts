/** Small polling helpers: an abortable sleep, a bounded-concurrency map, and a poll-until loop. */

/** Waits `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Runs `work` on every item, at most `concurrency` at a time; rejects with the first failure. */
export async function mapWithConcurrency<T, R>(
  items: readonly T[],
  concurrency: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T);
    }
  };
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker),
  );
  return results;
}

export interface PollOptions<T> {
  /** Time between two reads. */
  readonly intervalMs: number;
  /** Give up (reject with a {@link PollTimeoutError}) after this long. */
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
  /** Called with every value read, e.g. to show progress. */
  readonly onValue?: (value: T, elapsedMs: number) => void;
}

export class PollTimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PollTimeoutError';
  }
}

/** Reads until `done(value)`, waiting `intervalMs` between reads. */
export async function pollUntil<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  options: PollOptions<T>,
): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = await read();
    const elapsed = Date.now() - started;
    options.onValue?.(value, elapsed);
    if (done(value)) return value;
    if (elapsed >= options.timeoutMs) {
      throw new PollTimeoutError(`gave up after ${Math.round(options.timeoutMs / 1000)} s`);
    }
    await sleep(Math.min(options.intervalMs, options.timeoutMs - elapsed), options.signal);
  }
}

/**
 * Calls `work` until it succeeds, again after `delayMs` (doubling) when `retryable(error)`, at
 * most `attempts` times in all; the last error goes on.
 */
export async function retrying<T>(
  work: () => Promise<T>,
  options: {
    attempts: number;
    delayMs: number;
    retryable: (error: unknown) => boolean;
    signal?: AbortSignal;
    onRetry?: (error: unknown, attempt: number) => void;
  },
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (options.signal?.aborted || attempt >= options.attempts || !options.retryable(error)) {
        throw error;
      }
      options.onRetry?.(error, attempt);
      await sleep(options.delayMs * 2 ** (attempt - 1), options.signal);
    }
  }
}
