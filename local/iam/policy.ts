/**
 * Policy documents, read into statements the evaluator can apply. Only the elements IAM
 * documents for statements are read (`Sid`, `Effect`, `Action`/`NotAction`,
 * `Resource`/`NotResource`, `Principal`, `Condition`); anything else, a principal of a kind the
 * local account cannot have (`Federated`, `CanonicalUser`, users, sessions), a policy variable or
 * a resource that is not an ARN is refused with the policy and statement named.
 */
import { type ConditionClause, parseCondition, type RequestContext } from './conditions.ts';
import { type PolicyLocation, UnsupportedPolicyError } from './errors.ts';
import { actionMatcher, arnMatcher, isActionPattern, type Matcher } from './matching.ts';

/**
 * What a policy is attached to, which decides its shape: an identity policy names resources and
 * no principal; a resource policy names both; a role's trust policy names principals and no
 * resource (it is the role's).
 */
export type PolicyKind = 'identity' | 'resource' | 'trust';

/** Who a resource policy's statement is about. */
export interface PrincipalSpec {
  /** `"*"` or `{"AWS": "*"}`: every principal. */
  readonly anyone: boolean;
  readonly roleArns: ReadonlySet<string>;
  /** Accounts named by id or by their root ARN. */
  readonly accounts: ReadonlySet<string>;
  /** Service principals: `s3.amazonaws.com`. */
  readonly services: ReadonlySet<string>;
}

export interface Statement {
  readonly policy: string;
  readonly index: number;
  readonly sid?: string;
  readonly effect: 'Allow' | 'Deny';
  /** Resource and trust policies only. */
  readonly principal?: PrincipalSpec;
  matchesAction(action: string): boolean;
  matchesResource(resource: string): boolean;
  conditionsHold(context: RequestContext): boolean;
}

const STATEMENT_ELEMENTS = new Set([
  'Sid',
  'Effect',
  'Action',
  'NotAction',
  'Resource',
  'NotResource',
  'Principal',
  'Condition',
]);
const VERSIONS = new Set(['2012-10-17', '2008-10-17']);

/** Reads a resolved policy document (intrinsics already resolved) into its statements. */
export function parsePolicyDocument(
  document: unknown,
  policy: string,
  kind: PolicyKind,
): Statement[] {
  const at: PolicyLocation = { policy };
  if (!isObject(document)) {
    throw new UnsupportedPolicyError(at, 'PolicyDocument', 'must be an object');
  }
  for (const element of Object.keys(document)) {
    if (!['Version', 'Id', 'Statement'].includes(element)) {
      throw new UnsupportedPolicyError(at, element, 'is not a policy element the evaluator knows');
    }
  }
  if (document.Version !== undefined && !VERSIONS.has(String(document.Version))) {
    throw new UnsupportedPolicyError(
      at,
      'Version',
      `${String(document.Version)} is not a policy language version`,
    );
  }
  const statements = document.Statement;
  if (statements === undefined) throw new UnsupportedPolicyError(at, 'Statement', 'is missing');
  const list = Array.isArray(statements) ? statements : [statements];
  return list.map((statement, index) =>
    parseStatement(statement, { policy, statementIndex: index }, kind),
  );
}

function parseStatement(statement: unknown, at: PolicyLocation, kind: PolicyKind): Statement {
  if (!isObject(statement)) throw new UnsupportedPolicyError(at, 'Statement', 'must be an object');
  const sid = statement.Sid === undefined ? undefined : String(statement.Sid);
  const location: PolicyLocation = { ...at, ...(sid !== undefined && { sid }) };
  const refuse = (element: string, detail: string) =>
    new UnsupportedPolicyError(location, element, detail);
  for (const element of Object.keys(statement)) {
    if (!STATEMENT_ELEMENTS.has(element))
      throw refuse(element, 'is not a statement element the evaluator knows');
  }
  const effect = statement.Effect;
  if (effect !== 'Allow' && effect !== 'Deny')
    throw refuse('Effect', `must be Allow or Deny, got ${JSON.stringify(effect)}`);

  const actions = exactlyOne(statement, 'Action', 'NotAction', refuse);
  if (actions === undefined) throw refuse('Action', 'is missing (neither Action nor NotAction)');
  const actionPatterns = stringList(actions.value, actions.element, refuse).map((pattern) => {
    if (!isActionPattern(pattern))
      throw refuse(actions.element, `has ${pattern}, which is not service:action`);
    return actionMatcher(pattern);
  });
  const matchesAction = negatable(actionPatterns, actions.element === 'NotAction');

  const resources = exactlyOne(statement, 'Resource', 'NotResource', refuse);
  let matchesResource: Matcher;
  if (kind === 'trust') {
    // A trust policy is the role's own: it applies to the role, and names no resource.
    if (resources !== undefined)
      throw refuse(resources.element, 'has no place in a role trust policy');
    matchesResource = () => true;
  } else {
    if (resources === undefined)
      throw refuse('Resource', 'is missing (neither Resource nor NotResource)');
    const resourcePatterns = stringList(resources.value, resources.element, refuse).map((pattern) =>
      resourceMatcher(pattern, resources.element, refuse),
    );
    matchesResource = negatable(resourcePatterns, resources.element === 'NotResource');
  }

  let principal: PrincipalSpec | undefined;
  if (kind === 'identity') {
    if (statement.Principal !== undefined)
      throw refuse('Principal', 'has no place in an identity policy');
  } else {
    if (statement.Principal === undefined)
      throw refuse('Principal', 'is missing from a resource policy');
    principal = parsePrincipal(statement.Principal, refuse);
  }

  const conditions: readonly ConditionClause[] =
    statement.Condition === undefined ? [] : parseCondition(statement.Condition, location);

  return {
    policy: at.policy,
    index: at.statementIndex ?? 0,
    ...(sid !== undefined && { sid }),
    effect,
    ...(principal !== undefined && { principal }),
    matchesAction,
    matchesResource,
    conditionsHold: (context) => conditions.every((clause) => clause.test(context)),
  };
}

