import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '#shared/errors/codes.ts';
import {
  codePointLength,
  REQUEST_DEFAULTS,
  validateGenerationRequest,
  WarningCodes,
} from '#shared/request/schema.ts';

const emoji = '😀'; // one code point, two UTF-16 units, four UTF-8 bytes

function codeOf(input: unknown): string {
  const result = validateGenerationRequest(input);
  return result.ok ? 'ok' : result.error.code;
}

describe('validateGenerationRequest: one rule per row of the provider table', () => {
  it.each([
    ['prompt absent', {}],
    ['prompt null', { prompt: null }],
    ['prompt absent with other valid fields', { seed: 5, width: 1328, height: 1328 }],
  ])('answers 003001001 when the %s', (_name, input) => {
    expect(codeOf(input)).toBe(ErrorCodes.MISSING_PROMPT);
  });

  it.each([
    ['a number', { prompt: 42 }],
    ['a boolean', { prompt: true }],
    ['an array', { prompt: ['a'] }],
    ['empty', { prompt: '' }],
    ['only white space', { prompt: ' \t\n ' }],
    ['801 code points', { prompt: 'a'.repeat(801) }],
    ['801 emoji', { prompt: emoji.repeat(801) }],
  ])('answers 003001002 when the prompt is %s', (_name, input) => {
    expect(codeOf(input)).toBe(ErrorCodes.INVALID_PROMPT_LENGTH);
  });

  it.each([
    ['1 code point', 'a'],
    ['800 code points', 'a'.repeat(800)],
    ['800 emoji (1600 UTF-16 units)', emoji.repeat(800)],
    ['800 code points with surrounding space', `  ${'b'.repeat(800)}  `],
    ['Chinese text', '一座黎明时的灯塔'],
  ])('accepts a prompt of %s', (_name, prompt) => {
    expect(codeOf({ prompt })).toBe('ok');
  });

  it.each([
    ['a string', 'true'],
    ['a number', 1],
    ['null', null],
    ['an object', {}],
  ])('answers 003001003 when use_pre_llm is %s', (_name, use_pre_llm) => {
    expect(codeOf({ prompt: 'x', use_pre_llm })).toBe(ErrorCodes.INVALID_USE_PRE_LLM);
  });

  it.each([true, false])('accepts use_pre_llm %s', (use_pre_llm) => {
    const result = validateGenerationRequest({ prompt: 'x', use_pre_llm });
    expect(result.ok && result.request.use_pre_llm).toBe(use_pre_llm);
  });

  it.each([
    ['0', 0],
    ['-2', -2],
    ['2147483648', 2_147_483_648],
    ['1.5', 1.5],
    ['the string "7"', '7'],
    ['null', null],
  ])('answers 003001004 when the seed is %s', (_name, seed) => {
    expect(codeOf({ prompt: 'x', seed })).toBe(ErrorCodes.INVALID_SEED);
  });

  it.each([-1, 1, 2_147_483_647, 7.0])('accepts seed %s', (seed) => {
    const result = validateGenerationRequest({ prompt: 'x', seed });
    expect(result.ok && result.request.seed).toBe(seed);
  });

  it.each([
    ['width without height', { width: 1328 }],
    ['height without width', { height: 1328 }],
    ['a non-integer width without height', { width: 1328.5 }],
    ['a null height without width', { height: null }],
  ])('answers 003001007 for %s', (_name, size) => {
    expect(codeOf({ prompt: 'x', ...size })).toBe(ErrorCodes.SIZE_PAIR_REQUIRED);
  });

  it.each([
    ['width 1328.5', { width: 1328.5, height: 1328 }],
    ['height 1328.5', { width: 1328, height: 1328.5 }],
    ['a string width', { width: '1328', height: 1328 }],
    ['a null height', { width: 1328, height: null }],
    ['a boolean width', { width: true, height: 1328 }],
  ])('answers 003001008 for %s', (_name, size) => {
    expect(codeOf({ prompt: 'x', ...size })).toBe(ErrorCodes.SIZE_NOT_INTEGER);
  });

  it('accepts 1328.0 as the integer 1328 (JSON does not tell them apart)', () => {
    const result = validateGenerationRequest(
      JSON.parse('{"prompt":"x","width":1328.0,"height":1328.0}'),
    );
    expect(result.ok && result.request.width).toBe(1328);
  });

  it.each([
    ['width 0', { width: 0, height: 1328 }],
    ['height 0', { width: 1328, height: 0 }],
    ['negative width', { width: -1328, height: 1328 }],
    ['both negative', { width: -1, height: -1 }],
  ])('answers 003001005 for %s', (_name, size) => {
    expect(codeOf({ prompt: 'x', ...size })).toBe(ErrorCodes.INVALID_SIZE);
  });

  it.each([
    ['just above 3:1', { width: 1575, height: 524 }],
    ['just below 1:3', { width: 524, height: 1575 }],
    ['4:1', { width: 2048, height: 512 }],
  ])('answers 003001006 for a ratio %s', (_name, size) => {
    expect(codeOf({ prompt: 'x', ...size })).toBe(ErrorCodes.INVALID_ASPECT_RATIO);
  });

  it.each([
    ['exactly 3:1', { width: 1572, height: 524 }],
    ['exactly 1:3', { width: 524, height: 1572 }],
  ])('accepts a ratio of %s', (_name, size) => {
    expect(codeOf({ prompt: 'x', ...size })).toBe('ok');
  });

  it.each([
    ['one pixel under 512x512', { width: 511, height: 512 }],
    ['one row over 2048x2048', { width: 2048, height: 2049 }],
    ['a tiny square', { width: 64, height: 64 }],
    ['a huge square', { width: 4096, height: 4096 }],
    ['a width beyond the safe integer range', { width: 2 ** 60, height: 2 ** 60 }],
  ])('answers 003001009 for %s', (_name, size) => {
    expect(codeOf({ prompt: 'x', ...size })).toBe(ErrorCodes.SIZE_OUT_OF_RANGE);
  });

  it.each([
    ['an object', { toString: 0 }],
    ['a string', '512'],
    ['null', null],
  ])(
    'answers 003001007 for a huge width beside a height that is %s, never throwing',
    (_name, height) => {
      expect(codeOf({ prompt: 'x', width: 2 ** 53, height })).toBe(ErrorCodes.SIZE_NOT_INTEGER);
    },
  );

  it.each([
    ['exactly 512x512', { width: 512, height: 512 }],
    ['exactly 2048x2048', { width: 2048, height: 2048 }],
  ])('accepts %s', (_name, size) => {
    expect(codeOf({ prompt: 'x', ...size })).toBe('ok');
  });

  it.each([
    [1328, 1328],
    [1472, 1104],
    [1584, 1056],
    [1664, 936],
    [2016, 864],
    [2048, 2048],
    [2304, 1728],
    [2496, 1664],
    [2560, 1440],
    [3024, 1296],
  ])('accepts the provider-recommended size %ix%i', (width, height) => {
    expect(codeOf({ prompt: 'x', width, height })).toBe('ok');
  });
});

