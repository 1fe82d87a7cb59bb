/**
 * What every request handler of the simulator shares: the running simulator's state, its counters,
 * and how faults are drawn, counted and applied.
 */
import type { ServerResponse } from 'node:http';
import { setTimeout as sleepFor } from 'node:timers/promises';
import { FAULT_KINDS, type FaultKind, type FaultRoller } from '#local/simulator/faults.ts';
import type { ImageCache } from '#local/simulator/images.ts';
import type { RequestJournal } from '#local/simulator/journal.ts';
import type { ResolvedOptions } from '#local/simulator/options.ts';
import type { TaskCounters, TaskStore } from '#local/simulator/task-store.ts';
import { isPlainObject } from '#shared/json.ts';

export type RequestKind = 'create' | 'poll' | 'image';

/** Everything a request handler needs. */
export interface Context {
  readonly options: ResolvedOptions;
  readonly store: TaskStore;
  readonly journal: RequestJournal;
  readonly images: ImageCache;
  readonly faults: FaultRoller;
  readonly jitter: () => number;
  readonly secret: Buffer;
  readonly matchTaskPath: (path: string) => string | undefined;
  readonly requests: Record<RequestKind, number>;
  readonly injected: Record<FaultKind, number>;
  /** Aborted by close(), so held `slow` answers stop waiting. */
  readonly closing: AbortSignal;
  baseUrl: string;
}

/** `GET /__sim/stats`. */
export interface SimulatorStats extends TaskCounters {
  readonly requests: { readonly create: number; readonly poll: number; readonly image: number };
  readonly faults: Readonly<Record<FaultKind, number>>;
}

/**
 * The faults put into one answer: `use(kind)` says whether `kind` fired (counting it), and
 * `kinds` lists those used so far, for the journal.
 */
export function faultsApplied(ctx: Context, fired: ReadonlySet<FaultKind>) {
  const kinds: FaultKind[] = [];
  return {
    kinds,
    use(kind: FaultKind): boolean {
      if (!inject(ctx, fired, kind)) return false;
      kinds.push(kind);
      return true;
    },
  };
}

/** The prompt of a create body, when it has one (for the journal). */
export function promptOf(body: unknown): string | undefined {
  return isPlainObject(body) && typeof body.prompt === 'string' ? body.prompt : undefined;
}

/** Counts a fault when it fired, and says whether it did. */
export function inject(ctx: Context, fired: ReadonlySet<FaultKind>, kind: FaultKind): boolean {
  if (!fired.has(kind)) return false;
  ctx.injected[kind]++;
  return true;
}

export function statsOf(ctx: Context): SimulatorStats {
  return {
    ...ctx.store.counters(),
    requests: { ...ctx.requests },
    faults: { ...ctx.injected },
  };
}

export function resetStats(ctx: Context): void {
  ctx.store.resetCounters();
  for (const kind of ['create', 'poll', 'image'] as const) ctx.requests[kind] = 0;
  for (const kind of FAULT_KINDS) ctx.injected[kind] = 0;
}

export function zeroFaultCounts(): Record<FaultKind, number> {
  return Object.fromEntries(FAULT_KINDS.map((kind) => [kind, 0])) as Record<FaultKind, number>;
}

/**
 * Holds an answer for `ms`. Gives up early (by throwing an AbortError) when the simulator closes
 * or the client goes away, so a held answer never keeps a timer or the process alive.
 */
export async function hold(ctx: Context, res: ServerResponse, ms: number): Promise<void> {
  const gone = new AbortController();
  const onClose = () => gone.abort();
  res.once('close', onClose);
  try {
    await sleepFor(ms, undefined, { signal: AbortSignal.any([ctx.closing, gone.signal]) });
  } finally {
    res.off('close', onClose);
  }
}
