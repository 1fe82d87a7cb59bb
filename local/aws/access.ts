/**
 * The door of every local AWS endpoint: who signed the request (SigV4, `sigv4.ts`), and whether
 * that caller may do what the request does (IAM, through the gate the runtime gives). A refusal
 * is the service's own error; an IAM refusal is also reported, with the role, action and
 * resource, so a missing grant is seen where it happens.
 */
import type { IamPrincipal } from '#local/iam/policy-set.ts';
import { type AwsProtocol, type AwsRequestRefusedError, accessDenied } from './errors.ts';
import { type Caller, callerArn, type LocalIdentities } from './identities.ts';
import { type SignedRequest, verifySignature } from './sigv4.ts';

/** One thing a request does, as IAM names it. */
export interface RequestedAccess {
  /** `s3:GetObject`, `dynamodb:UpdateItem` … */
  readonly action: string;
  /** The ARN acted on. */
  readonly resource: string;
  /** Condition keys the request sets (`dynamodb:LeadingKeys` …). */
  readonly context?: Readonly<Record<string, string | readonly string[] | boolean>>;
}

export interface AccessDecision {
  readonly allowed: boolean;
  readonly reason: 'allowed' | 'explicit-deny' | 'implicit-deny';
}

/** Decides IAM for one requested access; `undefined` when IAM is not enforced (`--iam off`). */
export type AccessGate = (principal: IamPrincipal, access: RequestedAccess) => AccessDecision;

export interface DeniedAccess {
  readonly caller: string;
  readonly action: string;
  readonly resource: string;
  readonly reason: AccessDecision['reason'];
}

export interface AccessOptions {
  readonly identities: LocalIdentities;
  readonly gate?: AccessGate | undefined;
  /** Called for each refusal by IAM (the runtime logs it). */
  readonly onDenied?: (denied: DeniedAccess) => void;
  /** Called for every decision, allowed or not (the runtime's IAM audit, when asked for). */
  readonly onDecision?: ((decided: AuditedAccess) => void) | undefined;
}

/** One decision of the gate, as the audit records it. */
export interface AuditedAccess extends RequestedAccess {
  readonly principal: IamPrincipal;
  readonly allowed: boolean;
}

export type AccessResult =
  | { readonly ok: true; readonly caller: Caller }
  | { readonly ok: false; readonly refusal: AwsRequestRefusedError };

/**
 * Authenticates the request for `service`, then authorises each access it makes (`accesses` is
 * called only once the caller is known, so a request that will be refused is not parsed further).
 */
export async function checkAccess(
  options: AccessOptions,
  request: SignedRequest,
  service: string,
  accesses: () => readonly RequestedAccess[],
): Promise<AccessResult> {
  const verified = await verifySignature(request, service, options.identities);
  if (!verified.ok) return verified;
  const { caller } = verified.identity;
  const refusal = authorize(options, caller, accesses(), service === 's3' ? 's3' : 'json');
  return refusal ? { ok: false, refusal } : { ok: true, caller };
}

/** The first access the gate refuses, as the service's AccessDenied; undefined when all pass. */
export function authorize(
  options: Pick<AccessOptions, 'gate' | 'onDenied' | 'onDecision'>,
  caller: IamPrincipal,
  accesses: readonly RequestedAccess[],
  protocol: AwsProtocol,
): AwsRequestRefusedError | undefined {
  if (!options.gate) return undefined;
  for (const access of accesses) {
    const decision = options.gate(caller, access);
    options.onDecision?.({ ...access, principal: caller, allowed: decision.allowed });
    if (decision.allowed) continue;
    const reason = decision.reason === 'explicit-deny' ? 'explicit-deny' : 'implicit-deny';
    const name = callerArn(caller);
    options.onDenied?.({ caller: name, action: access.action, resource: access.resource, reason });
    return accessDenied(protocol, name, access.action, access.resource, reason);
  }
  return undefined;
}
