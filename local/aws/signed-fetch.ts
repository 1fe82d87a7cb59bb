/**
 * A request signed as an AWS SDK signs it (SigV4, header form), for callers that speak to a
 * local endpoint without an SDK client: the CLI and tests calling the runtime's admin routes.
 */
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentials } from './identities.ts';
import { NodeSha256, SIGNING_REGION } from './sigv4.ts';

/** The signing name of the runtime's own admin routes (`/__local/…` on the control endpoint). */
export const LOCAL_ADMIN_SERVICE = 'spark-t2i';

export async function signedFetch(
  url: string,
  options: {
    readonly credentials: AwsCredentials;
    readonly method?: string;
    readonly body?: string;
    readonly service?: string;
    readonly headers?: Readonly<Record<string, string>>;
    readonly signal?: AbortSignal;
  },
): Promise<Response> {
  const target = new URL(url);
  const body = options.body ?? '';
  const signer = new SignatureV4({
    credentials: options.credentials,
    region: SIGNING_REGION,
    service: options.service ?? LOCAL_ADMIN_SERVICE,
    sha256: NodeSha256,
  });
  const query: Record<string, string> = {};
  for (const [key, value] of target.searchParams) query[key] = value;
  const signed = await signer.sign({
    method: options.method ?? 'GET',
    protocol: target.protocol,
    hostname: target.hostname,
    ...(target.port && { port: Number(target.port) }),
    path: target.pathname,
    query,
    headers: { host: target.host, ...options.headers },
    body,
  });
  const { host: _host, ...headers } = signed.headers;
  return fetch(url, {
    method: options.method ?? 'GET',
    headers,
    ...(options.method && options.method !== 'GET' && { body }),
    ...(options.signal && { signal: options.signal }),
  });
}
