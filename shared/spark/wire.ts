/**
 * The provider's wire format as zod schemas. Unknown fields are ignored so a
 * provider that adds fields does not break us; anything we rely on is checked.
 */
import * as z from '#shared/zod.ts';

/** The only model this pipeline speaks to. */
export const SPARK_MODEL = 'spark_t2i_3_0';

const taskId = z.pipe(
  z.union([z.string().check(z.minLength(1)), z.number().check(z.int(), z.nonnegative())]),
  z.transform(String),
);
const errorCode = z.union([z.number(), z.string()]);

export const createTaskResponseSchema = z
  .looseObject({
    id: z.optional(taskId),
    task_id: z.optional(taskId),
    status: z.optional(z.string()),
  })
  .check(
    z.refine((body) => body.id !== undefined || body.task_id !== undefined, {
      message: 'the create answer has no task id (id or task_id)',
    }),
  );

const imageContentSchema = z.looseObject({
  type: z.string(),
  url: z.string().check(z.minLength(1)),
  size: z.optional(z.number().check(z.int(), z.nonnegative())),
  jobId: z.optional(z.string()),
});

const outputItemSchema = z.looseObject({
  content: z.array(imageContentSchema),
  // Some answers carry the job id one level up, beside content.
  jobId: z.optional(z.string()),
});

export const usageSchema = z.looseObject({
  cost: z.union([z.string(), z.number()]),
  discount: z.optional(z.number()),
  input_tokens: z.optional(z.number()),
  output_tokens: z.optional(z.number()),
  total_tokens: z.optional(z.number()),
});

export const providerErrorSchema = z.looseObject({
  code: z.optional(errorCode),
  error_message: z.optional(z.string()),
  message: z.optional(z.string()),
});

export const taskResponseSchema = z.looseObject({
  id: z.optional(taskId),
  task_id: z.optional(taskId),
  status: z.string().check(z.minLength(1)),
  output: z.nullish(z.array(outputItemSchema)),
  usage: z.nullish(usageSchema),
  error: z.nullish(providerErrorSchema),
});

/** An error answer (HTTP 4xx/5xx): `{error:{code, error_message}}`, or the same fields at the top. */
export const errorResponseSchema = z.union([
  z.looseObject({ error: providerErrorSchema }),
  providerErrorSchema,
]);

export type Usage = z.infer<typeof usageSchema>;
export type TaskResponse = z.infer<typeof taskResponseSchema>;
