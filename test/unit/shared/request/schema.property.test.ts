/**
 * Properties of the request schema: any JSON value gets an answer and never
 * an exception; an accepted request satisfies every rule; a refused one carries a code of the
 * rule table; and breaking rules of a valid request answers the first broken rule's code.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type ErrorCode, ErrorCodes } from '#shared/errors/codes.ts';
import {
  codePointLength,
  type GenerationRequest,
  MAX_ASPECT_RATIO,
  MAX_PIXELS,
  MIN_ASPECT_RATIO,
  MIN_PIXELS,
  PROMPT_MAX_CODE_POINTS,
  RULE_ORDER,
  SEED_MAX,
  validateGenerationRequest,
} from '#shared/request/schema.ts';

/**
 * Every code the schema may answer, in the order rules are ranked: the schema's own table, whose
 * order schema.test.ts pins rule by rule.
 */
const RULES = RULE_ORDER;

function expectSatisfiesEveryRule(request: Record<string, unknown>) {
  expect(Object.keys(request).sort()).toEqual(['height', 'prompt', 'seed', 'use_pre_llm', 'width']);
  const { prompt, use_pre_llm, seed, width, height } = request as unknown as GenerationRequest;
  expect(typeof prompt).toBe('string');
  expect(prompt).toBe(prompt.trim());
  expect(codePointLength(prompt)).toBeGreaterThanOrEqual(1);
  expect(codePointLength(prompt)).toBeLessThanOrEqual(PROMPT_MAX_CODE_POINTS);
  expect(typeof use_pre_llm).toBe('boolean');
  expect(Number.isInteger(seed) && (seed === -1 || (seed >= 1 && seed <= SEED_MAX))).toBe(true);
  expect(Number.isInteger(width) && Number.isInteger(height)).toBe(true);
  expect(width / height).toBeGreaterThanOrEqual(MIN_ASPECT_RATIO);
  expect(width / height).toBeLessThanOrEqual(MAX_ASPECT_RATIO);
  expect(width * height).toBeGreaterThanOrEqual(MIN_PIXELS);
  expect(width * height).toBeLessThanOrEqual(MAX_PIXELS);
}

function expectAnswer(input: unknown) {
  const result = validateGenerationRequest(input);
  if (result.ok) {
    expectSatisfiesEveryRule(result.request as unknown as Record<string, unknown>);
  } else {
    expect(RULES).toContain(result.error.code);
    expect(result.error.details[0]?.code).toBe(result.error.code);
    for (const detail of result.error.details) expect(RULES).toContain(detail.code);
    // The answer is the highest-ranked failure of those listed.
    const ranks = result.error.details.map((detail) => RULES.indexOf(detail.code));
    expect(ranks).toEqual([...ranks].sort((a, b) => a - b));
  }
  return result;
}

/** Values of every JSON type, and the awkward ones: huge, fractional, negative, empty. */
const anyValue = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(0, -1, 1, 1.5, 512, 2048, 4096, 2 ** 31, 2 ** 53, -0, 1e308, '', ' ', null),
  fc.integer({ min: -10, max: 5000 }),
  fc.string({ unit: 'grapheme', maxLength: 900 }),
);
/** Objects with the schema's fields (any of them, any values) and sometimes a stray one. */
const requestShaped = fc.record(
  {
    prompt: anyValue,
    use_pre_llm: anyValue,
    seed: anyValue,
    width: anyValue,
    height: anyValue,
    extra: anyValue,
  },
  { requiredKeys: [] },
);

describe('validateGenerationRequest on arbitrary input', () => {
  it('never throws; accepts only requests that satisfy every rule; refuses with a table code', () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), fc.anything(), requestShaped), (input) => {
        expectAnswer(input);
      }),
      { numRuns: 2000 },
    );
  });
});

/** A valid request (sizes optional, as callers send them). */
const validRequest = fc
  .record(
    {
      prompt: fc
        .string({ unit: 'grapheme', maxLength: 100 })
        .map((text) => `a${text.replace(/^\s+|\s+$/g, '')}z`),
      use_pre_llm: fc.boolean(),
      seed: fc.oneof(fc.constant(-1), fc.integer({ min: 1, max: SEED_MAX })),
      size: fc.option(
        fc
          .tuple(fc.integer({ min: 300, max: 3600 }), fc.integer({ min: 300, max: 3600 }))
          .filter(([width, height]) => {
            const ratio = width / height;
            const pixels = width * height;
            return (
              ratio >= MIN_ASPECT_RATIO &&
              ratio <= MAX_ASPECT_RATIO &&
              pixels >= MIN_PIXELS &&
              pixels <= MAX_PIXELS
            );
          }),
        { nil: undefined },
      ),
    },
    { requiredKeys: ['prompt'] },
  )
  .map(({ size, ...fields }) => {
    const request: Record<string, unknown> = { ...fields };
    if (size) [request.width, request.height] = size;
    return request;
  });

