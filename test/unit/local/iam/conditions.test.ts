/**
 * IAM condition operators and set qualifiers, with AWS's semantics: each case is one condition
 * block and one request context, and whether the condition holds.
 */
import { describe, expect, it } from 'vitest';
import { parseCondition, type RequestContext } from '#local/iam/conditions.ts';
import { UnsupportedPolicyError } from '#local/iam/errors.ts';

const AT = { policy: 'TestPolicy', statementIndex: 2, sid: 'Probe' };

type Context = Record<string, string | boolean | readonly string[]>;

function holds(condition: unknown, context: Context): boolean {
  const clauses = parseCondition(condition, AT);
  const map: RequestContext = new Map(
    Object.entries(context).map(([key, value]) => [key.toLowerCase(), value]),
  );
  return clauses.every((clause) => clause.test(map));
}

const SOURCE = 'arn:aws:s3:::inputbucket';
const OTHER_SOURCE = 'arn:aws:s3:::otherbucket';

describe('single-valued operators', () => {
  it.each<[string, unknown, Context, boolean]>([
    [
      'StringEquals matches exactly',
      { StringEquals: { 'aws:SourceAccount': '000000000000' } },
      { 'aws:SourceAccount': '000000000000' },
      true,
    ],
    [
      'StringEquals is case-sensitive',
      { StringEquals: { 'dynamodb:ReturnValues': 'none' } },
      { 'dynamodb:ReturnValues': 'NONE' },
      false,
    ],
    [
      'StringEquals ORs its values',
      { StringEquals: { 'dynamodb:ReturnValues': ['NONE', 'ALL_OLD'] } },
      { 'dynamodb:ReturnValues': 'ALL_OLD' },
      true,
    ],
    [
      'StringEquals on an absent key is false',
      { StringEquals: { 'aws:SourceAccount': '000000000000' } },
      {},
      false,
    ],
    [
      'StringEqualsIfExists on an absent key is true',
      { StringEqualsIfExists: { 'dynamodb:ReturnValues': 'NONE' } },
      {},
      true,
    ],
    [
      'StringEqualsIfExists on a present key tests it',
      { StringEqualsIfExists: { 'dynamodb:ReturnValues': 'NONE' } },
      { 'dynamodb:ReturnValues': 'ALL_NEW' },
      false,
    ],
    [
      'StringNotEquals is true when no value matches',
      { StringNotEquals: { 'dynamodb:ReturnValues': ['NONE', 'ALL_OLD'] } },
      { 'dynamodb:ReturnValues': 'ALL_NEW' },
      true,
    ],
    [
      'StringNotEquals is false when one value matches',
      { StringNotEquals: { 'dynamodb:ReturnValues': ['NONE', 'ALL_OLD'] } },
      { 'dynamodb:ReturnValues': 'NONE' },
      false,
    ],
    [
      'StringNotEquals on an absent key is true',
      { StringNotEquals: { 'aws:SourceAccount': '000000000000' } },
      {},
      true,
    ],
    [
      'StringLike takes * and ?',
      { StringLike: { 'aws:SourceAccount': '00000000000?' } },
      { 'aws:SourceAccount': '000000000007' },
      true,
    ],
    [
      'StringLike with ? takes exactly one character',
      { StringLike: { 'aws:SourceAccount': '0?' } },
      { 'aws:SourceAccount': '0' },
      false,
    ],
    [
      'StringNotLike is the negation',
      { StringNotLike: { 'aws:SourceArn': 'arn:aws:s3:::input*' } },
      { 'aws:SourceArn': SOURCE },
      false,
    ],
    [
      'StringNotLike on an absent key is true',
      { StringNotLike: { 'aws:SourceArn': 'arn:aws:s3:::input*' } },
      {},
      true,
    ],
    [
      'ArnEquals matches an ARN',
      { ArnEquals: { 'aws:SourceArn': SOURCE } },
      { 'aws:SourceArn': SOURCE },
      true,
    ],
    [
      'ArnEquals takes wildcards, as ArnLike does',
      { ArnEquals: { 'aws:SourceArn': 'arn:aws:s3:::input*' } },
      { 'aws:SourceArn': SOURCE },
      true,
    ],
    [
      'ArnLike refuses another ARN',
      { ArnLike: { 'aws:SourceArn': SOURCE } },
      { 'aws:SourceArn': OTHER_SOURCE },
      false,
    ],
    [
      'ArnLike matches segment by segment: * stays in its segment',
      { ArnLike: { 'aws:SourceArn': 'arn:aws:states:*:stateMachine:*' } },
      { 'aws:SourceArn': 'arn:aws:states:us-east-1:000000000000:stateMachine:M' },
      false,
    ],
    [
      'ArnLike takes * in any segment',
      { ArnLike: { 'aws:SourceArn': 'arn:aws:states:*:*:stateMachine:*' } },
      { 'aws:SourceArn': 'arn:aws:states:us-east-1:000000000000:stateMachine:M' },
      true,
    ],
    ['ArnLike on an absent key is false', { ArnLike: { 'aws:SourceArn': SOURCE } }, {}, false],
    [
      'ArnLikeIfExists on an absent key is true',
      { ArnLikeIfExists: { 'aws:SourceArn': SOURCE } },
      {},
      true,
    ],
    [
      'ArnNotEquals with the named ARN is false',
      { ArnNotEquals: { 'aws:SourceArn': SOURCE } },
      { 'aws:SourceArn': SOURCE },
      false,
    ],
    [
      'ArnNotLike with another ARN is true',
      { ArnNotLike: { 'aws:SourceArn': SOURCE } },
      { 'aws:SourceArn': OTHER_SOURCE },
      true,
    ],
    ['ArnNotLike on an absent key is true', { ArnNotLike: { 'aws:SourceArn': SOURCE } }, {}, true],
    [
      'Bool "false" against a TLS request is false',
      { Bool: { 'aws:SecureTransport': 'false' } },
      { 'aws:SecureTransport': true },
      false,
    ],
    [
      'Bool "false" against a plain request is true',
      { Bool: { 'aws:SecureTransport': 'false' } },
      { 'aws:SecureTransport': false },
      true,
    ],
    [
      'Bool takes a JSON boolean',
      { Bool: { 'aws:SecureTransport': true } },
      { 'aws:SecureTransport': true },
      true,
    ],
    ['Bool on an absent key is false', { Bool: { 'aws:SecureTransport': 'false' } }, {}, false],
    ['Null "true" holds when the key is absent', { Null: { 'aws:SourceArn': 'true' } }, {}, true],
    [
      'Null "true" fails when the key is present',
      { Null: { 'aws:SourceArn': 'true' } },
      { 'aws:SourceArn': SOURCE },
      false,
    ],
    [
      'Null "false" holds when the key is present',
      { Null: { 'aws:SourceArn': 'false' } },
      { 'aws:SourceArn': SOURCE },
      true,
    ],
    [
      'Null on an empty set counts it absent',
      { Null: { 'dynamodb:LeadingKeys': 'true' } },
      { 'dynamodb:LeadingKeys': [] },
      true,
    ],
    [
      'keys are case-insensitive',
      { StringEquals: { 'AWS:SOURCEACCOUNT': '000000000000' } },
      { 'aws:sourceaccount': '000000000000' },
      true,
    ],
  ])('%s', (_, condition, context, expected) => {
    expect(holds(condition, context)).toBe(expected);
  });
});

