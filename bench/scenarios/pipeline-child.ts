/**
 * One measured run of the whole pipeline in a fresh process: the local runtime in-process at
 * time scale 1 with a stack config of its own (so a polling configuration is synthesized and
 * loaded exactly as deployed), against the simulator. It submits a workload, waits for every
 * execution to end, and reports what it measured per generation and in total: wall-clock times
 * from the records and the simulator, transitions and retries from the interpreter's event log
 * (the engine's execution records), Lambda invocations and durations, and the requests the local
 * DynamoDB, S3 and simulator servers received.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AttributeValue, DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { startLocalRuntime } from '#local/runtime/runtime.ts';
import { reportKeyOf } from '#shared/prompt-files/keys.ts';
import { childMain, PROJECT_ROOT, progress } from '../lib/child.ts';
import { httpMethod, type RequestCounts, ServerRequestCounter } from '../lib/counters.ts';
import { mergeDeep } from '../lib/merge.ts';
import { billedGbSeconds } from '../prices.ts';

export interface PipelineRunInput {
  readonly variant: string;
  /** Stack config merged over the project's `spark-t2i.config.json`. */
  readonly config: Record<string, unknown>;
  readonly sim: {
    readonly latencyMs: number;
    readonly jitterMs: number;
    readonly maxConcurrent: number;
    readonly faultSeed: number;
  };
  readonly workload:
    | { readonly kind: 'http'; readonly count: number; readonly staggerMs: number }
    | { readonly kind: 'prompt-file'; readonly count: number };
  readonly cacheDir: string;
}

export interface GenerationMeasure {
  readonly id: string;
  readonly status: string;
  readonly errorCode?: string;
  readonly errorMessage?: string;
  /** When the workload asked for it (HTTP POST sent, or the prompt file's upload started). */
  readonly submittedAtMs: number;
  readonly completedAtMs: number | null;
  /** The simulator's own times for the task (`GET /__sim/tasks/{id}`). */
  readonly simCreatedAtMs: number | null;
  readonly simCompleteAtMs: number | null;
  /** States entered: Step Functions' billed transitions. */
  readonly transitions: number;
  readonly retries: Record<string, number>;
  /** PollTask invocations (the record's `polls`). */
  readonly polls: number | null;
  /** The record's size by DynamoDB's item-size rules. */
  readonly recordBytes: number;
}

export interface FunctionUse {
  readonly entryPoint: string;
  readonly memoryMb: number;
  readonly invocations: number;
  readonly failed: number;
  readonly gbSeconds: number;
  readonly durationMsTotal: number;
}

export interface PipelineRunOutput {
  readonly variant: string;
  readonly startedAtMs: number;
  readonly endedAtMs: number;
  readonly generations: readonly GenerationMeasure[];
  readonly functions: readonly FunctionUse[];
  readonly counts: RequestCounts;
  readonly simulator: { readonly tasksCreated: number; readonly maxInFlight: number };
  readonly events: number;
  readonly promptFile?: {
    readonly key: string;
    readonly accepted: number;
    readonly rejected: number;
  };
}

const API_FUNCTIONS = new Set([
  'authorizer',
  'submit-generation',
  'get-generation',
  'list-generations',
  'cancel-generation',
  'openapi',
  'submit-batch',
  'read-batches',
  'cancel-batch',
  'prompt-file',
]);

