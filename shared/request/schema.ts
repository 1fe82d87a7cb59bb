/**
 * The generation request: one zod schema that validates HTTP bodies, prompt-file lines,
 * schedules at synth time, CLI input and the simulator. It has no AWS dependency.
 *
 * The provider's rules are checked in the order of its error table and the first failure's
 * code is the answer; `details` lists every failure found, in that same order.
 */
import { type ErrorCode, ErrorCodes } from '#shared/errors/codes.ts';
import { isPlainObject } from '#shared/json.ts';
import * as z from '#shared/zod.ts';

export const PROMPT_MAX_CODE_POINTS = 800;
/** The provider recommends prompts of at most this many characters; longer ones get a warning. */
export const PROMPT_RECOMMENDED_CODE_POINTS = 120;
export const SEED_MAX = 2_147_483_647;
export const MIN_PIXELS = 512 * 512;
export const MAX_PIXELS = 2048 * 2048;
export const MIN_ASPECT_RATIO = 1 / 3;
export const MAX_ASPECT_RATIO = 3;

export const REQUEST_DEFAULTS = {
  use_pre_llm: true,
  seed: -1,
  width: 1328,
  height: 1328,
} as const;

/** Unicode code point count: a 4-byte emoji is one character, as the provider counts them. */
export function codePointLength(text: string): number {
  let count = 0;
  for (const _ of text) count++;
  return count;
}

export const WarningCodes = {
  PROMPT_LONGER_THAN_RECOMMENDED: '090001901',
} as const;

export interface RequestWarning {
  readonly code: string;
  readonly message: string;
}

export interface ValidationDetail {
  readonly code: ErrorCode;
  readonly message: string;
  /** The request field the failure is about; absent for the request as a whole. */
  readonly field?: string;
}

export interface ValidationFailure {
  readonly code: ErrorCode;
  readonly message: string;
  readonly details: readonly ValidationDetail[];
}

/** The answer of {@link validateGenerationRequest}. */
export type ValidationResult =
  | { readonly ok: true; readonly request: GenerationRequest; readonly warnings: RequestWarning[] }
  | { readonly ok: false; readonly error: ValidationFailure };

const prompt = z.withMeta(
  z.string().check(
    z.trim(),
    z.refine(
      (text) => {
        const length = codePointLength(text);
        return length >= 1 && length <= PROMPT_MAX_CODE_POINTS;
      },
      { message: `prompt must be 1-${PROMPT_MAX_CODE_POINTS} characters after trimming` },
    ),
  ),
  // JSON Schema counts string length in code points, as the rule above does.
  {
    minLength: 1,
    maxLength: PROMPT_MAX_CODE_POINTS,
    description: `Text prompt (Chinese or English). 1-${PROMPT_MAX_CODE_POINTS} characters after trimming; at most ${PROMPT_RECOMMENDED_CODE_POINTS} recommended.`,
  },
);

const dimension = (name: 'width' | 'height') =>
  z.withMeta(z.optional(z.int().check(z.positive())), {
    description: `Image ${name} in pixels; give width and height together. Aspect ratio 1:3 to 3:1, width x height between 512x512 and 2048x2048.`,
    default: REQUEST_DEFAULTS[name],
  });

/**
 * The request as a zod schema. Cross-field rules (aspect ratio, pixel count) are checks of the
 * object, so they only run once width and height are both valid positive integers.
 */