type Refuse = (element: string, detail: string) => UnsupportedPolicyError;

function exactlyOne(
  statement: Record<string, unknown>,
  element: string,
  negated: string,
  refuse: Refuse,
): { element: string; value: unknown } | undefined {
  if (statement[element] !== undefined && statement[negated] !== undefined) {
    throw refuse(negated, `cannot stand beside ${element}`);
  }
  if (statement[element] !== undefined) return { element, value: statement[element] };
  if (statement[negated] !== undefined) return { element: negated, value: statement[negated] };
  return undefined;
}

function stringList(value: unknown, element: string, refuse: Refuse): string[] {
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0) throw refuse(element, 'lists nothing');
  return list.map((item) => {
    if (typeof item !== 'string')
      throw refuse(element, `has ${JSON.stringify(item)}, which is not text`);
    if (item.includes('${')) {
      throw refuse(
        element,
        `uses a policy variable (${item}), which the evaluator does not substitute`,
      );
    }
    return item;
  });
}

function resourceMatcher(pattern: string, element: string, refuse: Refuse): Matcher {
  if (pattern === '*') return () => true;
  const matcher = arnMatcher(pattern);
  if (matcher === undefined) throw refuse(element, `has ${pattern}, which is neither * nor an ARN`);
  return matcher;
}

function negatable(matchers: readonly Matcher[], negated: boolean): Matcher {
  return (value) => matchers.some((matches) => matches(value)) !== negated;
}

const ACCOUNT_ID = /^\d{12}$/;
const ROOT_ARN = /^arn:[a-z-]+:iam::(\d{12}):root$/;
const ROLE_ARN = /^arn:[a-z-]+:iam::\d{12}:role\/[\w+=,.@/-]+$/;
const SERVICE = /^[a-z0-9-]+(\.[a-z0-9-]+)*\.amazonaws\.com(\.cn)?$/;

function parsePrincipal(written: unknown, refuse: Refuse): PrincipalSpec {
  const roleArns = new Set<string>();
  const accounts = new Set<string>();
  const services = new Set<string>();
  let anyone = false;
  if (written === '*') {
    anyone = true;
  } else if (isObject(written)) {
    for (const [kind, value] of Object.entries(written)) {
      const element = `Principal.${kind}`;
      if (kind === 'AWS') {
        for (const name of stringList(value, element, refuse)) {
          const root = ROOT_ARN.exec(name);
          if (name === '*') anyone = true;
          else if (ACCOUNT_ID.test(name)) accounts.add(name);
          else if (root !== null) accounts.add(root[1] as string);
          else if (ROLE_ARN.test(name)) roleArns.add(name);
          else throw refuse(element, `has ${name}: only *, an account or a role can be named`);
        }
      } else if (kind === 'Service') {
        for (const name of stringList(value, element, refuse)) {
          if (!SERVICE.test(name))
            throw refuse(element, `has ${name}, which is not a service principal`);
          services.add(name);
        }
      } else {
        throw refuse(element, 'is not a kind of principal the evaluator knows');
      }
    }
  } else {
    throw refuse('Principal', `must be * or an object, got ${JSON.stringify(written)}`);
  }
  return { anyone, roleArns, accounts, services };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
