/**
 * EventBridge pattern matching, operator by operator, as EventBridge documents it; and the
 * patterns it cannot match faithfully, refused.
 */
import { describe, expect, it } from 'vitest';
import { checkPattern, matchesPattern } from '#local/runtime/event-patterns.ts';

const event = {
  source: 'spark-t2i',
  'detail-type': 'Generation Completed',
  resources: ['arn:aws:states:us-east-1:000000000000:execution:m:one', 'other'],
  detail: {
    generationId: 'gen-1',
    status: 'completed',
    batchId: 'batch-7',
    attempts: 2,
    retried: false,
    error: null,
    owner: { tenant: 'acme' },
    files: [{ kind: 'png' }, { kind: 'json' }],
    tags: [],
  },
};

const cases: ReadonlyArray<[string, Record<string, unknown>, boolean]> = [
  // Value lists and nesting.
  ['a listed value', { source: ['spark-t2i'] }, true],
  ['one of several values', { 'detail-type': ['Generation Failed', 'Generation Completed'] }, true],
  ['no listed value', { source: ['other'] }, false],
  ['a nested field', { detail: { status: ['completed'] } }, true],
  ['a nested field two levels down', { detail: { owner: { tenant: ['acme'] } } }, true],
  ['a nested field of another value', { detail: { owner: { tenant: ['other'] } } }, false],
  ['every field must match', { source: ['spark-t2i'], detail: { status: ['failed'] } }, false],
  ['an element of an array', { resources: ['other'] }, true],
  ['a field of an object in an array', { detail: { files: { kind: ['json'] } } }, true],
  [
    'numbers, booleans and null by value',
    { detail: { attempts: [2], retried: [false], error: [null] } },
    true,
  ],
  ['a number is not its string', { detail: { attempts: ['2'] } }, false],
  ['an absent field matches no value', { detail: { missing: ['x'] } }, false],
  // exists
  ['exists: true on a present field', { detail: { batchId: [{ exists: true }] } }, true],
  ['exists: true on a null field', { detail: { error: [{ exists: true }] } }, true],
  ['exists: true on an absent field', { detail: { missing: [{ exists: true }] } }, false],
  ['exists: false on an absent field', { detail: { missing: [{ exists: false }] } }, true],
  ['exists: false on a present field', { detail: { batchId: [{ exists: false }] } }, false],
  ['exists: true on an intermediate node', { detail: { owner: [{ exists: true }] } }, false],
  ['exists: true on an empty array', { detail: { tags: [{ exists: true }] } }, false],
  ['exists: false under an absent parent', { missing: { field: [{ exists: false }] } }, true],
  // prefix
  ['prefix of a value', { detail: { batchId: [{ prefix: 'batch-' }] } }, true],
  ['prefix it does not start with', { detail: { batchId: [{ prefix: 'gen-' }] } }, false],
  ['prefix on an absent field', { detail: { missing: [{ prefix: '' }] } }, false],
  ['prefix on a number', { detail: { attempts: [{ prefix: '2' }] } }, false],
  ['prefix of an array element', { resources: [{ prefix: 'arn:aws:states:' }] }, true],
  // anything-but
  [
    'anything-but a list it is not in',
    { detail: { status: [{ 'anything-but': ['failed', 'cancelled'] }] } },
    true,
  ],
  [
    'anything-but a list it is in',
    { detail: { status: [{ 'anything-but': ['completed', 'failed'] }] } },
    false,
  ],
  ['anything-but a single value', { detail: { status: [{ 'anything-but': 'completed' }] } }, false],
  ['anything-but a number', { detail: { attempts: [{ 'anything-but': [1, 3] }] } }, true],
  ['anything-but on an absent field', { detail: { missing: [{ 'anything-but': ['x'] }] } }, false],
  [
    'anything-but a prefix it has',
    { detail: { batchId: [{ 'anything-but': { prefix: 'batch-' } }] } },
    false,
  ],
  [
    'anything-but a prefix it has not',
    { detail: { batchId: [{ 'anything-but': { prefix: 'x' } }] } },
    true,
  ],
  // Matchers of one list are alternatives.
  ['a value or an operator', { detail: { batchId: ['none', { prefix: 'batch' }] } }, true],
  ['exists: false or a value', { detail: { status: [{ exists: false }, 'completed'] } }, true],
];

describe('EventBridge event patterns', () => {
  it.each(cases)('%s', (_, pattern, expected) => {
    expect(() => checkPattern(pattern)).not.toThrow();
    expect(matchesPattern(pattern, event)).toBe(expected);
  });

  it.each([
    ['a numeric matcher', { detail: { attempts: [{ numeric: ['>', 1] }] } }],
    ['a suffix matcher', { source: [{ suffix: 't2i' }] }],
    ['a wildcard matcher', { source: [{ wildcard: 'spark-*' }] }],
    ['$or', { $or: [{ source: ['a'] }, { source: ['b'] }] }],
    ['a bare value', { source: 'spark-t2i' }],
    ['exists with a non-boolean', { source: [{ exists: 'yes' }] }],
    ['a matcher with two operators', { source: [{ prefix: 'a', exists: true }] }],
  ])('refuses %s', (_, pattern) => {
    expect(() => checkPattern(pattern)).toThrow(/not supported|must be/);
  });
});
