/**
 * The Spark simulator: a real HTTP server (node:http, no framework) that speaks the provider
 * contract of design section 3 and behaves as design section 9 says, so the pipeline can be run,
 * tested and benchmarked offline.
 *
 * Codes on the wire are integers, as the provider sends them. Besides the provider's own codes and
 * the simulator codes of `shared/errors/codes.ts`, it answers with three of its own (below).
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { setTimeout as sleepFor } from 'node:timers/promises';
import { closeServer, listen, readBody, sendJson } from '#local/http/server.ts';
import { ErrorCodes } from '#shared/errors/codes.ts';
import {
  codePointLength,
  type GenerationRequest,
  validateGenerationRequest,
} from '#shared/request/schema.ts';
import {
  createFaultRoller,
  DEFAULT_FAULT_SEED,
  FAULT_KINDS,
  type FaultKind,
  type FaultRates,
  type FaultRoller,
  seededRandom,
} from './faults.ts';
import { type JournalEntry, RequestJournal } from './journal.ts';
import { renderPng } from './png.ts';
import { type SimTask, type TaskCounters, type TaskOutcome, TaskStore } from './task-store.ts';

/** The only model the simulator (and the provider page) knows. */
export const SPARK_MODEL = 'spark_t2i_3_0';

/**
 * Simulator codes not (yet) in `shared/errors/codes.ts`, as wire integers:
 * - 090009006: too many requests — `--max-concurrent` reached, or the create429/poll429 faults.
 * - 090009007: method not allowed on a known route (HTTP 405).
 * - 090009008: image URL expired or its signature is wrong (HTTP 403).
 */
export const SimulatorWireCodes = {
  TOO_MANY_REQUESTS: 90_009_006,
  METHOD_NOT_ALLOWED: 90_009_007,
  IMAGE_URL_REJECTED: 90_009_008,
} as const;

/** How the simulator is started; every field has the default of `npx spark-t2i simulator`. */
export interface SimulatorOptions {
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** 0 picks any free port. @default 0 */
  readonly port?: number;
  /** Wall-clock time from creation to a terminal status. @default 3000 */
  readonly latencyMs?: number;
  /** Each task's latency is moved by a uniform amount in ±jitterMs (never below 0). @default 0 */
  readonly jitterMs?: number;
  /** Unfinished tasks allowed at once; 0 = unlimited. @default 0 */
  readonly maxConcurrent?: number;
  /** Fault rates, e.g. from {@link parseFaultSpec}. @default {} */
  readonly faults?: FaultRates;
  /** Seed of the fault (and jitter) generator. @default 1 */
  readonly faultSeed?: number;
  /** Image URLs answer 403 this many seconds after their task completed. @default 3600 */
  readonly urlTtlS?: number;
  /** When set, only this Bearer key is accepted; otherwise any non-empty one. */
  readonly apiKey?: string;
  /** How long a `slow` fault holds its answer (past a typical client timeout). @default 30000 */
  readonly slowMs?: number;
  /** Keep tasks (and the URL signing secret) here so a restart keeps answering for them. */
  readonly dataDir?: string;
  /** @default '/v1/images/generations' */
  readonly createPath?: string;
  /** Must contain `{id}` once. @default '/v1/tasks/{id}' */
  readonly taskPath?: string;
  /** Pad every image to at least this many bytes (benchmarks of large copies). */
  readonly imagePadBytes?: number;
}

/** `GET /__sim/stats`. */
export interface SimulatorStats extends TaskCounters {
  readonly requests: { readonly create: number; readonly poll: number; readonly image: number };
  readonly faults: Readonly<Record<FaultKind, number>>;
}

export interface RunningSimulator {
  /** `http://HOST:PORT`, no trailing slash. */
  readonly url: string;
  readonly port: number;
  stats(): SimulatorStats;
  /** Stops listening and drops every connection, including held (`slow`) answers. */
  close(): Promise<void>;
}