export const generationRequestSchema = z.withMeta(
  z
    .strictObject({
      prompt,
      use_pre_llm: z.withMeta(z._default(z.boolean(), REQUEST_DEFAULTS.use_pre_llm), {
        description: 'Let the provider expand and optimise the prompt.',
      }),
      seed: z.withMeta(
        z._default(
          z.int().check(
            z.refine((seed) => seed === -1 || (seed >= 1 && seed <= SEED_MAX), {
              message: `seed must be -1 or an integer from 1 to ${SEED_MAX}`,
            }),
          ),
          REQUEST_DEFAULTS.seed,
        ),
        {
          description: `-1 for a random seed, or 1-${SEED_MAX} for a reproducible image.`,
          minimum: -1,
          maximum: SEED_MAX,
        },
      ),
      width: dimension('width'),
      height: dimension('height'),
    })
    .check(
      z.superRefine((request, ctx) => {
        if (request.width === undefined || request.height === undefined) return;
        const ratio = request.width / request.height;
        if (ratio < MIN_ASPECT_RATIO || ratio > MAX_ASPECT_RATIO) {
          ctx.addIssue({
            code: 'custom',
            message: `width/height is ${formatRatio(ratio)}; it must be between 1:3 and 3:1`,
            params: { errorCode: ErrorCodes.INVALID_ASPECT_RATIO },
          });
        }
        const pixels = request.width * request.height;
        if (pixels < MIN_PIXELS || pixels > MAX_PIXELS) {
          ctx.addIssue({
            code: 'custom',
            message: `width x height is ${pixels} pixels; it must be between 512x512 (${MIN_PIXELS}) and 2048x2048 (${MAX_PIXELS})`,
            params: { errorCode: ErrorCodes.SIZE_OUT_OF_RANGE },
          });
        }
      }),
    ),
  { id: 'GenerationRequest', description: 'A text-to-image generation request.' },
);

/** The normalised request: prompt trimmed, defaults applied. */
export interface GenerationRequest {
  readonly prompt: string;
  readonly use_pre_llm: boolean;
  readonly seed: number;
  readonly width: number;
  readonly height: number;
}

/**
 * The order of the provider's rules, which are every code the schema may answer; the first
 * failure in this order is the answer.
 */
export const RULE_ORDER: readonly ErrorCode[] = [
  ErrorCodes.REQUEST_NOT_OBJECT,
  ErrorCodes.MISSING_PROMPT,
  ErrorCodes.INVALID_PROMPT_LENGTH,
  ErrorCodes.INVALID_USE_PRE_LLM,
  ErrorCodes.INVALID_SEED,
  ErrorCodes.SIZE_PAIR_REQUIRED,
  ErrorCodes.SIZE_NOT_INTEGER,
  ErrorCodes.INVALID_SIZE,
  ErrorCodes.INVALID_ASPECT_RATIO,
  ErrorCodes.SIZE_OUT_OF_RANGE,
  ErrorCodes.UNKNOWN_FIELD,
];

/**
 * Validates and normalises a generation request (a parsed JSON value).
 * Never throws: every input gets either the normalised request or a coded failure.
 */
export function validateGenerationRequest(input: unknown): ValidationResult {
  if (!isPlainObject(input)) {
    const message = 'The request must be a JSON object';
    return failure([{ code: ErrorCodes.REQUEST_NOT_OBJECT, message }]);
  }
  const details: ValidationDetail[] = [];
  // "Only one of width/height" ranks above the type checks of either, so it is decided on the
  // raw input rather than inside the schema, where a type failure would stop the object check.
  if (isPresent(input, 'width') !== isPresent(input, 'height')) {
    details.push({
      code: ErrorCodes.SIZE_PAIR_REQUIRED,
      message: 'width and height must both be provided',
      field: isPresent(input, 'width') ? 'height' : 'width',
    });
  }
  const parsed = generationRequestSchema.safeParse(input);
  if (parsed.success && details.length === 0) {
    const request: GenerationRequest = {
      ...parsed.data,
      width: parsed.data.width ?? REQUEST_DEFAULTS.width,
      height: parsed.data.height ?? REQUEST_DEFAULTS.height,
    };
    return { ok: true, request, warnings: warningsFor(request) };
  }
  for (const issue of parsed.error?.issues ?? []) details.push(...detailsOf(issue, input));
  return failure(details);
}

