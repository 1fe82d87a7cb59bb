import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { ErrorCodes, normaliseErrorCode, renderErrorCodeTable } from '#shared/errors/codes.ts';

describe('normaliseErrorCode', () => {
  it.each([
    [3_001_006, '003001006'],
    ['3001006', '003001006'],
    ['003001006', '003001006'],
    [' 003001006 ', '003001006'],
    [0, '000000000'],
    [123_456_789, '123456789'],
  ])('turns %j into %s', (input, expected) => {
    expect(normaliseErrorCode(input)).toBe(expected);
  });

  it.each([[-1], [1.5], [1_234_567_890], ['12a'], [''], [null], [undefined], [{}], [Number.NaN]])(
    'refuses %j',
    (input) => {
      expect(normaliseErrorCode(input)).toBeUndefined();
    },
  );
});

describe('the error code table', () => {
  it('gives every code a distinct 9-digit value', () => {
    const codes = Object.values(ErrorCodes);
    expect(new Set(codes).size).toBe(codes.length);
    for (const code of codes) expect(code).toMatch(/^\d{9}$/);
  });

  it('is documented, current, in docs/error-codes.md (run "npm run docs:codes" after a change)', async () => {
    const doc = await readFile(new URL('../../../../docs/error-codes.md', import.meta.url), 'utf8');
    expect(doc).toContain(renderErrorCodeTable());
  });
});
