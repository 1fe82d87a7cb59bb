/**
 * The chaos suite: the local runtime, the simulator injecting every fault kind of the simulator (docs/simulator.md)
 * at once, N generations fed over HTTP and prompt files, optionally SIGKILLed and restarted at
 * random moments. Afterwards every promise of docs/reliability.md is checked from what the stores
 * and the provider hold — DynamoDB records, S3 objects, the simulator's tasks and its request
 * journal — never from what the pipeline says about itself:
 *
 * - every generation is terminal, and there is exactly one per prompt;
 * - every `completed` one has its image in S3, with the SHA-256 the simulator served;
 * - every `failed` one has the documented code of the fault that ended it (the last answer the
 *   simulator gave for that generation);
 * - no generation has a second provider task, except where the answer of the first was lost in
 *   flight (a `slow` create answered after the client's timeout, or a create answered just before
 *   a kill) — counted;
 * - provider calls in a row that failed stay within the state's configured Retry bounds, and
 *   polls within `maxPolls`.
 *
 * Used by `npm run test:chaos` (test/chaos/*.chaos.ts, full size) and by
 * test/integration/chaos-small.test.ts (the CI size).
 */
import { createHash } from 'node:crypto';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { StateNames } from '../../infra/constructs/workflow.ts';
import { loadSynthesizedApp } from '../../local/runtime/synthesis.ts';
import { FAULT_KINDS, type FaultKind, seededRandom } from '../../local/simulator/faults.ts';
import type { JournalEntry } from '../../local/simulator/journal.ts';
import { PollingEnv } from '../../shared/config/env.ts';
import { ErrorCodes } from '../../shared/errors/codes.ts';
import {
  type ServedRuntime,
  type ServeOptions,
  SHARED_CACHE_DIR,
  scanGenerations,
  serve,
} from '../helpers/serve.ts';

/** Every fault kind at once; on the calls each applies to, together well over 30 %. */
export const CHAOS_FAULTS: Readonly<Record<FaultKind, number>> = {
  create5xx: 0.15,
  create429: 0.15,
  poll5xx: 0.12,
  poll429: 0.12,
  pollMalformed: 0.15,
  taskFailed: 0.05,
  image404: 0.2,
  imageTruncated: 0.2,
  privateUrl: 0.04,
  slow: 0.02,
};

export interface ChaosOptions {
  /** Generations in all (about half over HTTP, the rest as prompt-file lines). */
  readonly n: number;
  /** SIGKILL-and-restart cycles, at random moments of the run. @default 0 */
  readonly restarts?: number;
  /** Seeds the plan, the kill moments and the simulator's fault dice. @default 1 */
  readonly seed?: number;
  /** Rates over {@link CHAOS_FAULTS}: a small run raises the rare kinds so each is injected. */
  readonly faults?: Partial<Record<FaultKind, number>>;
  /** Provider slots (maxConcurrentTasks) and the simulator's --max-concurrent. @default 20 */
  readonly cap?: number;
  /** @default 400 */
  readonly simLatencyMs?: number;
  /** @default 0.01 */
  readonly timeScale?: number;
  /** Lines of one prompt file. @default 50 */
  readonly linesPerFile?: number;
  /** Generations submitted but not yet terminal, at most, before feeding more. @default 150 */
  readonly maxOutstanding?: number;
  /** POST /generations in flight at once. @default 6 */
  readonly httpConcurrency?: number;
  /** Stack config merged over the suite's own (`maxConcurrentTasks` is `cap`). */
  readonly stackConfig?: Record<string, unknown>;
  /** For the whole run to reach terminal. @default 30 min */
  readonly deadlineMs?: number;
  readonly log?: (line: string) => void;
}

export interface Figure {
  readonly name: string;
  readonly value: string;
  /** Undefined for a plain figure; false for a broken invariant. */
  readonly ok?: boolean;
}

export interface ChaosReport {
  readonly figures: readonly Figure[];
  readonly violations: readonly string[];
  readonly durationMs: number;
}

/** What the simulator says about a task (`GET /__sim/tasks`). */
interface SimTaskView {
  readonly id: string;
  readonly createdAtMs: number;
  readonly request: { readonly prompt: string };
  readonly outcome: { readonly status: string; readonly privateUrl?: boolean };
  readonly images: ReadonlyArray<{ readonly sha256: string; readonly size: number }>;
}