function failure(details: ValidationDetail[]): ValidationResult {
  const ordered = [...details].sort(
    (a, b) => RULE_ORDER.indexOf(a.code) - RULE_ORDER.indexOf(b.code),
  );
  const first = ordered[0] as ValidationDetail;
  return { ok: false, error: { code: first.code, message: first.message, details: ordered } };
}

function detailsOf(issue: z.core.$ZodIssue, input: Record<string, unknown>): ValidationDetail[] {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({
      code: ErrorCodes.UNKNOWN_FIELD,
      message: `Unknown field "${key}"; allowed fields are prompt, use_pre_llm, seed, width, height`,
      field: key,
    }));
  }
  const field = typeof issue.path[0] === 'string' ? issue.path[0] : undefined;
  switch (field) {
    case 'prompt':
      return input.prompt === undefined || input.prompt === null
        ? [{ code: ErrorCodes.MISSING_PROMPT, message: 'prompt is required', field }]
        : [
            {
              code: ErrorCodes.INVALID_PROMPT_LENGTH,
              message:
                typeof input.prompt === 'string'
                  ? `prompt must be 1-${PROMPT_MAX_CODE_POINTS} characters after trimming`
                  : 'prompt must be a string',
              field,
            },
          ];
    case 'use_pre_llm':
      return [
        {
          code: ErrorCodes.INVALID_USE_PRE_LLM,
          message: 'use_pre_llm must be true or false',
          field,
        },
      ];
    case 'seed':
      return [
        {
          code: ErrorCodes.INVALID_SEED,
          message: `seed must be -1 or an integer from 1 to ${SEED_MAX}`,
          field,
        },
      ];
    case 'width':
    case 'height':
      return [dimensionDetail(issue, field, input)];
    default: {
      const errorCode = (issue as { params?: { errorCode?: ErrorCode } }).params?.errorCode;
      return errorCode ? [{ code: errorCode, message: issue.message }] : [];
    }
  }
}

function dimensionDetail(
  issue: z.core.$ZodIssue,
  field: 'width' | 'height',
  input: Record<string, unknown>,
): ValidationDetail {
  const value = input[field];
  if (!(typeof value === 'number' && Number.isInteger(value))) {
    return { code: ErrorCodes.SIZE_NOT_INTEGER, message: `${field} must be an integer`, field };
  }
  if (issue.code === 'too_small') {
    return { code: ErrorCodes.INVALID_SIZE, message: `${field} must be greater than 0`, field };
  }
  // An integer beyond the safe range: the object checks never ran, so rank the ratio rule
  // above the pixel rule here as they would have (when the other side is a number to divide by;
  // it can be any JSON value, and is reported by its own detail).
  const { width, height } = input;
  const ratio =
    typeof width === 'number' && typeof height === 'number' ? width / height : Number.NaN;
  return ratio < MIN_ASPECT_RATIO || ratio > MAX_ASPECT_RATIO
    ? {
        code: ErrorCodes.INVALID_ASPECT_RATIO,
        message: 'width/height must be between 1:3 and 3:1',
        field,
      }
    : {
        code: ErrorCodes.SIZE_OUT_OF_RANGE,
        message: `${field} is too large; width x height must be at most 2048x2048`,
        field,
      };
}

function warningsFor(request: GenerationRequest): RequestWarning[] {
  const length = codePointLength(request.prompt);
  if (length <= PROMPT_RECOMMENDED_CODE_POINTS) return [];
  return [
    {
      code: WarningCodes.PROMPT_LONGER_THAN_RECOMMENDED,
      message: `The prompt is ${length} characters; the provider recommends at most ${PROMPT_RECOMMENDED_CODE_POINTS}, and longer prompts may generate abnormally or have no effect`,
    },
  ];
}

function isPresent(input: Record<string, unknown>, key: string): boolean {
  return Object.hasOwn(input, key) && input[key] !== undefined;
}

function formatRatio(ratio: number): string {
  return Number.isFinite(ratio) ? ratio.toFixed(3) : String(ratio);
}