describe('validateGenerationRequest: rule order and details', () => {
  it.each([
    ['a missing prompt before everything else', { seed: 0, width: 5 }, ErrorCodes.MISSING_PROMPT],
    [
      'the prompt before use_pre_llm',
      { prompt: '', use_pre_llm: 'no' },
      ErrorCodes.INVALID_PROMPT_LENGTH,
    ],
    [
      'use_pre_llm before seed',
      { prompt: 'x', use_pre_llm: 1, seed: 0 },
      ErrorCodes.INVALID_USE_PRE_LLM,
    ],
    ['the seed before the size pair', { prompt: 'x', seed: 0, width: 5 }, ErrorCodes.INVALID_SEED],
    ['the size pair before integers', { prompt: 'x', width: 1.5 }, ErrorCodes.SIZE_PAIR_REQUIRED],
    [
      'integers before positivity',
      { prompt: 'x', width: 1.5, height: -3 },
      ErrorCodes.SIZE_NOT_INTEGER,
    ],
    [
      'positivity before the ratio',
      { prompt: 'x', width: 0, height: 2000 },
      ErrorCodes.INVALID_SIZE,
    ],
    [
      'the ratio before the pixel count',
      { prompt: 'x', width: 4000, height: 10 },
      ErrorCodes.INVALID_ASPECT_RATIO,
    ],
    [
      'the ratio before the pixel count beyond safe integers',
      { prompt: 'x', width: 2 ** 60, height: 1328 },
      ErrorCodes.INVALID_ASPECT_RATIO,
    ],
    [
      'table rules before unknown fields',
      { prompt: 'x', seed: 0, colour: 'red' },
      ErrorCodes.INVALID_SEED,
    ],
  ])('ranks %s', (_name, input, code) => {
    expect(codeOf(input)).toBe(code);
  });

  it('lists every failure in details, the answer first', () => {
    const result = validateGenerationRequest({ prompt: '', seed: 0, width: 2, colour: 1 });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.details.map((detail) => detail.code)).toEqual([
      ErrorCodes.INVALID_PROMPT_LENGTH,
      ErrorCodes.INVALID_SEED,
      ErrorCodes.SIZE_PAIR_REQUIRED,
      ErrorCodes.UNKNOWN_FIELD,
    ]);
    expect(result.error.message).toBe(result.error.details[0]?.message);
  });

  it.each([
    ['a misspelt field', { prompt: 'x', widht: 512 }, 'widht'],
    ['the provider model field', { prompt: 'x', model: 'spark_t2i_3_0' }, 'model'],
  ])('rejects %s with 090001002 naming the field', (_name, input, field) => {
    const result = validateGenerationRequest(input);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.code).toBe(ErrorCodes.UNKNOWN_FIELD);
    expect(result.error.message).toContain(`"${field}"`);
  });

  it.each([
    ['null', null],
    ['an array', [{ prompt: 'x' }]],
    ['a string', 'a lighthouse'],
    ['a number', 7],
  ])('answers 090001001 when the request is %s', (_name, input) => {
    expect(codeOf(input)).toBe(ErrorCodes.REQUEST_NOT_OBJECT);
  });
});