interface StoredGeneration {
  readonly id: string;
  readonly status: string;
  readonly source: string;
  readonly request: { readonly prompt: string };
  readonly sparkTaskId?: string;
  readonly polls?: number;
  readonly error?: { readonly code: string };
  readonly images?: ReadonlyArray<{
    readonly bucket: string;
    readonly key: string;
    readonly sha256: string;
    readonly size: number;
  }>;
}

interface PlannedGeneration {
  readonly index: number;
  readonly prompt: string;
  readonly request: Record<string, unknown>;
}

interface PlannedFile {
  readonly key: string;
  readonly body: string;
  readonly lines: number;
}

const TERMINAL = new Set(['completed', 'failed', 'cancelled']);
const SIZES = [
  [512, 512],
  [768, 512],
  [512, 768],
] as const;

/** The codes a generation may end with, by the fault in the last answer it got. */
export const EXPECTED_CODES: Readonly<Record<FaultKind | 'busy', readonly string[]>> = {
  create5xx: [ErrorCodes.HTTP_ERROR_RESPONSE],
  poll5xx: [ErrorCodes.HTTP_ERROR_RESPONSE],
  create429: [ErrorCodes.PROVIDER_THROTTLED],
  poll429: [ErrorCodes.PROVIDER_THROTTLED],
  busy: [ErrorCodes.PROVIDER_THROTTLED],
  slow: [ErrorCodes.PROVIDER_TIMEOUT],
  pollMalformed: [ErrorCodes.RESULT_PARSING_ERROR],
  taskFailed: [ErrorCodes.INTERNAL_GENERATION_ERROR],
  privateUrl: [ErrorCodes.IMAGE_URL_REFUSED],
  image404: [ErrorCodes.IMAGE_DOWNLOAD_FAILED],
  imageTruncated: [ErrorCodes.IMAGE_TRUNCATED],
};

