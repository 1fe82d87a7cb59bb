/**
 * The local endpoints' IAM gate: the stack's policies (`PolicySet`) asked about one requested
 * access. A request the evaluator cannot read (an action or resource it refuses) is denied, not
 * answered with a server error, and the reason is in the denial's report.
 */

import type { CfnTemplate } from '#infra/asl.ts';
import type { AccessDecision, AccessGate } from '#local/aws/access.ts';
import { InvalidAuthorizationRequestError } from './errors.ts';
import { PolicySet } from './policy-set.ts';

export function iamGate(template: CfnTemplate): AccessGate {
  const policies = PolicySet.fromTemplate(template);
  return (principal, access): AccessDecision => {
    try {
      const decision = policies.authorize({
        principal,
        action: access.action,
        resource: access.resource,
        ...(access.context && { context: access.context }),
      });
      return { allowed: decision.allowed, reason: decision.reason };
    } catch (error) {
      if (error instanceof InvalidAuthorizationRequestError) {
        return { allowed: false, reason: 'implicit-deny' };
      }
      throw error;
    }
  };
}
