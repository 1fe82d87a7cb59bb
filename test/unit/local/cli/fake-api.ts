/**
 * A small stand-in for the pipeline's HTTP API (docs/openapi.json) and the local runtime's control
 * server, for driving the CLI commands without the real runtime: scripted generations that move
 * queued -> running -> terminal one GET at a time, a PNG behind each image URL, pages with
 * cursors, and a data dir whose endpoints.json/runtime.json point at it.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { PNG } from 'pngjs';

export const API_KEY = 'sk_test_key_0123456789abcdef';

export function tinyPng(width = 4, height = 2): Buffer {
  const png = new PNG({ width, height });
  png.data.fill(200);
  return PNG.sync.write(png);
}

export const PNG_BYTES = tinyPng();

export interface Script {
  /** Final status once followed: reached on the `after`-th GET (default 3). */
  readonly outcome: 'completed' | 'failed' | 'cancelled' | 'never';
  readonly after?: number;
  readonly error?: { code: string; message: string };
}

interface FakeGeneration {
  readonly id: string;
  readonly request: Record<string, unknown>;
  readonly source: 'http' | 's3' | 'schedule';
  readonly createdAt: string;
  readonly script: Script;
  gets: number;
}

const UPLOAD_TYPES: Record<string, string> = {
  jsonl: 'application/jsonl',
  txt: 'text/plain',
  json: 'application/json',
};

/** How a batch sent to the fake moves: its lines end one a GET, then it completes. */
export interface BatchScript {
  readonly accepted: number;
  readonly rejected?: number;
  /** Of the accepted lines, how many fail. */
  readonly failed?: number;
}

interface FakeBatch {
  readonly id: string;
  readonly format: string;
  readonly script: BatchScript;
  /** The file as received (the body, or the PUT to the upload URL). */
  file?: Buffer;
  contentType?: string;
  gets: number;
}

export interface LoggedRequest {
  readonly method: string;
  readonly path: string;
  readonly authorization: string | undefined;
  readonly idempotencyKey?: string | undefined;
  /** The body, decompressed when it was sent with `Content-Encoding: gzip`, as the API reads it. */
  readonly body: string;
  readonly contentEncoding?: string | undefined;
  /** The body's size as sent (compressed, if it was). */
  readonly sentBytes?: number;
}

export interface FakeApi {
  readonly url: string;
  readonly controlUrl: string;
  readonly dataDir: string;
  readonly requests: LoggedRequest[];
  readonly controlRequests: LoggedRequest[];
  /** Decides what a submitted prompt becomes (default: completed after 3 GETs). */
  scriptFor: (request: Record<string, unknown>) => Script;
  /** The next this many POST /generations answer 503 (after being logged). */
  failPosts: number;
  /** Decides how the next batch sent moves. */
  batchScript: BatchScript;
  /** Batches sent, by id. */
  readonly batches: Map<string, FakeBatch>;
  /** Adds a generation directly (as a file line or a schedule would). */
  add(
    id: string,
    script: Script,
    options?: { source?: 'http' | 's3' | 'schedule'; prompt?: string },
  ): void;
  close(): Promise<void>;
}

