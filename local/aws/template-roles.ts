/**
 * The IAM roles of the synthesized template, and which role each part of the stack runs as:
 * what the local identities are made for.
 */
import { type CfnTemplate, placeholderName } from '#infra/asl.ts';
import type { RoleDescription } from './identities.ts';

export function templateRoles(template: CfnTemplate): RoleDescription[] {
  return Object.entries(template.Resources)
    .filter(([, resource]) => resource.Type === 'AWS::IAM::Role')
    .map(([logicalId, resource]) => {
      const named = resource.Properties?.RoleName;
      const roleName = typeof named === 'string' ? named : placeholderName(logicalId);
      return { logicalId, roleName, arn: `arn:aws:iam::000000000000:role/${roleName}` };
    });
}

/** The role a resource's property names (`{"Fn::GetAtt": [role, "Arn"]}`), by logical id. */
export function roleNamedBy(value: unknown): string | undefined {
  const reference = (value as { 'Fn::GetAtt'?: unknown } | undefined)?.['Fn::GetAtt'];
  return Array.isArray(reference) && typeof reference[0] === 'string' ? reference[0] : undefined;
}

/** The state machine's execution role. */
export function stateMachineRole(template: CfnTemplate, logicalId: string): string {
  const role = roleNamedBy(template.Resources[logicalId]?.Properties?.RoleArn);
  if (!role) throw new Error(`The state machine ${logicalId} names no role`);
  return role;
}

/** The role a schedule's target is called with (its `Target.RoleArn`), by logical id. */
export function scheduleRole(template: CfnTemplate, scheduleLogicalId: string): string | undefined {
  const target = template.Resources[scheduleLogicalId]?.Properties?.Target as
    | { RoleArn?: unknown }
    | undefined;
  return roleNamedBy(target?.RoleArn);
}
