/**
 * What the console function answers: the page's HTML at the API's root and its files under
 * `/console/`, with a strict content security policy (no inline script or style, nothing framed,
 * images only from the API's own images bucket) and the API's other security headers.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { NotFoundError } from '#shared/api/errors.ts';
import { SECURITY_HEADERS } from '#shared/api/responses.ts';

/** A file of the page: its media type and text. */
export interface PageFile {
  readonly contentType: string;
  readonly body: string;
}

/** Where the page's images come from: the origins pre-signed image URLs point at. */
export interface ImageLocation {
  readonly bucket: string;
  readonly region: string;
  /** `AWS_ENDPOINT_URL_S3` when set (the local runtime's S3 server). */
  readonly endpoint?: string | undefined;
  readonly forcePathStyle: boolean;
}

/**
 * The origins of the images bucket's pre-signed URLs, as the SDK's presigner writes them: the
 * bucket's virtual-hosted regional name on AWS, the endpoint's host (with the bucket in the path
 * or in the host) when an endpoint is configured.
 */
export function imageOrigins(location: ImageLocation): string[] {
  if (location.endpoint !== undefined) {
    const url = new URL(location.endpoint);
    if (location.forcePathStyle) return [url.origin];
    return [`${url.protocol}//${location.bucket}.${url.host}`];
  }
  const host = `s3.${location.region}.amazonaws.com`;
  return [`https://${location.forcePathStyle ? host : `${location.bucket}.${host}`}`];
}

/** The page's content security policy: its own scripts, styles and API; the bucket's images. */
export function contentSecurityPolicy(origins: readonly string[]): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    `img-src 'self' ${origins.join(' ')}`,
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** Headers of every console answer: the API's, with the page's own policy. */
export function consoleHeaders(policy: string, contentType: string): Record<string, string> {
  return {
    ...SECURITY_HEADERS,
    'content-security-policy': policy,
    'content-type': contentType,
    'x-frame-options': 'DENY',
    'cross-origin-opener-policy': 'same-origin',
  };
}

/**
 * The page. Its files are named relative to it, so it works under API Gateway's stage path
 * (`/v1/`) as at the local runtime's root; the script finds the API the same way.
 */
export const CONSOLE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>spark-t2i console</title>
<link rel="stylesheet" href="console/app.css">
<script type="module" src="console/app.js"></script>
</head>
<body>
<div id="app"></div>
<noscript>The console needs JavaScript.</noscript>
</body>
</html>
`;

type ConsoleRequest = Pick<APIGatewayProxyEvent, 'resource' | 'path' | 'pathParameters'> & {
  readonly requestContext: Pick<APIGatewayProxyEvent['requestContext'], 'path'>;
};

/**
 * The answer to `GET /` or `GET /console/{file}`. The root asked without its trailing slash
 * (`/v1` on API Gateway's stage path) is redirected to it, so the page's relative names resolve
 * under the stage.
 */
export function answerConsole(
  request: ConsoleRequest,
  files: Readonly<Record<string, PageFile>>,
  policy: string,
): APIGatewayProxyResult {
  if (request.resource === '/') {
    const full = request.requestContext.path ?? request.path;
    if (!full.endsWith('/')) {
      return {
        statusCode: 308,
        headers: { ...consoleHeaders(policy, 'text/plain; charset=utf-8'), location: `${full}/` },
        body: '',
      };
    }
    return {
      statusCode: 200,
      headers: consoleHeaders(policy, 'text/html; charset=utf-8'),
      body: CONSOLE_HTML,
    };
  }
  const name = request.pathParameters?.file ?? '';
  const file = Object.hasOwn(files, name) ? files[name] : undefined;
  if (file === undefined) throw new NotFoundError('No such console file');
  return {
    statusCode: 200,
    headers: consoleHeaders(policy, file.contentType),
    body: file.body,
  };
}
