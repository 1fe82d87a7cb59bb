/**
 * The evaluator's errors. A policy it cannot evaluate exactly is refused when the template is
 * loaded, never evaluated approximately: a grant written with something new must fail loudly
 * here, not allow or deny by accident.
 */

/** Where in the template a refused element is. */
export interface PolicyLocation {
  /** The policy: a logical id, `<role>.Policies.<name>`, `<role>.AssumeRolePolicyDocument`… */
  readonly policy: string;
  /** The statement's position in the policy, when the element is in one. */
  readonly statementIndex?: number;
  readonly sid?: string;
}

/**
 * A policy (or a resource carrying one) uses an element, operator, condition key, principal or
 * resource type the evaluator does not know, or uses one in a way it cannot evaluate.
 */
export class UnsupportedPolicyError extends Error {
  override readonly name = 'UnsupportedPolicyError';
  readonly location: PolicyLocation;
  /** The element refused: `NotPrincipal`, `Condition.NumericLessThan`, `Principal.Federated`… */
  readonly element: string;

  constructor(location: PolicyLocation, element: string, detail: string, options?: ErrorOptions) {
    super(`${describeLocation(location)}: ${element} ${detail}`, options);
    this.location = location;
    this.element = element;
  }
}

/**
 * A request the evaluator cannot answer: an unknown role, an action or resource that is not one,
 * a context key the policies cannot use. A defect of the caller, not a denial.
 */
export class InvalidAuthorizationRequestError extends Error {
  override readonly name = 'InvalidAuthorizationRequestError';
}

/** A function, state machine or schedule with no role the template gives it. */
export class RoleNotFoundError extends Error {
  override readonly name = 'RoleNotFoundError';
}

function describeLocation({ policy, statementIndex, sid }: PolicyLocation): string {
  if (statementIndex === undefined) return `Policy ${policy}`;
  return `Policy ${policy}, statement ${statementIndex}${sid === undefined ? '' : ` (${sid})`}`;
}
