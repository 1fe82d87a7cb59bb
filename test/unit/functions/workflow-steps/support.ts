import type { RequestListener } from 'node:http';
import { S3Client } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, vi } from 'vitest';
import { type RunningSimulator, renderPng, startSimulator } from '#local/simulator/index.ts';
import type { TaskState } from '#shared/generation/steps.ts';
import { lambdaContext } from '../../../helpers/lambda-context.ts';
import { listenOnLoopback } from '../../../helpers/loopback-server.ts';

export const SPARK_KEY = 'spark-test-key';
export const dynamo = mockClient(DynamoDBDocumentClient);
export const s3 = mockClient(S3Client);
export const secrets = mockClient(SecretsManagerClient);
export const context = lambdaContext({ functionName: 'test', requestId: 'req-1' });

export let simulator: RunningSimulator;
export let faulty: RunningSimulator;
export let garbled: RunningSimulator;
export let failing: RunningSimulator;
export let images: ImageServer;
/** A small real PNG (64x48), as the provider would serve it. */
export let png: Buffer;
export type Handler<E> = (event: E, context: Context) => Promise<unknown>;
export let createTask: Handler<{ id: string }>;
export let pollTask: Handler<unknown>;
export let copyImages: Handler<unknown>;
export let classifyFailure: Handler<unknown>;

export const queued = {
  id: 'gen-1',
  owner: 'alice',
  status: 'queued',
  request: { prompt: 'a lighthouse', use_pre_llm: true, seed: 7, width: 512, height: 512 },
  source: 'http',
  polls: 0,
  images: [],
  createdAt: '2026-11-24T10:00:00.000Z',
  updatedAt: '2026-11-24T10:00:00.000Z',
};

beforeAll(async () => {
  // Long enough that a poll made at once finds the task running, even on a loaded machine.
  simulator = await startSimulator({ latencyMs: 400, apiKey: SPARK_KEY });
  faulty = await startSimulator({
    latencyMs: 30,
    apiKey: SPARK_KEY,
    faults: { create5xx: 1 },
  });
  garbled = await startSimulator({
    latencyMs: 30,
    apiKey: SPARK_KEY,
    faults: { pollMalformed: 1 },
  });
  failing = await startSimulator({ latencyMs: 0, apiKey: SPARK_KEY, faults: { taskFailed: 1 } });
  images = await startImageServer();
  png = await renderPng({ prompt: 'a test card', seed: 1, width: 64, height: 48 });
  Object.assign(process.env, {
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    POWERTOOLS_METRICS_DISABLED: 'true',
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    GENERATIONS_TABLE: 'generations',
    BATCHES_TABLE: 'batches',
    IMAGES_BUCKET: 'images',
    SPARK_BASE_URL: simulator.url,
    SPARK_API_KEY_SECRET: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:spark',
    SPARK_REQUEST_TIMEOUT_MS: '2000',
    POLL_EXPECTED_GENERATION_SECONDS: '9',
    POLL_MAX_POLLS: '4',
    // The simulator and the image server stand for the provider: both plain http on 127.0.0.1.
    IMAGE_INSECURE_ORIGINS: `${simulator.url},${images.origin}`,
    SLOTS_TABLE: 'slots',
    MAX_CONCURRENT_TASKS: '3',
    // One check per poll here; the in-process re-checks have their own test below.
    POLL_RECHECK_SECONDS: '0',
  });
  ({ handler: createTask } = (await import(
    '../../../../functions/create-task/handler.ts'
  )) as never);
  ({ handler: pollTask } = (await import('../../../../functions/poll-task/handler.ts')) as never);
  ({ handler: copyImages } = (await import(
    '../../../../functions/copy-images/handler.ts'
  )) as never);
  ({ handler: classifyFailure } = (await import(
    '../../../../functions/classify-failure/handler.ts'
  )) as never);
});

afterAll(async () => {
  await simulator.close();
  await faulty.close();
  await garbled.close();
  await failing.close();
  await images.close();
});

beforeEach(async () => {
  dynamo.reset();
  // Releasing a slot looks at the free slots and the waiters to wake: all free, none waiting.
  dynamo.on(GetCommand).resolves({});
  dynamo.on(QueryCommand).resolves({ Items: [] });
  s3.reset();
  secrets.reset();
  secrets.on(GetSecretValueCommand).resolves({ SecretString: SPARK_KEY });
  await fetch(`${simulator.url}/__sim/reset`, { method: 'POST' });
});

/** A real HTTP server on 127.0.0.1 serving each image path the way the test scripts it. */
export interface ImageServer {
  /** Its origin (`http://127.0.0.1:PORT`). */
  readonly origin: string;
  /** Serves `path` with `listener`; answers its full URL. */
  route(path: string, listener: RequestListener): string;
  /** Paths requested so far. */
  readonly requested: string[];
  close(): Promise<void>;
}

async function startImageServer(): Promise<ImageServer> {
  const routes = new Map<string, RequestListener>();
  const requested: string[] = [];
  const server = await listenOnLoopback((request, response) => {
    requested.push(request.url ?? '');
    const listener = routes.get(request.url ?? '');
    if (listener) listener(request, response);
    else response.writeHead(500).end('no route');
  });
  return {
    origin: server.origin,
    requested,
    route(path, listener) {
      routes.set(path, listener);
      return `${server.origin}${path}`;
    },
    close: () => server.close(),
  };
}

/** Imports a handler again, so it reads the environment as it is now (a new cold start). */
export async function freshImport(step: WorkflowStep): Promise<unknown> {
  vi.resetModules();
  return import(`../../../../functions/${step}/handler.ts`);
}

/** The workflow's Lambda steps, by their folder under `functions/`. */
export type WorkflowStep = 'create-task' | 'poll-task' | 'copy-images' | 'classify-failure';

export async function tasksCreated(on = simulator): Promise<number> {
  const stats = (await (await fetch(`${on.url}/__sim/stats`)).json()) as { tasksCreated: number };
  return stats.tasksCreated;
}

export async function completedTask(): Promise<TaskState> {
  dynamo.on(GetCommand).resolves({ Item: queued });
  dynamo.on(UpdateCommand).resolves({});
  const task = (await createTask({ id: 'gen-1' }, context)) as TaskState;
  for (let attempt = 0; attempt < 50; attempt++) {
    const polled = (await pollTask(
      { id: 'gen-1', task, startedAt: new Date().toISOString() },
      context,
    )) as TaskState;
    if (polled.state === 'completed') return polled;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('task did not complete');
}

/** The input Step Functions hands a Catch and then ClassifyFailure, for an error a step threw. */
export function caughtAs(error: { name: string; message: string }) {
  return {
    Error: error.name,
    Cause: JSON.stringify({ errorType: error.name, errorMessage: error.message }),
  };
}

/** Imports a Spark step again, reading its key from a secret of its own (the cache is by name). */
export async function withSecret(
  step: WorkflowStep,
  secretName: string,
): Promise<Handler<unknown>> {
  const previous = process.env.SPARK_API_KEY_SECRET;
  process.env.SPARK_API_KEY_SECRET = secretName;
  try {
    return ((await freshImport(step)) as { handler: Handler<unknown> }).handler;
  } finally {
    process.env.SPARK_API_KEY_SECRET = previous;
  }
}