/** Options that cannot work (a negative latency, a task path without `{id}`…). */
export class SimulatorOptionsError extends Error {
  override readonly name = 'SimulatorOptionsError';

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

interface ResolvedOptions {
  readonly host: string;
  readonly port: number;
  readonly latencyMs: number;
  readonly jitterMs: number;
  readonly maxConcurrent: number;
  readonly faults: FaultRates;
  readonly faultSeed: number;
  readonly urlTtlS: number;
  readonly apiKey: string | undefined;
  readonly slowMs: number;
  readonly dataDir: string | undefined;
  readonly createPath: string;
  readonly taskPath: string;
  readonly imagePadBytes: number;
}

type RequestKind = 'create' | 'poll' | 'image';

/** Everything a request handler needs. */
interface Context {
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

const DEFAULTS = {
  host: '127.0.0.1',
  port: 0,
  latencyMs: 3000,
  jitterMs: 0,
  maxConcurrent: 0,
  faultSeed: DEFAULT_FAULT_SEED,
  urlTtlS: 3600,
  slowMs: 30_000,
  createPath: '/v1/images/generations',
  taskPath: '/v1/tasks/{id}',
} as const;

/** A create body beyond this is refused (read and dropped, never buffered); real ones are < 4 KB. */
const MAX_BODY_BYTES = 1024 * 1024;
const SECRET_FILE = 'simulator-url-secret';
const IMAGE_PATH = /^\/images\/([^/]+)\/(\d+)\.png$/;
/** The simulator's own view of a task (no auth, like the other `/__sim/*` routes). */
const DEBUG_TASK_PATH = /^\/__sim\/tasks\/([^/]+)$/;
/** Share of a task's latency during which it answers `queued` rather than `running`. */
const QUEUED_SHARE = 0.2;
/** Provider-like answers for a task that failed, and the 5xx faults. */
const TASK_FAILED_CODE = wireCode(ErrorCodes.INTERNAL_GENERATION_ERROR);
const CREATE_UNAVAILABLE_CODE = wireCode(ErrorCodes.TASK_CREATION_ERROR);
const POLL_UNAVAILABLE_CODE = wireCode(ErrorCodes.STATUS_CHECK_ERROR);
const INTERNAL_ERROR_CODE = wireCode(ErrorCodes.HTTP_ERROR_RESPONSE);
/** Where a `privateUrl` task points: the places an SSRF guard must refuse. */
const PRIVATE_URLS = [
  'http://169.254.169.254/latest/meta-data/iam/security-credentials/',
  'http://10.0.0.7/images/{id}/0.png',
] as const;

/** Starts the simulator and resolves once it is listening. */
export async function startSimulator(options: SimulatorOptions = {}): Promise<RunningSimulator> {
  const resolved = resolveOptions(options);
  const secret = await loadSecret(resolved.dataDir);
  const store = await TaskStore.open({ dataDir: resolved.dataDir });
  const journal = await RequestJournal.open({ dataDir: resolved.dataDir });
  const closing = new AbortController();
  const ctx: Context = {
    options: resolved,
    store,
    journal,
    images: new ImageCache(resolved.imagePadBytes),
    faults: createFaultRoller(resolved.faults, resolved.faultSeed),
    // A stream of its own, so jitter draws never shift which requests get faults.
    jitter: seededRandom(resolved.faultSeed ^ 0x5eed_1e55),
    secret,
    matchTaskPath: taskPathMatcher(resolved.taskPath),
    requests: { create: 0, poll: 0, image: 0 },
    injected: zeroFaultCounts(),
    closing: closing.signal,
    baseUrl: '',
  };
  const server = createServer((req, res) => {
    route(ctx, req, res).catch((error: unknown) => answerUnexpected(res, error));
  });
  // A client that sends garbage or vanishes mid-request must not reach the process.
  server.on('clientError', (_error, socket) => socket.destroy());
  let port: number;
  try {
    port = await listen(server, resolved.port, resolved.host);
  } catch (error) {
    await store.close();
    await journal.close();
    throw error;
  }
  ctx.baseUrl = `http://${urlHost(resolved.host)}:${port}`;
  let closed: Promise<void> | undefined;
  return {
    url: ctx.baseUrl,
    port,
    stats: () => statsOf(ctx),
    close() {
      closed ??= shutDown(server, closing, store, journal);
      return closed;
    },
  };
}

function resolveOptions(options: SimulatorOptions): ResolvedOptions {
  const resolved: ResolvedOptions = {
    host: options.host ?? DEFAULTS.host,
    port: options.port ?? DEFAULTS.port,
    latencyMs: options.latencyMs ?? DEFAULTS.latencyMs,
    jitterMs: options.jitterMs ?? DEFAULTS.jitterMs,
    maxConcurrent: options.maxConcurrent ?? DEFAULTS.maxConcurrent,
    faults: options.faults ?? {},
    faultSeed: options.faultSeed ?? DEFAULTS.faultSeed,
    urlTtlS: options.urlTtlS ?? DEFAULTS.urlTtlS,
    apiKey: options.apiKey,
    slowMs: options.slowMs ?? DEFAULTS.slowMs,
    dataDir: options.dataDir,
    createPath: options.createPath ?? DEFAULTS.createPath,
    taskPath: options.taskPath ?? DEFAULTS.taskPath,
    imagePadBytes: options.imagePadBytes ?? 0,
  };
  checkOptions(resolved);
  return resolved;
}

function checkOptions(options: ResolvedOptions): void {
  const nonNegative = {
    latencyMs: options.latencyMs,
    jitterMs: options.jitterMs,
    maxConcurrent: options.maxConcurrent,
    urlTtlS: options.urlTtlS,
    slowMs: options.slowMs,
    imagePadBytes: options.imagePadBytes,
  };
  for (const [name, value] of Object.entries(nonNegative)) {
    if (!Number.isFinite(value) || value < 0) {
      throw new SimulatorOptionsError(`${name} must be a number ≥ 0, got ${value}`);
    }
  }
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65_535) {
    throw new SimulatorOptionsError(`port must be an integer from 0 to 65535, got ${options.port}`);
  }
  if (!Number.isInteger(options.maxConcurrent)) {
    throw new SimulatorOptionsError(
      `maxConcurrent must be an integer, got ${options.maxConcurrent}`,
    );
  }
  if (options.apiKey !== undefined && options.apiKey.trim() === '') {
    throw new SimulatorOptionsError('apiKey must not be empty when given');
  }
  if (!options.createPath.startsWith('/')) {
    throw new SimulatorOptionsError(`createPath must start with "/", got "${options.createPath}"`);
  }
  if (!options.taskPath.startsWith('/') || options.taskPath.split('{id}').length !== 2) {
    throw new SimulatorOptionsError(
      `taskPath must start with "/" and contain {id} once, got "${options.taskPath}"`,
    );
  }
}

/** `/v1/tasks/{id}` → a function answering the id of a matching path (one path segment). */
function taskPathMatcher(template: string): (path: string) => string | undefined {
  const [prefix, suffix] = template.split('{id}') as [string, string];
  return (path) => {
    if (!path.startsWith(prefix) || !path.endsWith(suffix)) return undefined;
    const raw = path.slice(prefix.length, path.length - suffix.length);
    if (raw === '' || raw.includes('/')) return undefined;
    try {
      return decodeURIComponent(raw);
    } catch {
      return undefined;
    }
  };
}

/** A wildcard bind is reachable on loopback; IPv6 literals need brackets in a URL. */
function urlHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

async function shutDown(
  server: Server,
  closing: AbortController,
  store: TaskStore,
  journal: RequestJournal,
): Promise<void> {
  closing.abort();
  await closeServer(server);
  await store.close();
  await journal.close();
}

// ---------------------------------------------------------------------------------------------
// Routing

async function route(ctx: Context, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = new URL(req.url ?? '/', 'http://simulator').pathname;
  if (path === '/__sim/stats') {
    if (!allowMethod(req, res, ['GET'])) return;
    return sendJson(res, 200, statsOf(ctx));
  }
  if (path === '/__sim/reset') {
    if (!allowMethod(req, res, ['POST'])) return;
    resetStats(ctx);
    return sendJson(res, 200, statsOf(ctx));
  }
  if (path === '/__sim/tasks') {
    if (!allowMethod(req, res, ['GET'])) return;
    const tasks = await Promise.all(ctx.store.all().map((task) => taskView(ctx, task)));
    return sendJson(res, 200, { tasks });
  }
  if (path === '/__sim/requests') {
    if (!allowMethod(req, res, ['GET'])) return;
    return sendJson(res, 200, { requests: ctx.journal.entries() });
  }
  const debugTask = DEBUG_TASK_PATH.exec(path);
  if (debugTask) {
    if (!allowMethod(req, res, ['GET'])) return;
    return answerTask(ctx, res, safeDecode(debugTask[1] as string));
  }
  if (path === ctx.options.createPath) {
    ctx.requests.create++;
    if (!allowMethod(req, res, ['POST'])) return;
    return handleCreate(ctx, req, res);
  }
  const taskId = ctx.matchTaskPath(path);
  if (taskId !== undefined) {
    ctx.requests.poll++;
    if (!allowMethod(req, res, ['GET'])) return;
    return handlePoll(ctx, req, res, taskId);
  }
  const image = IMAGE_PATH.exec(path);
  if (image) {
    ctx.requests.image++;
    if (!allowMethod(req, res, ['GET', 'HEAD'])) return;
    return handleImage(ctx, req, res, image[1] as string, Number(image[2]));
  }
  sendError(res, 404, wireCode(ErrorCodes.SIM_NOT_FOUND), `No route for ${req.method} ${path}`);
}

function allowMethod(req: IncomingMessage, res: ServerResponse, methods: string[]): boolean {
  if (methods.includes(req.method ?? '')) return true;
  sendError(
    res,
    405,
    SimulatorWireCodes.METHOD_NOT_ALLOWED,
    `Method ${req.method} is not allowed here; use ${methods.join(' or ')}`,
    { allow: methods.join(', ') },
  );
  return false;
}

// ---------------------------------------------------------------------------------------------
// Create

async function handleCreate(
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

type CreateCheck =
  | { readonly ok: true; readonly request: GenerationRequest }
  | { readonly ok: false; readonly code: number; readonly message: string };

/** `model` first (the simulator's own code), then the shared request rules on the rest. */
function checkCreateBody(body: unknown): CreateCheck {
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

function validationAnswer(result: ReturnType<typeof validateGenerationRequest>): CreateCheck {
  if (result.ok) return { ok: true, request: result.request };
  return { ok: false, code: wireCode(result.error.code), message: result.error.message };
}

/** A 429 answer when `maxConcurrent` tasks are unfinished, else undefined. */
function concurrencyRefusal(
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
function taskDuration(ctx: Context): number {
  const { latencyMs, jitterMs } = ctx.options;
  return Math.max(0, latencyMs + (ctx.jitter() * 2 - 1) * jitterMs);
}

/** The task's fate, rolled once at creation so every poll of it tells the same story. */
function decideOutcome(ctx: Context): TaskOutcome {
  const fired = ctx.faults.roll(['taskFailed', 'privateUrl']);
  if (inject(ctx, fired, 'taskFailed')) {
    return { status: 'failed', code: TASK_FAILED_CODE, message: 'Internal generation error' };
  }
  return { status: 'completed', privateUrl: inject(ctx, fired, 'privateUrl') };
}

/** The client went away before its request was whole: there is no one to answer. */
class ClientGoneError extends Error {
  constructor() {
    super('The client went away before its request was whole');
    this.name = 'ClientGone';
  }
}

type BodyResult =
  | { readonly ok: true; readonly value: unknown }
  | {
      readonly ok: false;
      readonly status: number;
      readonly code: number;
      readonly message: string;
    };

async function readJsonBody(req: IncomingMessage): Promise<BodyResult> {
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

async function handlePoll(
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

async function pollAnswer(ctx: Context, task: SimTask, now: number): Promise<object> {
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
function usageFor(request: GenerationRequest): object {
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

function privateUrlFor(task: SimTask): string {
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
async function answerTask(ctx: Context, res: ServerResponse, taskId: string | undefined) {
  const task = taskId === undefined ? undefined : ctx.store.get(taskId);
  if (!task) {
    sendError(res, 404, wireCode(ErrorCodes.SIM_TASK_NOT_FOUND), `No task ${taskId}`);
    return;
  }
  sendJson(res, 200, await taskView(ctx, task));
}

async function taskView(ctx: Context, task: SimTask): Promise<object> {
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

// ---------------------------------------------------------------------------------------------
// Images

/** URLs stand for the provider's pre-signed ones: HMAC over (task, index, expiry). */
function signedImageUrl(ctx: Context, task: SimTask, index: number): string {
  // In epoch milliseconds: the URL stops working exactly --url-ttl-s after the task completed.
  const expires = Math.round(task.completeAt + ctx.options.urlTtlS * 1000);
  const sig = signature(ctx.secret, task.id, index, expires);
  return `${ctx.baseUrl}/images/${encodeURIComponent(task.id)}/${index}.png?expires=${expires}&sig=${sig}`;
}

function signature(secret: Buffer, taskId: string, index: number, expires: number): string {
  return createHmac('sha256', secret).update(`${taskId}\n${index}\n${expires}`).digest('base64url');
}

async function handleImage(
  ctx: Context,
  req: IncomingMessage,
  res: ServerResponse,
  rawId: string,
  index: number,
): Promise<void> {
  const query = new URL(req.url ?? '/', 'http://simulator').searchParams;
  const taskId = safeDecode(rawId);
  const expires = Number(query.get('expires') ?? Number.NaN);
  const rejected = SimulatorWireCodes.IMAGE_URL_REJECTED;
  const journal = (entry: Omit<JournalEntry, 'at' | 'request' | 'taskId'>) =>
    ctx.journal.record({
      at: Date.now(),
      request: 'image',
      ...(taskId !== undefined && { taskId }),
      ...entry,
    });
  if (
    taskId === undefined ||
    !Number.isSafeInteger(expires) ||
    !sameText(query.get('sig') ?? '', signature(ctx.secret, taskId, index, expires))
  ) {
    await journal({ status: 403, faults: [] });
    return sendError(res, 403, rejected, 'The image URL signature does not match');
  }
  if (Date.now() >= expires) {
    await journal({ status: 403, faults: [] });
    return sendError(res, 403, rejected, 'The image URL expired');
  }
  const task = ctx.store.get(taskId);
  if (!task || index !== 0 || task.outcome.status !== 'completed' || Date.now() < task.completeAt) {
    await journal({ status: 404, faults: [] });
    return sendError(res, 404, wireCode(ErrorCodes.SIM_NOT_FOUND), 'No such image');
  }
  const applied = faultsApplied(ctx, ctx.faults.roll(['image404', 'imageTruncated', 'slow']));
  if (applied.use('image404')) {
    await journal({ status: 404, faults: applied.kinds });
    return sendError(res, 404, wireCode(ErrorCodes.SIM_NOT_FOUND), 'No such image');
  }
  const png = await ctx.images.get(task);
  const slow = applied.use('slow');
  const truncated = req.method !== 'HEAD' && applied.use('imageTruncated');
  await journal({ status: 200, faults: applied.kinds });
  if (slow) await hold(ctx, res, ctx.options.slowMs);
  res.writeHead(200, { 'content-type': 'image/png', 'content-length': png.length });
  if (req.method === 'HEAD') {
    res.end();
  } else if (truncated) {
    // Promise the whole file, deliver half, then cut the connection as a broken transfer does.
    res.write(png.subarray(0, Math.floor(png.length / 2)), () => res.destroy());
  } else {
    res.end(png);
  }
}

/**
 * Rendered images by task, bounded by total bytes (least recently used goes first), plus every
 * task's size (a number each, so polls of old tasks never render again just to say how big).
 */
class ImageCache {
  static readonly MAX_BYTES = 64 * 1024 * 1024;
  readonly #padToBytes: number;
  readonly #entries = new Map<string, Buffer>();
  readonly #sizes = new Map<string, number>();
  readonly #rendering = new Map<string, Promise<Buffer>>();
  #bytes = 0;

  constructor(padToBytes: number) {
    this.#padToBytes = padToBytes;
  }

  async size(task: SimTask): Promise<number> {
    return this.#sizes.get(task.id) ?? (await this.get(task)).length;
  }

  /**
   * Renders a new task's image while it "generates", as the provider would, so the burst of
   * polls when many tasks complete together finds every size ready. Padded (benchmark-sized)
   * images are left to render on demand: holding hundreds of them would only waste memory.
   */
  prepare(task: SimTask): void {
    if (this.#padToBytes > 0 || task.outcome.status !== 'completed') return;
    setImmediate(() => {
      // A failure here resurfaces, and is answered, when the image is actually asked for.
      this.get(task).catch(() => undefined);
    });
  }

  async get(task: SimTask): Promise<Buffer> {
    const cached = this.#entries.get(task.id);
    if (cached) {
      // Map keeps insertion order: re-inserting makes this the most recently used.
      this.#entries.delete(task.id);
      this.#entries.set(task.id, cached);
      return cached;
    }
    let rendering = this.#rendering.get(task.id);
    if (!rendering) {
      rendering = this.#render(task).finally(() => this.#rendering.delete(task.id));
      this.#rendering.set(task.id, rendering);
    }
    return rendering;
  }

  async #render(task: SimTask): Promise<Buffer> {
    const { prompt, seed, width, height } = task.request;
    const png = await renderPng({
      prompt,
      seed,
      width,
      height,
      nonce: task.nonce,
      padToBytes: this.#padToBytes,
    });
    this.#sizes.set(task.id, png.length);
    this.#remember(task.id, png);
    return png;
  }

  #remember(id: string, png: Buffer): void {
    if (png.length > ImageCache.MAX_BYTES) return;
    this.#entries.set(id, png);
    this.#bytes += png.length;
    for (const [oldId, old] of this.#entries) {
      if (this.#bytes <= ImageCache.MAX_BYTES) break;
      this.#entries.delete(oldId);
      this.#bytes -= old.length;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Stats and faults

/**
 * The faults put into one answer: `use(kind)` says whether `kind` fired (counting it), and
 * `kinds` lists those used so far, for the journal.
 */
function faultsApplied(ctx: Context, fired: ReadonlySet<FaultKind>) {
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
function promptOf(body: unknown): string | undefined {
  return isPlainObject(body) && typeof body.prompt === 'string' ? body.prompt : undefined;
}

/** Counts a fault when it fired, and says whether it did. */
function inject(ctx: Context, fired: ReadonlySet<FaultKind>, kind: FaultKind): boolean {
  if (!fired.has(kind)) return false;
  ctx.injected[kind]++;
  return true;
}

function statsOf(ctx: Context): SimulatorStats {
  return {
    ...ctx.store.counters(),
    requests: { ...ctx.requests },
    faults: { ...ctx.injected },
  };
}

function resetStats(ctx: Context): void {
  ctx.store.resetCounters();
  for (const kind of ['create', 'poll', 'image'] as const) ctx.requests[kind] = 0;
  for (const kind of FAULT_KINDS) ctx.injected[kind] = 0;
}

function zeroFaultCounts(): Record<FaultKind, number> {
  return Object.fromEntries(FAULT_KINDS.map((kind) => [kind, 0])) as Record<FaultKind, number>;
}

/**
 * Holds an answer for `ms`. Gives up early (by throwing an AbortError) when the simulator closes
 * or the client goes away, so a held answer never keeps a timer or the process alive.
 */
async function hold(ctx: Context, res: ServerResponse, ms: number): Promise<void> {
  const gone = new AbortController();
  const onClose = () => gone.abort();
  res.once('close', onClose);
  try {
    await sleepFor(ms, undefined, { signal: AbortSignal.any([ctx.closing, gone.signal]) });
  } finally {
    res.off('close', onClose);
  }
}

// ---------------------------------------------------------------------------------------------
// Auth and answers

function isAuthorized(req: IncomingMessage, apiKey: string | undefined): boolean {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  if (!match) return false;
  return apiKey === undefined || sameText(match[1] as string, apiKey);
}

/** Constant-time comparison (of digests, so lengths never leak either). */
function sameText(a: string, b: string): boolean {
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(a), digest(b));
}

function sendUnauthorized(res: ServerResponse): void {
  sendError(res, 401, wireCode(ErrorCodes.SIM_UNAUTHORIZED), 'Missing or invalid Bearer API key', {
    'www-authenticate': 'Bearer',
  });
}

function sendTooMany(res: ServerResponse, retryAfterS: number, message: string): void {
  sendError(res, 429, SimulatorWireCodes.TOO_MANY_REQUESTS, message, {
    'retry-after': String(retryAfterS),
  });
}

/** The provider's error shape: `{"error":{"code":<integer>,"error_message"}}`. */
function sendError(
  res: ServerResponse,
  status: number,
  code: number,
  message: string,
  headers: Record<string, string> = {},
): void {
  sendJson(res, status, { error: { code, error_message: message } }, headers);
}

function sendRaw(
  res: ServerResponse,
  status: number,
  contentType: string,
  text: string,
  headers: Record<string, string> = {},
): void {
  if (res.destroyed) return;
  res.writeHead(status, {
    'content-type': contentType,
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** Last resort: a 500 if nothing was sent yet, otherwise drop the connection. */
function answerUnexpected(res: ServerResponse, error: unknown): void {
  const aborted =
    error instanceof ClientGoneError || (error instanceof Error && error.name === 'AbortError');
  if (aborted || res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  sendError(res, 500, INTERNAL_ERROR_CODE, 'Internal simulator error');
}

// ---------------------------------------------------------------------------------------------
// Small helpers

/** `'090009003'` → `90009003`: the provider sends codes as integers. */
function wireCode(code: string | number): number {
  return Number(code);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function safeDecode(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

/**
 * The URL signing secret: random per process, or kept in the data dir so URLs handed out before
 * a restart still verify after it.
 */
async function loadSecret(dataDir: string | undefined): Promise<Buffer> {
  if (dataDir === undefined) return randomBytes(32);
  // The secret signs image URLs: its directory is the user's alone when made here.
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const path = join(dataDir, SECRET_FILE);
  try {
    return Buffer.from((await readFile(path, 'utf8')).trim(), 'hex');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const secret = randomBytes(32);
  try {
    // 'wx': if another process won the race, use its secret rather than overwrite it.
    await writeFile(path, secret.toString('hex'), { flag: 'wx', mode: 0o600 });
    return secret;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return Buffer.from((await readFile(path, 'utf8')).trim(), 'hex');
  }
}
