/**
 * Refusals of the local AWS endpoints, in each service's own words: the code and status the
 * real service answers, so an SDK client raises the same named exception it would on AWS
 * (`SignatureDoesNotMatch`, `UnrecognizedClientException`, `AccessDeniedException` …).
 */
import type { ServerResponse } from 'node:http';

/** Which wire protocol the refused request spoke: S3's REST/XML, or the AWS JSON protocol. */
export type AwsProtocol = 's3' | 'json';

/** The ways a request's authentication can fail, before any policy is read. */
export type AuthFailureKind =
  | 'missing'
  | 'unsupported'
  | 'malformed'
  | 'unknown-key'
  | 'bad-token'
  | 'bad-signature'
  | 'skewed'
  | 'expired'
  | 'wrong-scope';

export class AwsRequestRefusedError extends Error {
  override readonly name = 'AwsRequestRefusedError';
  readonly code: string;
  readonly status: number;
  constructor(code: string, message: string, status: number) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

/** The refusal AWS answers for an authentication failure, per protocol. */
export function authenticationRefusal(
  kind: AuthFailureKind,
  protocol: AwsProtocol,
  detail: string,
): AwsRequestRefusedError {
  const [code, status, message] =
    protocol === 's3' ? S3_AUTH_REFUSALS[kind] : JSON_AUTH_REFUSALS[kind];
  return new AwsRequestRefusedError(code, detail ? `${message} ${detail}` : message, status);
}

/** An IAM refusal: the caller is known, a policy did not allow the action on the resource. */
export function accessDenied(
  protocol: AwsProtocol,
  caller: string,
  action: string,
  resource: string,
  reason: 'explicit-deny' | 'implicit-deny',
): AwsRequestRefusedError {
  const because =
    reason === 'explicit-deny'
      ? `with an explicit deny in a policy`
      : `because no identity-based policy allows the ${action} action`;
  const message = `User: ${caller} is not authorized to perform: ${action} on resource: ${resource} ${because}`;
  return protocol === 's3'
    ? new AwsRequestRefusedError('AccessDenied', message, 403)
    : new AwsRequestRefusedError('AccessDeniedException', message, 400);
}

const S3_AUTH_REFUSALS: Record<AuthFailureKind, readonly [string, number, string]> = {
  missing: ['AccessDenied', 403, 'Access Denied'],
  unsupported: [
    'InvalidRequest',
    400,
    'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.',
  ],
  malformed: ['AuthorizationHeaderMalformed', 400, 'The authorization header is malformed.'],
  'unknown-key': [
    'InvalidAccessKeyId',
    403,
    'The AWS Access Key Id you provided does not exist in our records.',
  ],
  'bad-token': ['InvalidToken', 400, 'The provided token is malformed or otherwise invalid.'],
  'bad-signature': [
    'SignatureDoesNotMatch',
    403,
    'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
  ],
  skewed: [
    'RequestTimeTooSkewed',
    403,
    'The difference between the request time and the current time is too large.',
  ],
  expired: ['AccessDenied', 403, 'Request has expired'],
  'wrong-scope': ['AuthorizationHeaderMalformed', 400, 'The authorization header is malformed;'],
};

const JSON_AUTH_REFUSALS: Record<AuthFailureKind, readonly [string, number, string]> = {
  missing: ['MissingAuthenticationTokenException', 400, 'Request is missing Authentication Token'],
  unsupported: [
    'IncompleteSignatureException',
    400,
    'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.',
  ],
  malformed: ['IncompleteSignatureException', 400, 'The request signature is incomplete.'],
  'unknown-key': [
    'UnrecognizedClientException',
    400,
    'The security token included in the request is invalid.',
  ],
  'bad-token': [
    'UnrecognizedClientException',
    400,
    'The security token included in the request is invalid.',
  ],
  'bad-signature': [
    'InvalidSignatureException',
    400,
    'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.',
  ],
  skewed: ['InvalidSignatureException', 400, 'Signature expired:'],
  expired: ['InvalidSignatureException', 400, 'Signature expired:'],
  'wrong-scope': ['InvalidSignatureException', 400, 'Credential should be scoped to'],
};

/** Writes the refusal as the service would: an XML `<Error>` for S3, a JSON `__type` otherwise. */
export function sendRefusal(
  response: ServerResponse,
  protocol: AwsProtocol,
  refusal: AwsRequestRefusedError,
): void {
  if (response.headersSent) {
    response.destroy();
    return;
  }
  const body =
    protocol === 's3'
      ? `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${refusal.code}</Code><Message>${escapeXml(refusal.message)}</Message></Error>`
      : JSON.stringify({
          __type: `com.amazon.coral.service#${refusal.code}`,
          message: refusal.message,
        });
  response.writeHead(refusal.status, {
    'content-type': protocol === 's3' ? 'application/xml' : 'application/x-amz-json-1.0',
    'content-length': Buffer.byteLength(body),
    ...(protocol === 'json' && { 'x-amzn-errortype': refusal.code }),
  });
  response.end(body);
}

function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}
