/**
 * A task's life: its creation (body checks, the concurrency cap, the outcome decided up front),
 * its polls (queued, running, then terminal on time) and the views of it.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBody, sendJson } from '#local/http/server.ts';
import {
  ClientGoneError,
  CREATE_UNAVAILABLE_CODE,
  isAuthorized,
  POLL_UNAVAILABLE_CODE,
  SPARK_MODEL,
  sendError,
  sendRaw,
  sendTooMany,
  sendUnauthorized,
  TASK_FAILED_CODE,
  wireCode,
} from '#local/simulator/answers.ts';
import { type Context, faultsApplied, hold, inject, promptOf } from '#local/simulator/context.ts';
import { signedImageUrl } from '#local/simulator/images.ts';
import type { JournalEntry } from '#local/simulator/journal.ts';
import type { SimTask, TaskOutcome } from '#local/simulator/task-store.ts';
import { ErrorCodes } from '#shared/errors/codes.ts';
import { isPlainObject } from '#shared/json.ts';
import {
  codePointLength,
  type GenerationRequest,
  validateGenerationRequest,
} from '#shared/request/schema.ts';

/** A create body beyond this is refused (read and dropped, never buffered); real ones are < 4 KB. */
export const MAX_BODY_BYTES = 1024 * 1024;
/** Share of a task's latency during which it answers `queued` rather than `running`. */
export const QUEUED_SHARE = 0.2;
/** Where a `privateUrl` task points: the places an SSRF guard must refuse. */
export const PRIVATE_URLS = [
  'http://169.254.169.254/latest/meta-data/iam/security-credentials/',
  'http://10.0.0.7/images/{id}/0.png',
] as const;

export async function handleCreate(
  ctx: Context,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  if (!isAuthorized(req, ctx.options.apiKey)) return sendUnauthorized(res);
  const body = await readJsonBody(req);
  const prompt = promptOf(body.ok ? body.value : undefined);
  const journal = (entry: Omit<JournalEntry, 'at' | 'request' | 'prompt'>) =>
    ctx.journal.record({ at: Date.now(), request: 'create', ...entry, ...(prompt && { prompt }) });
  if (!body.ok) {
    await journal({ status: body.status, faults: [], refusal: 'rejected' });
    return sendError(res, body.status, body.code, body.message);
  }
  const checked = checkCreateBody(body.value);
  if (!checked.ok) {
    await journal({ status: 400, faults: [], refusal: 'rejected' });
    return sendError(res, 400, checked.code, checked.message);
  }
  const busy = concurrencyRefusal(ctx);
  if (busy) {
    await journal({ status: 429, faults: [], refusal: 'busy' });
    return sendTooMany(res, busy.retryAfterS, busy.message);
  }
  const applied = faultsApplied(ctx, ctx.faults.roll(['create5xx', 'create429', 'slow']));
  if (applied.use('create5xx')) {
    await journal({ status: 503, faults: applied.kinds });
    return sendError(res, 503, CREATE_UNAVAILABLE_CODE, 'Service temporarily unavailable');
  }
  if (applied.use('create429')) {
    await journal({ status: 429, faults: applied.kinds });
    return sendTooMany(res, 1, 'Rate limit exceeded');
  }
  const outcome = decideOutcome(ctx);
  const { task, persisted } = ctx.store.create({
    request: checked.request,
    durationMs: taskDuration(ctx),
    outcome,
  });
  // `slow` models an answer lost in flight: the task exists, the client just never hears so.
  const slow = applied.use('slow');
  // The task's fate is a fault of its own (recorded with the create that decided it).
  if (outcome.status === 'failed') applied.kinds.push('taskFailed');
  else if (outcome.privateUrl) applied.kinds.push('privateUrl');
  await Promise.all([persisted, journal({ status: 200, faults: applied.kinds, taskId: task.id })]);
  if (slow) await hold(ctx, res, ctx.options.slowMs);
  sendJson(res, 200, { id: task.id, status: 'queued' });
  ctx.images.prepare(task);
}

export type CreateCheck =
  | { readonly ok: true; readonly request: GenerationRequest }
  | { readonly ok: false; readonly code: number; readonly message: string };

