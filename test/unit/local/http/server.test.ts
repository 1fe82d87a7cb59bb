/**
 * The local servers' HTTP helper: a body read under a limit (stopping at once, or reading the
 * rest and dropping it), a client that leaves mid-body, and a close that does not wait for
 * keep-alive sockets.
 */
import { Agent, createServer, request, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type BodyLimit,
  type BodyRead,
  closeServer,
  listen,
  readBody,
} from '#local/http/server.ts';

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => closeServer(server)));
});

/** A server that reads each body under `limit`, answers 200, and tells what it read. */
async function reading(limit: BodyLimit): Promise<{ port: number; reads: Promise<BodyRead> }> {
  let resolveRead: (read: BodyRead) => void = () => undefined;
  const reads = new Promise<BodyRead>((resolve) => {
    resolveRead = resolve;
  });
  const server = createServer(async (req, res) => {
    const read = await readBody(req, limit);
    resolveRead(read);
    res.setHeader('connection', 'close');
    res.end(read.kind);
  });
  servers.push(server);
  return { port: await listen(server, 0, '127.0.0.1'), reads };
}

function post(port: number, body: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/' }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('readBody', () => {
  it('answers the whole body within the limit', async () => {
    const { port, reads } = await reading({ maxBytes: 1024 });
    await expect(post(port, Buffer.from('hello'))).resolves.toBe('body');
    expect(await reads).toEqual({ kind: 'body', body: Buffer.from('hello') });
  });

  it.each([['stop'], ['drain']] as const)(
    'answers too-large past the limit (%s), and the client reads the answer',
    async (overLimit) => {
      const { port, reads } = await reading({ maxBytes: 1024, overLimit });
      await expect(post(port, Buffer.alloc(64 * 1024))).resolves.toBe('too-large');
      expect(await reads).toEqual({ kind: 'too-large' });
    },
  );

  it('answers aborted when the client leaves before its body is whole', async () => {
    const { port, reads } = await reading({});
    const req = request({
      host: '127.0.0.1',
      port,
      method: 'POST',
      path: '/',
      headers: { 'content-length': '100' },
    });
    req.on('error', () => undefined);
    req.write('part of it');
    setTimeout(() => req.destroy(), 50);
    expect(await reads).toEqual({ kind: 'aborted' });
  });
});

describe('closeServer', () => {
  it('closes at once with a keep-alive connection open', async () => {
    const server = createServer((_req, res) => res.end('ok'));
    const port = await listen(server, 0, '127.0.0.1');
    await new Promise<void>((resolve) => {
      request(
        { host: '127.0.0.1', port, path: '/', agent: new Agent({ keepAlive: true }) },
        (res) => {
          res.resume();
          res.on('end', () => resolve());
        },
      ).end();
    });
    const started = Date.now();
    await closeServer(server);
    expect(Date.now() - started).toBeLessThan(1000);
  });
});
