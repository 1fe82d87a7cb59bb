/** What the local gateway reads of a request: its target, query, headers, body and caller. */
import type { IncomingMessage } from 'node:http';
import { readBody as readWholeBody } from '#local/http/server.ts';
import type { ApiRoute } from '#local/runtime/api-gateway/model.ts';

export interface RequestInfo {
  readonly requestId: string;
  readonly method: string;
  readonly rawPath: string;
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly query: ParsedQuery;
  readonly sourceIp: string;
  pathParameters?: Record<string, string>;
  resourcePath?: string;
}

export interface ParsedQuery {
  readonly single: Record<string, string>;
  readonly multi: Record<string, string[]>;
}

/** The path and query of a request target; undefined for a target that is not a path. */
export function splitTarget(target: string): { path: string; query: string } | undefined {
  let pathAndQuery = target;
  if (!target.startsWith('/')) {
    // absolute-form (`GET http://host/path`) is allowed; `*` and the like never match a route.
    try {
      const url = new URL(target);
      pathAndQuery = `${url.pathname}${url.search}`;
    } catch {
      return undefined;
    }
  }
  const hash = pathAndQuery.indexOf('#');
  if (hash >= 0) pathAndQuery = pathAndQuery.slice(0, hash);
  const mark = pathAndQuery.indexOf('?');
  return mark < 0
    ? { path: pathAndQuery, query: '' }
    : { path: pathAndQuery.slice(0, mark), query: pathAndQuery.slice(mark + 1) };
}

export function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** `a=1&a=2&b` -> single `{a:'2', b:''}` (the last value, as REST APIs do), multi `{a:['1','2'], b:['']}`. */
export function parseQuery(query: string): ParsedQuery {
  const single: Record<string, string> = {};
  const multi: Record<string, string[]> = {};
  for (const pair of query.split('&')) {
    if (pair === '') continue;
    const equals = pair.indexOf('=');
    const name = safeDecode(equals < 0 ? pair : pair.slice(0, equals));
    const value = equals < 0 ? '' : safeDecode(pair.slice(equals + 1));
    if (name === '') continue;
    single[name] = value;
    if (!Object.hasOwn(multi, name)) multi[name] = [];
    multi[name]?.push(value);
  }
  return { single, multi };
}

export function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[value.length - 1] : value;
}

export function normaliseIp(address: string | undefined): string {
  if (address === undefined) return '127.0.0.1';
  return address.startsWith('::ffff:') ? address.slice('::ffff:'.length) : address;
}

/**
 * Reads and drops the rest of a body that is too large, so the client, still sending, reads the
 * 413 rather than a reset connection. Bounded: past `limit` more bytes, or 10 s, it stops (the
 * answer then closes the connection).
 */
export function discardBody(req: IncomingMessage, limit: number): Promise<void> {
  if (req.complete || req.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    let size = 0;
    const done = () => {
      clearTimeout(timer);
      req.off('data', onData);
      resolve();
    };
    const onData = (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size > limit) done();
    };
    const timer = setTimeout(done, 10_000);
    req.on('data', onData);
    req.once('end', done);
    req.once('close', done);
    req.once('error', done);
    req.resume();
  });
}

/** The whole body; 'too-large' as soon as it passes the limit; 'aborted' if the client left. */
export async function readBody(
  req: IncomingMessage,
  limit: number,
): Promise<Buffer | 'too-large' | 'aborted'> {
  const read = await readWholeBody(req, { maxBytes: limit });
  return read.kind === 'body' ? read.body : read.kind;
}

export function missingParameters(
  route: ApiRoute,
  info: RequestInfo,
  req: IncomingMessage,
): string[] {
  const missing: string[] = [];
  for (const parameter of route.requiredParameters ?? []) {
    const match =
      /^method\.request\.(path|querystring|header|multivaluequerystring|multivalueheader)\.(.+)$/.exec(
        parameter,
      );
    if (match === null) continue;
    const [, where, name] = match as unknown as [string, string, string];
    const present =
      where === 'path'
        ? (info.pathParameters?.[name] ?? '') !== ''
        : where.endsWith('querystring')
          ? Object.hasOwn(info.query.single, name)
          : headerValue(req, name) !== undefined;
    if (!present) missing.push(name);
  }
  return missing;
}