/** `model` first (the simulator's own code), then the shared request rules on the rest. */
export function checkCreateBody(body: unknown): CreateCheck {
  if (!isPlainObject(body)) return validationAnswer(validateGenerationRequest(body));
  const { model, ...request } = body;
  if (model !== SPARK_MODEL) {
    const message =
      model === undefined
        ? `model is required; use ${SPARK_MODEL}`
        : `model ${JSON.stringify(model)} is not supported; use ${SPARK_MODEL}`;
    return { ok: false, code: wireCode(ErrorCodes.SIM_UNSUPPORTED_MODEL), message };
  }
  return validationAnswer(validateGenerationRequest(request));
}

export function validationAnswer(
  result: ReturnType<typeof validateGenerationRequest>,
): CreateCheck {
  if (result.ok) return { ok: true, request: result.request };
  return { ok: false, code: wireCode(result.error.code), message: result.error.message };
}

/** A 429 answer when `maxConcurrent` tasks are unfinished, else undefined. */
export function concurrencyRefusal(
  ctx: Context,
): { readonly retryAfterS: number; readonly message: string } | undefined {
  const limit = ctx.options.maxConcurrent;
  const now = Date.now();
  if (limit === 0 || ctx.store.inFlight(now) < limit) return undefined;
  const earliest = ctx.store.earliestCompletion(now) ?? now;
  return {
    retryAfterS: Math.max(1, Math.ceil((earliest - now) / 1000)),
    message: `Too many concurrent tasks (limit ${limit}); retry when one finishes`,
  };
}

/** latency ± uniform(jitter), never negative. */
export function taskDuration(ctx: Context): number {
  const { latencyMs, jitterMs } = ctx.options;
  return Math.max(0, latencyMs + (ctx.jitter() * 2 - 1) * jitterMs);
}

/** The task's fate, rolled once at creation so every poll of it tells the same story. */
export function decideOutcome(ctx: Context): TaskOutcome {
  const fired = ctx.faults.roll(['taskFailed', 'privateUrl']);
  if (inject(ctx, fired, 'taskFailed')) {
    return { status: 'failed', code: TASK_FAILED_CODE, message: 'Internal generation error' };
  }
  return { status: 'completed', privateUrl: inject(ctx, fired, 'privateUrl') };
}

export type BodyResult =
  | { readonly ok: true; readonly value: unknown }
  | {
      readonly ok: false;
      readonly status: number;
      readonly code: number;
      readonly message: string;
    };

export async function readJsonBody(req: IncomingMessage): Promise<BodyResult> {
  const notJson = wireCode(ErrorCodes.SIM_BODY_NOT_JSON);
  // Past the limit the rest is read and dropped, so the answer is not a reset.
  const read = await readBody(req, { maxBytes: MAX_BODY_BYTES, overLimit: 'drain' });
  if (read.kind === 'aborted') throw new ClientGoneError();
  if (read.kind === 'too-large') {
    return { ok: false, status: 413, code: notJson, message: 'The request body is over 1 MiB' };
  }
  try {
    return { ok: true, value: JSON.parse(read.body.toString('utf8')) };
  } catch {
    return { ok: false, status: 400, code: notJson, message: 'The request body is not valid JSON' };
  }
}

// ---------------------------------------------------------------------------------------------
// Poll

export async function handlePoll(
  ctx: Context,
  req: IncomingMessage,
  res: ServerResponse,
  taskId: string,
): Promise<void> {
  if (!isAuthorized(req, ctx.options.apiKey)) return sendUnauthorized(res);
  const journal = (entry: Omit<JournalEntry, 'at' | 'request' | 'taskId'>) =>
    ctx.journal.record({ at: Date.now(), request: 'poll', taskId, ...entry });
  const task = ctx.store.get(taskId);
  if (!task) {
    await journal({ status: 404, faults: [] });
    return sendError(res, 404, wireCode(ErrorCodes.SIM_TASK_NOT_FOUND), `No task ${taskId}`);
  }
  const applied = faultsApplied(
    ctx,
    ctx.faults.roll(['poll5xx', 'poll429', 'pollMalformed', 'slow']),
  );
  if (applied.use('poll5xx')) {
    await journal({ status: 503, faults: applied.kinds });
    return sendError(res, 503, POLL_UNAVAILABLE_CODE, 'Service temporarily unavailable');
  }
  if (applied.use('poll429')) {
    await journal({ status: 429, faults: applied.kinds });
    return sendTooMany(res, 1, 'Rate limit exceeded');
  }
  const malformed = applied.use('pollMalformed');
  if (applied.use('slow')) {
    // Journaled before the hold: a client that gives up has met the fault all the same.
    await journal({ status: 200, faults: applied.kinds });
    await hold(ctx, res, ctx.options.slowMs);
  }
  const snapshot = (await pollAnswer(ctx, task, Date.now())) as { status: string };
  if (!applied.kinds.includes('slow')) {
    await journal({ status: 200, faults: applied.kinds, taskStatus: snapshot.status });
  }
  const answer = JSON.stringify(snapshot);
  if (malformed) {
    // Half of a JSON object never parses: the closing brace is always in the lost half.
    return sendRaw(res, 200, 'application/json', answer.slice(0, Math.floor(answer.length / 2)));
  }
  sendRaw(res, 200, 'application/json', answer);
}

