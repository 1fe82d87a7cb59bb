import { type IGrantable, PolicyStatement } from 'aws-cdk-lib/aws-iam';

/**
 * Grants exactly these actions on exactly these resources. The L2 `grant*` helpers add action
 * wildcards (`s3:GetObject*`, `s3:List*`) and every index of a table; the functions here need
 * neither, so their statements are written out.
 */
export function allow(
  grantee: IGrantable,
  actions: string[],
  resources: string[],
  conditions?: Record<string, Record<string, unknown>>,
): void {
  grantee.grantPrincipal.addToPrincipalPolicy(
    new PolicyStatement({ actions, resources, ...(conditions && { conditions }) }),
  );
}
