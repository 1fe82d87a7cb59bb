/** The guarded POST against real receivers on 127.0.0.1: answers, redirects, timeouts, refusals. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebhookRequestError, WebhookTargetRefusedError } from '#shared/webhooks/errors.ts';
import { guardedPost } from '#shared/webhooks/target.ts';

let server: Server;
let origin: string;
const received: Array<{ path: string; body: string; headers: IncomingMessage['headers'] }> = [];
const routes: Record<string, (response: ServerResponse) => void> = {
  '/ok': (response) => response.writeHead(204).end(),
  '/broken': (response) => response.writeHead(500).end('no'),
  '/moved': (response) => response.writeHead(302, { location: '/ok' }).end(),
  '/slow': () => undefined,
};

beforeAll(async () => {
  server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const path = request.url ?? '/';
      received.push({ path, body: Buffer.concat(chunks).toString(), headers: request.headers });
      routes[path]?.(response);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const post = (path: string, insecureOrigins = [origin], timeoutMs = 10_000) =>
  guardedPost({ policy: { insecureOrigins }, timeoutMs })({
    url: `${origin}${path}`,
    headers: { 'webhook-id': 'msg_1' },
    body: '{"type":"generation.completed"}',
  });

describe('a guarded webhook POST', () => {
  it('sends the body and headers and answers the status', async () => {
    expect(await post('/ok')).toEqual({ status: 204 });
    const last = received.at(-1);
    expect(last?.body).toBe('{"type":"generation.completed"}');
    expect(last?.headers['webhook-id']).toBe('msg_1');
    expect(last?.headers['content-type']).toBe('application/json');
  });

  it('answers a 5xx as it came', async () => {
    expect(await post('/broken')).toEqual({ status: 500 });
  });

  it('does not follow a redirect', async () => {
    const before = received.length;
    expect(await post('/moved')).toEqual({ status: 302 });
    expect(received.slice(before).map((entry) => entry.path)).toEqual(['/moved']);
  });

  it('gives up on a receiver that does not answer in time', async () => {
    await expect(post('/slow', [origin], 200)).rejects.toBeInstanceOf(WebhookRequestError);
  });

  it('refuses a loopback receiver the configuration does not name, before connecting', async () => {
    const before = received.length;
    await expect(post('/ok', [])).rejects.toBeInstanceOf(WebhookTargetRefusedError);
    expect(received.length).toBe(before);
  });

  it('refuses a public-looking name that resolves inside the network', async () => {
    const send = guardedPost({
      policy: { insecureOrigins: [] },
      resolve: (_host, _options, callback) => callback(null, [{ address: '10.1.2.3', family: 4 }]),
    });
    await expect(
      send({ url: 'https://hooks.example.com/in', headers: {}, body: '{}' }),
    ).rejects.toThrow(/hooks\.example\.com resolves to non-public address 10\.1\.2\.3/);
  });
});