export async function pollAnswer(ctx: Context, task: SimTask, now: number): Promise<object> {
  if (now < task.completeAt) {
    const queuedUntil = task.createdAt + (task.completeAt - task.createdAt) * QUEUED_SHARE;
    return { id: task.id, status: now < queuedUntil ? 'queued' : 'running' };
  }
  if (task.outcome.status === 'failed') {
    const error = { code: task.outcome.code, error_message: task.outcome.message };
    return { id: task.id, status: 'failed', error };
  }
  const size = await ctx.images.size(task);
  const url = task.outcome.privateUrl ? privateUrlFor(task) : signedImageUrl(ctx, task, 0);
  return {
    id: task.id,
    status: 'completed',
    output: [{ content: [{ type: 'image', url, size, jobId: `${task.id}-0` }] }],
    usage: usageFor(task.request),
  };
}

/** Plausible figures: tokens grow with the prompt and the image, cost is per image. */
export function usageFor(request: GenerationRequest): object {
  const promptTokens = Math.ceil(codePointLength(request.prompt) * 1.3);
  // Prompt expansion (use_pre_llm) feeds a longer prompt to the model.
  const input = promptTokens + (request.use_pre_llm ? 64 : 0);
  const output = Math.ceil((request.width * request.height) / 1024);
  return {
    cost: '0.0300',
    discount: 0,
    input_tokens: input,
    output_tokens: output,
    total_tokens: input + output,
  };
}

export function privateUrlFor(task: SimTask): string {
  const template = PRIVATE_URLS[(task.id.codePointAt(0) ?? 0) % PRIVATE_URLS.length] as string;
  return template.replace('{id}', encodeURIComponent(task.id));
}

/**
 * `GET /__sim/tasks/{id}` (and each item of `GET /__sim/tasks`): what only the simulator knows
 * of a task — when it was created and when it turns (or turned) terminal, how it ends, the faults
 * injected into answers about it, and the SHA-256 of the image it serves. Benchmarks measure the
 * pipeline's overhead against `completeAt`, chaos tests check records against the faults and
 * images; a real provider has no such route and the pipeline never calls it.
 */
export async function answerTask(ctx: Context, res: ServerResponse, taskId: string | undefined) {
  const task = taskId === undefined ? undefined : ctx.store.get(taskId);
  if (!task) {
    sendError(res, 404, wireCode(ErrorCodes.SIM_TASK_NOT_FOUND), `No task ${taskId}`);
    return;
  }
  sendJson(res, 200, await taskView(ctx, task));
}

export async function taskView(ctx: Context, task: SimTask): Promise<object> {
  const now = Date.now();
  const servesImage = task.outcome.status === 'completed' && !task.outcome.privateUrl;
  const png = servesImage ? await ctx.images.get(task) : undefined;
  return {
    id: task.id,
    status: now < task.completeAt ? 'running' : task.outcome.status,
    createdAt: new Date(task.createdAt).toISOString(),
    completeAt: new Date(task.completeAt).toISOString(),
    createdAtMs: task.createdAt,
    completeAtMs: task.completeAt,
    request: task.request,
    outcome: task.outcome,
    faults: ctx.journal.faultsOf(task.id),
    images: png
      ? [{ index: 0, size: png.length, sha256: createHash('sha256').update(png).digest('hex') }]
      : [],
  };
}
