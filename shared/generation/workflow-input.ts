/**
 * What every trigger hands the workflow: a module of its own, as it builds the request schema
 * (`shared/request/schema.ts`) at import, which the bundles that only read records or owners from
 * `model.ts` should not carry (docs/decisions.md D36).
 */
import { generationRequestSchema } from '#shared/request/schema.ts';
import { GENERATION_WEBHOOK_EVENTS } from '#shared/webhooks/event-types.ts';
import * as z from '#shared/zod.ts';
import { GENERATION_SOURCES, generationIdSchema, ownerSchema } from './model.ts';

/**
 * The generation id is the execution name, so starting the same generation twice is a no-op in
 * Step Functions; `id`, when given, must equal it.
 */
export const workflowInputSchema = z.strictObject({
  id: z.optional(generationIdSchema),
  request: generationRequestSchema,
  source: z.enum(GENERATION_SOURCES),
  /** Where it came from: `http:<request id>`, `s3://bucket/key#line`, `schedule:<name>`. */
  sourceRef: z.string().check(z.minLength(1), z.maxLength(2048)),
  owner: ownerSchema,
  /**
   * The events the generation's webhook asked for (none without a webhook): the workflow's
   * events carry them, so the bus's rule sends to the webhook queue only what a webhook wants
   * (docs/decisions.md D40). Never the URL: it stays on the record.
   */
  webhookEvents: z._default(z.array(z.enum(GENERATION_WEBHOOK_EVENTS)), []),
});
/** What a trigger starts an execution with; `webhookEvents` left out means none. */
export type WorkflowInput = Omit<z.output<typeof workflowInputSchema>, 'webhookEvents'> & {
  readonly webhookEvents?: z.output<typeof workflowInputSchema>['webhookEvents'];
};