/** A kill this long after a create answered can have lost the answer with the process. */
const LOST_WITH_KILL_MS = 15_000;

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const started = Date.now();
  const seed = options.seed ?? 1;
  const restarts = options.restarts ?? 0;
  const cap = options.cap ?? 20;
  const log = options.log ?? (() => undefined);
  const random = seededRandom(seed * 7919);
  const tag = `chaos${seed}x${Date.now().toString(36)}`;
  // The provider's request timeout stays at its default (10 s): a slow answer, held 30 s, is
  // given up on and retried. The step functions' timeouts derive from it.
  const config = { ...options.stackConfig, maxConcurrentTasks: cap };
  const faultSpec = Object.entries({ ...CHAOS_FAULTS, ...options.faults })
    .map(([kind, rate]) => `${kind}=${rate}`)
    .join(',');
  const serveOptions = (restart: number): ServeOptions => ({
    timeScale: options.timeScale ?? 0.01,
    simLatencyMs: options.simLatencyMs ?? 400,
    simFaults: faultSpec,
    // Each process rolls its own dice: a restart does not replay the faults of the first.
    simFaultSeed: seed * 1000 + restart,
    simMaxConcurrent: cap,
    config,
  });

  const { http, files } = plan(options.n, options.linesPerFile ?? 50, tag, random);
  let runtime = await serve(serveOptions(0));
  const dataDir = runtime.dataDir;
  const killTimes: number[] = [];
  // IAM refusals logged by each runtime, counted before a kill loses its output.
  let accessDenied = 0;
  const countDenied = () => (runtime.output().match(/AccessDenied/g) ?? []).length;
  let httpRetries = 0;
  let reUploads = 0;
  const counts = { terminal: 0, total: 0 };
  const submitted = { http: 0, lines: 0 };
  try {
    const deadline = started + (options.deadlineMs ?? 30 * 60_000);
    // Kill moments: random shares of the run's generations having ended.
    const killAt = Array.from({ length: restarts }, () => 0.1 + random() * 0.75).sort();
    let restarting: Promise<void> | undefined;
    const uploaded = new Set<PlannedFile>();

    const restart = async (index: number) => {
      log(`kill ${index + 1}/${restarts} at ${counts.terminal}/${options.n} terminal`);
      killTimes.push(Date.now());
      await runtime.kill();
      accessDenied += countDenied();
      runtime = await serve({ ...serveOptions(index + 1), dataDir });
      // S3 delivers an event until its function succeeds; a kill loses the local runtime's
      // in-memory invocation, so files whose report is missing are delivered again (same bytes,
      // same ETag, same generation ids).
      for (const file of uploaded) {
        if (!(await reportExists(runtime, file.key))) {
          reUploads++;
          await putFile(runtime, file);
        }
      }
      log(`restarted (${reUploads} file deliveries repeated so far)`);
    };

    // Counts terminal generations every second, and kills when a kill moment is reached.
    let monitoring = true;
    const monitor = (async () => {
      while (monitoring) {
        try {
          const items = await generationsTagged(runtime, tag);
          counts.total = items.length;
          counts.terminal = items.filter((item) => TERMINAL.has(item.status)).length;
        } catch {
          // The runtime is being restarted.
        }
        const next = killAt[killTimes.length];
        if (next !== undefined && !restarting && counts.terminal >= next * options.n) {
          await sleep(random() * 2000);
          restarting = restart(killTimes.length).finally(() => {
            restarting = undefined;
          });
          await restarting;
        }
        await sleep(2000);
      }
    })();
    const current = () => runtime;
    const untilRoom = async () => {
      while (submitted.http + submitted.lines - counts.terminal > (options.maxOutstanding ?? 150)) {
        await sleep(500);
      }
    };

    // HTTP requests and prompt files interleaved, fed over time.
    const filesEvery = Math.max(1, Math.floor(http.length / (files.length + 1)));
    const queue = [...http];
    let nextFile = 0;
    const workers = Array.from({ length: options.httpConcurrency ?? 6 }, async () => {
      for (let item = queue.shift(); item; item = queue.shift()) {
        await untilRoom();
        if (item.index % filesEvery === 0 && nextFile < files.length) {
          const file = files[nextFile++] as PlannedFile;
          await retrying(
            () => putFile(current(), file),
            () => restarting,
          );
          uploaded.add(file);
          submitted.lines += file.lines;
        }
        httpRetries += await submitWithKey(current, item, tag, () => restarting, deadline);
        submitted.http++;
      }
    });
    await Promise.all(workers);
    for (const file of files.slice(nextFile)) {
      await untilRoom();
      await retrying(
        () => putFile(current(), file),
        () => restarting,
      );
      uploaded.add(file);
      submitted.lines += file.lines;
    }
    log(`fed ${submitted.http} HTTP requests and ${files.length} files`);

    // Every kill planned happens, even when the run outpaces the thresholds.
    while (killTimes.length < restarts && Date.now() < deadline) await sleep(500);
    while (Date.now() < deadline) {
      await restarting;
      if (counts.total >= options.n && counts.terminal >= counts.total) break;
      await sleep(1000);
    }
    monitoring = false;
    await monitor;
    await restarting;
    log(
      `terminal: ${counts.terminal}/${options.n} after ${Math.round((Date.now() - started) / 1000)} s`,
    );
    return await check({
      runtime,
      tag,
      n: options.n,
      planned: [...http.map((item) => item.prompt), ...files.flatMap((file) => promptsOf(file))],
      files: files.length,
      killTimes,
      httpRetries,
      reUploads,
      started,
      accessDenied: accessDenied + countDenied(),
    });
  } finally {
    await runtime.stop();
  }
}

/** Prints the figures as a table; broken invariants are marked. */
export function formatReport(report: ChaosReport): string {
  const width = Math.max(...report.figures.map((figure) => figure.name.length));
  const rows = report.figures.map((figure) => {
    const mark = figure.ok === undefined ? '  ' : figure.ok ? 'ok' : 'XX';
    return `${mark} ${figure.name.padEnd(width)}  ${figure.value}`;
  });
  const line = '-'.repeat(width + 20);
  const violations =
    report.violations.length === 0
      ? ['no invariant broken']
      : [`${report.violations.length} violation(s):`, ...report.violations.slice(0, 50)];
  return [line, ...rows, line, ...violations].join('\n');
}

// ---------------------------------------------------------------------------------------------
// The plan and the feeding

function plan(n: number, linesPerFile: number, tag: string, random: () => number) {
  const all: PlannedGeneration[] = Array.from({ length: n }, (_, index) => {
    const [width, height] = SIZES[index % SIZES.length] as readonly [number, number];
    const prompt = `${tag} prompt ${index}`;
    // Mostly fixed seeds (reproducible images), some random ones.
    const seed = index % 5 === 0 ? -1 : index + 1;
    return { index, prompt, request: { prompt, width, height, seed } };
  });
  const httpCount = Math.ceil(n / 2);
  const http = all.slice(0, httpCount);
  const lines = all.slice(httpCount);
  const files: PlannedFile[] = [];
  for (let start = 0, k = 0; start < lines.length; start += linesPerFile, k++) {
    const chunk = lines.slice(start, start + linesPerFile);
    files.push(fileOf(`prompts/${tag}-${k}`, chunk, k, random));
  }
  return { http, files };
}

