/**
 * IAM conditions, for the operators and keys the stack's policies use, with AWS's semantics:
 *
 * - the values listed for one key are OR'ed; the keys of one operator, and the operators of one
 *   `Condition`, are AND'ed;
 * - a key absent from the request: a positive operator is false, a negated one (`StringNotEquals`,
 *   `ArnNotLike`…) true, any operator with `IfExists` true, and `Null` says whether it is absent;
 * - `ForAllValues:` is true when every value of the request's set matches (so when the set is
 *   absent or empty); `ForAnyValue:` when at least one does (so false when absent or empty);
 * - `ArnEquals` and `ArnLike` both match segment by segment with wildcards, as AWS documents.
 *
 * A key is known with its type and whether it carries one value or a set; a set-valued key must
 * be used with a set qualifier and a single-valued one without, and `Bool`/`Arn…` only on keys of
 * that type, so a condition that AWS would read differently than written is refused at load.
 * Extending the table means the local services must put the new key in the request context.
 */
import { type PolicyLocation, UnsupportedPolicyError } from './errors.ts';
import { arnMatcher, type Matcher, wildcardMatcher } from './matching.ts';

export type ConditionKeyType = 'string' | 'arn' | 'bool';

export interface ConditionKeyDefinition {
  readonly type: ConditionKeyType;
  /** A set of values (`dynamodb:LeadingKeys`) rather than one. */
  readonly multiValued: boolean;
}

/**
 * The condition keys the evaluator knows, lower-cased (IAM's keys are case-insensitive), and
 * what the local services supply for each.
 */
export const CONDITION_KEYS: Readonly<Record<string, ConditionKeyDefinition>> = {
  /** Whether the request came over TLS (true by default locally; see `DEFAULT_CONTEXT`). */
  'aws:securetransport': { type: 'bool', multiValued: false },
  /** The resource a service principal acts for (the bucket notifying, the rule invoking…). */
  'aws:sourcearn': { type: 'arn', multiValued: false },
  /** The account of that resource. */
  'aws:sourceaccount': { type: 'string', multiValued: false },
  /** The partition keys a DynamoDB request touches. */
  'dynamodb:leadingkeys': { type: 'string', multiValued: true },
  /** The attribute names a DynamoDB request reads or writes. */
  'dynamodb:attributes': { type: 'string', multiValued: true },
  /** A DynamoDB write's `ReturnValues`, when it sets one. */
  'dynamodb:returnvalues': { type: 'string', multiValued: false },
};

type BaseOperator =
  | 'StringEquals'
  | 'StringNotEquals'
  | 'StringLike'
  | 'StringNotLike'
  | 'ArnEquals'
  | 'ArnLike'
  | 'ArnNotEquals'
  | 'ArnNotLike'
  | 'Bool'
  | 'Null';

const BASE_OPERATORS: Readonly<
  Record<
    BaseOperator,
    { readonly negated: boolean; readonly keyTypes: readonly ConditionKeyType[] }
  >
> = {
  StringEquals: { negated: false, keyTypes: ['string', 'arn'] },
  StringNotEquals: { negated: true, keyTypes: ['string', 'arn'] },
  StringLike: { negated: false, keyTypes: ['string', 'arn'] },
  StringNotLike: { negated: true, keyTypes: ['string', 'arn'] },
  ArnEquals: { negated: false, keyTypes: ['arn'] },
  ArnLike: { negated: false, keyTypes: ['arn'] },
  ArnNotEquals: { negated: true, keyTypes: ['arn'] },
  ArnNotLike: { negated: true, keyTypes: ['arn'] },
  Bool: { negated: false, keyTypes: ['bool'] },
  Null: { negated: false, keyTypes: ['string', 'arn', 'bool'] },
};

export type SetQualifier = 'ForAllValues' | 'ForAnyValue';

/** One key of one operator: `"StringEqualsIfExists": {"dynamodb:ReturnValues": "NONE"}`. */
export interface ConditionClause {
  /** As written in the policy, for messages. */
  readonly operator: string;
  readonly key: string;
  readonly test: (context: RequestContext) => boolean;
}

/** The request's condition keys, lower-cased, sets as arrays. */
export type RequestContext = ReadonlyMap<string, string | boolean | readonly string[]>;

/**
 * Reads a statement's `Condition` block into clauses, refusing any operator, key or value it
 * cannot evaluate exactly as AWS would.
 */
export function parseCondition(block: unknown, location: PolicyLocation): ConditionClause[] {
  const refuse = (element: string, detail: string) =>
    new UnsupportedPolicyError(location, element, detail);
  if (block === null || typeof block !== 'object' || Array.isArray(block)) {
    throw refuse('Condition', 'must be an object of operators');
  }
  const clauses: ConditionClause[] = [];
  for (const [operator, keys] of Object.entries(block)) {
    const element = `Condition.${operator}`;
    const parsed = parseOperator(operator);
    if (parsed === undefined) {
      throw refuse(element, 'is not an operator the evaluator knows');
    }
    if (keys === null || typeof keys !== 'object' || Array.isArray(keys)) {
      throw refuse(element, 'must be an object of condition keys');
    }
    for (const [key, written] of Object.entries(keys as Record<string, unknown>)) {
      clauses.push(parseClause(operator, parsed, key, written, refuse));
    }
  }
  return clauses;
}

type Refuse = (element: string, detail: string) => UnsupportedPolicyError;