function send(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

async function readBytes(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function readBody(request: IncomingMessage): Promise<string> {
  return (await readBytes(request)).toString('utf8');
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

export async function startFakeApi(): Promise<FakeApi> {
  const generations = new Map<string, FakeGeneration>();
  const batches = new Map<string, FakeBatch>();
  const requests: LoggedRequest[] = [];
  const controlRequests: LoggedRequest[] = [];
  let counter = 0;
  let clock = Date.parse('2026-01-01T00:00:00Z');
  let url = '';
  const sha256 = createHash('sha256').update(PNG_BYTES).digest('hex');

  const statusOf = (generation: FakeGeneration): string => {
    const after = generation.script.after ?? 3;
    if (generation.script.outcome !== 'never' && generation.gets >= after) {
      return generation.script.outcome;
    }
    return generation.gets >= 2 ? 'running' : 'queued';
  };

  const view = (generation: FakeGeneration) => {
    const status = statusOf(generation);
    const request = {
      use_pre_llm: true,
      seed: -1,
      width: 1328,
      height: 1328,
      ...generation.request,
    };
    return {
      id: generation.id,
      status,
      request,
      source: generation.source,
      polls: Math.max(0, generation.gets - 1),
      images:
        status === 'completed'
          ? [
              {
                url: `${url}/images/${generation.id}.png?X-Amz-Signature=abc`,
                bucket: 'images',
                key: `images/${generation.id}/0.png`,
                size: PNG_BYTES.length,
                sha256,
                contentType: 'image/png',
                width: request.width,
                height: request.height,
              },
            ]
          : [],
      ...(status === 'completed' && { costUsd: 0.03 }),
      ...((status === 'failed' || status === 'cancelled') && {
        error: generation.script.error ?? { code: '003001097', message: 'Task failed' },
      }),
      createdAt: generation.createdAt,
      updatedAt: generation.createdAt,
      ...(status === 'completed' && { completedAt: generation.createdAt }),
    };
  };

  const add: FakeApi['add'] = (id, script, options = {}) => {
    clock += 1000;
    generations.set(id, {
      id,
      request: { prompt: options.prompt ?? `prompt of ${id}` },
      source: options.source ?? 'http',
      createdAt: new Date(clock).toISOString(),
      script,
      gets: 0,
    });
  };

  const api: FakeApi = {
    url: '',
    controlUrl: '',
    dataDir: '',
    requests,
    controlRequests,
    scriptFor: () => ({ outcome: 'completed' }),
    failPosts: 0,
    batchScript: { accepted: 2 },
    batches,
    add,
    close: async () => {
      for (const server of [apiServer, controlServer]) {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
    },
  };

  /** A batch's view on its `gets`-th read: one line ends a read, failures first. */
  const batchView = (batch: FakeBatch) => {
    const { accepted, rejected = 0, failed: failing = 0 } = batch.script;
    const ended = Math.min(accepted, batch.gets);
    const failed = Math.min(failing, ended);
    const done = batch.file !== undefined && ended >= accepted;
    return {
      id: batch.id,
      status: batch.file === undefined ? 'awaiting_upload' : done ? 'completed' : 'in_progress',
      source: { bucket: 'input-bucket', key: `prompts/alice/batches/${batch.id}.${batch.format}` },
      format: batch.format,
      counts: {
        lines: accepted + rejected,
        accepted,
        rejected,
        queued: accepted - ended,
        running: 0,
        completed: ended - failed,
        failed,
        cancelled: 0,
      },
      costUsd: 0,
      createdAt: '2026-01-01T00:00:00.000Z',
      updatedAt: '2026-01-01T00:00:00.000Z',
      links: { self: `/batches/${batch.id}`, generations: '', report: '' },
    };
  };
  const batchRoute = (method: string, path: string, raw: Buffer, type: string | undefined) => {
    if (method === 'POST' && path === '/batches') {
      const id = `b_${String(++counter).padStart(40, '0')}`;
      const upload =
        type === 'application/json'
          ? (JSON.parse(raw.toString()) as { upload?: { format: string; bytes: number } }).upload
          : undefined;
      const format =
        upload?.format ??
        ({ 'application/jsonl': 'jsonl', 'text/plain': 'txt' } as Record<string, string>)[
          type ?? ''
        ] ??
        'json';
      const batch: FakeBatch = { id, format, script: api.batchScript, gets: 0 };
      if (upload === undefined) Object.assign(batch, { file: raw, contentType: type });
      batches.set(id, batch);
      return [
        201,
        {
          ...batchView(batch),
          ...(upload !== undefined && {
            upload: {
              url: `${url}/uploads/${id}?X-Amz-Signature=abc`,
              method: 'PUT',
              headers: {
                'content-type': UPLOAD_TYPES[format] ?? 'application/json',
                'content-length': String(upload.bytes),
              },
              expiresAt: '2026-01-01T00:15:00.000Z',
            },
          }),
        },
      ] as const;
    }
    const match = /^\/batches\/([^/]+)(\/generations|\/report)?$/.exec(path);
    const batch = match ? batches.get(match[1] as string) : undefined;
    if (method !== 'GET' || batch === undefined) return undefined;
    if (match?.[2] === undefined) {
      batch.gets++;
      return [200, batchView(batch)] as const;
    }
    const { accepted, rejected = 0, failed = 0 } = batch.script;
    const ids = Array.from({ length: accepted }, (_, line) => `${batch.id}-${line + 1}`);
    if (match[2] === '/generations') {
      return [
        200,
        {
          items: ids.slice(0, failed).map((id) => ({
            id,
            status: 'failed',
            error: { code: '090003002', message: 'Image download failed' },
          })),
        },
      ] as const;
    }
    return [
      200,
      {
        key: batchView(batch).source.key,
        summary: { lines: accepted + rejected + 1, accepted, rejected, skipped: 1 },
        lines: [
          ...ids.map((id, index) => ({ line: index + 1, id })),
          ...Array.from({ length: rejected }, (_, index) => ({
            line: accepted + index + 1,
            error: { code: '003001002', message: 'prompt must be 1-800 characters' },
          })),
        ],
      },
    ] as const;
  };

  const apiServer = createServer((request, response) => {
    void (async () => {
      const sent = await readBytes(request);
      const contentEncoding = request.headers['content-encoding'];
      const raw = contentEncoding === 'gzip' ? gunzipSync(sent) : sent;
      const body = raw.toString('utf8');
      const parsed = new URL(request.url ?? '/', 'http://fake');
      const path = parsed.pathname;
      const method = request.method ?? 'GET';
      requests.push({
        method,
        path: `${path}${parsed.search}`,
        authorization: request.headers.authorization,
        idempotencyKey: request.headers['idempotency-key'] as string | undefined,
        body,
        contentEncoding,
        sentBytes: sent.length,
      });

      if (method === 'GET' && path === '/openapi.json')
        return send(response, 200, { openapi: '3.1.0' });
      const image = /^\/images\/(.+)\.png$/.exec(path);
      if (method === 'GET' && image) {
        response.writeHead(200, {
          'content-type': 'image/png',
          'content-length': PNG_BYTES.length,
        });
        response.end(PNG_BYTES);
        return;
      }
      const uploaded = /^\/uploads\/([^/]+)$/.exec(path);
      if (method === 'PUT' && uploaded) {
        const batch = batches.get(uploaded[1] as string);
        if (batch === undefined) return send(response, 404, {});
        Object.assign(batch, { file: raw, contentType: request.headers['content-type'] });
        response.writeHead(200).end();
        return;
      }
      if (request.headers.authorization !== `Bearer ${API_KEY}`) {
        return send(response, 401, { error: { code: '090004001', message: 'Unauthorized' } });
      }
      if (method === 'POST' && path === '/generations') {
        if (api.failPosts > 0) {
          api.failPosts--;
          return send(response, 503, { message: 'Service Unavailable' });
        }
        const submitted = JSON.parse(body) as Record<string, unknown>;
        const id = `gen-${++counter}`;
        add(id, api.scriptFor(submitted));
        (generations.get(id) as { request: Record<string, unknown> }).request = submitted;
        return send(response, 202, { id, status: 'queued', links: { self: `/generations/${id}` } });
      }
      if (method === 'GET' && path === '/generations') {
        const status = parsed.searchParams.get('status');
        const limit = Number(parsed.searchParams.get('limit') ?? 20);
        const start = Number(parsed.searchParams.get('cursor') ?? 0);
        const all = [...generations.values()]
          .map(view)
          .filter((record) => status === null || record.status === status)
          .sort((a, b) => b.createdAt.localeCompare(a.createdAt));
        const items = all.slice(start, start + limit);
        return send(response, 200, {
          items,
          ...(start + limit < all.length && { nextCursor: String(start + limit) }),
        });
      }
      const answered = batchRoute(method, path, raw, request.headers['content-type']);
      if (answered !== undefined) return send(response, answered[0], answered[1]);
      const one = /^\/generations\/([^/]+)$/.exec(path);
      if (method === 'GET' && one) {
        const generation = generations.get(decodeURIComponent(one[1] as string));
        if (!generation) {
          return send(response, 404, {
            error: { code: '090004002', message: 'No such generation' },
          });
        }
        generation.gets++;
        return send(response, 200, view(generation));
      }
      return send(response, 404, { error: { code: '090004002', message: 'No such route' } });
    })().catch((error: unknown) =>
      send(response, 500, { error: { code: '090003009', message: String(error) } }),
    );
  });

  const schedules = [
    {
      name: 'daily-sample',
      expression: 'cron(0 9 * * ? *)',
      timeZone: 'Europe/Paris',
      enabled: true,
      next: '2026-01-02T08:00:00.000Z',
    },
  ];
  const controlServer = createServer((request, response) => {
    void (async () => {
      const body = await readBody(request);
      const path = request.url ?? '/';
      const method = request.method ?? 'GET';
      controlRequests.push({ method, path, authorization: request.headers.authorization, body });
      if (method === 'GET' && path === '/__local/schedules') return send(response, 200, schedules);
      const trigger = /^\/__local\/schedules\/([^/]+)\/trigger$/.exec(path);
      if (method === 'POST' && trigger) {
        const name = decodeURIComponent(trigger[1] as string);
        if (!schedules.some((schedule) => schedule.name === name)) {
          return send(response, 404, {
            error: { code: 'UNKNOWN_SCHEDULE', message: `No schedule ${name}` },
          });
        }
        const id = `sched-${++counter}`;
        add(id, { outcome: 'completed' }, { source: 'schedule' });
        return send(response, 200, { id });
      }
      return send(response, 404, { error: { code: 'NOT_FOUND', message: 'no route' } });
    })();
  });

  url = await listen(apiServer);
  const controlUrl = await listen(controlServer);
  const dataDir = mkdtempSync(join(tmpdir(), 'spark-t2i-cli-'));
  const apiKeyFile = join(dataDir, 'local-api-key');
  writeFileSync(apiKeyFile, `${API_KEY}\n`);
  writeFileSync(
    join(dataDir, 'endpoints.json'),
    JSON.stringify({
      api: url,
      s3: {
        endpoint: 'http://127.0.0.1:1',
        region: 'us-east-1',
        accessKeyId: 'S3RVER',
        secretAccessKey: 'S3RVER',
        inputBucket: 'input-bucket',
        outputBucket: 'images-bucket',
      },
      dynamodb: { endpoint: 'http://127.0.0.1:1', region: 'us-east-1', tableName: 'Generations' },
      spark: { baseUrl: 'http://127.0.0.1:1', simulated: true },
    }),
  );
  writeFileSync(
    join(dataDir, 'runtime.json'),
    JSON.stringify({
      pid: process.pid,
      control: controlUrl,
      apiKeyFile,
      tables: { generations: 'Generations', apiKeys: 'ApiKeysTable', idempotency: 'Idempotency' },
    }),
  );
  Object.assign(api, { url, controlUrl, dataDir });
  return api;
}
