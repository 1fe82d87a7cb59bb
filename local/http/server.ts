/**
 * What every hand-rolled `node:http` server of the local runtime needs the same way: listening
 * (port 0 for any free one), reading a body under a size limit, a JSON answer, and a close that
 * does not wait for keep-alive sockets or held answers. Each server keeps its own limits and its
 * own answers to a body that is too large or a client that went away.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Starts listening on `host` (`port` 0: any free port); the port it got. */
export function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/**
 * Stops listening and drops every connection: `close()` alone waits for keep-alive sockets and
 * for answers still being held.
 */
export function closeServer(server: Server): Promise<void> {
  const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  return stopped;
}

/** A request body, or why there is none. */
export type BodyRead =
  | { readonly kind: 'body'; readonly body: Buffer }
  | { readonly kind: 'too-large' }
  | { readonly kind: 'aborted' };

export interface BodyLimit {
  /** Largest body, in bytes. @default no limit */
  readonly maxBytes?: number;
  /**
   * Past the limit: `stop` answers at once and leaves the rest unread (the caller drains it or
   * closes the connection); `drain` reads the rest, dropping it, so the client is answered rather
   * than reset. @default 'stop'
   */
  readonly overLimit?: 'stop' | 'drain';
}

/** The whole body, never buffering past the limit; `aborted` if the client went away first. */
export function readBody(req: IncomingMessage, limit: BodyLimit = {}): Promise<BodyRead> {
  const maxBytes = limit.maxBytes ?? Number.POSITIVE_INFINITY;
  const drain = limit.overLimit === 'drain';
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (value: BodyRead) => {
      if (settled) return;
      settled = true;
      req.off('data', onData);
      resolve(value);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size <= maxBytes) {
        chunks.push(chunk);
        return;
      }
      chunks.length = 0;
      if (!drain) settle({ kind: 'too-large' });
    };
    req.on('data', onData);
    req.once('end', () =>
      settle(
        size > maxBytes ? { kind: 'too-large' } : { kind: 'body', body: Buffer.concat(chunks) },
      ),
    );
    req.once('error', () => settle({ kind: 'aborted' }));
    req.once('close', () => {
      if (!req.complete) settle({ kind: 'aborted' });
    });
  });
}

/** A JSON answer with its length; nothing when the connection is already gone. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Readonly<Record<string, string>> = {},
): void {
  if (res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}