/** The three formats in turn: .jsonl, .json with defaults, .txt (default size). */
function fileOf(
  base: string,
  chunk: PlannedGeneration[],
  k: number,
  random: () => number,
): PlannedFile {
  const kind = k % 3;
  if (kind === 0) {
    const body = `${chunk.map((item) => JSON.stringify(item.request)).join('\n')}\n`;
    return { key: `${base}.jsonl`, body, lines: chunk.length };
  }
  if (kind === 1) {
    const body = JSON.stringify({
      defaults: { width: 512, height: 512 },
      prompts: chunk.map((item) =>
        random() < 0.5 ? item.prompt : { prompt: item.prompt, seed: item.index + 1 },
      ),
    });
    return { key: `${base}.json`, body, lines: chunk.length };
  }
  const body = `# chaos file ${k}\n${chunk.map((item) => item.prompt).join('\n')}\n`;
  return { key: `${base}.txt`, body, lines: chunk.length };
}

function promptsOf(file: PlannedFile): string[] {
  if (file.key.endsWith('.jsonl')) {
    return file.body
      .trim()
      .split('\n')
      .map((line) => String((JSON.parse(line) as { prompt: string }).prompt));
  }
  if (file.key.endsWith('.json')) {
    const { prompts } = JSON.parse(file.body) as { prompts: Array<string | { prompt: string }> };
    return prompts.map((item) => (typeof item === 'string' ? item : item.prompt));
  }
  return file.body
    .trim()
    .split('\n')
    .filter((line) => !line.startsWith('#'));
}

async function putFile(runtime: ServedRuntime, file: PlannedFile): Promise<void> {
  await runtime.s3().send(
    new PutObjectCommand({
      Bucket: runtime.endpoints.s3.inputBucket,
      Key: file.key,
      Body: file.body,
    }),
  );
}

async function reportExists(runtime: ServedRuntime, key: string): Promise<boolean> {
  try {
    await runtime.s3().send(
      new GetObjectCommand({
        Bucket: runtime.endpoints.s3.inputBucket,
        Key: `reports/${key}.json`,
      }),
    );
    return true;
  } catch {
    return false;
  }
}

/**
 * POST /generations with an Idempotency-Key, as a careful client does: a lost answer (the
 * runtime killed), a 5xx or a 409 "still in progress" is retried with the same key. Answers the
 * number of retries.
 */
async function submitWithKey(
  current: () => ServedRuntime,
  item: PlannedGeneration,
  tag: string,
  restarting: () => Promise<void> | undefined,
  deadline: number,
): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    await restarting();
    let status = 0;
    let body = '';
    try {
      const response = await current().api('/generations', {
        method: 'POST',
        body: JSON.stringify(item.request),
        headers: { 'idempotency-key': `${tag}-${item.index}` },
      });
      status = response.status;
      body = await response.text();
      if (status === 202) return attempt;
    } catch {
      // Connection refused or reset: the runtime is down.
    }
    if (status !== 0 && status !== 409 && status !== 429 && status < 500) {
      throw new Error(`POST /generations answered ${status}: ${body}`);
    }
    if (Date.now() > deadline) throw new Error(`POST /generations kept failing: ${status} ${body}`);
    await sleep(200 * Math.min(attempt + 1, 10));
  }
}

async function retrying(
  action: () => Promise<void>,
  restarting: () => Promise<void> | undefined,
): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    await restarting();
    try {
      return await action();
    } catch (error) {
      if (attempt >= 30) throw error;
      await sleep(500);
    }
  }
}

async function generationsTagged(runtime: ServedRuntime, tag: string): Promise<StoredGeneration[]> {
  return (await scanGenerations(runtime, {
    FilterExpression: 'begins_with(#request.prompt, :tag)',
    ExpressionAttributeNames: { '#request': 'request' },
    ExpressionAttributeValues: { ':tag': `${tag} ` },
  })) as unknown as StoredGeneration[];
}

// ---------------------------------------------------------------------------------------------
// The checks