describe('set qualifiers', () => {
  const onlyStats = { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': ['#polling-stats'] } };
  const someStats = {
    'ForAnyValue:StringEquals': { 'dynamodb:LeadingKeys': ['#polling-stats', '#x'] },
  };
  const pollAttributes = {
    'ForAllValues:StringEquals': { 'dynamodb:Attributes': ['id', 'polls', 'updatedAt', 'status'] },
  };

  it.each<[string, unknown, Context, boolean]>([
    [
      'ForAllValues: every value listed',
      onlyStats,
      { 'dynamodb:LeadingKeys': ['#polling-stats'] },
      true,
    ],
    [
      'ForAllValues: one value not listed',
      onlyStats,
      { 'dynamodb:LeadingKeys': ['#polling-stats', 'g-1'] },
      false,
    ],
    [
      'ForAllValues: a subset of the listed attributes',
      pollAttributes,
      { 'dynamodb:Attributes': ['id', 'polls'] },
      true,
    ],
    [
      'ForAllValues: an attribute not listed',
      pollAttributes,
      { 'dynamodb:Attributes': ['id', 'polls', 'result'] },
      false,
    ],
    ['ForAllValues: an absent key is true', onlyStats, {}, true],
    ['ForAllValues: an empty set is true', onlyStats, { 'dynamodb:LeadingKeys': [] }, true],
    ['ForAnyValue: one value listed', someStats, { 'dynamodb:LeadingKeys': ['g-1', '#x'] }, true],
    ['ForAnyValue: no value listed', someStats, { 'dynamodb:LeadingKeys': ['g-1'] }, false],
    ['ForAnyValue: an absent key is false', someStats, {}, false],
    ['ForAnyValue: an empty set is false', someStats, { 'dynamodb:LeadingKeys': [] }, false],
    [
      'ForAnyValue…IfExists: an absent key is true',
      { 'ForAnyValue:StringEqualsIfExists': { 'dynamodb:LeadingKeys': ['#x'] } },
      {},
      true,
    ],
    [
      'ForAllValues:StringNotEquals: no value listed',
      { 'ForAllValues:StringNotEquals': { 'dynamodb:LeadingKeys': ['#x'] } },
      { 'dynamodb:LeadingKeys': ['a', 'b'] },
      true,
    ],
    [
      'ForAllValues:StringNotEquals: one value listed',
      { 'ForAllValues:StringNotEquals': { 'dynamodb:LeadingKeys': ['#x'] } },
      { 'dynamodb:LeadingKeys': ['a', '#x'] },
      false,
    ],
    [
      'ForAnyValue:StringNotEquals: one value not listed',
      { 'ForAnyValue:StringNotEquals': { 'dynamodb:LeadingKeys': ['#x'] } },
      { 'dynamodb:LeadingKeys': ['#x', 'a'] },
      true,
    ],
    [
      'ForAllValues:StringLike takes wildcards',
      { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['#*'] } },
      { 'dynamodb:LeadingKeys': ['#a', '#b'] },
      true,
    ],
    [
      'a single value given for a set is a set of one',
      onlyStats,
      { 'dynamodb:LeadingKeys': 'g-1' },
      false,
    ],
  ])('%s', (_, condition, context, expected) => {
    expect(holds(condition, context)).toBe(expected);
  });
});

