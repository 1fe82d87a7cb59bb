/**
 * Signature Version 4, checked as AWS checks it: the request's signature is recomputed with the
 * SDK's own signer (`@smithy/signature-v4`) from the caller's secret and compared in constant
 * time. Both forms: the `Authorization` header, and the query string of a pre-signed URL (with
 * its expiry). The request time may differ from the clock by at most 15 minutes, as on AWS.
 *
 * Not checked: that a streamed S3 body matches the `x-amz-content-sha256` it was signed with
 * (S3 answers `XAmzContentSHA256Mismatch`); the signature covers the declared hash, and the
 * local store verifies a body's MD5 when one is sent.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { SignatureV4 } from '@smithy/signature-v4';
import { type AwsProtocol, type AwsRequestRefusedError, authenticationRefusal } from './errors.ts';
import type { Identity, LocalIdentities } from './identities.ts';

export const SIGNING_REGION = 'us-east-1';
const MAX_SKEW_MS = 15 * 60_000;
const MAX_PRESIGNED_SECONDS = 7 * 24 * 3600;
const ALGORITHM = 'AWS4-HMAC-SHA256';
const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';

export interface SignedRequest {
  readonly method: string;
  /** The request target as received: path and query, still percent-encoded. */
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  /** The whole body, where the service signs it (the JSON services); S3 signs a header instead. */
  readonly body?: Uint8Array;
}

export type Verification =
  | { readonly ok: true; readonly identity: Identity }
  | { readonly ok: false; readonly refusal: AwsRequestRefusedError };

interface Presented {
  readonly accessKeyId: string;
  readonly date: string;
  readonly region: string;
  readonly service: string;
  readonly signedHeaders: readonly string[];
  readonly signature: string;
  readonly sessionToken: string | undefined;
  readonly expiresSeconds: number | undefined;
}

/**
 * Verifies the request's signature for `service` (the signing name: `s3`, `dynamodb`, `states`
 * …), and names its caller.
 */
