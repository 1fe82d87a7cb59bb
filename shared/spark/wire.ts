/**
 * The provider's wire format (design section 3) as zod schemas. Unknown fields are ignored so a
 * provider that adds fields does not break us; anything we rely on is checked.
 */
import * as z from 'zod';

/** The only model this pipeline speaks to. */
export const SPARK_MODEL = 'spark_t2i_3_0';

const taskId = z.union([z.string().min(1), z.number().int().nonnegative()]).transform(String);
const errorCode = z.union([z.number(), z.string()]);

export const createTaskResponseSchema = z
  .looseObject({ id: taskId.optional(), task_id: taskId.optional(), status: z.string().optional() })
  .refine((body) => body.id !== undefined || body.task_id !== undefined, {
    message: 'the create answer has no task id (id or task_id)',
  });

const imageContentSchema = z.looseObject({
  type: z.string(),
  url: z.string().min(1),
  size: z.number().int().nonnegative().optional(),
  jobId: z.string().optional(),
});

const outputItemSchema = z.looseObject({
  content: z.array(imageContentSchema),
  // Some answers carry the job id one level up, beside content.
  jobId: z.string().optional(),
});

export const usageSchema = z.looseObject({
  cost: z.union([z.string(), z.number()]),
  discount: z.number().optional(),
  input_tokens: z.number().optional(),
  output_tokens: z.number().optional(),
  total_tokens: z.number().optional(),
});

export const providerErrorSchema = z.looseObject({
  code: errorCode.optional(),
  error_message: z.string().optional(),
  message: z.string().optional(),
});

export const taskResponseSchema = z.looseObject({
  id: taskId.optional(),
  task_id: taskId.optional(),
  status: z.string().min(1),
  output: z.array(outputItemSchema).nullish(),
  usage: usageSchema.nullish(),
  error: providerErrorSchema.nullish(),
});

/** An error answer (HTTP 4xx/5xx): `{error:{code, error_message}}`, or the same fields at the top. */
export const errorResponseSchema = z.union([
  z.looseObject({ error: providerErrorSchema }),
  providerErrorSchema,
]);

export type Usage = z.infer<typeof usageSchema>;
export type TaskResponse = z.infer<typeof taskResponseSchema>;