await childMain<PipelineRunInput, PipelineRunOutput>(async (input) => {
  const dataDir = await mkdtemp(join(tmpdir(), `spark-t2i-bench-${input.variant}-`));
  const projectConfig = JSON.parse(
    await readFile(join(PROJECT_ROOT, 'spark-t2i.config.json'), 'utf8'),
  ) as Record<string, unknown>;
  const configFile = join(dataDir, 'bench-config.json');
  await writeFile(configFile, JSON.stringify(mergeDeep(projectConfig, input.config)));
  progress(`${input.variant}: starting the local runtime (synthesizing if the config is new)`);
  const runtime = await startLocalRuntime({
    dataDir,
    port: 0,
    timeScale: 1,
    simLatencyMs: input.sim.latencyMs,
    simJitterMs: input.sim.jitterMs,
    simMaxConcurrent: input.sim.maxConcurrent,
    simFaultSeed: input.sim.faultSeed,
    configFile,
    cacheDir: input.cacheDir,
    functionLogLevel: 'ERROR',
    // Lambda starts environments as invocations overlap; here as many as the busiest step needs
    // (the poll step holds one per task in flight while it re-checks), not the laptop default.
    maxEnvironments: 32,
  });
  const counter = new ServerRequestCounter();
  counter.watch('s3', runtime.endpoints.s3.endpoint, httpMethod);
  counter.watch('simulator', runtime.endpoints.spark.baseUrl, simulatorRoute);
  const uses = new Map<string, FunctionUse>();
  runtime.lambda.onInvocation((record) => {
    const fn = runtime.app.functions[record.functionLogicalId];
    if (!fn) return;
    const use = uses.get(fn.entryPoint) ?? {
      entryPoint: fn.entryPoint,
      memoryMb: fn.memorySize,
      invocations: 0,
      failed: 0,
      gbSeconds: 0,
      durationMsTotal: 0,
    };
    uses.set(fn.entryPoint, {
      ...use,
      invocations: use.invocations + 1,
      failed: use.failed + (record.ok ? 0 : 1),
      gbSeconds: use.gbSeconds + billedGbSeconds(record.durationMs, fn.memorySize),
      durationMsTotal: use.durationMsTotal + record.durationMs,
    });
  });
  try {
    const eventsBefore = await countLines(join(dataDir, 'events.jsonl'));
    // The functions call DynamoDB from their own processes: the local server counts what it serves.
    const dynamodbBefore = await runtime.dynamodbRequests();
    const startedAtMs = Date.now();
    const submitted = new Map<string, number>();
    let promptFile: PipelineRunOutput['promptFile'];
    if (input.workload.kind === 'http') {
      await submitOverHttp(runtime, input.variant, input.workload, submitted);
    } else {
      promptFile = await submitPromptFile(runtime, input.variant, input.workload.count, submitted);
    }
    progress(`${input.variant}: ${submitted.size} generations started; waiting for them to end`);
    await runtime.engine.idle();
    const endedAtMs = Date.now();
    const dynamodbAfter = await runtime.dynamodbRequests();
    const generations = await measureGenerations(runtime, submitted);
    const stats = runtime.simulator?.stats();
    const output: PipelineRunOutput = {
      variant: input.variant,
      startedAtMs,
      endedAtMs,
      generations,
      functions: [...uses.values()].filter((use) => !API_FUNCTIONS.has(use.entryPoint)),
      counts: withRequests(
        counter.snapshot(),
        'dynamodb',
        difference(dynamodbAfter, dynamodbBefore),
      ),
      simulator: { tasksCreated: stats?.tasksCreated ?? 0, maxInFlight: stats?.maxInFlight ?? 0 },
      events: (await countLines(join(dataDir, 'events.jsonl'))) - eventsBefore,
      ...(promptFile && { promptFile }),
    };
    return output;
  } finally {
    counter.close();
    await runtime.close();
    await rm(dataDir, { recursive: true, force: true });
  }
});

async function submitOverHttp(
  runtime: Awaited<ReturnType<typeof startLocalRuntime>>,
  variant: string,
  workload: { readonly count: number; readonly staggerMs: number },
  submitted: Map<string, number>,
): Promise<void> {
  const started = Date.now();
  const posts: Array<Promise<void>> = [];
  for (let index = 0; index < workload.count; index++) {
    const due = started + index * workload.staggerMs;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - Date.now())));
    const sentAt = Date.now();
    posts.push(
      fetch(`${runtime.endpoints.api}/generations`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${runtime.apiKey}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify({ prompt: `benchmark ${variant} ${index}`, seed: index + 1 }),
      }).then(async (response) => {
        const body = (await response.json()) as { id?: string };
        if (response.status !== 202 || !body.id) {
          throw new Error(`POST /generations answered ${response.status}: ${JSON.stringify(body)}`);
        }
        submitted.set(body.id, sentAt);
      }),
    );
  }
  await Promise.all(posts);
}