interface CheckInput {
  readonly runtime: ServedRuntime;
  readonly tag: string;
  readonly n: number;
  readonly planned: readonly string[];
  readonly files: number;
  readonly killTimes: readonly number[];
  readonly httpRetries: number;
  readonly reUploads: number;
  readonly started: number;
  /** `AccessDenied` lines the runtimes logged (IAM refusals), killed runtimes' included. */
  readonly accessDenied: number;
}

const ANSWER_FAULTS: readonly FaultKind[] = [
  'create5xx',
  'create429',
  'poll5xx',
  'poll429',
  'pollMalformed',
  'image404',
  'imageTruncated',
];

/**
 * What is wrong with one image of a `completed` generation, if anything: the object must be
 * there with the SHA-256 both the record and the simulator give, whatever happened to the
 * processes in between. An object the local S3 server acknowledged and a kill then emptied or
 * cut short is as broken as any other.
 */
export function storedImageProblem(
  recorded: { readonly bucket: string; readonly key: string; readonly sha256: string },
  served: { readonly sha256: string } | undefined,
  bytes: Uint8Array | undefined,
): string | undefined {
  if (!bytes) return `s3://${recorded.bucket}/${recorded.key} is missing`;
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (sha256 === recorded.sha256 && sha256 === served?.sha256) return undefined;
  return `s3://${recorded.bucket}/${recorded.key} (${bytes.length} bytes) has SHA-256 ${sha256}, recorded ${recorded.sha256}, served ${served?.sha256}`;
}

/**
 * The fault that made an answer unusable to the pipeline, if any: a held (`slow`) create or poll
 * outlasts the client's timeout whatever it holds; a slow image arrives within the copy's
 * timeout, so only what it carries counts.
 */
export function failedAnswer(entry: JournalEntry): FaultKind | 'busy' | 'error' | undefined {
  if (entry.refusal === 'busy') return 'busy';
  if (entry.request !== 'image' && entry.faults.includes('slow')) return 'slow';
  const fault = ANSWER_FAULTS.find((kind) => entry.faults.includes(kind));
  if (fault) return fault;
  return entry.status >= 400 ? 'error' : undefined;
}

