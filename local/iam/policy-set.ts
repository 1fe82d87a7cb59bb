/**
 * The synthesized stack's IAM, as AWS evaluates it within one account: every role with its
 * identity policies, every resource policy with what it is attached to, and the decision for one
 * request.
 *
 * - An explicit `Deny` in any policy that applies (the caller's identity policies, the resource's
 *   policies whose principal names the caller) refuses the request.
 * - Otherwise an `Allow` in an identity policy, or in a resource policy naming the caller, allows
 *   it; nothing allowing it is an implicit deny.
 * - Service principals (`s3.amazonaws.com` notifying a function) have no identity policies: only
 *   resource policies can allow them.
 * - The account's administrator (people and tests, with the credentials the local runtime lists)
 *   may do anything that no resource policy denies.
 * - A resource policy naming the account (not a role) lets the account's identity policies
 *   decide; it allows nobody by itself. Key policies and role trust policies must allow, directly
 *   or by naming the account: an identity policy alone never reaches a key or assumes a role.
 *
 * Pure: no I/O. The local services authenticate callers, turn their requests into an action, a
 * resource ARN and condition keys, and ask `authorize`.
 */
import { type CfnTemplate, type ResolveOptions, resolveIntrinsics } from '#infra/asl.ts';
import { CONDITION_KEYS, type RequestContext } from './conditions.ts';
import { InvalidAuthorizationRequestError, RoleNotFoundError } from './errors.ts';
import { arnParts, isAction } from './matching.ts';
import type { PrincipalSpec, Statement } from './policy.ts';

/** A role of the stack: what a function, the state machine or a schedule acts as. */
export interface RolePrincipal {
  readonly kind: 'role';
  readonly logicalId: string;
  /** Its name locally (the template's `RoleName`, or its placeholder). */
  readonly roleName: string;
  readonly arn: string;
}

/** The account's administrator: people and tests, signing with the listed local credentials. */
export interface AdminPrincipal {
  readonly kind: 'admin';
}

/** A service acting on its own behalf: `s3.amazonaws.com`, `events.amazonaws.com`… */
export interface ServicePrincipal {
  readonly kind: 'service';
  readonly service: string;
}

export type IamPrincipal = RolePrincipal | AdminPrincipal | ServicePrincipal;

export const ADMINISTRATOR: AdminPrincipal = { kind: 'admin' };

export type ContextValue = string | boolean | readonly string[];

export interface AuthorizationRequest {
  readonly principal: IamPrincipal;
  /** `service:Action`, as IAM names it: `s3:GetObject`, `dynamodb:UpdateItem`. */
  readonly action: string;
  /** The resource's ARN, or `*` for actions on no resource (`xray:PutTraceSegments`). */
  readonly resource: string;
  /** Condition keys (`dynamodb:LeadingKeys`, `aws:SourceArn`…), over `DEFAULT_CONTEXT`. */
  readonly context?: Readonly<Record<string, ContextValue>>;
}

export interface StatementRef {
  readonly policy: string;
  readonly index: number;
  readonly sid?: string;
}

export interface Decision {
  readonly allowed: boolean;
  readonly reason: 'explicit-deny' | 'allowed' | 'implicit-deny';
  /** The statement that denied or allowed (none for an implicit deny or the administrator). */
  readonly statement?: StatementRef;
}

/**
 * Condition keys every local request carries unless it says otherwise. `aws:SecureTransport`:
 * on AWS the SDKs always speak TLS, and the stack's `enforceSSL` policies deny whoever does not;
 * the local endpoints speak plain HTTP on 127.0.0.1, which is no caller's choice, so a local
 * request counts as the TLS request it would be on AWS.
 */
export const DEFAULT_CONTEXT: Readonly<Record<string, ContextValue>> = {
  'aws:SecureTransport': true,
};

import { type ResourcePolicy, type Role, TemplateLoader } from './template-loader.ts';