async function submitPromptFile(
  runtime: Awaited<ReturnType<typeof startLocalRuntime>>,
  variant: string,
  count: number,
  submitted: Map<string, number>,
): Promise<NonNullable<PipelineRunOutput['promptFile']>> {
  const s3 = new S3Client({
    endpoint: runtime.endpoints.s3.endpoint,
    region: runtime.endpoints.s3.region,
    credentials: {
      accessKeyId: runtime.endpoints.s3.accessKeyId,
      secretAccessKey: runtime.endpoints.s3.secretAccessKey,
    },
    forcePathStyle: true,
  });
  const key = `prompts/benchmark-${variant}.txt`;
  const lines = Array.from({ length: count }, (_, index) => `benchmark batch prompt ${index + 1}`);
  const uploadedAt = Date.now();
  await s3.send(
    new PutObjectCommand({
      Bucket: runtime.endpoints.s3.inputBucket,
      Key: key,
      Body: `${lines.join('\n')}\n`,
      ContentType: 'text/plain; charset=utf-8',
    }),
  );
  // The report is written once every accepted line's generation was started.
  const reportKey = reportKeyOf(key);
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    try {
      const object = await s3.send(
        new GetObjectCommand({ Bucket: runtime.endpoints.s3.inputBucket, Key: reportKey }),
      );
      const report = JSON.parse(await (object.Body?.transformToString() ?? '{}')) as {
        summary?: { accepted?: number; rejected?: number };
      };
      for (const execution of runtime.engine.list()) submitted.set(execution.name, uploadedAt);
      s3.destroy();
      return {
        key,
        accepted: report.summary?.accepted ?? 0,
        rejected: report.summary?.rejected ?? 0,
      };
    } catch (error) {
      if ((error as Error).name !== 'NoSuchKey' || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

async function measureGenerations(
  runtime: Awaited<ReturnType<typeof startLocalRuntime>>,
  submitted: ReadonlyMap<string, number>,
): Promise<GenerationMeasure[]> {
  const dynamodb = new DynamoDBClient({
    endpoint: runtime.endpoints.dynamodb.endpoint,
    region: runtime.endpoints.dynamodb.region,
    credentials: {
      accessKeyId: runtime.endpoints.s3.accessKeyId,
      secretAccessKey: runtime.endpoints.s3.secretAccessKey,
    },
  });
  const measures: GenerationMeasure[] = [];
  try {
    for (const execution of runtime.engine.list()) {
      const submittedAtMs = submitted.get(execution.name);
      if (submittedAtMs === undefined) continue;
      const { Item } = await dynamodb.send(
        new GetItemCommand({
          TableName: runtime.endpoints.dynamodb.tableName,
          Key: { id: { S: execution.name } },
          ConsistentRead: true,
        }),
      );
      const item = Item ?? {};
      const sparkTaskId = item.sparkTaskId?.S;
      const times = sparkTaskId ? await simulatorTimes(runtime, sparkTaskId) : undefined;
      const completedAt = item.completedAt?.S;
      measures.push({
        id: execution.name,
        status: item.status?.S ?? `execution ${execution.status}`,
        ...(item.error?.M?.code?.S && { errorCode: item.error.M.code.S }),
        ...(item.error?.M?.message?.S && { errorMessage: item.error.M.message.S.slice(0, 160) }),
        submittedAtMs,
        completedAtMs: completedAt ? Date.parse(completedAt) : null,
        simCreatedAtMs: times?.createdAtMs ?? null,
        simCompleteAtMs: times?.completeAtMs ?? null,
        transitions: execution.transitions,
        retries: { ...execution.retries },
        polls: item.polls?.N ? Number(item.polls.N) : null,
        recordBytes: itemBytes(item),
      });
    }
  } finally {
    dynamodb.destroy();
  }
  return measures;
}

async function simulatorTimes(
  runtime: Awaited<ReturnType<typeof startLocalRuntime>>,
  taskId: string,
): Promise<{ createdAtMs: number; completeAtMs: number } | undefined> {
  const response = await fetch(
    `${runtime.endpoints.spark.baseUrl}/__sim/tasks/${encodeURIComponent(taskId)}`,
  );
  if (!response.ok) return undefined;
  return (await response.json()) as { createdAtMs: number; completeAtMs: number };
}

/** The simulator's routes (its default paths, which the stack config also uses). */
function simulatorRoute(request: { url?: string }): string {
  const path = request.url ?? '';
  if (path.startsWith('/v1/images/generations')) return 'create';
  if (path.startsWith('/v1/tasks/')) return 'poll';
  if (path.startsWith('/images/')) return 'image';
  return 'other';
}

/**
 * An item's size by DynamoDB's documented rules: attribute names plus values; strings in UTF-8
 * bytes, numbers about one byte per two digits plus one, lists and maps 3 bytes plus 1 per
 * element. Capacity units are counted per started KB (writes) or 4 KB (reads) of it.
 */
function itemBytes(item: Record<string, AttributeValue>): number {
  return Object.entries(item).reduce(
    (total, [name, value]) => total + Buffer.byteLength(name) + valueBytes(value),
    0,
  );
}

function valueBytes(value: AttributeValue): number {
  if (value.S !== undefined) return Buffer.byteLength(value.S);
  if (value.N !== undefined) return Math.ceil(value.N.replace(/[-.]/g, '').length / 2) + 1;
  if (value.B !== undefined) return value.B.length;
  if (value.BOOL !== undefined || value.NULL !== undefined) return 1;
  if (value.L !== undefined)
    return 3 + value.L.reduce((sum, entry) => sum + valueBytes(entry) + 1, 0);
  if (value.M !== undefined) {
    return (
      3 +
      Object.entries(value.M).reduce(
        (sum, [name, entry]) => sum + Buffer.byteLength(name) + valueBytes(entry) + 1,
        0,
      )
    );
  }
  if (value.SS !== undefined)
    return value.SS.reduce((sum, entry) => sum + Buffer.byteLength(entry), 0);
  if (value.NS !== undefined) return value.NS.reduce((sum, entry) => sum + entry.length, 0);
  return 0;
}

async function countLines(file: string): Promise<number> {
  try {
    return (await readFile(file, 'utf8')).split('\n').filter((line) => line.trim()).length;
  } catch {
    return 0;
  }
}

/** Requests by operation served between two readings of a server's counts. */
function difference(
  after: Record<string, number>,
  before: Record<string, number>,
): Record<string, number> {
  return Object.fromEntries(
    Object.entries(after)
      .map(([operation, count]) => [operation, count - (before[operation] ?? 0)] as const)
      .filter(([, count]) => count > 0),
  );
}

function withRequests(
  counts: RequestCounts,
  label: string,
  requests: Record<string, number>,
): RequestCounts {
  return { ...counts, requests: { ...counts.requests, [label]: requests } };
}