async function check(input: CheckInput): Promise<ChaosReport> {
  const { runtime, tag } = input;
  const violations: string[] = [];
  const figures: Figure[] = [];
  const figure = (name: string, value: string | number, ok?: boolean) =>
    figures.push({ name, value: String(value), ...(ok !== undefined && { ok }) });
  const sim = runtime.endpoints.spark.baseUrl;
  const [records, { tasks }, { requests }] = await Promise.all([
    generationsTagged(runtime, tag),
    getJson<{ tasks: SimTaskView[] }>(`${sim}/__sim/tasks`),
    getJson<{ requests: JournalEntry[] }>(`${sim}/__sim/requests`),
  ]);
  const bounds = await retryBounds(runtime);

  const ourTasks = tasks.filter((task) => task.request.prompt.startsWith(`${tag} `));
  const tasksByPrompt = groupBy(ourTasks, (task) => task.request.prompt);
  const taskById = new Map(ourTasks.map((task) => [task.id, task]));
  const promptOfTask = (id: string | undefined) =>
    id === undefined ? undefined : taskById.get(id)?.request.prompt;
  const entriesByPrompt = groupBy(
    requests.filter((entry) => (entry.prompt ?? promptOfTask(entry.taskId))?.startsWith(`${tag} `)),
    (entry) => entry.prompt ?? (promptOfTask(entry.taskId) as string),
  );
  const ourRequests = [...entriesByPrompt.values()].flat();

  figure(
    'generations planned',
    `${input.n} (${Math.ceil(input.n / 2)} HTTP, ${input.n - Math.ceil(input.n / 2)} in ${input.files} prompt files)`,
  );
  figure('restarts (SIGKILL)', input.killTimes.length);
  // Every call is authorised against the stack's IAM: one the stack needs and lacks is a defect.
  figure('AccessDenied logged (IAM refusals)', input.accessDenied, input.accessDenied === 0);
  if (input.accessDenied > 0) violations.push(`${input.accessDenied} AccessDenied logged`);
  figure('wall time', `${Math.round((Date.now() - input.started) / 1000)} s`);

  // Faults: every kind injected, together on at least 30 % of provider calls.
  const byKind = Object.fromEntries(FAULT_KINDS.map((kind) => [kind, 0])) as Record<
    FaultKind,
    number
  >;
  let faulted = 0;
  for (const entry of ourRequests) {
    for (const kind of entry.faults) byKind[kind]++;
    if (entry.faults.length > 0) faulted++;
  }
  const perKind = { create: 0, poll: 0, image: 0 };
  for (const entry of ourRequests) perKind[entry.request]++;
  figure(
    'provider calls (create / poll / image)',
    `${ourRequests.length} (${perKind.create} / ${perKind.poll} / ${perKind.image})`,
  );
  const share = ourRequests.length === 0 ? 0 : faulted / ourRequests.length;
  figure(
    'calls with an injected fault',
    `${faulted} (${(share * 100).toFixed(1)} %)`,
    share >= 0.3,
  );
  if (share < 0.3)
    violations.push(`faults hit only ${(share * 100).toFixed(1)} % of provider calls`);
  const missingKinds = FAULT_KINDS.filter((kind) => byKind[kind] === 0);
  figure(
    'faults by kind',
    FAULT_KINDS.map((kind) => `${kind} ${byKind[kind]}`).join(', '),
    missingKinds.length === 0,
  );
  if (missingKinds.length > 0)
    violations.push(`fault kinds never injected: ${missingKinds.join(', ')}`);

  // One generation per prompt, every one terminal.
  const recordsByPrompt = groupBy(records, (record) => record.request.prompt);
  const missing = input.planned.filter((prompt) => !recordsByPrompt.has(prompt));
  const doubled = [...recordsByPrompt].filter(([, list]) => list.length > 1);
  const nonTerminal = records.filter((record) => !TERMINAL.has(record.status));
  const statusCounts = countBy(records, (record) => record.status);
  figure(
    'generations recorded',
    `${records.length} (${Object.entries(statusCounts)
      .map(([status, count]) => `${status} ${count}`)
      .join(', ')})`,
  );
  figure(
    'every generation terminal, one per prompt',
    `${records.length - nonTerminal.length}/${input.n} terminal, ${missing.length} missing, ${doubled.length} doubled`,
    missing.length === 0 && doubled.length === 0 && nonTerminal.length === 0,
  );
  for (const prompt of missing.slice(0, 10)) violations.push(`no generation for "${prompt}"`);
  for (const [prompt, list] of doubled.slice(0, 10))
    violations.push(`${list.length} generations for "${prompt}"`);
  for (const record of nonTerminal.slice(0, 10))
    violations.push(`${record.id} left ${record.status}`);
  const cancelled = records.filter((record) => record.status === 'cancelled');
  for (const record of cancelled.slice(0, 10))
    violations.push(`${record.id} cancelled, though nobody cancelled it`);

  // Completed: images in S3 with the simulator's SHA-256.
  const completed = records.filter((record) => record.status === 'completed');
  let imagesChecked = 0;
  let imageProblems = 0;
  await forEachLimited(completed, 16, async (record) => {
    const task = record.sparkTaskId ? taskById.get(record.sparkTaskId) : undefined;
    const served = task?.images ?? [];
    const stored = record.images ?? [];
    const problem = (text: string) => {
      imageProblems++;
      violations.push(`${record.id} completed, but ${text}`);
    };
    if (!task) return problem(`its task ${record.sparkTaskId} is not the simulator's`);
    if (stored.length === 0 || stored.length !== served.length) {
      return problem(`it has ${stored.length} image(s), the task served ${served.length}`);
    }
    for (const [index, image] of stored.entries()) {
      const bytes = await getBytes(runtime, image.bucket, image.key).catch(() => undefined);
      imagesChecked++;
      const text = storedImageProblem(image, served[index], bytes);
      if (text) return problem(`image ${index} ${text}`);
    }
  });
  figure(
    'completed: images in S3, SHA-256 as served',
    `${imagesChecked - imageProblems}/${imagesChecked} images of ${completed.length} generations`,
    imageProblems === 0,
  );

  // Failed: the code of the fault in the last answer the generation got.
  const failed = records.filter((record) => record.status === 'failed');
  let codesMatching = 0;
  const causes: Record<string, number> = {};
  for (const record of failed) {
    const code = record.error?.code ?? '(none)';
    const { cause, expected } = causeOfFailure(entriesByPrompt.get(record.request.prompt) ?? [], {
      privateUrl: (taskId) => taskById.get(taskId)?.outcome.privateUrl === true,
      pollsExhausted: (record.polls ?? 0) >= bounds.maxPolls,
    });
    causes[`${cause} -> ${code}`] = (causes[`${cause} -> ${code}`] ?? 0) + 1;
    if (expected.includes(code)) codesMatching++;
    else
      violations.push(
        `${record.id} failed with ${code}, but its last provider answer was ${cause} (expected ${expected.join(' or ') || 'no failure'})`,
      );
  }
  figure(
    'failed: code matches the fault that ended it',
    `${codesMatching}/${failed.length}`,
    codesMatching === failed.length,
  );
  figure(
    'failures by cause -> code',
    Object.entries(causes)
      .sort(([, a], [, b]) => b - a)
      .map(([key, count]) => `${key}: ${count}`)
      .join('; ') || '-',
  );

  // Provider tasks: one per generation, except where a create's answer was lost in flight.
  let extraSlow = 0;
  let extraKilled = 0;
  let extraUnexplained = 0;
  for (const record of records) {
    const list = tasksByPrompt.get(record.request.prompt) ?? [];
    if (record.sparkTaskId && !list.some((task) => task.id === record.sparkTaskId)) {
      violations.push(
        `${record.id} records task ${record.sparkTaskId}, which the simulator never made for it`,
      );
    }
    for (const task of list) {
      if (task.id === record.sparkTaskId) continue;
      const create = requests.find(
        (entry) => entry.request === 'create' && entry.taskId === task.id,
      );
      if (create?.faults.includes('slow')) extraSlow++;
      else if (
        input.killTimes.some(
          (at) => at >= task.createdAtMs && at - task.createdAtMs <= LOST_WITH_KILL_MS,
        )
      )
        extraKilled++;
      else {
        extraUnexplained++;
        violations.push(
          `${record.id} has a second provider task ${task.id} whose create answer was not lost`,
        );
      }
    }
  }
  const withTask = records.filter(
    (record) => (tasksByPrompt.get(record.request.prompt) ?? []).length > 0,
  ).length;
  figure('provider tasks created', `${ourTasks.length} for ${withTask} generations`);
  figure('second tasks: answer lost in flight (slow create)', extraSlow);
  figure('second tasks: answer lost with a killed runtime', extraKilled);
  figure('second tasks otherwise (paid twice)', extraUnexplained, extraUnexplained === 0);

  // Retry bounds: failed provider answers in a row, per state entry, and polls per generation.
  const runs = { create: 0, poll: 0, image: 0 };
  for (const [prompt, entries] of entriesByPrompt) {
    const byTask = groupBy(
      entries.filter((entry) => entry.request !== 'create'),
      (entry) => `${entry.request} ${entry.taskId}`,
    );
    const sequences = [entries.filter((entry) => entry.request === 'create'), ...byTask.values()];
    for (const sequence of sequences) {
      const kind = sequence[0]?.request;
      if (!kind) continue;
      const longest = longestFailureRun(sequence, input.killTimes);
      runs[kind] = Math.max(runs[kind], longest);
      const bound = bounds.attempts[kind];
      if (longest > bound)
        violations.push(
          `"${prompt}": ${longest} failed ${kind} answers in a row, more than the ${bound} attempts its Retry allows`,
        );
    }
  }
  const maxPolls = Math.max(0, ...records.map((record) => record.polls ?? 0));
  const retriesOk =
    runs.create <= bounds.attempts.create &&
    runs.poll <= bounds.attempts.poll &&
    runs.image <= bounds.attempts.image &&
    maxPolls <= bounds.maxPolls;
  figure(
    'failed answers in a row, most (create / poll / image)',
    `${runs.create} / ${runs.poll} / ${runs.image} (bounds ${bounds.attempts.create} / ${bounds.attempts.poll} / ${bounds.attempts.image})`,
    retriesOk,
  );
  figure(
    'polls of one generation, most',
    `${maxPolls} (maxPolls ${bounds.maxPolls})`,
    maxPolls <= bounds.maxPolls,
  );
  if (maxPolls > bounds.maxPolls)
    violations.push(`a generation polled ${maxPolls} times, more than maxPolls ${bounds.maxPolls}`);
  figure('HTTP submissions retried by the client (same key)', input.httpRetries);
  figure('prompt-file deliveries repeated after a kill', input.reUploads);
  return { figures, violations, durationMs: Date.now() - input.started };
}