/** The stack's policies, ready to answer requests. */
export class PolicySet {
  readonly #accountId: string;
  readonly #template: CfnTemplate;
  readonly #options: ResolveOptions;
  readonly #roles: ReadonlyMap<string, Role>;
  readonly #resourcePolicies: readonly ResourcePolicy[];

  private constructor(
    template: CfnTemplate,
    options: ResolveOptions,
    roles: ReadonlyMap<string, Role>,
    resourcePolicies: readonly ResourcePolicy[],
  ) {
    this.#template = template;
    this.#options = options;
    this.#accountId = options.accountId ?? '000000000000';
    this.#roles = roles;
    this.#resourcePolicies = resourcePolicies;
  }

  /**
   * Reads every policy of a synthesized template, with its intrinsics resolved to local names
   * and ARNs. Throws `UnsupportedPolicyError` on anything it could not evaluate exactly.
   */
  static fromTemplate(template: CfnTemplate, options: ResolveOptions = {}): PolicySet {
    const loader = new TemplateLoader(template, options);
    return new PolicySet(template, options, loader.roles, loader.resourcePolicies);
  }

  /** Every role of the stack. */
  roles(): readonly RolePrincipal[] {
    return [...this.#roles.values()].map((role) => role.principal);
  }

  /** The role a function runs as. */
  roleForFunction(functionLogicalId: string): RolePrincipal {
    return this.#roleOf(functionLogicalId, 'AWS::Lambda::Function', (p) => p.Role);
  }

  /** The role a state machine's direct integrations and task invocations act as. */
  roleForStateMachine(stateMachineLogicalId: string): RolePrincipal {
    return this.#roleOf(
      stateMachineLogicalId,
      'AWS::StepFunctions::StateMachine',
      (p) => p.RoleArn,
    );
  }

