/** IAM's wildcard matching of actions, strings and ARNs. */
import { describe, expect, it } from 'vitest';
import {
  actionMatcher,
  arnMatcher,
  isAction,
  isActionPattern,
  wildcardMatcher,
} from '#local/iam/matching.ts';

describe('wildcardMatcher', () => {
  it.each([
    ['abc', 'abc', true],
    ['abc', 'abcd', false],
    ['ab*', 'ab', true],
    ['ab*', 'abcdef', true],
    ['a*c', 'a/b:c', true],
    ['a?c', 'abc', true],
    ['a?c', 'ac', false],
    ['a?c', 'abbc', false],
    ['*', '', true],
    // Characters regular expressions treat specially are plain characters in IAM.
    ['a.c', 'abc', false],
    ['a+(b)', 'a+(b)', true],
    ['ABC', 'abc', false],
  ])('%s against %s: %s', (pattern, value, expected) => {
    expect(wildcardMatcher(pattern)(value)).toBe(expected);
  });
});

describe('actionMatcher', () => {
  it.each([
    ['s3:GetObject', 's3:GetObject', true],
    ['s3:getobject', 'S3:GetObject', true],
    ['s3:Get*', 's3:GetObjectVersion', true],
    ['s3:Get*', 's3:PutObject', false],
    ['s3:*', 's3:PutObject', true],
    ['s3:*', 'sqs:SendMessage', false],
    ['*', 'dynamodb:UpdateItem', true],
    ['dynamodb:?etItem', 'dynamodb:GetItem', true],
    ['dynamodb:GetItem', 'dynamodb:GetItems', false],
  ])('%s against %s: %s', (pattern, action, expected) => {
    expect(actionMatcher(pattern)(action)).toBe(expected);
  });

  it('knows an action pattern from something else', () => {
    expect(isActionPattern('s3:Get*')).toBe(true);
    expect(isActionPattern('*')).toBe(true);
    expect(isActionPattern('GetObject')).toBe(false);
    expect(isActionPattern('s3:Get Object')).toBe(false);
    expect(isAction('s3:GetObject')).toBe(true);
    expect(isAction('s3:Get*')).toBe(false);
  });
});

describe('arnMatcher', () => {
  const table = 'arn:aws:dynamodb:us-east-1:000000000000:table/Generations';
  it.each([
    [table, table, true],
    [table, `${table}/index/byOwner`, false],
    [`${table}/index/*`, `${table}/index/byOwner`, true],
    ['arn:aws:s3:::images/images/*', 'arn:aws:s3:::images/images/g-1/0.png', true],
    ['arn:aws:s3:::images/images/*', 'arn:aws:s3:::images/reports/r.json', false],
    ['arn:aws:s3:::images/images/*', 'arn:aws:s3:::images', false],
    // The resource part keeps its colons: a function's versions.
    [
      'arn:aws:lambda:us-east-1:000000000000:function:F:*',
      'arn:aws:lambda:us-east-1:000000000000:function:F:7',
      true,
    ],
    [
      'arn:aws:lambda:us-east-1:000000000000:function:F:*',
      'arn:aws:lambda:us-east-1:000000000000:function:F',
      false,
    ],
    [
      'arn:aws:states:us-east-1:000000000000:execution:SparkT2i-generation:*',
      'arn:aws:states:us-east-1:000000000000:execution:SparkT2i-generation:g-1',
      true,
    ],
    // Each of the first five segments on its own: a wildcard does not reach the next.
    [
      'arn:aws:*:000000000000:stateMachine:M',
      'arn:aws:states:us-east-1:000000000000:stateMachine:M',
      false,
    ],
    ['arn:aws:states:*:*:stateMachine:M', 'arn:aws:states:eu-west-3:1:stateMachine:M', true],
    ['arn:aws:states:us-*:*:*', 'arn:aws:states:eu-west-3:1:stateMachine:M', false],
    ['arn:aws:s3:::x', 'not-an-arn', false],
    // Case-sensitive.
    ['arn:aws:s3:::Images', 'arn:aws:s3:::images', false],
  ])('%s against %s: %s', (pattern, arn, expected) => {
    expect(arnMatcher(pattern)?.(arn)).toBe(expected);
  });

  it('answers undefined for a pattern that is not an ARN', () => {
    expect(arnMatcher('*')).toBeUndefined();
    expect(arnMatcher('arn:aws:s3')).toBeUndefined();
    expect(arnMatcher('bucket/key:a:b:c:d:e')).toBeUndefined();
  });
});