interface ParsedOperator {
  readonly qualifier?: SetQualifier;
  readonly base: BaseOperator;
  readonly ifExists: boolean;
}

function parseOperator(operator: string): ParsedOperator | undefined {
  const match = /^(?:(ForAllValues|ForAnyValue):)?([A-Za-z]+?)(IfExists)?$/.exec(operator);
  if (match === null) return undefined;
  const [, qualifier, base, ifExists] = match;
  if (base === undefined || !Object.hasOwn(BASE_OPERATORS, base)) return undefined;
  return {
    ...(qualifier !== undefined && { qualifier: qualifier as SetQualifier }),
    base: base as BaseOperator,
    ifExists: ifExists !== undefined,
  };
}

function parseClause(
  operator: string,
  { qualifier, base, ifExists }: ParsedOperator,
  key: string,
  written: unknown,
  refuse: Refuse,
): ConditionClause {
  const element = `Condition.${operator}.${key}`;
  const lowerKey = key.toLowerCase();
  const definition = CONDITION_KEYS[lowerKey];
  if (definition === undefined) {
    throw refuse(element, `uses ${key}, a condition key the evaluator does not know`);
  }
  const { negated, keyTypes } = BASE_OPERATORS[base];
  if (!keyTypes.includes(definition.type)) {
    throw refuse(element, `applies ${base} to ${key}, a key of type ${definition.type}`);
  }
  if (base === 'Null' && (qualifier !== undefined || ifExists)) {
    throw refuse(element, 'qualifies Null, which takes neither a set qualifier nor IfExists');
  }
  if (base !== 'Null' && definition.multiValued && qualifier === undefined) {
    throw refuse(element, `uses ${key}, a set of values, without ForAllValues: or ForAnyValue:`);
  }
  if (!definition.multiValued && qualifier !== undefined) {
    throw refuse(element, `applies ${qualifier}: to ${key}, which has a single value`);
  }
  const values = policyValues(element, written, refuse);
  if (
    (base === 'Bool' || base === 'Null') &&
    !values.every((value) => /^(true|false)$/i.test(value))
  ) {
    throw refuse(element, `must be true or false, got ${JSON.stringify(written)}`);
  }
  const matchesAny = valueMatcher(element, base, values, refuse);
  // One request value against the policy's values: OR'ed, then negated for the negated operators.
  const holdsFor = (value: string | boolean): boolean => matchesAny(value) !== negated;
  let test: (context: RequestContext) => boolean;
  if (base === 'Null') {
    test = (context) => {
      const absent = isAbsent(context.get(lowerKey));
      return values.some((value) => (value.toLowerCase() === 'true') === absent);
    };
  } else if (qualifier === 'ForAllValues') {
    test = (context) => {
      const value = context.get(lowerKey);
      if (isAbsent(value)) return true;
      return asSet(value).every(holdsFor);
    };
  } else if (qualifier === 'ForAnyValue') {
    test = (context) => {
      const value = context.get(lowerKey);
      if (isAbsent(value)) return ifExists;
      return asSet(value).some(holdsFor);
    };
  } else {
    test = (context) => {
      const value = context.get(lowerKey);
      if (value === undefined) return ifExists || negated;
      if (Array.isArray(value)) return false;
      return holdsFor(value as string | boolean);
    };
  }
  return { operator, key, test };
}

function isAbsent(value: string | boolean | readonly string[] | undefined): boolean {
  return value === undefined || (Array.isArray(value) && value.length === 0);
}

function asSet(value: string | boolean | readonly string[] | undefined): readonly string[] {
  if (Array.isArray(value)) return value;
  return value === undefined ? [] : [String(value)];
}

/** A condition's values for one key, as strings (IAM compares booleans and numbers as text). */
function policyValues(element: string, written: unknown, refuse: Refuse): string[] {
  const list = Array.isArray(written) ? written : [written];
  if (list.length === 0) throw refuse(element, 'lists no value');
  return list.map((value) => {
    if (typeof value === 'boolean' || typeof value === 'number') return String(value);
    if (typeof value !== 'string') {
      throw refuse(element, `has a value that is not text: ${JSON.stringify(value)}`);
    }
    // A policy variable would be substituted by AWS; here it would be compared as it is written.
    if (value.includes('${')) {
      throw refuse(
        element,
        `uses a policy variable (${value}), which the evaluator does not substitute`,
      );
    }
    return value;
  });
}

/** Whether one request value matches any of the policy's values, for a positive operator. */
function valueMatcher(
  element: string,
  base: BaseOperator,
  values: readonly string[],
  refuse: Refuse,
): (value: string | boolean) => boolean {
  switch (base) {
    case 'StringEquals':
    case 'StringNotEquals':
      return (value) => values.includes(String(value));
    case 'StringLike':
    case 'StringNotLike': {
      const matchers = values.map((pattern) => wildcardMatcher(pattern));
      return (value) => matchers.some((matches) => matches(String(value)));
    }
    case 'ArnEquals':
    case 'ArnLike':
    case 'ArnNotEquals':
    case 'ArnNotLike': {
      const matchers = values.map((pattern): Matcher => {
        const matcher = arnMatcher(pattern);
        if (matcher === undefined) {
          throw refuse(element, `has ${pattern}, which is not an ARN`);
        }
        return matcher;
      });
      return (value) => matchers.some((matches) => matches(String(value)));
    }
    case 'Bool':
      return (value) =>
        values.some((expected) => expected.toLowerCase() === String(value).toLowerCase());
    case 'Null':
      return () => false;
  }
}
