/**
 * The simulator's wire codes and answers: auth, errors, and the small helpers they need. Codes on
 * the wire are integers, as the provider sends them. Besides the provider's own codes and the
 * simulator codes of `shared/errors/codes.ts`, it answers with three of its own (below).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendJson } from '#local/http/server.ts';
import { ErrorCodes } from '#shared/errors/codes.ts';

/** The only model the simulator (and the provider page) knows. */
export const SPARK_MODEL = 'spark_t2i_3_0';

/**
 * Simulator codes not (yet) in `shared/errors/codes.ts`, as wire integers:
 * - 090009006: too many requests — `--max-concurrent` reached, or the create429/poll429 faults.
 * - 090009007: method not allowed on a known route (HTTP 405).
 * - 090009008: image URL expired or its signature is wrong (HTTP 403).
 */
export const SimulatorWireCodes = {
  TOO_MANY_REQUESTS: 90_009_006,
  METHOD_NOT_ALLOWED: 90_009_007,
  IMAGE_URL_REJECTED: 90_009_008,
} as const;

/** Provider-like answers for a task that failed, and the 5xx faults. */
export const TASK_FAILED_CODE = wireCode(ErrorCodes.INTERNAL_GENERATION_ERROR);
export const CREATE_UNAVAILABLE_CODE = wireCode(ErrorCodes.TASK_CREATION_ERROR);
export const POLL_UNAVAILABLE_CODE = wireCode(ErrorCodes.STATUS_CHECK_ERROR);
export const INTERNAL_ERROR_CODE = wireCode(ErrorCodes.HTTP_ERROR_RESPONSE);
export function isAuthorized(req: IncomingMessage, apiKey: string | undefined): boolean {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  if (!match) return false;
  return apiKey === undefined || sameText(match[1] as string, apiKey);
}

/** Constant-time comparison (of digests, so lengths never leak either). */
export function sameText(a: string, b: string): boolean {
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(a), digest(b));
}

export function sendUnauthorized(res: ServerResponse): void {
  sendError(res, 401, wireCode(ErrorCodes.SIM_UNAUTHORIZED), 'Missing or invalid Bearer API key', {
    'www-authenticate': 'Bearer',
  });
}

export function sendTooMany(res: ServerResponse, retryAfterS: number, message: string): void {
  sendError(res, 429, SimulatorWireCodes.TOO_MANY_REQUESTS, message, {
    'retry-after': String(retryAfterS),
  });
}

/** The provider's error shape: `{"error":{"code":<integer>,"error_message"}}`. */
export function sendError(
  res: ServerResponse,
  status: number,
  code: number,
  message: string,
  headers: Record<string, string> = {},
): void {
  sendJson(res, status, { error: { code, error_message: message } }, headers);
}

export function sendRaw(
  res: ServerResponse,
  status: number,
  contentType: string,
  text: string,
  headers: Record<string, string> = {},
): void {
  if (res.destroyed) return;
  res.writeHead(status, {
    'content-type': contentType,
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** Last resort: a 500 if nothing was sent yet, otherwise drop the connection. */
export function answerUnexpected(res: ServerResponse, error: unknown): void {
  const aborted =
    error instanceof ClientGoneError || (error instanceof Error && error.name === 'AbortError');
  if (aborted || res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  sendError(res, 500, INTERNAL_ERROR_CODE, 'Internal simulator error');
}

// ---------------------------------------------------------------------------------------------
// Small helpers

/** `'090009003'` → `90009003`: the provider sends codes as integers. */
export function wireCode(code: string | number): number {
  return Number(code);
}

export function safeDecode(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

/** The client went away before its request was whole: there is no one to answer. */
export class ClientGoneError extends Error {
  constructor() {
    super('The client went away before its request was whole');
    this.name = 'ClientGone';
  }
}
