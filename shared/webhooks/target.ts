/**
 * Where a webhook may be sent, and the one way it is sent. The image copy's SSRF guard
 * (shared/images/address-guard.ts) decides both: https and a public host at submit; at delivery,
 * every address the name resolves to and the address the socket reached must be public. The only
 * exemption is an origin the configuration names (the local runtime's receivers on 127.0.0.1),
 * so no code here knows where it runs.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import {
  addressCheck,
  guardedLookup,
  isPublicAddress,
  type Resolver,
  verifyConnectedAddress,
} from '#shared/images/address-guard.ts';
import { WebhookRequestError, WebhookTargetRefusedError } from './errors.ts';

export interface WebhookTargetPolicy {
  /**
   * Loopback origins (`http://127.0.0.1:9000`) a webhook may target over plain http, each checked
   * by `insecureOrigin` of the address guard when the setting is read. Empty on AWS.
   */
  readonly insecureOrigins: readonly string[];
}

/** Why a webhook URL is refused at submit, or undefined when it may be used. */
export function checkWebhookUrl(raw: string, policy: WebhookTargetPolicy): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'The webhook URL is not a valid URL';
  }
  if (url.username !== '' || url.password !== '') {
    return 'Webhook URLs with credentials are not allowed';
  }
  if (policy.insecureOrigins.includes(url.origin)) return undefined;
  if (url.protocol !== 'https:') return `Webhook URL scheme ${url.protocol} is not allowed`;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host) !== 0 && !isPublicAddress(host)) {
    return `Webhook host ${host} is not a public address`;
  }
  if (host === 'localhost' || host.endsWith('.localhost')) {
    return `Webhook host ${host} is not a public address`;
  }
  return undefined;
}

export interface WebhookPost {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** What the receiver answered. */
export interface WebhookAnswer {
  readonly status: number;
}

/** Sends one delivery; throws `WebhookTargetRefusedError` or `WebhookRequestError`. */
export type PostWebhook = (post: WebhookPost) => Promise<WebhookAnswer>;

export interface GuardedPostOptions {
  readonly policy: WebhookTargetPolicy;
  /** Connection to the end of the answer's head. @default 10 000 */
  readonly timeoutMs?: number;
  /** @default the system's `dns.lookup` */
  readonly resolve?: Resolver;
}

const refuse = (reason: string) => new WebhookTargetRefusedError(`Webhook ${reason}`);

/**
 * POSTs through the guard. A redirect is an answer like any other (a 3xx is not a 2xx: the
 * delivery is retried), never followed: following it would send the signed body wherever the
 * receiver points. The answer's body is not read beyond being drained.
 */
export function guardedPost(options: GuardedPostOptions): PostWebhook {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const policy = { insecureOrigins: options.policy.insecureOrigins, allowedHosts: [] };
  return async ({ url: raw, headers, body }) => {
    const refused = checkWebhookUrl(raw, options.policy);
    if (refused !== undefined) throw new WebhookTargetRefusedError(refused);
    const url = new URL(raw);
    const isAllowed = addressCheck(url, policy);
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const signal = AbortSignal.timeout(timeoutMs);
    return new Promise<WebhookAnswer>((resolve, reject) => {
      const outgoing = send(
        url,
        {
          method: 'POST',
          lookup: guardedLookup(isAllowed, options.resolve, refuse),
          signal,
          headers: {
            ...headers,
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
          },
        },
        (response) => {
          response.resume();
          resolve({ status: response.statusCode ?? 0 });
        },
      );
      verifyConnectedAddress(outgoing, isAllowed, refuse);
      outgoing.on('error', (error) => {
        if (error instanceof WebhookTargetRefusedError) reject(error);
        else if (error.cause instanceof WebhookTargetRefusedError) reject(error.cause);
        else if (signal.aborted) {
          reject(new WebhookRequestError(`No answer within ${timeoutMs} ms`, { cause: error }));
        } else
          reject(new WebhookRequestError(`Request failed: ${error.message}`, { cause: error }));
      });
      outgoing.end(body);
    });
  };
}