/**
 * What ended a failed generation, judged from the provider's side: the last answer it got (its
 * creates, and the polls and image downloads of its tasks, in time order), and the codes that
 * cause may be recorded with.
 */
export function causeOfFailure(
  entries: readonly JournalEntry[],
  task: { privateUrl(taskId: string): boolean; readonly pollsExhausted: boolean },
): { cause: string; expected: readonly string[] } {
  const last = entries.at(-1);
  if (!last) return { cause: 'no provider answer', expected: [] };
  const fault = failedAnswer(last);
  if (fault === 'error') return { cause: `HTTP ${last.status}`, expected: [] };
  if (fault) return { cause: fault, expected: EXPECTED_CODES[fault] };
  if (last.request === 'poll' && last.taskStatus === 'failed') {
    return { cause: 'taskFailed', expected: EXPECTED_CODES.taskFailed };
  }
  if (
    last.request === 'poll' &&
    last.taskStatus === 'completed' &&
    task.privateUrl(last.taskId ?? '')
  ) {
    return { cause: 'privateUrl', expected: EXPECTED_CODES.privateUrl };
  }
  if (task.pollsExhausted)
    return { cause: 'polling bounds', expected: [ErrorCodes.GENERATION_TIMED_OUT] };
  return { cause: `a plain ${last.request} answer`, expected: [] };
}

