/**
 * The `webhook` field of POST /generations, POST /batches and a schedule's config: its zod schema
 * (the console's page and the server read the same one) and the full check with its codes. The
 * schema is the shape; the check adds what depends on the stack's configuration, the target's
 * policy (`target.ts`). No Node or SDK import here.
 */
import { ErrorCodes } from '#shared/errors/codes.ts';
import * as z from '#shared/zod.ts';
import {
  type StoredWebhook,
  WEBHOOK_EVENTS_OF,
  type WebhookEventType,
  type WebhookResource,
} from './event-types.ts';

export const WEBHOOK_URL_MAX_LENGTH = 2048;

function eventsSchema(resource: WebhookResource) {
  const names = WEBHOOK_EVENTS_OF[resource] as [WebhookEventType, ...WebhookEventType[]];
  return z.array(z.enum(names)).check(
    z.minLength(1),
    z.refine((events) => new Set(events).size === events.length, 'each event at most once'),
  );
}

/** The field as a caller writes it; `events` defaults to every event of the resource. */
export function webhookRequestSchema(resource: WebhookResource) {
  return z.strictObject({
    url: z.string().check(z.minLength(1), z.maxLength(WEBHOOK_URL_MAX_LENGTH)),
    events: z.optional(eventsSchema(resource)),
  });
}

export type WebhookRequest = z.output<ReturnType<typeof webhookRequestSchema>>;

/** A refused `webhook` field: the code and message a 400 answers with. */
export interface WebhookProblem {
  readonly code: typeof ErrorCodes.WEBHOOK_INVALID | typeof ErrorCodes.WEBHOOK_URL_REFUSED;
  readonly message: string;
  readonly details?: readonly unknown[];
}

export type WebhookValidation =
  | { readonly ok: true; readonly webhook: StoredWebhook }
  | { readonly ok: false; readonly problem: WebhookProblem };

/** What refuses a URL the shape accepted (`checkWebhookUrl` of `target.ts`, with the policy). */
export type UrlRefusal = (url: string) => string | undefined;

/**
 * The `webhook` field checked and normalised: shape first (`090007001`), then the URL's own rules
 * (`090007002`: https, no credentials, a public host, unless the configuration exempts its origin).
 */
export function validateWebhook(
  value: unknown,
  resource: WebhookResource,
  refusal: UrlRefusal,
): WebhookValidation {
  const parsed = webhookRequestSchema(resource).safeParse(value);
  if (!parsed.success) {
    return {
      ok: false,
      problem: {
        code: ErrorCodes.WEBHOOK_INVALID,
        message: `webhook must be {url, events?}; events of a ${resource}: ${WEBHOOK_EVENTS_OF[resource].join(', ')}`,
        details: parsed.error.issues.map((issue) => ({
          code: ErrorCodes.WEBHOOK_INVALID,
          message: issue.message,
          field: ['webhook', ...issue.path.map(String)].join('.'),
        })),
      },
    };
  }
  const refused = refusal(parsed.data.url);
  if (refused !== undefined) {
    return { ok: false, problem: { code: ErrorCodes.WEBHOOK_URL_REFUSED, message: refused } };
  }
  return {
    ok: true,
    webhook: {
      url: parsed.data.url,
      events: parsed.data.events ?? [...WEBHOOK_EVENTS_OF[resource]],
    },
  };
}