describe('several keys and operators', () => {
  const condition = {
    'ForAllValues:StringEquals': { 'dynamodb:Attributes': ['id', 'polls'] },
    StringEqualsIfExists: { 'dynamodb:ReturnValues': 'NONE' },
  };

  it.each<[string, Context, boolean]>([
    ['both hold', { 'dynamodb:Attributes': ['id'], 'dynamodb:ReturnValues': 'NONE' }, true],
    [
      'the second fails',
      { 'dynamodb:Attributes': ['id'], 'dynamodb:ReturnValues': 'ALL_NEW' },
      false,
    ],
    ['the first fails', { 'dynamodb:Attributes': ['result'] }, false],
  ])('are AND-ed: %s', (_, context, expected) => {
    expect(holds(condition, context)).toBe(expected);
  });

  it('ANDs two keys of one operator', () => {
    const both = { StringEquals: { 'aws:SourceAccount': '000000000000', 'aws:SourceArn': SOURCE } };
    expect(holds(both, { 'aws:SourceAccount': '000000000000', 'aws:SourceArn': SOURCE })).toBe(
      true,
    );
    expect(
      holds(both, { 'aws:SourceAccount': '000000000000', 'aws:SourceArn': OTHER_SOURCE }),
    ).toBe(false);
  });
});

