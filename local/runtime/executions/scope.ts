/** Scaled time for one execution: Wait states and retry intervals as Step Functions computes them. */

/** The parts of an ASL state the local runtime reads. */
export interface AslState {
  readonly Type: string;
  readonly Resource?: string;
  readonly TimeoutSeconds?: number;
  readonly ResultPath?: string | null;
  readonly Seconds?: number;
  readonly SecondsPath?: string;
  readonly Retry?: ReadonlyArray<{
    readonly ErrorEquals: readonly string[];
    readonly IntervalSeconds?: number;
    readonly BackoffRate?: number;
    readonly MaxDelaySeconds?: number;
    readonly JitterStrategy?: string;
  }>;
}

/**
 * What one execution needs for scaled time: the latest result of each task at its ResultPath
 * (Wait states read their seconds from there) and the consecutive failures of each state (the
 * attempt number of a retry).
 */
export class ExecutionScope {
  readonly executionName: string;
  readonly #states: Record<string, AslState>;
  readonly #timeScale: number;
  readonly #results: Record<string, unknown> = {};
  readonly #failures: Record<string, number> = {};
  #handedOut: string | undefined;

  constructor(executionName: string, states: Record<string, AslState>, timeScale: number) {
    this.executionName = executionName;
    this.#states = states;
    this.#timeScale = timeScale;
  }

  /** Remembers the token a state just read from `$$.Task.Token`, for its task handler. */
  handOutToken(token: string): string {
    this.#handedOut = token;
    return token;
  }

  takeHandedOutToken(): string | undefined {
    const token = this.#handedOut;
    this.#handedOut = undefined;
    return token;
  }

  succeeded(stateName: string, state: AslState, result: unknown): void {
    this.#failures[stateName] = 0;
    if (typeof state.ResultPath === 'string' && state.ResultPath.startsWith('$.')) {
      setPath(this.#results, state.ResultPath.slice(2).split('.'), result);
    }
  }

  failed(stateName: string): void {
    this.#failures[stateName] = (this.#failures[stateName] ?? 0) + 1;
  }

  /** Wait durations in ms, scaled; undefined leaves the interpreter's own timing. */
  waitOverrides(): Record<string, number> {
    if (this.#timeScale === 1) return {};
    return new Proxy<Record<string, number>>(
      {},
      {
        get: (_target, stateName) => {
          const state = typeof stateName === 'string' ? this.#states[stateName] : undefined;
          if (state?.Type !== 'Wait') return undefined;
          const seconds =
            state.Seconds ??
            (state.SecondsPath?.startsWith('$.')
              ? getPath(this.#results, state.SecondsPath.slice(2).split('.'))
              : undefined);
          return typeof seconds === 'number' ? seconds * 1000 * this.#timeScale : undefined;
        },
      },
    );
  }

  /** Retry intervals in ms per retrier: Step Functions' backoff and jitter, scaled. */
  retryOverrides(): Record<string, number[]> {
    if (this.#timeScale === 1) return {};
    return new Proxy<Record<string, number[]>>(
      {},
      {
        get: (_target, stateName) => {
          const state = typeof stateName === 'string' ? this.#states[stateName] : undefined;
          if (!state?.Retry) return undefined;
          const attempt = Math.max(0, (this.#failures[stateName as string] ?? 1) - 1);
          return state.Retry.map((retrier) => {
            const interval = (retrier.IntervalSeconds ?? 1) * (retrier.BackoffRate ?? 2) ** attempt;
            const capped = Math.min(interval, retrier.MaxDelaySeconds ?? Number.POSITIVE_INFINITY);
            const jittered = retrier.JitterStrategy === 'FULL' ? Math.random() * capped : capped;
            return jittered * 1000 * this.#timeScale;
          });
        },
      },
    );
  }
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    if (typeof node[key] !== 'object' || node[key] === null) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1] as string] = value;
}

function getPath(source: Record<string, unknown>, path: string[]): unknown {
  let node: unknown = source;
  for (const key of path) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}