export async function verifySignature(
  request: SignedRequest,
  service: string,
  identities: LocalIdentities,
  now = Date.now(),
): Promise<Verification> {
  const protocol: AwsProtocol = service === 's3' ? 's3' : 'json';
  const refuse = (kind: Parameters<typeof authenticationRefusal>[0], detail = '') => ({
    ok: false as const,
    refusal: authenticationRefusal(kind, protocol, detail),
  });
  const { path, query } = splitTarget(request.url);
  const presented = presentedSignature(request.headers, query);
  if (presented === 'missing') return refuse('missing');
  if (presented === 'unsupported') return refuse('unsupported');
  if (typeof presented === 'string') return refuse('malformed', presented);

  const identity = identities.byAccessKey(presented.accessKeyId);
  if (!identity) return refuse('unknown-key');
  const expectedToken = identity.credentials.sessionToken;
  if (!sameText(presented.sessionToken ?? '', expectedToken ?? '')) return refuse('bad-token');
  if (presented.region !== SIGNING_REGION || presented.service !== service) {
    return refuse('wrong-scope', `'${SIGNING_REGION}/${service}'`);
  }
  const signedAt = parseAmzDate(presented.date);
  if (signedAt === undefined) return refuse('malformed', 'X-Amz-Date is not a date.');
  if (presented.expiresSeconds === undefined) {
    if (Math.abs(now - signedAt.getTime()) > MAX_SKEW_MS) return refuse('skewed');
  } else {
    if (signedAt.getTime() - now > MAX_SKEW_MS) return refuse('skewed');
    if (now > signedAt.getTime() + presented.expiresSeconds * 1000) return refuse('expired');
  }

  const headers: Record<string, string> = {};
  for (const name of presented.signedHeaders) {
    const value = request.headers[name];
    if (value === undefined) return refuse('bad-signature');
    headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  const signer = new SignatureV4({
    credentials: identity.credentials,
    region: SIGNING_REGION,
    service,
    sha256: NodeSha256,
    // S3 signs the path as sent; the other services encode it once more.
    uriEscapePath: service !== 's3',
    applyChecksum: false,
  });
  const signable = {
    method: request.method,
    protocol: 'http:',
    hostname: headers.host ?? '',
    path,
    query: withoutSignature(query),
    headers,
    ...(request.body !== undefined && { body: request.body }),
  };
  const signableHeaders = new Set(presented.signedHeaders);
  let expected: string;
  if (presented.expiresSeconds === undefined) {
    const contentHash = request.headers['x-amz-content-sha256'];
    if (service === 's3' && typeof contentHash !== 'string') {
      return refuse('malformed', 'Missing required header for this request: x-amz-content-sha256');
    }
    if (typeof contentHash === 'string') {
      // A body the service reads whole must be the one whose hash was signed.
      if (
        request.body !== undefined &&
        /^[0-9a-f]{64}$/.test(contentHash) &&
        contentHash !== createHash('sha256').update(request.body).digest('hex')
      ) {
        return refuse('bad-signature');
      }
      headers['x-amz-content-sha256'] = contentHash;
    }
    const signed = await signer.sign(signable, {
      signingDate: signedAt,
      signableHeaders,
      unsignableHeaders: unsignedExtras(headers, signableHeaders),
    });
    expected = /Signature=([0-9a-f]+)/.exec(String(signed.headers.authorization))?.[1] ?? '';
  } else {
    // A pre-signed request's body is never signed; S3's hash of it is the literal below.
    const extras = { ...headers, 'x-amz-content-sha256': UNSIGNED_PAYLOAD };
    const presignedRequest = await signer.presign(
      { ...signable, headers: extras },
      {
        signingDate: signedAt,
        expiresIn: presented.expiresSeconds,
        signableHeaders,
        unsignableHeaders: unsignedExtras(extras, signableHeaders),
        unhoistableHeaders: new Set(['x-amz-content-sha256']),
      },
    );
    expected = String(presignedRequest.query?.['X-Amz-Signature'] ?? '');
  }
  if (!sameText(expected, presented.signature)) return refuse('bad-signature');
  return { ok: true, identity };
}

/**
 * The signature the request carries, `'missing'` when it carries none, or why it is malformed.
 */
function presentedSignature(
  headers: IncomingHttpHeaders,
  query: Record<string, string | string[]>,
): Presented | 'missing' | 'unsupported' | string {
  const authorization = headers.authorization;
  const inQuery = 'X-Amz-Algorithm' in query;
  // Signature Version 2 (S3's old `AWS key:signature` and `?AWSAccessKeyId=&Signature=`): S3
  // has refused it for buckets made since 2020, as here.
  if (authorization?.startsWith('AWS ') || ('Signature' in query && 'AWSAccessKeyId' in query)) {
    return 'unsupported';
  }
  if (authorization === undefined && !inQuery) return 'missing';
  if (authorization !== undefined && inQuery) {
    return 'Only one auth mechanism allowed: the Authorization header or the X-Amz-Algorithm query parameter.';
  }
  if (authorization !== undefined) {
    const match =
      /^AWS4-HMAC-SHA256 +Credential=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]{64})\s*$/.exec(
        authorization,
      );
    if (!match)
      return 'The Authorization header is not AWS4-HMAC-SHA256 Credential, SignedHeaders, Signature.';
    const date = single(headers['x-amz-date']);
    if (!date) return 'The X-Amz-Date header is missing.';
    const scope = parseCredential(match[1] as string, date);
    if (typeof scope === 'string') return scope;
    return {
      ...scope,
      date,
      signedHeaders: (match[2] as string).split(';'),
      signature: match[3] as string,
      sessionToken: single(headers['x-amz-security-token']),
      expiresSeconds: undefined,
    };
  }
  const field = (name: string) => single(query[name]);
  if (field('X-Amz-Algorithm') !== ALGORITHM) return `X-Amz-Algorithm must be ${ALGORITHM}.`;
  const date = field('X-Amz-Date');
  const credential = field('X-Amz-Credential');
  const signedHeaders = field('X-Amz-SignedHeaders');
  const signature = field('X-Amz-Signature');
  const expires = Number(field('X-Amz-Expires'));
  if (!date || !credential || !signedHeaders || !signature) {
    return 'A pre-signed URL needs X-Amz-Credential, X-Amz-Date, X-Amz-SignedHeaders and X-Amz-Signature.';
  }
  if (!Number.isInteger(expires) || expires < 1 || expires > MAX_PRESIGNED_SECONDS) {
    return 'X-Amz-Expires must be a whole number of seconds from 1 to 604800.';
  }
  const scope = parseCredential(credential, date);
  if (typeof scope === 'string') return scope;
  return {
    ...scope,
    date,
    signedHeaders: signedHeaders.split(';'),
    signature,
    sessionToken: field('X-Amz-Security-Token'),
    expiresSeconds: expires,
  };
}