  /** The role a schedule's target is called with (its `Target.RoleArn`). */
  roleForSchedule(scheduleLogicalId: string): RolePrincipal {
    return this.#roleOf(
      scheduleLogicalId,
      'AWS::Scheduler::Schedule',
      (p) => (p.Target as { RoleArn?: unknown } | undefined)?.RoleArn,
    );
  }

  /** Whether the principal may take the action on the resource, and which statement says so. */
  authorize(request: AuthorizationRequest): Decision {
    const { principal, action, resource } = request;
    if (!isAction(action)) {
      throw new InvalidAuthorizationRequestError(`${action} is not an action (service:Action)`);
    }
    if (resource !== '*' && arnParts(resource) === undefined) {
      throw new InvalidAuthorizationRequestError(`${resource} is neither * nor an ARN`);
    }
    const identity = this.#identityStatements(principal);
    const context = normalizeContext({ ...DEFAULT_CONTEXT, ...request.context });
    const applies = (statement: Statement) =>
      statement.matchesAction(action) &&
      statement.matchesResource(resource) &&
      statement.conditionsHold(context);

    const attached = this.#resourcePolicies.filter((policy) => policy.attachedTo(resource));
    const naming = (statements: readonly Statement[], accountCounts: boolean) =>
      statements.filter((statement) => {
        const match = principalMatch(statement.principal, principal, this.#accountId);
        return match === 'direct' || (accountCounts && match === 'account');
      });
    // A Deny naming the account denies everyone in it.
    const resourceStatements = attached.flatMap((policy) => naming(policy.statements, true));

    const deny = [...identity, ...resourceStatements].find(
      (statement) => statement.effect === 'Deny' && applies(statement),
    );
    if (deny !== undefined) return decision('explicit-deny', deny);

    const authoritative = attached.filter((policy) => policy.authoritativeFor?.(action));
    // Where a key or trust policy is attached, the account's identities get only what it lets
    // the account have.
    const accountMayDecide = authoritative.every((policy) =>
      naming(policy.statements, true).some(
        (statement) => statement.effect === 'Allow' && applies(statement),
      ),
    );
    const resourceAllow = attached
      .flatMap((policy) => naming(policy.statements, false))
      .find((statement) => statement.effect === 'Allow' && applies(statement));
    if (resourceAllow !== undefined) return decision('allowed', resourceAllow);
    if (principal.kind === 'admin' && accountMayDecide) return { allowed: true, reason: 'allowed' };
    const identityAllow = identity.find(
      (statement) => statement.effect === 'Allow' && applies(statement),
    );
    if (identityAllow !== undefined && accountMayDecide) return decision('allowed', identityAllow);
    return { allowed: false, reason: 'implicit-deny' };
  }

  #identityStatements(principal: IamPrincipal): readonly Statement[] {
    if (principal.kind === 'service') {
      if (!/^[a-z0-9-]+(\.[a-z0-9-]+)*\.amazonaws\.com$/.test(principal.service)) {
        throw new InvalidAuthorizationRequestError(
          `${principal.service} is not a service principal`,
        );
      }
      return [];
    }
    if (principal.kind === 'admin') return [];
    const role = this.#roles.get(principal.arn);
    if (role === undefined) {
      throw new InvalidAuthorizationRequestError(`${principal.arn} is not a role of the stack`);
    }
    return role.statements;
  }

  #roleOf(
    logicalId: string,
    type: string,
    roleProperty: (properties: Record<string, unknown>) => unknown,
  ): RolePrincipal {
    const resource = this.#template.Resources[logicalId];
    if (resource?.Type !== type) {
      throw new RoleNotFoundError(`${logicalId} is not an ${type} of the template`);
    }
    const written = roleProperty(resource.Properties ?? {});
    if (written === undefined) throw new RoleNotFoundError(`${logicalId} has no role`);
    const arn = String(resolveIntrinsics(written, this.#template, this.#options));
    const role = this.#roles.get(arn);
    if (role === undefined) {
      throw new RoleNotFoundError(`${logicalId}'s role ${arn} is not a role of the template`);
    }
    return role.principal;
  }
}

function decision(reason: 'explicit-deny' | 'allowed', statement: Statement): Decision {
  return {
    allowed: reason === 'allowed',
    reason,
    statement: {
      policy: statement.policy,
      index: statement.index,
      ...(statement.sid !== undefined && { sid: statement.sid }),
    },
  };
}

/**
 * How a resource policy statement's principal covers the caller: `direct` (named, or everyone),
 * `account` (the caller's account is named, which lets identity policies decide).
 */
function principalMatch(
  spec: PrincipalSpec | undefined,
  principal: IamPrincipal,
  accountId: string,
): 'direct' | 'account' | undefined {
  if (spec === undefined) return undefined;
  if (spec.anyone) return 'direct';
  switch (principal.kind) {
    case 'role':
      if (spec.roleArns.has(principal.arn)) return 'direct';
      return spec.accounts.has(accountId) ? 'account' : undefined;
    case 'admin':
      // The administrator stands for the account (its root).
      return spec.accounts.has(accountId) ? 'direct' : undefined;
    case 'service':
      return spec.services.has(principal.service) ? 'direct' : undefined;
  }
}

function normalizeContext(context: Readonly<Record<string, ContextValue>>): RequestContext {
  const normalized = new Map<string, ContextValue>();
  for (const [key, value] of Object.entries(context)) {
    const lower = key.toLowerCase();
    const definition = CONDITION_KEYS[lower];
    if (definition === undefined) {
      throw new InvalidAuthorizationRequestError(
        `${key} is not a condition key the policies can use`,
      );
    }
    if (definition.type === 'bool') {
      if (typeof value !== 'boolean') {
        throw new InvalidAuthorizationRequestError(`${key} takes true or false`);
      }
    } else if (definition.multiValued) {
      const list = Array.isArray(value) ? value : [value];
      if (!list.every((item) => typeof item === 'string')) {
        throw new InvalidAuthorizationRequestError(`${key} takes a list of strings`);
      }
      normalized.set(lower, list as readonly string[]);
      continue;
    } else if (typeof value !== 'string') {
      throw new InvalidAuthorizationRequestError(`${key} takes one string`);
    }
    normalized.set(lower, value);
  }
  return normalized;
}