/** A change to a request: fields set, fields removed. */
interface Breaker {
  readonly set?: Record<string, unknown>;
  readonly remove?: readonly string[];
}

/**
 * Ways to break each rule, grouped by the fields they touch: breaking one rule per group keeps
 * the breaks independent, so the expected answer is the highest-ranked rule broken.
 */
const BREAKERS: Record<string, ReadonlyArray<readonly [ErrorCode, Breaker]>> = {
  prompt: [
    [ErrorCodes.MISSING_PROMPT, { remove: ['prompt'] }],
    [ErrorCodes.MISSING_PROMPT, { set: { prompt: null } }],
    [ErrorCodes.INVALID_PROMPT_LENGTH, { set: { prompt: '   \n\t ' } }],
    [
      ErrorCodes.INVALID_PROMPT_LENGTH,
      { set: { prompt: '字'.repeat(PROMPT_MAX_CODE_POINTS + 1) } },
    ],
    [ErrorCodes.INVALID_PROMPT_LENGTH, { set: { prompt: 42 } }],
  ],
  usePreLlm: [
    [ErrorCodes.INVALID_USE_PRE_LLM, { set: { use_pre_llm: 'true' } }],
    [ErrorCodes.INVALID_USE_PRE_LLM, { set: { use_pre_llm: 1 } }],
    [ErrorCodes.INVALID_USE_PRE_LLM, { set: { use_pre_llm: null } }],
  ],
  seed: [
    [ErrorCodes.INVALID_SEED, { set: { seed: 0 } }],
    [ErrorCodes.INVALID_SEED, { set: { seed: -2 } }],
    [ErrorCodes.INVALID_SEED, { set: { seed: SEED_MAX + 1 } }],
    [ErrorCodes.INVALID_SEED, { set: { seed: 7.5 } }],
    [ErrorCodes.INVALID_SEED, { set: { seed: '7' } }],
  ],
  size: [
    [ErrorCodes.SIZE_PAIR_REQUIRED, { set: { width: 1024 }, remove: ['height'] }],
    [ErrorCodes.SIZE_PAIR_REQUIRED, { set: { height: 1.5 }, remove: ['width'] }],
    [ErrorCodes.SIZE_NOT_INTEGER, { set: { width: 1024.5, height: 1024 } }],
    [ErrorCodes.SIZE_NOT_INTEGER, { set: { width: '1024', height: 1024 } }],
    [ErrorCodes.INVALID_SIZE, { set: { width: 0, height: 1024 } }],
    [ErrorCodes.INVALID_SIZE, { set: { width: 1024, height: -1024 } }],
    [ErrorCodes.INVALID_ASPECT_RATIO, { set: { width: 4096, height: 1024 } }],
    [ErrorCodes.INVALID_ASPECT_RATIO, { set: { width: 100, height: 2000 } }],
    [ErrorCodes.SIZE_OUT_OF_RANGE, { set: { width: 256, height: 256 } }],
    [ErrorCodes.SIZE_OUT_OF_RANGE, { set: { width: 4096, height: 2048 } }],
  ],
  unknown: [
    [ErrorCodes.UNKNOWN_FIELD, { set: { steps: 30 } }],
    [ErrorCodes.UNKNOWN_FIELD, { set: { Prompt: 'x' } }],
  ],
};

const brokenRequest = fc
  .tuple(
    validRequest,
    fc.subarray(Object.keys(BREAKERS), { minLength: 1 }),
    fc.array(fc.nat(), { minLength: 5, maxLength: 5 }),
  )
  .map(([request, groups, picks]) => {
    const broken = structuredClone(request);
    const applied: ErrorCode[] = [];
    groups.forEach((group, index) => {
      const options = BREAKERS[group] ?? [];
      const [code, change] = options[(picks[index] ?? 0) % options.length] as [ErrorCode, Breaker];
      Object.assign(broken, change.set);
      for (const field of change.remove ?? []) delete broken[field];
      applied.push(code);
    });
    return { broken, applied };
  });

describe('validateGenerationRequest, the first failure wins', () => {
  it('accepts every valid request unchanged but for defaults and trimming', () => {
    fc.assert(
      fc.property(validRequest, (request) => {
        const result = expectAnswer(request);
        expect(result.ok).toBe(true);
        if (result.ok) expect(result.request).toMatchObject(request);
      }),
      { numRuns: 500 },
    );
  });

  it('answers the highest-ranked rule among those broken', () => {
    fc.assert(
      fc.property(brokenRequest, ({ broken, applied }) => {
        const result = expectAnswer(broken);
        const expected = [...applied].sort((a, b) => RULES.indexOf(a) - RULES.indexOf(b))[0];
        expect(result.ok).toBe(false);
        if (!result.ok) expect(result.error.code).toBe(expected);
      }),
      { numRuns: 1500 },
    );
  });
});