describe('what the evaluator refuses', () => {
  it.each<[string, unknown, string, RegExp]>([
    [
      'an unknown operator',
      { NumericLessThan: { 'aws:SourceAccount': '1' } },
      'Condition.NumericLessThan',
      /not an operator the evaluator knows/,
    ],
    [
      'a case-insensitive string operator it does not implement',
      { StringEqualsIgnoreCase: { 'aws:SourceAccount': '1' } },
      'Condition.StringEqualsIgnoreCase',
      /not an operator/,
    ],
    [
      'an unknown qualifier',
      { 'ForSomeValues:StringEquals': { 'dynamodb:LeadingKeys': ['a'] } },
      'Condition.ForSomeValues:StringEquals',
      /not an operator/,
    ],
    [
      'an unknown condition key',
      { StringEquals: { 'aws:PrincipalTag/team': 'a' } },
      'Condition.StringEquals.aws:PrincipalTag/team',
      /condition key the evaluator does not know/,
    ],
    [
      'Bool on a string key',
      { Bool: { 'aws:SourceAccount': 'true' } },
      'Condition.Bool.aws:SourceAccount',
      /key of type string/,
    ],
    [
      'an ARN operator on a string key',
      { ArnLike: { 'dynamodb:ReturnValues': 'arn:aws:s3:::x' } },
      'Condition.ArnLike.dynamodb:ReturnValues',
      /key of type string/,
    ],
    [
      'a set key without a qualifier',
      { StringEquals: { 'dynamodb:LeadingKeys': 'a' } },
      'Condition.StringEquals.dynamodb:LeadingKeys',
      /without ForAllValues: or ForAnyValue:/,
    ],
    [
      'a qualifier on a single-valued key',
      { 'ForAllValues:StringEquals': { 'aws:SourceAccount': ['1'] } },
      'Condition.ForAllValues:StringEquals.aws:SourceAccount',
      /single value/,
    ],
    [
      'Null with IfExists',
      { NullIfExists: { 'aws:SourceArn': 'true' } },
      'Condition.NullIfExists.aws:SourceArn',
      /neither a set qualifier nor IfExists/,
    ],
    [
      'Bool with a value that is not a boolean',
      { Bool: { 'aws:SecureTransport': 'yes' } },
      'Condition.Bool.aws:SecureTransport',
      /true or false/,
    ],
    [
      'a policy variable',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: an IAM policy variable, as written in a policy
      { StringEquals: { 'aws:SourceAccount': '${aws:PrincipalAccount}' } },
      'Condition.StringEquals.aws:SourceAccount',
      /policy variable/,
    ],
    [
      'an ARN operator with a value that is not an ARN',
      { ArnLike: { 'aws:SourceArn': 'bucket' } },
      'Condition.ArnLike.aws:SourceArn',
      /not an ARN/,
    ],
    [
      'no value',
      { StringEquals: { 'aws:SourceAccount': [] } },
      'Condition.StringEquals.aws:SourceAccount',
      /lists no value/,
    ],
  ])('%s, naming the element and the statement', (_, condition, element, message) => {
    let thrown: unknown;
    try {
      parseCondition(condition, AT);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(UnsupportedPolicyError);
    const error = thrown as UnsupportedPolicyError;
    expect(error.name).toBe('UnsupportedPolicyError');
    expect(error.element).toBe(element);
    expect(error.location).toEqual(AT);
    expect(error.message).toMatch(/^Policy TestPolicy, statement 2 \(Probe\): /);
    expect(error.message).toMatch(message);
  });
});
