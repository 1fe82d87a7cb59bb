/**
 * A real HTTP server on 127.0.0.1 that answers each request with what the test scripts, and
 * records what it received. For wire variants the simulator does not produce (string codes,
 * `task_id`, HTML error pages); everything else is tested against the simulator itself.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { listenOnLoopback } from './loopback-server.ts';

export interface ScriptedAnswer {
  readonly status: number;
  readonly headers?: Record<string, string>;
  readonly body?: unknown;
}

export interface ReceivedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

export interface ScriptedServer {
  readonly url: string;
  readonly received: ReceivedRequest[];
  answer(next: ScriptedAnswer): void;
  close(): Promise<void>;
}

export async function startScriptedServer(): Promise<ScriptedServer> {
  const received: ReceivedRequest[] = [];
  let next: ScriptedAnswer = { status: 500, body: 'nothing scripted' };
  const server = await listenOnLoopback(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    received.push({
      method: request.method ?? '',
      url: request.url ?? '',
      headers: request.headers,
      body: Buffer.concat(chunks).toString('utf8'),
    });
    const body = typeof next.body === 'string' ? next.body : JSON.stringify(next.body ?? {});
    response.writeHead(next.status, { 'content-type': 'application/json', ...next.headers });
    response.end(body);
  });
  return {
    url: server.origin,
    received,
    answer(answer) {
      next = answer;
    },
    close: () => server.close(),
  };
}
