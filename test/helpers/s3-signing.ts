/**
 * The headers of a raw S3 request signed as an SDK signs it (SigV4, the path as written), for
 * tests that must send what no SDK client would: a framed body, or dot segments in the path.
 */
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentials } from '../../local/aws/identities.ts';
import { NodeSha256 } from '../../local/aws/sigv4.ts';
import { LOCAL_REGION } from '../../local/runtime/storage.ts';

export async function signedS3Headers(
  endpoint: string,
  request: {
    readonly method: string;
    readonly path: string;
    readonly credentials: AwsCredentials;
    readonly headers: Readonly<Record<string, string>>;
  },
): Promise<Record<string, string>> {
  const { hostname, port, host } = new URL(endpoint);
  const signer = new SignatureV4({
    credentials: request.credentials,
    region: LOCAL_REGION,
    service: 's3',
    sha256: NodeSha256,
    uriEscapePath: false,
  });
  const signed = await signer.sign({
    method: request.method,
    protocol: 'http:',
    hostname,
    port: Number(port),
    path: request.path,
    query: {},
    headers: { host, ...request.headers },
  });
  return signed.headers;
}
