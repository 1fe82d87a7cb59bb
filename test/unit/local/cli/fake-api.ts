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

export interface LoggedRequest {
  readonly method: string;
  readonly path: string;
  readonly authorization: string | undefined;
  readonly idempotencyKey?: string | undefined;
  readonly body: string;
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

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

export async function startFakeApi(): Promise<FakeApi> {
  const generations = new Map<string, FakeGeneration>();
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
    add,
    close: async () => {
      for (const server of [apiServer, controlServer]) {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
    },
  };

  const apiServer = createServer((request, response) => {
    void (async () => {
      const body = await readBody(request);
      const parsed = new URL(request.url ?? '/', 'http://fake');
      const path = parsed.pathname;
      const method = request.method ?? 'GET';
      requests.push({
        method,
        path: `${path}${parsed.search}`,
        authorization: request.headers.authorization,
        idempotencyKey: request.headers['idempotency-key'] as string | undefined,
        body,
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