/** Failed answers in a row, a kill ending a run (the next process starts its state afresh). */
export function longestFailureRun(
  sequence: readonly JournalEntry[],
  killTimes: readonly number[],
): number {
  let longest = 0;
  let run = 0;
  let previousAt = -Infinity;
  for (const entry of sequence) {
    if (killTimes.some((at) => at > previousAt && at <= entry.at)) run = 0;
    previousAt = entry.at;
    run = failedAnswer(entry) ? run + 1 : 0;
    longest = Math.max(longest, run);
  }
  return longest;
}

interface RetryBounds {
  /** Provider answers one state entry may try, the first included, by the request it makes. */
  readonly attempts: { readonly create: number; readonly poll: number; readonly image: number };
  readonly maxPolls: number;
}

/**
 * The bounds as the synthesized state machine configures them: one attempt plus every retry its
 * Retry entries allow (their MaxAttempts summed: each counts on its own errors).
 */
async function retryBounds(runtime: ServedRuntime): Promise<RetryBounds> {
  const app = await loadSynthesizedApp(SHARED_CACHE_DIR, {
    ...(runtime.configFile && { configFile: runtime.configFile }),
  });
  const states = findStates(app.asl);
  const attemptsOf = (name: string) => {
    const retry = (states.get(name)?.Retry ?? []) as Array<{ MaxAttempts?: number }>;
    if (retry.length === 0) throw new Error(`state ${name} has no Retry in the synthesized ASL`);
    return 1 + retry.reduce((sum, retrier) => sum + (retrier.MaxAttempts ?? 3), 0);
  };
  const poll = Object.values(app.functions).find((fn) => fn.environment[PollingEnv.maxPolls]);
  const maxPolls = Number(poll?.environment[PollingEnv.maxPolls]);
  if (!Number.isInteger(maxPolls)) throw new Error('no function has the polling bound');
  return {
    attempts: {
      create: attemptsOf(StateNames.createTask),
      poll: attemptsOf(StateNames.pollTask),
      image: attemptsOf(StateNames.copyImages),
    },
    maxPolls,
  };
}

function findStates(asl: Record<string, unknown>): Map<string, Record<string, unknown>> {
  const found = new Map<string, Record<string, unknown>>();
  const visit = (value: unknown) => {
    if (typeof value !== 'object' || value === null) return;
    const states = (value as { States?: Record<string, Record<string, unknown>> }).States;
    if (states) for (const [name, state] of Object.entries(states)) found.set(name, state);
    for (const child of Object.values(value)) visit(child);
  };
  visit(asl);
  return found;
}

// ---------------------------------------------------------------------------------------------
// Small helpers

async function getJson<T>(url: string): Promise<T> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`GET ${url} answered ${response.status}`);
  return (await response.json()) as T;
}

async function getBytes(runtime: ServedRuntime, bucket: string, key: string): Promise<Buffer> {
  const object = await runtime.s3().send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(
    await (object.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
  );
}

function groupBy<T>(items: readonly T[], keyOf: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    groups.set(key, [...(groups.get(key) ?? []), item]);
  }
  return groups;
}

function countBy<T>(items: readonly T[], keyOf: (item: T) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) counts[keyOf(item)] = (counts[keyOf(item)] ?? 0) + 1;
  return counts;
}

async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  action: (item: T) => Promise<void>,
) {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: limit }, async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await action(item);
    }),
  );
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