function parseCredential(
  credential: string,
  date: string,
): Pick<Presented, 'accessKeyId' | 'region' | 'service'> | string {
  const parts = credential.split('/');
  if (parts.length !== 5 || parts[4] !== 'aws4_request') {
    return 'The credential must be <key>/<date>/<region>/<service>/aws4_request.';
  }
  const [accessKeyId, day, region, service] = parts as [string, string, string, string];
  if (day !== date.slice(0, 8)) return 'The credential date is not the request date.';
  return { accessKeyId, region, service };
}

/** `20261207T151600Z` → the Date, or undefined. */
function parseAmzDate(value: string): Date | undefined {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s] = match.map(Number) as number[];
  const date = new Date(Date.UTC(y as number, (mo as number) - 1, d, h, mi, s));
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/**
 * The path as sent, and the query decoded once (the signer encodes it again, as the client
 * did). `+` is a plus here: SigV4 clients encode a space as `%20`.
 */
export function splitTarget(url: string): {
  path: string;
  query: Record<string, string | string[]>;
} {
  const mark = url.indexOf('?');
  const path = mark === -1 ? url : url.slice(0, mark);
  const query: Record<string, string | string[]> = {};
  if (mark !== -1) {
    for (const pair of url.slice(mark + 1).split('&')) {
      if (pair === '') continue;
      const equals = pair.indexOf('=');
      const key = safeDecode(equals === -1 ? pair : pair.slice(0, equals));
      const value = equals === -1 ? '' : safeDecode(pair.slice(equals + 1));
      const existing = query[key];
      query[key] =
        existing === undefined
          ? value
          : Array.isArray(existing)
            ? [...existing, value]
            : [existing, value];
    }
  }
  return { path, query };
}

function withoutSignature(query: Record<string, string | string[]>) {
  const { 'X-Amz-Signature': _signature, ...rest } = query;
  return rest;
}

/** Headers handed to the signer only for its hash, never to be signed unless the client did. */
function unsignedExtras(headers: Record<string, string>, signed: ReadonlySet<string>) {
  return new Set(Object.keys(headers).filter((name) => !signed.has(name)));
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** Compares in constant time for equal lengths (a length differs for any forged signature). */
function sameText(a: string, b: string): boolean {
  const left = createHmac('sha256', 'compare').update(a).digest();
  const right = createHmac('sha256', 'compare').update(b).digest();
  return timingSafeEqual(left, right);
}

/** The SDK signer's hash interface, on node:crypto (HMAC when given a key). */
export class NodeSha256 {
  readonly #hash;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.#hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.#hash.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return this.#hash.digest();
  }
  reset(): void {
    throw new Error('not used by the signer');
  }
}

function bytes(data: string | ArrayBuffer | ArrayBufferView): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}