describe('validateGenerationRequest: normalised output', () => {
  it('applies the defaults and trims the prompt', () => {
    const result = validateGenerationRequest({ prompt: '  a lighthouse at dawn \n' });
    expect(result).toEqual({
      ok: true,
      request: { prompt: 'a lighthouse at dawn', ...REQUEST_DEFAULTS },
      warnings: [],
    });
  });

  it('keeps the values given', () => {
    const request = { prompt: 'x', use_pre_llm: false, seed: 42, width: 2560, height: 1440 };
    const result = validateGenerationRequest(request);
    expect(result.ok && result.request).toEqual(request);
  });

  it('warns, but accepts, a prompt over 120 code points', () => {
    const result = validateGenerationRequest({ prompt: emoji.repeat(121) });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.warnings).toHaveLength(1);
    expect(result.warnings[0]?.code).toBe(WarningCodes.PROMPT_LONGER_THAN_RECOMMENDED);
    expect(result.warnings[0]?.message).toContain('121');
  });

  it('does not warn at exactly 120 code points, counted as code points', () => {
    const result = validateGenerationRequest({ prompt: emoji.repeat(120) });
    expect(result.ok && result.warnings).toEqual([]);
  });

  it('counts code points, not UTF-16 units', () => {
    expect(codePointLength(`${emoji}a`)).toBe(2);
    expect(codePointLength('')).toBe(0);
  });
});
